//! JOB_BOARDS: companies that are hiring, from the public, documented job-board APIs.
//!
//! - **Greenhouse** Job Board API: `GET {GREENHOUSE_BASE_URL}/v1/boards/{board}` (`name`,
//!   `content`) and `GET …/v1/boards/{board}/jobs?content=true` (`jobs[]` with `id`, `title`,
//!   `absolute_url`, `location.name`, `company_name`, `content` = HTML-escaped job description).
//! - **Lever** Postings API: `GET {LEVER_BASE_URL}/v0/postings/{company}?mode=json` (an array of
//!   postings with `id`, `text` (title), `hostedUrl`, `categories`, `description`,
//!   `descriptionPlain`, `lists[].content`, `additional`). Lever gives no company name or site:
//!   the board name is the company.
//!
//! Both need no key. Calls go through `sources::api` (backoff on 429/5xx, response cache). Per
//! board: the jobs (filtered by `keywords`, matched case-insensitively against titles) give the
//! company its `customFields.jobTitles` / `openJobs` / `jobBoard`; the emails and phones written
//! in the job descriptions become contacts of that company (tagged `hiring`), with the MX flag;
//! the company's website (a Greenhouse job's `absolute_url` or a link in the board description
//! that is not on greenhouse.io) is crawled at depth 0 or 1. A board the provider does not know
//! (404) is skipped; the job fails only when every board failed.
//!
//! Not built: a company without any email or phone in its postings is not stored as a lead of
//! its own (the scrape sink keeps only contacts with an email or phone); its website crawl still
//! runs.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

use super::{
    api::{call_json, ApiCall},
    ScrapeSource, Seed, SeedEnv, SourceError,
};
use crate::domains::scraping::service::{
    crawler::canonical,
    extract::{check_email, extract, EmailVerdict},
    params::{Crawl, Params, DEFAULT_CONCURRENCY, DEFAULT_MAX_PAGES, DEFAULT_RPS, V},
    sink::{mx, Contact, ROLE_TAG},
};

pub use crate::domains::scraping::types::{JobBoardProvider, JobBoardsScrapeInput};

/// Tag on every contact found through a job board.
pub const HIRING_TAG: &str = "hiring";
/// Job titles kept per company.
pub const MAX_TITLES: usize = 50;

/// Validated job-board parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobBoardsParams {
    /// Provider.
    pub provider: JobBoardProvider,
    /// Boards.
    pub boards: Vec<String>,
    /// Title keywords (lowercase); empty = every job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    /// Crawl the companies' websites.
    pub crawl_websites: bool,
}

impl JobBoardsParams {
    /// The job name when none is given.
    pub fn default_name(&self) -> String {
        let provider = match self.provider {
            JobBoardProvider::Greenhouse => "Greenhouse",
            JobBoardProvider::Lever => "Lever",
        };
        format!("{provider}: {}", self.boards.join(", "))
            .chars()
            .take(200)
            .collect()
    }
}

fn valid_board(b: &str) -> bool {
    (1..=100).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !b.starts_with('.')
}

/// Validates `input.jobBoards`.
pub(crate) fn validate(v: &mut V, j: &JobBoardsScrapeInput) -> Params {
    let p = "input.jobBoards";
    if j.boards.is_empty() || j.boards.len() > 50 {
        v.fail(&format!("{p}.boards"), "must hold 1–50 boards");
    }
    let mut boards = Vec::new();
    for (i, b) in j.boards.iter().enumerate() {
        let b = b.trim();
        if !valid_board(b) {
            v.fail(
                &format!("{p}.boards[{i}]"),
                "must be a board name (letters, digits, '-', '_', '.'; at most 100)",
            );
        } else if !boards.iter().any(|x: &String| x.eq_ignore_ascii_case(b)) {
            boards.push(b.to_string());
        }
    }
    let mut keywords = Vec::new();
    let given = j.keywords.as_deref().unwrap_or_default();
    if given.len() > 20 {
        v.fail(&format!("{p}.keywords"), "must hold at most 20 words");
    }
    for (i, k) in given.iter().enumerate() {
        let k = k.trim().to_lowercase();
        if k.is_empty() || k.chars().count() > 100 {
            v.fail(&format!("{p}.keywords[{i}]"), "must be 1–100 characters");
        } else if !keywords.contains(&k) {
            keywords.push(k);
        }
    }
    let crawl = Crawl {
        urls: Vec::new(),
        max_depth: v.int(&format!("{p}.crawlDepth"), j.crawl_depth, 0, 1, 0),
        max_pages: v.int(
            &format!("{p}.maxPages"),
            j.max_pages,
            1,
            10_000,
            DEFAULT_MAX_PAGES,
        ),
        same_domain_only: true,
        requests_per_second: v.float(
            &format!("{p}.requestsPerSecond"),
            j.requests_per_second,
            0.1,
            50.0,
            DEFAULT_RPS,
        ),
        concurrency: DEFAULT_CONCURRENCY,
        default_country: None,
    };
    Params::JobBoards {
        job_boards: JobBoardsParams {
            provider: j.provider,
            boards,
            keywords,
            crawl_websites: j.crawl_websites.unwrap_or(true),
        },
        crawl,
    }
}

