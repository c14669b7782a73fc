//! Scrape jobs that target a saved location (`createScrapeJob(input: {locationId})`).
//!
//! Saved locations belong to places, which sits above scraping in the domain order: scraping
//! defines the [`LocationResolver`] trait and a registry, and places registers its resolver at
//! start-up (as conversations registers outreach's `InboundMailSink`). [`apply`] fills the
//! input before validation: GOOGLE_MAPS biases around the location's point and radius (unless
//! `googleMaps.location` / `radius` are given; the radius is capped at the Places API's
//! 50 km), SEARCH appends the location's name to the query. A location the viewer's
//! organization does not have is NOT_FOUND; other sources refuse `locationId`.

use std::sync::{Arc, RwLock};

use async_graphql::ID;
use async_trait::async_trait;
use uuid::Uuid;

use super::params::{CreateScrapeJobInput, GeoPointInput, ScrapeSource};
use crate::{
    auth::Viewer,
    error::{AppError, AppResult},
    state::AppState,
};

/// What a scrape needs of a saved location.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetLocation {
    /// Its name.
    pub name: String,
    /// Its point.
    pub point: GeoPointInput,
    /// The area it stands for, kilometres.
    pub radius_km: f64,
}

/// Finds a saved location of the viewer's organization.
#[async_trait]
pub trait LocationResolver: Send + Sync + 'static {
    /// The location `id` of `viewer`'s organization; `None` when it has none by that id.
    async fn resolve(
        &self,
        state: &AppState,
        viewer: &Viewer,
        id: Uuid,
    ) -> AppResult<Option<TargetLocation>>;
}

static RESOLVER: RwLock<Option<Arc<dyn LocationResolver>>> = RwLock::new(None);

/// Registers the resolver of saved locations (places, at start-up); the last one wins.
pub fn register_location_resolver(resolver: impl LocationResolver) {
    let mut r = RESOLVER.write().unwrap_or_else(|e| e.into_inner());
    *r = Some(Arc::new(resolver));
}

/// Google Places' largest bias radius, metres.
const MAX_BIAS_M: f64 = 50_000.0;

/// `input` with its saved location (`locationId`) applied, or `input` as it is without one.
pub async fn apply(
    state: &AppState,
    viewer: &Viewer,
    input: &CreateScrapeJobInput,
) -> AppResult<CreateScrapeJobInput> {
    let mut input = input.clone();
    let Some(id) = input.location_id.take() else {
        return Ok(input);
    };
    if !matches!(
        input.source,
        ScrapeSource::GoogleMaps | ScrapeSource::Search
    ) {
        return Err(AppError::invalid(
            "input.locationId",
            "is only taken when source is GOOGLE_MAPS or SEARCH",
        ));
    }
    let target = resolve(state, viewer, &id).await?;
    if let Some(m) = input.google_maps.as_mut() {
        m.location.get_or_insert(target.point);
        m.radius
            .get_or_insert((target.radius_km * 1000.0).clamp(1.0, MAX_BIAS_M));
    }
    if let Some(s) = input.search.as_mut() {
        s.query = format!("{} {}", s.query.trim(), target.name);
    }
    Ok(input)
}

async fn resolve(state: &AppState, viewer: &Viewer, id: &ID) -> AppResult<TargetLocation> {
    let resolver = RESOLVER.read().unwrap_or_else(|e| e.into_inner()).clone();
    let id = Uuid::parse_str(id.as_str()).map_err(|_| AppError::NotFound("location"))?;
    match resolver {
        Some(r) => r.resolve(state, viewer, id).await?,
        None => None,
    }
    .ok_or(AppError::NotFound("location"))
}
