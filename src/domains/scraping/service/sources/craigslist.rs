//! CRAIGSLIST: the public HTML search page of one city and category
//! (`{CRAIGSLIST_BASE_URL}/search/{category}?query=…`, base default
//! `https://{city}.craigslist.org`, paged with `s=<offset>`), fetched like any crawled page
//! (robots.txt, politeness, the SSRF-guarded client). The listing links on it (paths ending in
//! `/<posting id>.html` on the same host) become the crawl's seeds at depth 0, so contacts on
//! the listing pages go through the ordinary extraction. Craigslist discontinued its RSS feeds,
//! so only the HTML adapter exists. A 429/5xx answer on the search page is retried with the API
//! backoff (4 attempts); robots.txt refusing the search page fails the job (nothing is fetched
//! against it).

use std::collections::HashSet;

use async_trait::async_trait;
use scraper::{Html, Selector};
use serde::{Deserialize, Serialize};
use url::Url;

use super::{api, ScrapeSource, Seed, SeedEnv, SourceError};
use crate::{
    config::Config,
    domains::scraping::service::{
        crawler::{canonical, Fetched},
        params::{Crawl, Params, DEFAULT_CONCURRENCY, V},
    },
};

pub use crate::domains::scraping::types::CraigslistScrapeInput;

/// Search result pages read at most.
pub const MAX_SEARCH_PAGES: usize = 5;

/// Validated Craigslist parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CraigslistParams {
    /// Site name.
    pub city: String,
    /// Category code.
    pub category: String,
    /// Search terms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Listings at most.
    pub max_listings: i32,
}

impl CraigslistParams {
    /// The job name when none is given.
    pub fn default_name(&self) -> String {
        match &self.query {
            Some(q) => format!("Craigslist {}/{}: {q}", self.city, self.category),
            None => format!("Craigslist {}/{}", self.city, self.category),
        }
        .chars()
        .take(200)
        .collect()
    }

    /// The first search page on `base` (`{city}` already replaced).
    pub fn search_url(&self, base: &str, offset: usize) -> Result<Url, url::ParseError> {
        let mut u = Url::parse(&format!("{base}/search/{}", self.category))?;
        {
            let mut q = u.query_pairs_mut();
            if let Some(query) = &self.query {
                q.append_pair("query", query);
            }
            if offset > 0 {
                q.append_pair("s", &offset.to_string());
            }
        }
        if u.query() == Some("") {
            u.set_query(None);
        }
        Ok(u)
    }
}

/// The site of `city`: the configured base with `{city}` replaced.
pub fn base_url(config: &Config, city: &str) -> String {
    config.sources.craigslist_base_url.replace("{city}", city)
}

/// Validates `input.craigslist`.
pub(crate) fn validate(v: &mut V, c: &CraigslistScrapeInput, config: &Config) -> Params {
    let p = "input.craigslist";
    let city = c.city.trim().to_ascii_lowercase();
    if !(2..=40).contains(&city.len()) || !city.chars().all(|ch| ch.is_ascii_alphanumeric()) {
        v.fail(
            &format!("{p}.city"),
            "must be a Craigslist site name such as sfbay (2–40 letters or digits)",
        );
    }
    let category = c.category.trim().to_ascii_lowercase();
    if !(3..=10).contains(&category.len()) || !category.chars().all(|ch| ch.is_ascii_lowercase()) {
        v.fail(
            &format!("{p}.category"),
            "must be a Craigslist category code such as sss or bbb (3–10 letters)",
        );
    }
    let query = match c.query.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(q) if q.chars().count() > 200 => {
            v.fail(&format!("{p}.query"), "must be at most 200 characters");
            None
        }
        Some(q) => Some(q.to_string()),
    };
    let params = CraigslistParams {
        city,
        category,
        query,
        max_listings: v.int(&format!("{p}.maxListings"), c.max_listings, 1, 500, 100),
    };
    if v.errors_is_empty() {
        let base = base_url(config, &params.city);
        if let Err(e) = params
            .search_url(&base, 0)
            .map_err(|e| e.to_string())
            .and_then(|u| config.check_user_url(u.as_str()).map_err(|e| e.to_string()))
        {
            v.fail(&format!("{p}.city"), format!("gives an unusable URL: {e}"));
        }
    }
    let rps = v.float(
        &format!("{p}.requestsPerSecond"),
        c.requests_per_second,
        0.1,
        5.0,
        1.0,
    );
    let country = v
        .country(&format!("{p}.defaultCountry"), c.default_country.as_deref())
        .or_else(|| Some("US".into()));
    Params::Craigslist {
        crawl: Crawl {
            urls: Vec::new(),
            max_depth: 0,
            max_pages: params.max_listings,
            same_domain_only: true,
            requests_per_second: rps,
            concurrency: DEFAULT_CONCURRENCY,
            default_country: country,
        },
        craigslist: params,
    }
}