/// One posting, provider-neutral.
#[derive(Debug, Clone, PartialEq)]
pub struct Posting {
    /// Job title.
    pub title: String,
    /// Public page of the job.
    pub url: Option<String>,
    /// Description HTML.
    pub html: String,
}

/// A board's company and its postings.
#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    /// Company name.
    pub company: String,
    /// Company website (origin), when the board tells.
    pub website: Option<Url>,
    /// Public page of the board.
    pub url: String,
    /// Postings.
    pub postings: Vec<Posting>,
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Greenhouse escapes the description HTML (`&lt;p&gt;`): decode it once.
fn unescape(html: &str) -> String {
    if html.contains('<') {
        return html.to_string();
    }
    scraper::Html::parse_fragment(html)
        .root_element()
        .text()
        .collect()
}

fn is_greenhouse(u: &Url) -> bool {
    u.host_str()
        .is_some_and(|h| h == "greenhouse.io" || h.ends_with(".greenhouse.io"))
}

/// An http(s) origin that is not the board provider's.
fn company_site(raw: &str, api_origin: Option<&str>) -> Option<Url> {
    let u = Url::parse(raw).ok()?;
    if !matches!(u.scheme(), "http" | "https") || is_greenhouse(&u) {
        return None;
    }
    if api_origin.is_some_and(|o| o == u.origin().ascii_serialization()) {
        return None;
    }
    let host = u.host_str()?;
    if host.ends_with("lever.co") {
        return None;
    }
    Url::parse(&format!("{}/", u.origin().ascii_serialization())).ok()
}

/// The Greenhouse board from its two responses.
/// `api_origin` (the API's own origin) is never taken for the company's website.
pub fn greenhouse_board(
    board: &str,
    info: &Value,
    jobs: &Value,
    api_origin: Option<&str>,
) -> Board {
    let postings: Vec<Posting> = jobs["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|j| {
            Some(Posting {
                title: text(&j["title"])?,
                url: text(&j["absolute_url"]),
                html: unescape(j["content"].as_str().unwrap_or_default()),
            })
        })
        .collect();
    let company = text(&info["name"])
        .or_else(|| {
            jobs["jobs"]
                .as_array()
                .and_then(|a| a.iter().find_map(|j| text(&j["company_name"])))
        })
        .unwrap_or_else(|| board.to_string());
    let website = postings
        .iter()
        .filter_map(|p| p.url.as_deref())
        .find_map(|u| company_site(u, api_origin))
        .or_else(|| {
            let html = unescape(info["content"].as_str().unwrap_or_default());
            let base = Url::parse("https://boards.greenhouse.io/").ok()?;
            extract(&html, &base, None)
                .links
                .iter()
                .find_map(|u| company_site(u.as_str(), api_origin))
        });
    Board {
        company,
        website,
        url: format!("https://boards.greenhouse.io/{board}"),
        postings,
    }
}

/// The Lever board from its response.
pub fn lever_board(board: &str, postings: &Value) -> Board {
    let postings = postings
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let mut html = p["description"].as_str().unwrap_or_default().to_string();
            for l in p["lists"].as_array().into_iter().flatten() {
                html.push('\n');
                html.push_str(l["content"].as_str().unwrap_or_default());
            }
            html.push('\n');
            html.push_str(p["additional"].as_str().unwrap_or_default());
            if html.trim().is_empty() {
                html = p["descriptionPlain"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            }
            Some(Posting {
                title: text(&p["text"])?,
                url: text(&p["hostedUrl"]),
                html,
            })
        })
        .collect();
    Board {
        company: board.to_string(),
        website: None,
        url: format!("https://jobs.lever.co/{board}"),
        postings,
    }
}

