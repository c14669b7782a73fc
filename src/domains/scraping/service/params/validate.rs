//! Validation of the `createScrapeJob` input into [`Params`] (every bad field reported at once
//! with its path).

use super::*;
use crate::{
    auth::Viewer,
    error::{AppError, AppResult, FieldError},
    state::AppState,
};

/// Collects every problem, as the leads validation does.
pub(crate) struct V {
    errors: Vec<FieldError>,
}

impl V {
    /// No problem found so far.
    pub(crate) fn errors_is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    pub(crate) fn int(
        &mut self,
        field: &str,
        v: Option<i32>,
        min: i32,
        max: i32,
        default: i32,
    ) -> i32 {
        match v {
            Some(n) if !(min..=max).contains(&n) => {
                self.fail(field, format!("must be between {min} and {max}"));
                default
            }
            Some(n) => n,
            None => default,
        }
    }

    pub(crate) fn float(
        &mut self,
        field: &str,
        v: Option<f64>,
        min: f64,
        max: f64,
        default: f64,
    ) -> f64 {
        match v {
            Some(n) if !n.is_finite() || n < min || n > max => {
                self.fail(field, format!("must be between {min} and {max}"));
                default
            }
            Some(n) => n,
            None => default,
        }
    }

    pub(crate) fn text(&mut self, field: &str, v: &str, max: usize) -> String {
        let t = v.trim();
        if t.is_empty() {
            self.fail(field, "must not be empty");
        } else if t.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        }
        t.to_string()
    }

    pub(crate) fn country(&mut self, field: &str, v: Option<&str>) -> Option<String> {
        let v = v.map(str::trim).filter(|s| !s.is_empty())?.to_uppercase();
        if v.len() != 2 || !v.chars().all(|c| c.is_ascii_alphabetic()) {
            self.fail(field, "must be an ISO 3166-1 alpha-2 code such as US or DE");
            return None;
        }
        Some(v)
    }
}

/// Validates the input of `viewer` (their organization's API keys, else the server's), with
/// its saved location applied (`target::apply`), and records the organization in the
/// parameters of key-based sources, so their run uses the organization's key.
pub async fn validate_for(
    state: &AppState,
    viewer: &Viewer,
    input: &CreateScrapeJobInput,
) -> AppResult<(Params, String)> {
    let keys = Keys::load(
        &state.db,
        Some(viewer.org_id),
        &state.config,
        &state.secrets,
    )
    .await?;
    let input = super::super::target::apply(state, viewer, input).await?;
    let (mut params, name) = validate_with(&input, &state.config, &keys)?;
    match &mut params {
        Params::Search { search, .. } => search.org_id = Some(viewer.org_id),
        Params::GoogleMaps { maps, .. } => maps.org_id = Some(viewer.org_id),
        Params::Social { social, .. } => social.org_id = Some(viewer.org_id),
        _ => {}
    }
    Ok((params, name))
}

/// [`validate_with`] with the server's keys only.
pub fn validate(input: &CreateScrapeJobInput, config: &Config) -> AppResult<(Params, String)> {
    validate_with(input, config, &Keys::from_config(config))
}

/// Validates the input into [`Params`] and a job name. Every bad field is reported at once with
/// its path (`input.website.maxDepth`). Sources whose API key is configured neither for the
/// organization nor on the server are BAD_USER_INPUT on `input.source`.
pub fn validate_with(
    input: &CreateScrapeJobInput,
    config: &Config,
    keys: &Keys,
) -> AppResult<(Params, String)> {
    let mut v = V { errors: Vec::new() };
    only_matching(&mut v, input);
    let params = source_params(&mut v, input, config, keys);
    let name = match &input.name {
        Some(n) => v.text("input.name", n, 200),
        None => params.as_ref().map(default_name).unwrap_or_default(),
    };
    match params {
        Some(p) if v.errors.is_empty() => Ok((p, name)),
        _ => Err(AppError::invalid_fields(v.errors)),
    }
}

