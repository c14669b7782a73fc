//! Geocoding: the [`Geocoder`] trait and its two implementations, the offline gazetteer
//! ([`super::gazetteer`], the embedded default, city precision) and [`Nominatim`]
//! (`GEOCODER_URL`, any server speaking Nominatim's `/search?format=jsonv2` API). Nominatim is
//! called politely: at most one request per second per process and endpoint (a `governor`
//! limiter shared by every caller), with a User-Agent naming the application, and its answers
//! are cached in `geocode_cache` (keyed by geocoder and normalized query, shared by every
//! instance), so an address is sent once.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, LazyLock, Mutex},
};

use async_trait::async_trait;
use chrono::Utc;
use entity::geocode_cache;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use sea_orm::{sea_query::OnConflict, ActiveValue::Set, EntityTrait};
use serde::Deserialize;

pub use super::super::types::{GeocodeCandidate as Candidate, GeocodePrecision as Precision};
use super::gazetteer;
use crate::{
    auth::{Permission, Viewer},
    domains::leads::Check,
    error::{AppError, AppResult},
    platform::outbound::OutboundClient,
    state::AppState,
};

/// Most candidates `searchLocations` returns.
pub const MAX_CANDIDATES: usize = 10;
/// Longest query, characters.
pub const MAX_QUERY_CHARS: usize = 300;
/// The User-Agent sent to remote geocoders (Nominatim's usage policy asks for one).
pub const USER_AGENT: &str = concat!(
    "leadgraph/",
    env!("CARGO_PKG_VERSION"),
    " (geocoding; +https://github.com/leadgraph)"
);

/// Finds places for a free-text query.
#[async_trait]
pub trait Geocoder: Send + Sync {
    /// The name recorded as provenance (`geocoder:<name>`) and in the cache key.
    fn name(&self) -> &'static str;

    /// Candidates for `query`, best first (at most `limit`).
    async fn search(&self, query: &str, limit: usize) -> AppResult<Vec<Candidate>>;
}

/// The embedded offline gazetteer.
pub struct Gazetteer;

#[async_trait]
impl Geocoder for Gazetteer {
    fn name(&self) -> &'static str {
        gazetteer::NAME
    }

    async fn search(&self, query: &str, limit: usize) -> AppResult<Vec<Candidate>> {
        Ok(gazetteer::search(query, limit))
    }
}

/// A Nominatim-compatible HTTP geocoder.
pub struct Nominatim {
    http: OutboundClient,
    base_url: String,
    limiter: Arc<DefaultDirectRateLimiter>,
}

/// One limiter per endpoint for the whole process: every application state (and every test
/// application in one process) sharing an endpoint shares its one request per second.
static LIMITERS: LazyLock<Mutex<HashMap<String, Arc<DefaultDirectRateLimiter>>>> =
    LazyLock::new(Mutex::default);

impl Nominatim {
    /// A client of the server at `base_url` (its `/search` endpoint) through `http`.
    pub fn new(http: OutboundClient, base_url: &str) -> Self {
        let base_url = base_url.trim_end_matches('/').to_string();
        let mut limiters = LIMITERS.lock().unwrap_or_else(|e| e.into_inner());
        let limiter = limiters
            .entry(base_url.clone())
            .or_insert_with(|| {
                let quota = Quota::per_second(NonZeroU32::MIN).allow_burst(NonZeroU32::MIN);
                Arc::new(RateLimiter::direct(quota))
            })
            .clone();
        Nominatim {
            http,
            base_url,
            limiter,
        }
    }
}

/// One result of Nominatim's `/search?format=jsonv2` (coordinates are strings).
#[derive(Deserialize)]
struct Place {
    lat: String,
    lon: String,
    display_name: String,
    #[serde(default)]
    place_rank: Option<u32>,
    #[serde(default)]
    address: Option<Address>,
}

#[derive(Deserialize, Default)]
struct Address {
    city: Option<String>,
    town: Option<String>,
    village: Option<String>,
    state: Option<String>,
    country_code: Option<String>,
}

/// Nominatim's `place_rank` (4 country … 30 building) as a precision.
fn precision_of(rank: Option<u32>) -> Precision {
    match rank.unwrap_or(16) {
        0..=4 => Precision::Country,
        5..=12 => Precision::Region,
        13..=25 => Precision::City,
        26..=29 => Precision::Street,
        _ => Precision::Rooftop,
    }
}

fn upstream(e: impl std::fmt::Display) -> AppError {
    AppError::Unavailable(format!("geocoder: {e}"))
}

