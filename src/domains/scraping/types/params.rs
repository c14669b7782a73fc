//! GraphQL inputs of `createScrapeJob`: the source and one parameter object per source.

use async_graphql::{Enum, InputObject};
use serde::{Deserialize, Serialize};

use super::{CraigslistScrapeInput, JobBoardsScrapeInput, SocialScrapeInput};

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
    /// A saved location of the organization to target (GOOGLE_MAPS: its point and radius bias
    /// the search unless `googleMaps.location` / `radius` are given; SEARCH: its name is
    /// appended to the query). Another organization's location is NOT_FOUND.
    pub location_id: Option<async_graphql::ID>,
}

impl CreateScrapeJobInput {
    /// An input for `source` named `name`, with no parameters set yet (the caller fills the
    /// source's own).
    pub fn of(source: ScrapeSource, name: Option<String>) -> Self {
        Self {
            source,
            name,
            website: None,
            search: None,
            google_maps: None,
            craigslist: None,
            job_boards: None,
            social: None,
            location_id: None,
        }
    }
}

crate::wire_enum!(ScrapeSource { Website => "WEBSITE", Search => "SEARCH", GoogleMaps => "GOOGLE_MAPS", Craigslist => "CRAIGSLIST", JobBoards => "JOB_BOARDS", Social => "SOCIAL" });
