//! GraphQL inputs of the record sources (Craigslist, job boards, people search).

use async_graphql::{Enum, InputObject};
use serde::{Deserialize, Serialize};

/// Craigslist listings of one city and category.
#[derive(InputObject, Debug, Clone, Default)]
pub struct CraigslistScrapeInput {
    /// The Craigslist site, as in `https://{city}.craigslist.org` (e.g. `sfbay`, `newyork`;
    /// 2–40 lowercase letters or digits).
    pub city: String,
    /// Category code (e.g. `sss` for sale, `bbb` services, `jjj` jobs, `hhh` housing; 3–10
    /// lowercase letters).
    pub category: String,
    /// Search terms within the category (at most 200 characters).
    pub query: Option<String>,
    /// Listing pages crawled at most, 1–500 (default 100).
    pub max_listings: Option<i32>,
    /// Politeness: requests per second to the site, 0.1–5 (default 1).
    pub requests_per_second: Option<f64>,
    /// ISO country code for national phone numbers in listings (default US).
    pub default_country: Option<String>,
}

/// A job-board provider with a public API.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobBoardProvider {
    /// Greenhouse Job Board API (`boards-api.greenhouse.io`).
    Greenhouse,
    /// Lever Postings API (`api.lever.co`).
    Lever,
}

/// Hiring companies from public job boards.
#[derive(InputObject, Debug, Clone)]
pub struct JobBoardsScrapeInput {
    /// Which provider.
    pub provider: JobBoardProvider,
    /// Board tokens (Greenhouse) or company names (Lever), as in their URLs; 1–50, each 1–100
    /// letters, digits, `-`, `_` or `.`.
    pub boards: Vec<String>,
    /// Only jobs whose title contains one of these words (case-insensitive; at most 20).
    pub keywords: Option<Vec<String>>,
    /// Crawl each company's website for contacts (default true).
    pub crawl_websites: Option<bool>,
    /// Links followed on each website, 0–1 (default 0: its first page only).
    pub crawl_depth: Option<i32>,
    /// Pages fetched at most, 1–10,000 (default 500).
    pub max_pages: Option<i32>,
    /// Politeness: requests per second per host, 0.1–50 (default 5).
    pub requests_per_second: Option<f64>,
}

/// People from a people-search provider API (no scraping of social networks).
#[derive(InputObject, Debug, Clone, Default)]
pub struct SocialScrapeInput {
    /// Current job title, e.g. "Head of Marketing" (at most 200 characters).
    pub job_title: Option<String>,
    /// Current company name (at most 200 characters).
    pub company: Option<String>,
    /// ISO country code (required by the provider).
    pub country: String,
    /// City (at most 100 characters).
    pub city: Option<String>,
    /// People at most, 1–100 (default 25).
    pub max_results: Option<i32>,
}
