//! WEBSITE: the seed URLs at depth 0, plus the pages listed in each seed origin's sitemaps
//! (robots.txt `Sitemap:` lines, else `/sitemap.xml`) at depth 1 when `maxDepth` ≥ 1.

use std::collections::HashSet;

use async_trait::async_trait;
use url::Url;

use super::{ScrapeSource, Seed, SeedEnv, SourceError};
use crate::domains::scraping::service::{
    crawler::{canonical, origin_of, site_of},
    params::Crawl,
};

/// The WEBSITE source.
pub struct Website(pub Crawl);

#[async_trait]
impl ScrapeSource for Website {
    async fn seed(&self, env: &SeedEnv<'_>) -> Result<Seed, SourceError> {
        let crawl = &self.0;
        let budget = usize::try_from(crawl.max_pages).unwrap_or(0);
        let mut seen = HashSet::new();
        let mut seed = Seed::default();
        for raw in &crawl.urls {
            let Some(u) = Url::parse(raw).ok().and_then(|u| canonical(&u)) else {
                continue;
            };
            if seed.pages.len() < budget && seen.insert(u.to_string()) {
                seed.pages.push((u, 0));
            }
        }
        if crawl.max_depth >= 1 {
            let sites: HashSet<String> = seed.pages.iter().map(|(u, _)| site_of(u)).collect();
            let mut origins = HashSet::new();
            let seeds: Vec<Url> = seed.pages.iter().map(|(u, _)| u.clone()).collect();
            for s in seeds {
                if !origins.insert(origin_of(&s)) {
                    continue;
                }
                let room = budget.saturating_sub(seed.pages.len());
                if room == 0 {
                    break;
                }
                for u in env.hosts.sitemap_pages(&s, room).await {
                    let Some(u) = canonical(&u) else { continue };
                    if (!crawl.same_domain_only || sites.contains(&site_of(&u)))
                        && seed.pages.len() < budget
                        && seen.insert(u.to_string())
                    {
                        seed.pages.push((u, 1));
                    }
                }
            }
        }
        Ok(seed)
    }
}