/// Every parameter object but the one matching `source` must be omitted.
fn only_matching(v: &mut V, input: &CreateScrapeJobInput) {
    let given = [
        ("website", input.website.is_some(), ScrapeSource::Website),
        ("search", input.search.is_some(), ScrapeSource::Search),
        (
            "googleMaps",
            input.google_maps.is_some(),
            ScrapeSource::GoogleMaps,
        ),
        (
            "craigslist",
            input.craigslist.is_some(),
            ScrapeSource::Craigslist,
        ),
        (
            "jobBoards",
            input.job_boards.is_some(),
            ScrapeSource::JobBoards,
        ),
        ("social", input.social.is_some(), ScrapeSource::Social),
    ];
    for (name, present, source) in given {
        if present && source != input.source {
            v.fail(
                &format!("input.{name}"),
                format!("must be omitted when source is {}", input.source.as_str()),
            );
        }
    }
}

/// The parameters of `input.source`, validated (`None` when its object is missing).
fn source_params(
    v: &mut V,
    input: &CreateScrapeJobInput,
    config: &Config,
    keys: &Keys,
) -> Option<Params> {
    use crate::domains::scraping::service::sources::{craigslist, job_boards, social};
    let source = input.source;
    let missing = |v: &mut V, name: &str| {
        v.fail(
            &format!("input.{name}"),
            format!("is required when source is {}", source.as_str()),
        );
        None
    };
    match source {
        ScrapeSource::Craigslist => match &input.craigslist {
            None => missing(v, "craigslist"),
            Some(c) => Some(craigslist::validate(v, c, config)),
        },
        ScrapeSource::JobBoards => match &input.job_boards {
            None => missing(v, "jobBoards"),
            Some(j) => Some(job_boards::validate(v, j)),
        },
        ScrapeSource::Social => match &input.social {
            None => missing(v, "social"),
            Some(s) => {
                if keys.social.is_none() {
                    v.fail(
                        "input.source",
                        "SOCIAL is not available: set a people-search provider key with updateScrapingSettings(socialApiKey) or SOCIAL_API_KEY on the server (LinkedIn and similar networks are not scraped)",
                    );
                }
                Some(social::validate(v, s))
            }
        },
        ScrapeSource::Website => match &input.website {
            None => missing(v, "website"),
            Some(w) => Some(website(v, w, config)),
        },
        ScrapeSource::Search => match &input.search {
            None => missing(v, "search"),
            Some(s) => Some(search(v, s, keys)),
        },
        ScrapeSource::GoogleMaps => match &input.google_maps {
            None => missing(v, "googleMaps"),
            Some(m) => Some(google_maps(v, m, keys)),
        },
    }
}

/// The job's name when none is given.
fn default_name(params: &Params) -> String {
    match params {
        Params::Website { crawl } => crawl
            .urls
            .first()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "Website scrape".into()),
        Params::Search { search, .. } => search.query.chars().take(200).collect(),
        Params::GoogleMaps { maps, .. } => maps.query.chars().take(200).collect(),
        Params::Craigslist { craigslist, .. } => craigslist.default_name(),
        Params::JobBoards { job_boards, .. } => job_boards.default_name(),
        Params::Social { social, .. } => social.default_name(),
    }
}

/// `requestsPerSecond` and `concurrency` under `p`.
fn politeness(v: &mut V, p: &str, rps: Option<f64>, concurrency: Option<i32>) -> (f64, i32) {
    (
        v.float(
            &format!("{p}.requestsPerSecond"),
            rps,
            0.1,
            50.0,
            DEFAULT_RPS,
        ),
        v.int(
            &format!("{p}.concurrency"),
            concurrency,
            1,
            16,
            DEFAULT_CONCURRENCY,
        ),
    )
}

