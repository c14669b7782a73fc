//! Scraping: durable scrape jobs (website crawl, Brave web search, Google Places, Craigslist,
//! Greenhouse/Lever job boards, a people-search API), a polite and
//! SSRF-safe crawler, contact extraction into leads with provenance, live progress, and the
//! audience builder (saved lead filters).

pub mod audiences;
pub mod crawler;
pub mod extract;
pub mod params;
pub mod resolver;
pub mod run;
pub mod service;
pub mod sink;
pub mod sources;
pub mod types;

/// Kept while outreach moves to [`crate::platform::mx`].
pub use crate::platform::mx;
pub use resolver::{ScrapingMutation, ScrapingQuery, ScrapingSubscription};
