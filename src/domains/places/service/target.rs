//! Places' answer to scraping's `LocationResolver`: a scrape job's `locationId` is a saved
//! location of the viewer's organization (registered at start-up by [`super::super::register`],
//! since scraping sits below places and cannot read its table).

use async_trait::async_trait;
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer},
    domains::scraping::{types::GeoPointInput, LocationResolver, TargetLocation},
    error::{AppError, AppResult},
    state::AppState,
};

/// Resolves saved locations for scrape jobs.
pub struct SavedLocations;

#[async_trait]
impl LocationResolver for SavedLocations {
    async fn resolve(
        &self,
        state: &AppState,
        viewer: &Viewer,
        id: Uuid,
    ) -> AppResult<Option<TargetLocation>> {
        viewer.require(Permission::ReadPlaces)?;
        match super::get(&state.db, viewer, id).await {
            Ok(m) => Ok(Some(TargetLocation {
                name: m.name,
                point: GeoPointInput {
                    latitude: m.latitude,
                    longitude: m.longitude,
                },
                radius_km: m.radius_km,
            })),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