fn website(v: &mut V, w: &WebsiteScrapeInput, config: &Config) -> Params {
    let p = "input.website";
    if w.urls.is_empty() || w.urls.len() > 100 {
        v.fail(&format!("{p}.urls"), "must hold 1–100 URLs");
    }
    let mut urls = Vec::new();
    for (i, raw) in w.urls.iter().enumerate() {
        match config.check_user_url(raw) {
            Ok(u)
                if u.as_str().len() <= crate::domains::scraping::service::crawler::MAX_URL_LEN =>
            {
                urls.push(u.to_string())
            }
            Ok(_) => v.fail(&format!("{p}.urls[{i}]"), "is too long"),
            Err(e) => v.fail(&format!("{p}.urls[{i}]"), e.to_string()),
        }
    }
    let max_depth = v.int(&format!("{p}.maxDepth"), w.max_depth, 0, 5, DEFAULT_DEPTH);
    let max_pages = v.int(
        &format!("{p}.maxPages"),
        w.max_pages,
        1,
        10_000,
        DEFAULT_MAX_PAGES,
    );
    let (requests_per_second, concurrency) = politeness(v, p, w.requests_per_second, w.concurrency);
    let default_country = v.country(&format!("{p}.defaultCountry"), w.default_country.as_deref());
    Params::Website {
        crawl: Crawl {
            urls,
            max_depth,
            max_pages,
            same_domain_only: w.same_domain_only.unwrap_or(true),
            requests_per_second,
            concurrency,
            default_country,
        },
    }
}

fn search(v: &mut V, s: &SearchScrapeInput, keys: &Keys) -> Params {
    let p = "input.search";
    if keys.brave.is_none() {
        v.fail(
            "input.source",
            "SEARCH is not available: no Brave API key (updateScrapingSettings(braveApiKey) or BRAVE_API_KEY on the server)",
        );
    }
    let country = v.country(&format!("{p}.country"), s.country.as_deref());
    let search = SearchParams {
        query: v.text(&format!("{p}.query"), &s.query, 400),
        count: v.int(&format!("{p}.count"), s.count, 1, 20, 20),
        pages: v.int(&format!("{p}.pages"), s.pages, 1, 10, 1),
        country: country.clone(),
        org_id: None,
    };
    let max_depth = v.int(&format!("{p}.crawlDepth"), s.crawl_depth, 0, 1, 0);
    let max_pages = v.int(
        &format!("{p}.maxPages"),
        s.max_pages,
        1,
        10_000,
        DEFAULT_MAX_PAGES,
    );
    let (requests_per_second, concurrency) = politeness(v, p, s.requests_per_second, s.concurrency);
    Params::Search {
        search,
        crawl: Crawl {
            urls: Vec::new(),
            max_depth,
            max_pages,
            same_domain_only: true,
            requests_per_second,
            concurrency,
            default_country: country,
        },
    }
}

fn google_maps(v: &mut V, m: &GoogleMapsScrapeInput, keys: &Keys) -> Params {
    let p = "input.googleMaps";
    if keys.places.is_none() {
        v.fail(
            "input.source",
            "GOOGLE_MAPS is not available: no Google Places API key (updateScrapingSettings(googlePlacesApiKey) or GOOGLE_PLACES_API_KEY on the server)",
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
    let maps = MapsParams {
        query: v.text(&format!("{p}.query"), &m.query, 400),
        location: m.location,
        radius: v.float(&format!("{p}.radius"), m.radius, 1.0, 50_000.0, 5_000.0),
        max_results: v.int(&format!("{p}.maxResults"), m.max_results, 1, 60, 20),
        crawl_websites: m.crawl_websites.unwrap_or(false),
        org_id: None,
    };
    let rps = v.float(
        &format!("{p}.requestsPerSecond"),
        m.requests_per_second,
        0.1,
        50.0,
        DEFAULT_RPS,
    );
    Params::GoogleMaps {
        maps,
        crawl: Crawl {
            urls: Vec::new(),
            max_depth: 0,
            max_pages: 60,
            same_domain_only: true,
            requests_per_second: rps,
            concurrency: DEFAULT_CONCURRENCY,
            default_country: None,
        },
    }
}
