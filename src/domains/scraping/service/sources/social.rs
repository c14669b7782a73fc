//! SOCIAL: people from a people-search provider's API. LinkedIn and similar networks forbid
//! scraping, so no page of theirs is ever fetched; instead this is a client for a
//! Proxycurl-style Person Search API, with a configurable base URL and key (the organization's
//! `socialApiKey`, else `SOCIAL_API_KEY`). Without a key, creating a SOCIAL job is
//! BAD_USER_INPUT.
//!
//! Wire format implemented (exactly):
//!
//! - Request: `GET {SOCIAL_BASE_URL}/api/v2/search/person?country=<ISO2>
//!   [&current_role_title=<title>][&current_company_name=<company>][&city=<city>]
//!   &page_size=<1–10>&enrich_profiles=enrich` with `Authorization: Bearer <key>`.
//! - Response 200: `{"results": [{"linkedin_profile_url": "…", "profile": {…} | null}],
//!   "next_page": "<absolute URL>" | null, "total_result_count": n}`. Used profile fields:
//!   `first_name`, `last_name`, `full_name`, `occupation`, `headline`, `city`, `state`,
//!   `country` (ISO2), `experiences[]` (`company`, `title`, `ends_at` — null = current),
//!   `personal_emails[]`, `personal_numbers[]`.
//! - Paging follows `next_page` only while it stays under `SOCIAL_BASE_URL` (the key is never
//!   sent elsewhere), until `maxResults`.
//! - 429/5xx are retried with backoff (`Retry-After` honoured), 401/403 fail the job.
//!
//! A person becomes a contact with their email (checked like a scraped one, plus the MX flag)
//! and/or phone, company, location, and `customFields` `fullName`, `firstName`, `lastName`,
//! `jobTitle`, `headline`, `social.linkedin`. Profiles without an email or phone are not
//! stored (the scrape sink keeps only reachable contacts).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;
use uuid::Uuid;

use super::{
    api::{call_json, ApiCall},
    settings::Keys,
    ScrapeSource, Seed, SeedEnv, SourceError,
};
use crate::domains::{
    leads::types::Location,
    scraping::service::{
        extract::{check_email, EmailVerdict},
        params::{Crawl, Params, DEFAULT_CONCURRENCY, DEFAULT_RPS, V},
        sink::{mx, Contact, ROLE_TAG},
    },
};

pub use crate::domains::scraping::types::SocialScrapeInput;

/// Tag on every contact from the people-search provider.
pub const SOCIAL_TAG: &str = "social";
/// The provider's largest page.
pub const PAGE_SIZE: i32 = 10;

/// Validated SOCIAL parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SocialParams {
    /// Current title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// Current company.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Country.
    pub country: String,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// People at most.
    pub max_results: i32,
    /// The job's organization (whose key is used when it has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<Uuid>,
}

impl SocialParams {
    /// The job name when none is given.
    pub fn default_name(&self) -> String {
        let what = [self.job_title.as_deref(), self.company.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" at ");
        format!("People: {what} ({})", self.country)
            .chars()
            .take(200)
            .collect()
    }

    /// The first search request's URL.
    pub fn search_url(&self, base: &str) -> Result<Url, url::ParseError> {
        let mut q: Vec<(&str, String)> = vec![("country", self.country.clone())];
        if let Some(t) = &self.job_title {
            q.push(("current_role_title", t.clone()));
        }
        if let Some(c) = &self.company {
            q.push(("current_company_name", c.clone()));
        }
        if let Some(c) = &self.city {
            q.push(("city", c.clone()));
        }
        q.push(("page_size", self.max_results.min(PAGE_SIZE).to_string()));
        q.push(("enrich_profiles", "enrich".into()));
        Url::parse_with_params(&format!("{base}/api/v2/search/person"), &q)
    }
}

fn optional(v: &mut V, field: &str, s: Option<&str>, max: usize) -> Option<String> {
    let s = s.map(str::trim).filter(|s| !s.is_empty())?;
    if s.chars().count() > max {
        v.fail(field, format!("must be at most {max} characters"));
        return None;
    }
    Some(s.to_string())
}

