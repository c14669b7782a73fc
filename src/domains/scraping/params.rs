//! `createScrapeJob` input: one typed parameter object per source, validated into [`Params`],
//! which is stored with the job (JSON) and read back by the runner.

use async_graphql::{Enum, InputObject};
use serde::{Deserialize, Serialize};

use uuid::Uuid;

use super::sources::{
    craigslist::{CraigslistParams, CraigslistScrapeInput},
    job_boards::{JobBoardsParams, JobBoardsScrapeInput},
    settings::Keys,
    social::{SocialParams, SocialScrapeInput},
};
use crate::config::Config;

/// Where a scrape gets its pages or records.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScrapeSource {
    /// Crawl websites from seed URLs.
    Website,
    /// Brave Search API results, whose sites are then crawled.
    Search,
    /// Google Places API (Text Search + Place Details).
    GoogleMaps,
    /// Craigslist listing pages (search results of one city and category), then crawled.
    Craigslist,
    /// Public job-board APIs (Greenhouse, Lever): hiring companies and their websites.
    JobBoards,
    /// A people-search provider API (no scraping of LinkedIn or other networks' pages).
    Social,
}

impl ScrapeSource {
    /// Storage form.
    pub fn as_str(self) -> &'static str {
        match self {
            ScrapeSource::Website => "WEBSITE",
            ScrapeSource::Search => "SEARCH",
            ScrapeSource::GoogleMaps => "GOOGLE_MAPS",
            ScrapeSource::Craigslist => "CRAIGSLIST",
            ScrapeSource::JobBoards => "JOB_BOARDS",
            ScrapeSource::Social => "SOCIAL",
        }
    }

    /// Parses the storage form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "WEBSITE" => ScrapeSource::Website,
            "SEARCH" => ScrapeSource::Search,
            "GOOGLE_MAPS" => ScrapeSource::GoogleMaps,
            "CRAIGSLIST" => ScrapeSource::Craigslist,
            "JOB_BOARDS" => ScrapeSource::JobBoards,
            "SOCIAL" => ScrapeSource::Social,
            _ => return None,
        })
    }
}

/// Crawl a website.
#[derive(InputObject, Debug, Clone, Default)]
pub struct WebsiteScrapeInput {
    /// Seed URLs (http/https, 1–100).
    pub urls: Vec<String>,
    /// Links followed from a seed, 0–5 (default 2).
    pub max_depth: Option<i32>,
    /// Pages fetched at most, 1–10,000 (default 500).
    pub max_pages: Option<i32>,
    /// Only follow links to the seeds' sites (default true).
    pub same_domain_only: Option<bool>,
    /// Politeness: requests per second per host, 0.1–50 (default 5).
    pub requests_per_second: Option<f64>,
    /// Pages fetched at once, 1–16 (default 4).
    pub concurrency: Option<i32>,
    /// ISO country code for national phone numbers without a `+` prefix.
    pub default_country: Option<String>,
}

/// Search the web (Brave Search API) and crawl the result sites.
#[derive(InputObject, Debug, Clone, Default)]
pub struct SearchScrapeInput {
    /// Search terms (1–400 characters).
    pub query: String,
    /// Results per page, 1–20 (default 20).
    pub count: Option<i32>,
    /// Result pages, 1–10 (default 1).
    pub pages: Option<i32>,
    /// ISO country code the results should come from.
    pub country: Option<String>,
    /// Links followed on each result site, 0–1 (default 0: the result page only).
    pub crawl_depth: Option<i32>,
    /// Pages fetched at most, 1–10,000 (default 500).
    pub max_pages: Option<i32>,
    /// Politeness: requests per second per host, 0.1–50 (default 5).
    pub requests_per_second: Option<f64>,
    /// Pages fetched at once, 1–16 (default 4).
    pub concurrency: Option<i32>,
}

/// A point on the map.
#[derive(InputObject, Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoPointInput {
    /// Latitude (−90…90).
    pub latitude: f64,
    /// Longitude (−180…180).
    pub longitude: f64,
}

/// Businesses from Google Maps (Places API Text Search, Place Details).
#[derive(InputObject, Debug, Clone, Default)]
pub struct GoogleMapsScrapeInput {
    /// What to look for, e.g. "dentists in Austin" (1–400 characters).
    pub query: String,
    /// Bias results around this point (with `radius`).
    pub location: Option<GeoPointInput>,
    /// Radius around `location` in meters, 1–50,000 (default 5,000).
    pub radius: Option<f64>,
    /// Places at most, 1–60 (default 20).
    pub max_results: Option<i32>,
    /// Also crawl each place's website (its first page) for emails (default false).
    pub crawl_websites: Option<bool>,
    /// Politeness for the website crawl: requests per second per host, 0.1–50 (default 5).
    pub requests_per_second: Option<f64>,
}

/// Input of `createScrapeJob`: the source and exactly one parameter object, the one matching it.
#[derive(InputObject, Debug, Clone)]
pub struct CreateScrapeJobInput {
    /// Which source.
    pub source: ScrapeSource,
    /// A name for the job (default: derived from the parameters).
    pub name: Option<String>,
    /// Parameters when `source` is WEBSITE.
    pub website: Option<WebsiteScrapeInput>,
    /// Parameters when `source` is SEARCH.
    pub search: Option<SearchScrapeInput>,
    /// Parameters when `source` is GOOGLE_MAPS.
    pub google_maps: Option<GoogleMapsScrapeInput>,
    /// Parameters when `source` is CRAIGSLIST.
    pub craigslist: Option<CraigslistScrapeInput>,
    /// Parameters when `source` is JOB_BOARDS.
    pub job_boards: Option<JobBoardsScrapeInput>,
    /// Parameters when `source` is SOCIAL.
    pub social: Option<SocialScrapeInput>,
}

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
