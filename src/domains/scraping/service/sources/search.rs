//! SEARCH: Brave Search API web results (`GET /res/v1/web/search?q=&count=&offset=` with the
//! `X-Subscription-Token` header; JSON `web.results[].url/title/description`), paged by
//! `offset` (the page number, 0–9). The result URLs become the crawl's seeds (depth 0; with
//! `crawlDepth` 1 their links are followed once, on the same sites).

use std::{collections::HashSet, time::Duration};

use async_trait::async_trait;
use serde_json::Value;
use url::Url;

use super::{
    api::{call_json, ApiCall},
    settings::Keys,
    ScrapeSource, Seed, SeedEnv, SourceError,
};
use crate::{
    domains::scraping::service::{crawler::canonical, params::SearchParams},
    platform::ratelimit::Limit,
};

/// The seed's budget: 100 requests per minute (shared by every job, and every instance with
/// Redis).
pub const BRAVE_LIMIT: Limit = Limit {
    name: "brave",
    max: 100,
    per: Duration::from_secs(60),
};

/// The SEARCH source.
pub struct BraveSearch {
    /// The search.
    pub params: SearchParams,
    /// Seeds at most.
    pub max_pages: i32,
}

/// `(url, title)` of each result in a Brave response, and whether more are available.
pub fn results(v: &Value) -> (Vec<(String, String)>, bool) {
    let list = v["web"]["results"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| {
                    let url = r["url"].as_str()?.to_string();
                    Some((url, r["title"].as_str().unwrap_or_default().to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let more = v["query"]["more_results_available"]
        .as_bool()
        .unwrap_or(true);
    (list, more)
}

#[async_trait]
impl ScrapeSource for BraveSearch {
    async fn seed(&self, env: &SeedEnv<'_>) -> Result<Seed, SourceError> {
        let cfg = &env.state.config;
        let keys = Keys::load_detached(env.state, self.params.org_id)
            .await
            .map_err(SourceError::Retryable)?;
        let (key, _) = keys
            .brave
            .ok_or_else(|| SourceError::Permanent("no Brave API key is configured".into()))?;
        let endpoint = format!("{}/res/v1/web/search", cfg.brave_base_url);
        let budget = usize::try_from(self.max_pages).unwrap_or(0);
        let mut seed = Seed::default();
        let mut seen = HashSet::new();
        for page in 0..self.params.pages {
            let mut q: Vec<(&str, String)> = vec![
                ("q", self.params.query.clone()),
                ("count", self.params.count.to_string()),
                ("offset", page.to_string()),
            ];
            if let Some(c) = &self.params.country {
                q.push(("country", c.clone()));
            }
            let url = Url::parse_with_params(&endpoint, &q)
                .map_err(|e| SourceError::Permanent(format!("BRAVE_BASE_URL: {e}")))?;
            let v = call_json(
                env.state,
                ApiCall {
                    provider: "brave",
                    method: reqwest::Method::GET,
                    url: url.to_string(),
                    headers: vec![("X-Subscription-Token", key.clone())],
                    secret_headers: &["X-Subscription-Token"],
                    body: None,
                    limit: Some(BRAVE_LIMIT),
                },
            )
            .await?;
            let (list, more) = results(&v);
            let n = list.len();
            for (raw, _title) in list {
                let Some(u) = Url::parse(&raw).ok().and_then(|u| canonical(&u)) else {
                    continue;
                };
                if seed.pages.len() < budget && seen.insert(u.to_string()) {
                    seed.pages.push((u, 0));
                }
            }
            if !more || n < usize::try_from(self.params.count).unwrap_or(0) {
                break;
            }
        }
        Ok(seed)
    }
}