/// Validates `input.social` (the key is checked by the caller).
pub(crate) fn validate(v: &mut V, s: &SocialScrapeInput) -> Params {
    let p = "input.social";
    let job_title = optional(v, &format!("{p}.jobTitle"), s.job_title.as_deref(), 200);
    let company = optional(v, &format!("{p}.company"), s.company.as_deref(), 200);
    if job_title.is_none() && company.is_none() {
        v.fail(&format!("{p}.jobTitle"), "jobTitle or company is required");
    }
    let country = match v.country(&format!("{p}.country"), Some(&s.country)) {
        Some(c) => c,
        None => {
            if s.country.trim().is_empty() {
                v.fail(&format!("{p}.country"), "must not be empty");
            }
            String::new()
        }
    };
    Params::Social {
        social: SocialParams {
            job_title,
            company,
            city: optional(v, &format!("{p}.city"), s.city.as_deref(), 100),
            max_results: v.int(&format!("{p}.maxResults"), s.max_results, 1, 100, 25),
            country,
            org_id: None,
        },
        crawl: Crawl {
            urls: Vec::new(),
            max_depth: 0,
            max_pages: 1,
            same_domain_only: true,
            requests_per_second: DEFAULT_RPS,
            concurrency: DEFAULT_CONCURRENCY,
            default_country: None,
        },
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The contact of one search result (`None` without a profile).
pub fn contact(result: &Value) -> Option<Contact> {
    let profile = &result["profile"];
    if !profile.is_object() {
        return None;
    }
    let linkedin = text(&result["linkedin_profile_url"]);
    let current = profile["experiences"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["ends_at"].is_null()).or(a.first()));
    let mut custom = BTreeMap::new();
    for (key, v) in [
        ("fullName", text(&profile["full_name"])),
        ("firstName", text(&profile["first_name"])),
        ("lastName", text(&profile["last_name"])),
        (
            "jobTitle",
            current
                .and_then(|e| text(&e["title"]))
                .or_else(|| text(&profile["occupation"])),
        ),
        ("headline", text(&profile["headline"])),
    ] {
        if let Some(v) = v {
            custom.insert(key.to_string(), json!(v));
        }
    }
    if let Some(l) = &linkedin {
        custom.insert("social".to_string(), json!({"linkedin": l}));
    }
    let country = text(&profile["country"])
        .filter(|c| c.len() == 2)
        .map(|c| c.to_uppercase());
    let location = Location {
        city: text(&profile["city"]),
        region: text(&profile["state"]),
        country,
        latitude: None,
        longitude: None,
    };
    let mut tags = vec![SOCIAL_TAG.to_string()];
    let email = profile["personal_emails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| text(e).map(|e| e.to_lowercase()))
        .find_map(|e| match check_email(&e) {
            EmailVerdict::Valid { role } => Some((e, role)),
            EmailVerdict::Rejected(_) => None,
        });
    if let Some((_, true)) = &email {
        tags.push(ROLE_TAG.into());
    }
    Some(Contact {
        email: email.map(|(e, _)| e),
        phone: profile["personal_numbers"]
            .as_array()
            .and_then(|a| a.iter().find_map(text)),
        company: current.and_then(|e| text(&e["company"])),
        website: None,
        location: (location != Location::default()).then_some(location),
        tags,
        custom,
        url: linkedin.unwrap_or_else(|| "social:person".into()),
        phone_e164: false,
    })
}

/// The SOCIAL source.
pub struct Social(pub SocialParams);

#[async_trait]
impl ScrapeSource for Social {
    async fn seed(&self, env: &SeedEnv<'_>) -> Result<Seed, SourceError> {
        let cfg = &env.state.config;
        let keys = Keys::load_detached(env.state, self.0.org_id)
            .await
            .map_err(SourceError::Retryable)?;
        let (key, _) = keys.social.ok_or_else(|| {
            SourceError::Permanent("no people-search provider key is configured".into())
        })?;
        let base = &cfg.sources.social_base_url;
        let max = usize::try_from(self.0.max_results).unwrap_or(0);
        let mut next = Some(
            self.0
                .search_url(base)
                .map_err(|e| SourceError::Permanent(format!("SOCIAL_BASE_URL: {e}")))?
                .to_string(),
        );
        let mut seed = Seed::default();
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            let v = call_json(
                env.state,
                ApiCall {
                    provider: "social",
                    method: reqwest::Method::GET,
                    url,
                    headers: vec![("Authorization", format!("Bearer {key}"))],
                    secret_headers: &["Authorization"],
                    body: None,
                    limit: None,
                },
            )
            .await?;
            let results = v["results"].as_array().cloned().unwrap_or_default();
            let empty = results.is_empty();
            for r in &results {
                if seed.contacts.len() >= max {
                    break;
                }
                if let Some(c) = contact(r) {
                    seed.contacts.push(c);
                }
            }
            next = text(&v["next_page"]).filter(|n| n.starts_with(&format!("{base}/")));
            if empty || seed.contacts.len() >= max || pages >= 50 {
                break;
            }
        }
        mx::annotate(&cfg.sources, &mut seed.contacts).await;
        Ok(seed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn person_to_contact() {
        let r = json!({"linkedin_profile_url": "https://www.linkedin.com/in/jane", "profile": {
            "full_name": "Jane Doe", "first_name": "Jane", "last_name": "Doe",
            "occupation": "CMO at Acme", "headline": "Marketing", "city": "Austin", "state": "Texas",
            "country": "us", "experiences": [
                {"company": "Old Co", "title": "VP", "ends_at": {"year": 2020}},
                {"company": "Acme", "title": "Chief Marketing Officer", "ends_at": null}],
            "personal_emails": ["x@mailinator.com", "Jane@Acme.example"], "personal_numbers": ["+14155552671"]}});
        let c = contact(&r).unwrap();
        assert_eq!(c.email.as_deref(), Some("jane@acme.example"));
        assert_eq!(c.phone.as_deref(), Some("+14155552671"));
        assert_eq!(c.company.as_deref(), Some("Acme"));
        assert_eq!(c.custom["jobTitle"], json!("Chief Marketing Officer"));
        assert_eq!(
            c.custom["social"],
            json!({"linkedin": "https://www.linkedin.com/in/jane"})
        );
        let loc = c.location.unwrap();
        assert_eq!(loc.country.as_deref(), Some("US"));
        assert_eq!(loc.region.as_deref(), Some("Texas"));
        assert!(contact(&json!({"linkedin_profile_url": "x", "profile": null})).is_none());
    }

    #[test]
    fn request_url() {
        let p = SocialParams {
            job_title: Some("Head of Sales".into()),
            company: None,
            country: "US".into(),
            city: Some("Austin".into()),
            max_results: 25,
            org_id: None,
        };
        assert_eq!(
            p.search_url("https://api.example/proxycurl").unwrap().as_str(),
            "https://api.example/proxycurl/api/v2/search/person?country=US&current_role_title=Head+of+Sales&city=Austin&page_size=10&enrich_profiles=enrich"
        );
    }
}