/// Keeps the postings whose title contains a keyword (all when there is none).
pub fn filter(board: &mut Board, keywords: &[String]) {
    if !keywords.is_empty() {
        board.postings.retain(|p| {
            let t = p.title.to_lowercase();
            keywords.iter().any(|k| t.contains(k.as_str()))
        });
    }
}

/// The contacts written in a board's postings, each carrying the company facts.
pub fn contacts(board: &Board, provider: JobBoardProvider, name: &str) -> Vec<Contact> {
    let mut titles: Vec<String> = Vec::new();
    for p in &board.postings {
        if titles.len() < MAX_TITLES && !titles.contains(&p.title) {
            titles.push(p.title.clone());
        }
    }
    let mut custom = BTreeMap::new();
    custom.insert("jobTitles".to_string(), json!(titles));
    custom.insert("openJobs".to_string(), json!(board.postings.len()));
    custom.insert(
        "jobBoard".to_string(),
        json!({"provider": provider, "board": name, "url": board.url}),
    );
    let base = |url: &str| Contact {
        company: Some(board.company.clone()),
        website: board.website.as_ref().map(Url::to_string),
        tags: vec![HIRING_TAG.to_string()],
        custom: custom.clone(),
        url: url.to_string(),
        ..Default::default()
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for p in &board.postings {
        let page_url = p.url.clone().unwrap_or_else(|| board.url.clone());
        let Ok(page) = Url::parse(&page_url) else {
            continue;
        };
        let data = extract(&p.html, &page, None);
        for e in &data.emails {
            let EmailVerdict::Valid { role } = check_email(e) else {
                continue;
            };
            if seen.insert(e.clone()) {
                let mut c = base(&page_url);
                c.email = Some(e.clone());
                if role {
                    c.tags.push(ROLE_TAG.into());
                    c.custom.insert("roleAddress".into(), json!(true));
                }
                out.push(c);
            }
        }
        for ph in &data.phones {
            if seen.insert(ph.clone()) {
                let mut c = base(&page_url);
                c.phone = Some(ph.clone());
                out.push(c);
            }
        }
    }
    out
}

/// The JOB_BOARDS source.
pub struct JobBoards {
    /// The boards.
    pub params: JobBoardsParams,
    /// Pages crawled at most.
    pub max_pages: i32,
}

impl JobBoards {
    async fn board(&self, env: &SeedEnv<'_>, name: &str) -> Result<Board, SourceError> {
        let s = &env.state.config.sources;
        let get = |provider: &'static str, url: String| ApiCall {
            provider,
            method: reqwest::Method::GET,
            url,
            headers: Vec::new(),
            secret_headers: &[],
            body: None,
            limit: None,
        };
        let seg: String = url::form_urlencoded::byte_serialize(name.as_bytes()).collect();
        match self.params.provider {
            JobBoardProvider::Greenhouse => {
                let base = &s.greenhouse_base_url;
                let jobs = call_json(
                    env.state,
                    get(
                        "greenhouse",
                        format!("{base}/v1/boards/{seg}/jobs?content=true"),
                    ),
                )
                .await?;
                // The board's name and description are optional extras.
                let info = match call_json(
                    env.state,
                    get("greenhouse", format!("{base}/v1/boards/{seg}")),
                )
                .await
                {
                    Ok(v) => v,
                    Err(SourceError::Retryable(e)) => return Err(SourceError::Retryable(e)),
                    Err(SourceError::Permanent(_)) => Value::Null,
                };
                let origin = Url::parse(base)
                    .ok()
                    .map(|u| u.origin().ascii_serialization());
                Ok(greenhouse_board(name, &info, &jobs, origin.as_deref()))
            }
            JobBoardProvider::Lever => {
                let base = &s.lever_base_url;
                let v = call_json(
                    env.state,
                    get("lever", format!("{base}/v0/postings/{seg}?mode=json")),
                )
                .await?;
                Ok(lever_board(name, &v))
            }
        }
    }
}

