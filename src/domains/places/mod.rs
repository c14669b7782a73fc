//! Places: the organization's saved locations and the spatial queries over its leads.
//!
//! **Saved locations** (`locations` table, `service/mod.rs`): a name, an optional address, a
//! point, a radius (10 km by default, at most 20,016 km) and tags. Without a point the address
//! is geocoded by the configured geocoder (before the transaction) and the location records
//! `geocoder` and `precision`; an address it cannot place is BAD_USER_INPUT on
//! `input.address`, and a new address in `updateLocation` (without a point) moves the point
//! the same way (migration 049). `locations(filter:
//! {search, tag})` pages newest first; `location(id)` is null for another organization's id,
//! and every other operation on it is NOT_FOUND. `nearbyLocations(point, radiusKm)` lists the
//! locations within a radius, nearest first; `locationStats` counts the leads within each
//! location's radius. Roles: `ReadPlaces` (VIEWER) reads, `WritePlaces` (MEMBER) creates and
//! changes, `DeletePlaces` (MANAGER) deletes; queries that show leads also need `ReadLeads`.
//!
//! **Spatial queries** (`service/spatial.rs`, `service/tiles.rs`): `leadsNear(point, radiusKm,
//! filter, …)` and `locationLeads(id, …)` page leads nearest first with `distanceKm` on each
//! edge (cursor = distance + id); `mapLeads(bbox, filter, limit)` returns light pins;
//! `heatmap` and `clusters(bbox, zoom, filter)` count leads per geohash cell (a grid aligned on
//! the globe, not the view, so panning does not reshuffle clusters). Points and boxes are
//! validated (latitude ±90, longitude ±180, radius > 0, south ≤ north); a box with `west >
//! east` crosses the antimeridian. Distances are great-circle (haversine, mean radius) and
//! computed in one place (`service/geo.rs`), so both backends return the same distances and
//! order, across the antimeridian and at the poles.
//!
//! **Index** (migration `000024`): candidates come from a spatial index, the exact test
//! follows. PostgreSQL: `cube` + `earthdistance`, GiST on `lg_ll_to_earth(latitude, longitude)`
//! (`000051`: `ll_to_earth` with its names bound, so autovacuum's ANALYZE can evaluate it),
//! queried with the 3-D cube that holds the box. SQLite: the R*Tree `lead_geo`, kept in step
//! with the leads' coordinates by triggers. Lead filters are the leads domain's
//! (`leads::filtered`), so a place query never sees another organization's leads.
//!
//! **Geocoding** (`service/geocode.rs`, `service/gazetteer.rs`, `service/lead_geocoding.rs`):
//! `searchLocations(query, limit)` asks the configured [`service::geocode::Geocoder`]: the
//! offline gazetteer embedded in the binary (GeoNames cities, city precision, no network), or
//! a Nominatim-compatible server at `GEOCODER_URL` (≤ 1 request/s per process, a User-Agent,
//! answers cached in `geocode_cache`). A lead whose city, region or country a person edits,
//! and which has no point, gets one from the job `places.geocode_lead`, queued by a handler on
//! `lead.updated` (leads never names places) and written through `leads::record_geocoded`
//! with provenance `geocoder:<name>` and the precision. Created leads (imports, crawls, one by
//! one) are geocoded in batches by `places.geocode_sweep` (`service/sweep.rs`): queued at most
//! once per organization, process and 5-second window on a committed `lead.created` (an
//! after-commit handler the outbox relay runs, `events::handlers::register_published`; an
//! in-process flag, no statement in the writer), one keyset read and one batched write per 100 leads, each attempt
//! recorded in `lead_geocode_attempts` so a place no geocoder finds is asked once.
//!
//! **Scrape targets** (`service/target.rs`): places registers scraping's `LocationResolver`,
//! so `createScrapeJob(input: {locationId})` finds the viewer's saved location (NOT_FOUND for
//! another organization's).
//!
//! **Events**: `location.changed` (`action` created / updated / deleted, with the changed
//! fields), through the outbox in the change's transaction. Places sits after `ai` in the
//! domain order: it reads leads (filters, `Lead` objects and their page-wide batches) and
//! implements scraping's resolver; no domain reads it.
//!
//! **Files** ([`files`], a sub-domain): the organization's stored objects on object storage,
//! their uploads, signed download links and events (`file.uploaded`, `file.deleted`).

pub mod files;
mod resolver;
pub mod service;
pub mod types;

pub use resolver::{PlacesMutation, PlacesQuery};
pub use service::lead_geocoding::{GeocodeLead, KIND as GEOCODE_LEAD_KIND};
pub use service::sweep::{GeocodeSweep, KIND as GEOCODE_SWEEP_KIND};
pub use service::{get, scoped};

/// Registers places' event handlers (idempotent; called at start-up).
pub fn register() {
    crate::domains::identity::register_image_files(files::FileImages);
    crate::events::handlers::register(
        "places.geocode_leads",
        service::lead_geocoding::GeocodeOnLeadChange,
    );
    crate::events::handlers::register_published(
        "places.geocode_sweep",
        service::sweep::SweepOnLeadCreated,
    );
    crate::domains::scraping::register_location_resolver(service::target::SavedLocations);
}
pub use types::SavedLocation;