#[async_trait]
impl Geocoder for Nominatim {
    fn name(&self) -> &'static str {
        "nominatim"
    }

    async fn search(&self, query: &str, limit: usize) -> AppResult<Vec<Candidate>> {
        let mut url = url::Url::parse(&format!("{}/search", self.base_url)).map_err(upstream)?;
        url.query_pairs_mut()
            .append_pair("q", query)
            .append_pair("format", "jsonv2")
            .append_pair("addressdetails", "1")
            .append_pair("limit", &limit.to_string());
        let builder = self
            .http
            .request(reqwest::Method::GET, url.as_str())
            .map_err(upstream)?
            .header(reqwest::header::USER_AGENT, USER_AGENT);
        self.limiter.until_ready().await;
        let response = self.http.execute(builder).await.map_err(upstream)?;
        if !response.is_success() {
            return Err(upstream(format!("HTTP {}", response.status)));
        }
        let places: Vec<Place> = serde_json::from_slice(&response.body).map_err(upstream)?;
        Ok(places
            .into_iter()
            .filter_map(|p| {
                let (lat, lng) = (p.lat.parse::<f64>().ok()?, p.lon.parse::<f64>().ok()?);
                let valid = lat.abs() <= 90.0 && lng.abs() <= 180.0;
                let a = p.address.unwrap_or_default();
                valid.then(|| Candidate {
                    label: p.display_name,
                    latitude: lat,
                    longitude: lng,
                    precision: precision_of(p.place_rank),
                    geocoder: self.name().into(),
                    city: a.city.or(a.town).or(a.village),
                    region: a.state,
                    country: a.country_code.map(|c| c.to_uppercase()),
                })
            })
            .collect())
    }
}

/// The configured geocoder: Nominatim at `GEOCODER_URL`, else the offline gazetteer.
pub fn configured(state: &AppState) -> Box<dyn Geocoder> {
    match &state.config.places.geocoder_url {
        Some(url) => Box::new(Nominatim::new(state.operator_http.clone(), url)),
        None => Box::new(Gazetteer),
    }
}

/// The query as cached: words separated by one space, lowercased.
fn normalize(query: &str) -> String {
    query
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `geocoder`'s candidates for `query` (up to [`MAX_CANDIDATES`]); a remote geocoder's answer
/// comes from `geocode_cache` when it was asked before, and is stored there otherwise.
pub async fn cached(
    state: &AppState,
    geocoder: &dyn Geocoder,
    query: &str,
) -> AppResult<Vec<Candidate>> {
    if geocoder.name() == gazetteer::NAME {
        return geocoder.search(query, MAX_CANDIDATES).await;
    }
    let key = format!("{}:{}", geocoder.name(), normalize(query));
    if let Some(hit) = geocode_cache::Entity::find_by_id(key.clone())
        .one(&state.db)
        .await?
    {
        return Ok(serde_json::from_value(hit.candidates)?);
    }
    let found = geocoder.search(query, MAX_CANDIDATES).await?;
    let row = geocode_cache::ActiveModel {
        key: Set(key),
        provider: Set(geocoder.name().into()),
        candidates: Set(serde_json::to_value(&found)?),
        created_at: Set(Utc::now()),
    };
    geocode_cache::Entity::insert(row)
        .on_conflict(
            OnConflict::column(geocode_cache::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&state.db)
        .await?;
    Ok(found)
}

/// `searchLocations(query, limit)`: the configured geocoder's candidates, best first.
pub async fn search_locations(
    state: &AppState,
    viewer: &Viewer,
    query: &str,
    limit: Option<i32>,
) -> AppResult<Vec<Candidate>> {
    viewer.require(Permission::ReadPlaces)?;
    let mut c = Check::new("");
    let q = c.text("query", Some(query), MAX_QUERY_CHARS);
    if q.as_deref().is_none_or(str::is_empty) && query.chars().count() <= MAX_QUERY_CHARS {
        c.errors.push(crate::error::FieldError {
            field: "query".into(),
            message: "is required".into(),
        });
    }
    let limit = limit.unwrap_or(5);
    if !(1..=MAX_CANDIDATES as i32).contains(&limit) {
        c.errors.push(crate::error::FieldError {
            field: "limit".into(),
            message: format!("must be between 1 and {MAX_CANDIDATES}"),
        });
    }
    c.finish()?;
    let q = q.unwrap_or_default();
    let mut found = cached(state, configured(state).as_ref(), &q).await?;
    found.truncate(limit as usize);
    Ok(found)
}
