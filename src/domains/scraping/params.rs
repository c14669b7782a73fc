//! `createScrapeJob` input: one typed parameter object per source, validated into [`Params`],
//! which is stored with the job (JSON) and read back by the runner.

use async_graphql::{Enum, InputObject};
use serde::{Deserialize, Serialize};

use crate::{
    config::Config,
    error::{AppError, AppResult, FieldError},
    platform::outbound::check_url,
};

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
    /// Craigslist listings. Not available yet.
    Craigslist,
    /// Job boards. Not available yet.
    JobBoards,
    /// Social networks. Not available yet.
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
}

impl Params {
    /// The crawl settings.
    pub fn crawl(&self) -> &Crawl {
        match self {
            Params::Website { crawl }
            | Params::Search { crawl, .. }
            | Params::GoogleMaps { crawl, .. } => crawl,
        }
    }

    /// The source.
    pub fn source(&self) -> ScrapeSource {
        match self {
            Params::Website { .. } => ScrapeSource::Website,
            Params::Search { .. } => ScrapeSource::Search,
            Params::GoogleMaps { .. } => ScrapeSource::GoogleMaps,
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

/// Collects every problem, as the leads validation does.
struct V {
    errors: Vec<FieldError>,
}

impl V {
    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn int(&mut self, field: &str, v: Option<i32>, min: i32, max: i32, default: i32) -> i32 {
        match v {
            Some(n) if !(min..=max).contains(&n) => {
                self.fail(field, format!("must be between {min} and {max}"));
                default
            }
            Some(n) => n,
            None => default,
        }
    }

    fn float(&mut self, field: &str, v: Option<f64>, min: f64, max: f64, default: f64) -> f64 {
        match v {
            Some(n) if !n.is_finite() || n < min || n > max => {
                self.fail(field, format!("must be between {min} and {max}"));
                default
            }
            Some(n) => n,
            None => default,
        }
    }

    fn text(&mut self, field: &str, v: &str, max: usize) -> String {
        let t = v.trim();
        if t.is_empty() {
            self.fail(field, "must not be empty");
        } else if t.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        }
        t.to_string()
    }

    fn country(&mut self, field: &str, v: Option<&str>) -> Option<String> {
        let v = v.map(str::trim).filter(|s| !s.is_empty())?.to_uppercase();
        if v.len() != 2 || !v.chars().all(|c| c.is_ascii_alphabetic()) {
            self.fail(field, "must be an ISO 3166-1 alpha-2 code such as US or DE");
            return None;
        }
        Some(v)
    }
}

/// Validates the input into [`Params`] and a job name. Every bad field is reported at once with
/// its path (`input.website.maxDepth`). Sources that are not built, or whose API key is not
/// configured, are BAD_USER_INPUT on `input.source`.
pub fn validate(input: &CreateScrapeJobInput, config: &Config) -> AppResult<(Params, String)> {
    let mut v = V { errors: Vec::new() };
    let given = [
        ("website", input.website.is_some(), ScrapeSource::Website),
        ("search", input.search.is_some(), ScrapeSource::Search),
        (
            "googleMaps",
            input.google_maps.is_some(),
            ScrapeSource::GoogleMaps,
        ),
    ];
    for (name, present, source) in given {
        if present && source != input.source {
            v.fail(
                &format!("input.{name}"),
                format!("must be omitted when source is {}", input.source.as_str()),
            );
        }
    }
    let missing = |v: &mut V, name: &str| {
        v.fail(
            &format!("input.{name}"),
            format!("is required when source is {}", input.source.as_str()),
        );
    };
    let allow_private = config.outbound_allow_private_networks;
    let params = match input.source {
        ScrapeSource::Craigslist | ScrapeSource::JobBoards | ScrapeSource::Social => {
            v.fail(
                "input.source",
                format!("{} scraping is not available yet", input.source.as_str()),
            );
            None
        }
        ScrapeSource::Website => match &input.website {
            None => {
                missing(&mut v, "website");
                None
            }
            Some(w) => {
                let p = "input.website";
                if w.urls.is_empty() || w.urls.len() > 100 {
                    v.fail(&format!("{p}.urls"), "must hold 1–100 URLs");
                }
                let mut urls = Vec::new();
                for (i, raw) in w.urls.iter().enumerate() {
                    match check_url(raw, allow_private) {
                        Ok(u) if u.as_str().len() <= super::crawler::MAX_URL_LEN => {
                            urls.push(u.to_string())
                        }
                        Ok(_) => v.fail(&format!("{p}.urls[{i}]"), "is too long"),
                        Err(e) => v.fail(&format!("{p}.urls[{i}]"), e.to_string()),
                    }
                }
                Some(Params::Website {
                    crawl: Crawl {
                        urls,
                        max_depth: v.int(
                            &format!("{p}.maxDepth"),
                            w.max_depth,
                            0,
                            5,
                            DEFAULT_DEPTH,
                        ),
                        max_pages: v.int(
                            &format!("{p}.maxPages"),
                            w.max_pages,
                            1,
                            10_000,
                            DEFAULT_MAX_PAGES,
                        ),
                        same_domain_only: w.same_domain_only.unwrap_or(true),
                        requests_per_second: v.float(
                            &format!("{p}.requestsPerSecond"),
                            w.requests_per_second,
                            0.1,
                            50.0,
                            DEFAULT_RPS,
                        ),
                        concurrency: v.int(
                            &format!("{p}.concurrency"),
                            w.concurrency,
                            1,
                            16,
                            DEFAULT_CONCURRENCY,
                        ),
                        default_country: v
                            .country(&format!("{p}.defaultCountry"), w.default_country.as_deref()),
                    },
                })
            }
        },
        ScrapeSource::Search => match &input.search {
            None => {
                missing(&mut v, "search");
                None
            }
            Some(s) => {
                let p = "input.search";
                if config.brave_api_key.is_none() {
                    v.fail(
                        "input.source",
                        "SEARCH is not available: the server has no BRAVE_API_KEY",
                    );
                }
                let country = v.country(&format!("{p}.country"), s.country.as_deref());
                Some(Params::Search {
                    search: SearchParams {
                        query: v.text(&format!("{p}.query"), &s.query, 400),
                        count: v.int(&format!("{p}.count"), s.count, 1, 20, 20),
                        pages: v.int(&format!("{p}.pages"), s.pages, 1, 10, 1),
                        country: country.clone(),
                    },
                    crawl: Crawl {
                        urls: Vec::new(),
                        max_depth: v.int(&format!("{p}.crawlDepth"), s.crawl_depth, 0, 1, 0),
                        max_pages: v.int(
                            &format!("{p}.maxPages"),
                            s.max_pages,
                            1,
                            10_000,
                            DEFAULT_MAX_PAGES,
                        ),
                        same_domain_only: true,
                        requests_per_second: v.float(
                            &format!("{p}.requestsPerSecond"),
                            s.requests_per_second,
                            0.1,
                            50.0,
                            DEFAULT_RPS,
                        ),
                        concurrency: v.int(
                            &format!("{p}.concurrency"),
                            s.concurrency,
                            1,
                            16,
                            DEFAULT_CONCURRENCY,
                        ),
                        default_country: country,
                    },
                })
            }
        },
        ScrapeSource::GoogleMaps => match &input.google_maps {
            None => {
                missing(&mut v, "googleMaps");
                None
            }
            Some(m) => {
                let p = "input.googleMaps";
                if config.google_places_api_key.is_none() {
                    v.fail(
                        "input.source",
                        "GOOGLE_MAPS is not available: the server has no GOOGLE_PLACES_API_KEY",
                    );
                }
                if let Some(l) = m.location {
                    if !l.latitude.is_finite() || l.latitude.abs() > 90.0 {
                        v.fail(
                            &format!("{p}.location.latitude"),
                            "must be between -90 and 90",
                        );
                    }
                    if !l.longitude.is_finite() || l.longitude.abs() > 180.0 {
                        v.fail(
                            &format!("{p}.location.longitude"),
                            "must be between -180 and 180",
                        );
                    }
                }
                Some(Params::GoogleMaps {
                    maps: MapsParams {
                        query: v.text(&format!("{p}.query"), &m.query, 400),
                        location: m.location,
                        radius: v.float(&format!("{p}.radius"), m.radius, 1.0, 50_000.0, 5_000.0),
                        max_results: v.int(&format!("{p}.maxResults"), m.max_results, 1, 60, 20),
                        crawl_websites: m.crawl_websites.unwrap_or(false),
                    },
                    crawl: Crawl {
                        urls: Vec::new(),
                        max_depth: 0,
                        max_pages: 60,
                        same_domain_only: true,
                        requests_per_second: v.float(
                            &format!("{p}.requestsPerSecond"),
                            m.requests_per_second,
                            0.1,
                            50.0,
                            DEFAULT_RPS,
                        ),
                        concurrency: DEFAULT_CONCURRENCY,
                        default_country: None,
                    },
                })
            }
        },
    };
    let name = match &input.name {
        Some(n) => v.text("input.name", n, 200),
        None => match &params {
            Some(Params::Website { crawl }) => crawl
                .urls
                .first()
                .and_then(|u| url::Url::parse(u).ok())
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "Website scrape".into()),
            Some(Params::Search { search, .. }) => search.query.chars().take(200).collect(),
            Some(Params::GoogleMaps { maps, .. }) => maps.query.chars().take(200).collect(),
            None => String::new(),
        },
    };
    match params {
        Some(p) if v.errors.is_empty() => Ok((p, name)),
        _ => Err(AppError::invalid_fields(v.errors)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cfg() -> Config {
        Config::from_lookup(|_| None).unwrap()
    }

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::BadUserInput { fields, .. } => fields.into_iter().map(|f| f.field).collect(),
            _ => panic!("not BAD_USER_INPUT"),
        }
    }

    #[test]
    fn website_defaults_and_bounds() {
        let input = CreateScrapeJobInput {
            source: ScrapeSource::Website,
            name: None,
            website: Some(WebsiteScrapeInput {
                urls: vec!["https://acme.example/".into()],
                ..Default::default()
            }),
            search: None,
            google_maps: None,
        };
        let (p, name) = validate(&input, &cfg()).unwrap();
        assert_eq!(name, "acme.example");
        let c = p.crawl();
        assert_eq!((c.max_depth, c.max_pages, c.concurrency), (2, 500, 4));
        assert_eq!(c.requests_per_second, 5.0);
        // Round trip through storage.
        let back: Params = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(back, p);

        let bad = CreateScrapeJobInput {
            website: Some(WebsiteScrapeInput {
                urls: vec!["ftp://x.example".into(), "http://127.0.0.1/".into()],
                max_depth: Some(6),
                max_pages: Some(0),
                requests_per_second: Some(51.0),
                ..Default::default()
            }),
            search: Some(SearchScrapeInput::default()),
            ..input
        };
        assert_eq!(
            fields(validate(&bad, &cfg()).unwrap_err()),
            [
                "input.search",
                "input.website.urls[0]",
                "input.website.urls[1]",
                "input.website.maxDepth",
                "input.website.maxPages",
                "input.website.requestsPerSecond"
            ]
        );
    }

    #[test]
    fn unbuilt_and_unconfigured_sources_are_refused() {
        let input = CreateScrapeJobInput {
            source: ScrapeSource::Craigslist,
            name: None,
            website: None,
            search: None,
            google_maps: None,
        };
        assert_eq!(
            fields(validate(&input, &cfg()).unwrap_err()),
            ["input.source"]
        );
        let input = CreateScrapeJobInput {
            source: ScrapeSource::Search,
            search: Some(SearchScrapeInput {
                query: "dentists".into(),
                ..Default::default()
            }),
            ..input
        };
        assert_eq!(
            fields(validate(&input, &cfg()).unwrap_err()),
            ["input.source"]
        );
        let input = CreateScrapeJobInput {
            search: None,
            ..input
        };
        assert_eq!(
            fields(validate(&input, &cfg()).unwrap_err()),
            ["input.search"]
        );
    }
}
