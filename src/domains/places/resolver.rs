//! The places domain's root objects: `PlacesQuery` and `PlacesMutation`, merged from the
//! saved-locations roots here and the `files` sub-domain's.

use async_graphql::{Context, MergedObject, Object, ID};

use super::{
    files,
    service::{self as places, geocode, spatial, tiles},
    types::{
        BoundingBox, Clusters, CreateLocationInput, GeoPointInput, GeocodeCandidate, Heatmap,
        LeadNearConnection, LocationFilter, LocationStat, MapLeads, NearbyLocation, SavedLocation,
        UpdateLocationInput,
    },
};
use crate::{
    auth::Permission,
    domains::{audit::note_ref as note, leads::types::LeadFilter},
    error::{AppError, AppResult},
    graphql::{
        pagination::{IdConnection, KeysetArgs, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// Pins `mapLeads` returns without `limit`.
const DEFAULT_PINS: i32 = 1_000;

/// Places queries.
#[derive(MergedObject, Default)]
pub struct PlacesQuery(LocationsQuery, files::FilesQuery);

/// Places mutations.
#[derive(MergedObject, Default)]
pub struct PlacesMutation(LocationsMutation, files::FilesMutation);

/// Saved locations and spatial queries.
#[derive(Default)]
pub struct LocationsQuery;

#[Object]
impl LocationsQuery {
    /// Saved locations of the organization, newest first.
    async fn locations(
        &self,
        ctx: &Context<'_>,
        filter: Option<LocationFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<SavedLocation>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        places::list(state, viewer, &filter.unwrap_or_default(), args).await
    }

    /// One saved location; null when it does not exist in the viewer's organization.
    async fn location(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<SavedLocation>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadPlaces)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match places::get(&state.db, viewer, id).await {
            Ok(m) => Ok(Some(m.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Saved locations whose point lies within `radiusKm` of `point`, nearest first (at most
    /// 200).
    async fn nearby_locations(
        &self,
        ctx: &Context<'_>,
        point: GeoPointInput,
        radius_km: f64,
    ) -> AppResult<Vec<NearbyLocation>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (p, r) = places::point_and_radius(point, radius_km)?;
        places::nearby(state, viewer, p, r).await
    }

    /// Leads within `radiusKm` of `point` (great-circle) that match `filter`, nearest first;
    /// each edge carries its `distanceKm`.
    #[allow(clippy::too_many_arguments)]
    async fn leads_near(
        &self,
        ctx: &Context<'_>,
        point: GeoPointInput,
        radius_km: f64,
        filter: Option<LeadFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<LeadNearConnection> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (p, r) = places::point_and_radius(point, radius_km)?;
        let args = KeysetArgs::new(first, after, last, before)?;
        spatial::leads_near(state, viewer, &filter.unwrap_or_default(), p, r, args).await
    }

    /// Leads within a saved location's radius, nearest its point first (like `leadsNear`).
    #[allow(clippy::too_many_arguments)]
    async fn location_leads(
        &self,
        ctx: &Context<'_>,
        id: ID,
        filter: Option<LeadFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<LeadNearConnection> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadPlaces)?;
        let args = KeysetArgs::new(first, after, last, before)?;
        let id = parse_id(&id).map_err(|_| AppError::NotFound("location"))?;
        let m = places::get(&state.db, viewer, id).await?;
        let center = places::geo::Point {
            lat: m.latitude,
            lng: m.longitude,
        };
        let filter = filter.unwrap_or_default();
        spatial::leads_near(state, viewer, &filter, center, m.radius_km, args).await
    }

    /// Leads inside `bbox` that match `filter`, as light map pins, highest score first
    /// (`limit` 1–5,000, default 1,000).
    async fn map_leads(
        &self,
        ctx: &Context<'_>,
        bbox: BoundingBox,
        filter: Option<LeadFilter>,
        limit: Option<i32>,
    ) -> AppResult<MapLeads> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let b = places::check_bbox(bbox)?;
        let limit = u64::try_from(limit.unwrap_or(DEFAULT_PINS)).unwrap_or(0);
        spatial::map_leads(state, viewer, &filter.unwrap_or_default(), b, limit).await
    }

    /// Lead counts per geohash cell of the view (`zoom` 0–22 sets the cell size), with
    /// weights relative to the fullest cell.
    async fn heatmap(
        &self,
        ctx: &Context<'_>,
        bbox: BoundingBox,
        zoom: i32,
        filter: Option<LeadFilter>,
    ) -> AppResult<Heatmap> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let b = places::check_bbox(bbox)?;
        let z = tiles::check_zoom(zoom)?;
        tiles::heatmap(state, viewer, &filter.unwrap_or_default(), b, z).await
    }

    /// The leads of the view grouped per geohash cell (stable while the map pans): count,
    /// centroid and bounds of each cluster.
    async fn clusters(
        &self,
        ctx: &Context<'_>,
        bbox: BoundingBox,
        zoom: i32,
        filter: Option<LeadFilter>,
    ) -> AppResult<Clusters> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let b = places::check_bbox(bbox)?;
        let z = tiles::check_zoom(zoom)?;
        tiles::clusters(state, viewer, &filter.unwrap_or_default(), b, z).await
    }

    /// Leads within each saved location's radius (the newest 200 locations).
    async fn location_stats(&self, ctx: &Context<'_>) -> AppResult<Vec<LocationStat>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        places::stats(state, viewer).await
    }

    /// Places matching a free-text query ("Austin, TX", an address), best first (at most
    /// `limit`, 5 by default, at most 10): the offline gazetteer (city precision), or the
    /// Nominatim-compatible geocoder at `GEOCODER_URL` (cached, one request per second).
    async fn search_locations(
        &self,
        ctx: &Context<'_>,
        query: String,
        limit: Option<i32>,
    ) -> AppResult<Vec<GeocodeCandidate>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        geocode::search_locations(state, viewer, &query, limit).await
    }
}

/// Saved-location mutations.
#[derive(Default)]
pub struct LocationsMutation;

#[Object]
impl LocationsMutation {
    /// Saves a location at `point`, or at its `address` geocoded (gazetteer or `GEOCODER_URL`).
    async fn create_location(
        &self,
        ctx: &Context<'_>,
        input: CreateLocationInput,
    ) -> AppResult<SavedLocation> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = places::create(state, viewer, input).await?;
        note(ctx, "location", m.id);
        Ok(m.into())
    }

    /// Changes the fields given.
    async fn update_location(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateLocationInput,
    ) -> AppResult<SavedLocation> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = parse_id(&id).map_err(|_| AppError::NotFound("location"))?;
        let m = places::update(state, viewer, id, input).await?;
        note(ctx, "location", m.id);
        Ok(m.into())
    }

    /// Deletes a saved location; returns its id.
    async fn delete_location(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let uuid = parse_id(&id).map_err(|_| AppError::NotFound("location"))?;
        places::delete(state, viewer, uuid).await?;
        note(ctx, "location", uuid);
        Ok(id)
    }
}
