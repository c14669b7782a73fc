//! Where a scrape starts: the [`ScrapeSource`] trait and one adapter per built source. A source
//! seeds the job once (pages to crawl and/or contacts from an API); the crawl is common.
//!
//! Built: WEBSITE (seed URLs + sitemaps), SEARCH (Brave Search API), GOOGLE_MAPS (Places API
//! Text Search + Place Details), CRAIGSLIST (search result pages → listing pages), JOB_BOARDS
//! (Greenhouse and Lever public APIs) and SOCIAL (a people-search provider API; no social
//! network is scraped). API keys: the organization's (`settings`), else the server's env.

pub mod api;
pub mod craigslist;
pub mod google_maps;
pub mod job_boards;
pub mod search;
pub mod settings;
pub mod social;
pub mod website;

use async_trait::async_trait;
use url::Url;

use super::{crawler::Hosts, params::Params, sink::Contact};
use crate::state::AppState;

/// What a source starts a job with.
#[derive(Debug, Default)]
pub struct Seed {
    /// Pages to crawl, with their depth (seeds 0).
    pub pages: Vec<(Url, i32)>,
    /// Contacts the source found itself (API results).
    pub contacts: Vec<Contact>,
}

/// A source failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// Retrying later may help (429/5xx after backoff, network).
    Retryable(String),
    /// It will not (bad API key, 4xx, bad response).
    Permanent(String),
}

/// What a source gets to work with.
pub struct SeedEnv<'a> {
    /// State (HTTP client, cache, limiter, config).
    pub state: &'a AppState,
    /// Robots and politeness of the crawl (sitemaps are fetched through it).
    pub hosts: &'a Hosts,
}

/// One kind of scrape.
#[async_trait]
pub trait ScrapeSource: Send + Sync {
    /// Seeds the job; called once per job (its result is stored before crawling starts).
    async fn seed(&self, env: &SeedEnv<'_>) -> Result<Seed, SourceError>;
}

/// The adapter for `params`.
pub fn for_params(params: &Params) -> Box<dyn ScrapeSource> {
    match params {
        Params::Website { crawl } => Box::new(website::Website(crawl.clone())),
        Params::Search { search, crawl } => Box::new(search::BraveSearch {
            params: search.clone(),
            max_pages: crawl.max_pages,
        }),
        Params::GoogleMaps { maps, .. } => Box::new(google_maps::GooglePlaces(maps.clone())),
        Params::Craigslist { craigslist, .. } => {
            Box::new(craigslist::Craigslist(craigslist.clone()))
        }
        Params::JobBoards { job_boards, crawl } => Box::new(job_boards::JobBoards {
            params: job_boards.clone(),
            max_pages: crawl.max_pages,
        }),
        Params::Social { social, .. } => Box::new(social::Social(social.clone())),
    }
}