#[async_trait]
impl ScrapeSource for JobBoards {
    async fn seed(&self, env: &SeedEnv<'_>) -> Result<Seed, SourceError> {
        let budget = usize::try_from(self.max_pages).unwrap_or(0);
        let mut seed = Seed::default();
        let mut sites = HashSet::new();
        let mut first_error = None;
        let mut ok = 0;
        for name in &self.params.boards {
            let mut board = match self.board(env, name).await {
                Ok(b) => b,
                Err(SourceError::Permanent(e)) => {
                    tracing::info!(board = %name, error = %e, "job board skipped");
                    first_error.get_or_insert(e);
                    continue;
                }
                Err(e) => return Err(e),
            };
            ok += 1;
            filter(&mut board, &self.params.keywords);
            if board.postings.is_empty() {
                continue;
            }
            seed.contacts
                .extend(contacts(&board, self.params.provider, name));
            if self.params.crawl_websites {
                if let Some(u) = board.website.as_ref().and_then(canonical) {
                    if seed.pages.len() < budget && sites.insert(u.to_string()) {
                        seed.pages.push((u, 0));
                    }
                }
            }
        }
        if ok == 0 {
            if let Some(e) = first_error {
                return Err(SourceError::Permanent(e));
            }
        }
        mx::annotate(&env.state.config.sources, &mut seed.contacts).await;
        Ok(seed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn greenhouse_shapes() {
        let info = json!({"name": "Acme Robotics", "content": "&lt;p&gt;Visit &lt;a href=\"https://acme.example/about\"&gt;us&lt;/a&gt;&lt;/p&gt;"});
        let jobs = json!({"jobs": [
            {"id": 1, "title": "Senior Rust Engineer", "absolute_url": "https://boards.greenhouse.io/acme/jobs/1",
             "location": {"name": "Remote"}, "company_name": "Acme",
             "content": "&lt;p&gt;Questions? Write to &lt;a href=\"mailto:talent@acme.example\"&gt;talent@acme.example&lt;/a&gt; or call +1 415 555 2671&lt;/p&gt;"},
            {"id": 2, "title": "Office Manager", "absolute_url": "https://boards.greenhouse.io/acme/jobs/2", "content": ""}
        ], "meta": {"total": 2}});
        let mut b = greenhouse_board(
            "acme",
            &info,
            &jobs,
            Some("https://boards-api.greenhouse.io"),
        );
        assert_eq!(b.company, "Acme Robotics");
        assert_eq!(
            b.website.as_ref().unwrap().as_str(),
            "https://acme.example/"
        );
        filter(&mut b, &["engineer".into()]);
        assert_eq!(b.postings.len(), 1);
        let c = contacts(&b, JobBoardProvider::Greenhouse, "acme");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].email.as_deref(), Some("talent@acme.example"));
        assert_eq!(c[1].phone.as_deref(), Some("+14155552671"));
        assert_eq!(c[0].custom["jobTitles"], json!(["Senior Rust Engineer"]));
        assert_eq!(c[0].custom["openJobs"], json!(1));
        assert_eq!(c[0].tags, [HIRING_TAG]);
        assert_eq!(c[0].url, "https://boards.greenhouse.io/acme/jobs/1");
    }

    #[test]
    fn greenhouse_website_from_a_job_url_on_the_company_site() {
        let jobs = json!({"jobs": [{"title": "SRE", "absolute_url": "https://careers.acme.example/jobs?gh_jid=9", "company_name": "Acme"}]});
        let b = greenhouse_board("acme", &Value::Null, &jobs, None);
        assert_eq!(b.company, "Acme");
        assert_eq!(b.website.unwrap().as_str(), "https://careers.acme.example/");
    }

    #[test]
    fn lever_shapes() {
        let v = json!([{"id": "a", "text": "Account Executive", "hostedUrl": "https://jobs.lever.co/beta/a",
            "description": "<div>Join us</div>", "lists": [{"text": "Contact", "content": "<li>jobs@beta.example</li>"}],
            "additional": "<div>noreply@beta.example</div>"}]);
        let b = lever_board("beta", &v);
        assert_eq!(b.company, "beta");
        assert!(b.website.is_none());
        let c = contacts(&b, JobBoardProvider::Lever, "beta");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].email.as_deref(), Some("jobs@beta.example"));
    }
}
