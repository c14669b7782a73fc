//! `createScrapeJob` input: one typed parameter object per source, validated into [`Params`],
//! which is stored with the job (JSON) and read back by the runner.

use serde::{Deserialize, Serialize};

use uuid::Uuid;

use super::sources::{
    craigslist::CraigslistParams, job_boards::JobBoardsParams, settings::Keys, social::SocialParams,
};
use crate::config::Config;

pub use crate::domains::scraping::types::{
    CreateScrapeJobInput, GeoPointInput, GoogleMapsScrapeInput, ScrapeSource, SearchScrapeInput,
    WebsiteScrapeInput,
};

/// How pages are crawled (every source that crawls).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Crawl {
    /// Seed URLs (WEBSITE); other sources find theirs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Links followed from a seed.
    pub max_depth: i32,
    /// Page rows at most (queued, fetched, failed or skipped).
    pub max_pages: i32,
    /// Only follow links to the seeds' sites.
    pub same_domain_only: bool,
    /// Requests per second per host.
    pub requests_per_second: f64,
    /// Pages fetched at once.
    pub concurrency: i32,
    /// Country for national phone numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_country: Option<String>,
}

/// Brave Search parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchParams {
    /// Query.
    pub query: String,
    /// Results per page.
    pub count: i32,
    /// Result pages.
    pub pages: i32,
    /// Country filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The job's organization, whose own API key is used when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<Uuid>,
}

/// Google Places parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MapsParams {
    /// Text query.
    pub query: String,
    /// Location bias center.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPointInput>,
    /// Location bias radius (m).
    pub radius: f64,
    /// Places at most.
    pub max_results: i32,
    /// Crawl each place's website.
    pub crawl_websites: bool,
    /// The job's organization, whose own API key is used when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<Uuid>,
}

/// Validated parameters, stored as the job's `params`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Params {
    /// Crawl seed URLs.
    Website {
        /// The crawl.
        crawl: Crawl,
    },
    /// Brave results, then crawl.
    Search {
        /// The search.
        search: SearchParams,
        /// The crawl of the result sites.
        crawl: Crawl,
    },
    /// Places, optionally crawling their websites.
    GoogleMaps {
        /// The places query.
        maps: MapsParams,
        /// The crawl of their websites (depth 0).
        crawl: Crawl,
    },
    /// Craigslist search results, then the listing pages.
    Craigslist {
        /// The search.
        craigslist: CraigslistParams,
        /// The crawl of the listing pages (depth 0).
        crawl: Crawl,
    },
    /// Job-board APIs, then the companies' websites.
    JobBoards {
        /// The boards.
        job_boards: JobBoardsParams,
        /// The crawl of the companies' websites.
        crawl: Crawl,
    },
    /// People-search provider API (nothing is crawled).
    Social {
        /// The search.
        social: SocialParams,
        /// Unused crawl settings (no pages).
        crawl: Crawl,
    },
}

impl Params {
    /// The crawl settings.
    pub fn crawl(&self) -> &Crawl {
        match self {
            Params::Website { crawl }
            | Params::Search { crawl, .. }
            | Params::GoogleMaps { crawl, .. }
            | Params::Craigslist { crawl, .. }
            | Params::JobBoards { crawl, .. }
            | Params::Social { crawl, .. } => crawl,
        }
    }

    /// The source.
    pub fn source(&self) -> ScrapeSource {
        match self {
            Params::Website { .. } => ScrapeSource::Website,
            Params::Search { .. } => ScrapeSource::Search,
            Params::GoogleMaps { .. } => ScrapeSource::GoogleMaps,
            Params::Craigslist { .. } => ScrapeSource::Craigslist,
            Params::JobBoards { .. } => ScrapeSource::JobBoards,
            Params::Social { .. } => ScrapeSource::Social,
        }
    }
}

/// Defaults: the seed's "5 pages/s, depth 2".
pub const DEFAULT_RPS: f64 = 5.0;
/// Default depth.
pub const DEFAULT_DEPTH: i32 = 2;
/// Default page cap.
pub const DEFAULT_MAX_PAGES: i32 = 500;
/// Default concurrency.
pub const DEFAULT_CONCURRENCY: i32 = 4;

mod validate;
pub(crate) use validate::V;
pub use validate::{validate, validate_for, validate_with};

#[cfg(test)]
mod tests;