/// Listing links on a search page: anchors whose path ends in `/<digits>.html` on the page's
/// host, in page order, without duplicates.
pub fn listing_links(html: &str, page: &Url) -> Vec<Url> {
    let doc = Html::parse_document(html);
    let Ok(sel) = Selector::parse("a[href]") else {
        return Vec::new();
    };
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for a in doc.select(&sel) {
        let Some(href) = a.value().attr("href") else {
            continue;
        };
        let Some(u) = page.join(href).ok().and_then(|u| canonical(&u)) else {
            continue;
        };
        if u.host_str() != page.host_str() {
            continue;
        }
        let is_posting = u
            .path_segments()
            .and_then(|mut s| s.next_back())
            .and_then(|last| last.strip_suffix(".html"))
            .is_some_and(|id| id.len() >= 5 && id.chars().all(|c| c.is_ascii_digit()));
        if is_posting && seen.insert(u.to_string()) {
            out.push(u);
        }
    }
    out
}

/// The CRAIGSLIST source.
pub struct Craigslist(pub CraigslistParams);

#[async_trait]
impl ScrapeSource for Craigslist {
    async fn seed(&self, env: &SeedEnv<'_>) -> Result<Seed, SourceError> {
        let base = base_url(&env.state.config, &self.0.city);
        let max = usize::try_from(self.0.max_listings).unwrap_or(0);
        let mut seed = Seed::default();
        let mut seen = HashSet::new();
        for page in 0..MAX_SEARCH_PAGES {
            if seed.pages.len() >= max {
                break;
            }
            let url = self
                .0
                .search_url(&base, seen.len())
                .map_err(|e| SourceError::Permanent(format!("CRAIGSLIST_BASE_URL: {e}")))?;
            let (body, final_url) = match fetch(env, &url).await? {
                Some(found) => found,
                // A later page that is not HTML ends the listing.
                None if page > 0 => break,
                None => {
                    return Err(SourceError::Permanent(format!(
                        "craigslist: {url} is not an HTML search page"
                    )))
                }
            };
            let links = listing_links(&body, &final_url);
            let before = seen.len();
            for u in links {
                if seen.insert(u.to_string()) && seed.pages.len() < max {
                    seed.pages.push((u, 0));
                }
            }
            if seen.len() == before {
                break;
            }
        }
        Ok(seed)
    }
}

/// One search page, retried on 429/5xx like an API call. `None` when it is not HTML.
async fn fetch(env: &SeedEnv<'_>, url: &Url) -> Result<Option<(String, Url)>, SourceError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match env.hosts.fetch_page(url).await {
            Fetched::Html {
                page, final_url, ..
            } => {
                return Ok(Some((
                    String::from_utf8_lossy(&page.bytes).into_owned(),
                    final_url,
                )))
            }
            Fetched::Skipped { reason, status } => {
                return if status.is_some() {
                    Ok(None)
                } else {
                    // robots.txt: the search page must not be fetched.
                    Err(SourceError::Permanent(format!(
                        "craigslist: {url}: {reason}"
                    )))
                };
            }
            Fetched::Failed {
                reason,
                status: Some(s),
            } if s == 429 || s >= 500 => {
                if attempt >= api::MAX_ATTEMPTS {
                    return Err(SourceError::Retryable(format!(
                        "craigslist answered {reason} {} times",
                        api::MAX_ATTEMPTS
                    )));
                }
                let wait = api::backoff(attempt);
                tracing::info!(attempt, wait_ms = wait.as_millis() as u64, %url, "craigslist search page retried");
                tokio::time::sleep(wait).await;
            }
            Fetched::Failed { reason, .. } => {
                return Err(SourceError::Permanent(format!(
                    "craigslist: {url}: {reason}"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn finds_posting_links_only() {
        let page = Url::parse("https://sfbay.craigslist.org/search/bbb?query=plumber").unwrap();
        let html = r#"<ol>
          <li class="cl-static-search-result"><a href="https://sfbay.craigslist.org/sfc/bbb/d/san-francisco-plumbing/7712345678.html"><div class="title">Plumbing</div></a></li>
          <li class="cl-static-search-result"><a href="/eby/bbb/d/oakland-handyman/7712345679.html">Handyman</a></li>
          <li><a href="/eby/bbb/d/oakland-handyman/7712345679.html#x">dup</a></li>
          <li><a href="https://sfbay.craigslist.org/search/bbb?s=120">next</a></li>
          <li><a href="https://other.example/7712345670.html">elsewhere</a></li>
          <li><a href="/about/help.html">help</a></li>
        </ol>"#;
        let links: Vec<String> = listing_links(html, &page)
            .into_iter()
            .map(|u| u.to_string())
            .collect();
        assert_eq!(
            links,
            [
                "https://sfbay.craigslist.org/sfc/bbb/d/san-francisco-plumbing/7712345678.html",
                "https://sfbay.craigslist.org/eby/bbb/d/oakland-handyman/7712345679.html"
            ]
        );
    }

    #[test]
    fn search_urls() {
        let p = CraigslistParams {
            city: "sfbay".into(),
            category: "bbb".into(),
            query: Some("plumber & sons".into()),
            max_listings: 10,
        };
        assert_eq!(
            p.search_url("https://sfbay.craigslist.org", 0)
                .unwrap()
                .as_str(),
            "https://sfbay.craigslist.org/search/bbb?query=plumber+%26+sons"
        );
        assert_eq!(
            p.search_url("http://127.0.0.1:9", 120).unwrap().as_str(),
            "http://127.0.0.1:9/search/bbb?query=plumber+%26+sons&s=120"
        );
        let p = CraigslistParams { query: None, ..p };
        assert_eq!(
            p.search_url("https://x.example", 0).unwrap().as_str(),
            "https://x.example/search/bbb"
        );
    }
}
