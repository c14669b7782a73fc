//! GraphQL types of places: saved locations, points and boxes, and the answers of the spatial
//! queries (distance edges, map pins, heatmap cells, clusters).

use async_graphql::{
    connection::{Connection, ConnectionNameType, EdgeNameType},
    InputObject, OutputType, SimpleObject, ID,
};
use chrono::{DateTime, Utc};
use entity::location;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::domains::scraping::types::GeoPointInput;
use crate::{
    domains::leads::{types::LeadStatus, Lead},
    graphql::pagination::KeyCursor,
};

/// A point on Earth in degrees (given as `GeoPointInput`, the scraping domain's input).
#[derive(SimpleObject, Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    /// Latitude, −90…90.
    pub latitude: f64,
    /// Longitude, −180…180.
    pub longitude: f64,
}

/// A lat/lng box in degrees. `west` greater than `east` means it crosses the antimeridian
/// (e.g. west 170, east −170 is 20° wide).
#[derive(SimpleObject, InputObject, Debug, Clone, Copy, PartialEq)]
#[graphql(input_name = "BoundingBoxInput")]
pub struct BoundingBox {
    /// Northern edge, −90…90.
    pub north: f64,
    /// Southern edge, −90…north.
    pub south: f64,
    /// Eastern edge, −180…180.
    pub east: f64,
    /// Western edge, −180…180.
    pub west: f64,
}

/// A saved location of the organization: a named point with the radius it stands for.
#[derive(SimpleObject, Debug, Clone)]
pub struct SavedLocation {
    /// Location id.
    pub id: ID,
    /// Name.
    pub name: String,
    /// The address as entered.
    pub address: Option<String>,
    /// The point: as given, or geocoded from the address.
    pub point: GeoPoint,
    /// The geocoder that found the point from the address (`gazetteer`, `nominatim`); null
    /// when the point was given.
    pub geocoder: Option<String>,
    /// How precise a geocoded point is; null when the point was given.
    pub precision: Option<GeocodePrecision>,
    /// The area it stands for: leads within this great-circle distance, kilometres.
    pub radius_km: f64,
    /// Lowercased tags.
    pub tags: Vec<String>,
    /// Creator's user id.
    pub created_by: Option<ID>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<location::Model> for SavedLocation {
    fn from(m: location::Model) -> Self {
        SavedLocation {
            id: ID(m.id.to_string()),
            tags: serde_json::from_str(&m.tags).unwrap_or_default(),
            name: m.name,
            address: m.address,
            point: GeoPoint {
                latitude: m.latitude,
                longitude: m.longitude,
            },
            radius_km: m.radius_km,
            geocoder: m.geocoder,
            precision: m
                .geocode_precision
                .and_then(|p| serde_json::from_value(serde_json::Value::String(p)).ok()),
            created_by: m.created_by.map(|u| ID(u.to_string())),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// Input of `createLocation`: a `point`, or an `address` that the configured geocoder turns
/// into one (an address it cannot place is BAD_USER_INPUT on `input.address`). When both are
/// given the point is used and the address is stored as given.
#[derive(InputObject, Debug, Clone)]
pub struct CreateLocationInput {
    /// Name, 1–200 characters.
    pub name: String,
    /// Address, at most 500 characters (geocoded when no point is given).
    pub address: Option<String>,
    /// The point (required without an address).
    pub point: Option<GeoPointInput>,
    /// Radius in kilometres, greater than 0 and at most 20,016 (10 when omitted).
    pub radius_km: Option<f64>,
    /// Tags (lowercased, deduplicated, 1–64 characters each, at most 50).
    pub tags: Option<Vec<String>>,
}

/// Input of `updateLocation`: only the fields given change (`address: ""` clears it). A new
/// address without a `point` is geocoded and moves the point.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateLocationInput {
    /// New name.
    pub name: Option<String>,
    /// New address.
    pub address: Option<String>,
    /// New point.
    pub point: Option<GeoPointInput>,
    /// New radius, kilometres.
    pub radius_km: Option<f64>,
    /// New tags (replace the old ones).
    pub tags: Option<Vec<String>>,
}

/// Filters for `locations`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct LocationFilter {
    /// Case-insensitive text in the name.
    pub search: Option<String>,
    /// Has this tag.
    pub tag: Option<String>,
}

/// A saved location near a point.
#[derive(SimpleObject, Debug, Clone)]
pub struct NearbyLocation {
    /// The location.
    pub location: SavedLocation,
    /// Great-circle distance from the point, kilometres.
    pub distance_km: f64,
}

/// Leads per saved location.
#[derive(SimpleObject, Debug, Clone)]
pub struct LocationStat {
    /// The location.
    pub location: SavedLocation,
    /// Leads within its radius.
    pub leads: u64,
}

/// The cursor key of a lead ordered by distance: the distance, then the id.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NearKey {
    /// Distance, kilometres, carried as its IEEE-754 bits: a cursor must give back exactly the
    /// distance it was made from, and serde_json's default float parsing may be one ulp off
    /// (the page after would then repeat or skip a lead).
    #[serde(with = "exact_f64")]
    pub d: f64,
    /// Lead id.
    pub id: Uuid,
}

/// An `f64` as its bits in a `u64`, which JSON carries exactly.
mod exact_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(v.to_bits())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        u64::deserialize(d).map(f64::from_bits)
    }
}

/// The distance of an edge of `leadsNear`.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct LeadDistance {
    /// Great-circle distance from the query point, kilometres.
    pub distance_km: f64,
}

/// The count of a `leadsNear` list.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct NearCount {
    /// Leads within the radius that match the filter, across all pages.
    pub total_count: u64,
}

/// Names the connection `LeadNearConnection` (`LeadConnection` is the plain list's).
pub struct LeadNearConnectionName;

impl ConnectionNameType for LeadNearConnectionName {
    fn type_name<T: OutputType>() -> String {
        "LeadNearConnection".into()
    }
}

/// Names the edge `LeadNearEdge`.
pub struct LeadNearEdgeName;

impl EdgeNameType for LeadNearEdgeName {
    fn type_name<T: OutputType>() -> String {
        "LeadNearEdge".into()
    }
}

/// Leads by distance, nearest first, each edge with its `distanceKm`.
pub type LeadNearConnection = Connection<
    KeyCursor<NearKey>,
    Lead,
    NearCount,
    LeadDistance,
    LeadNearConnectionName,
    LeadNearEdgeName,
>;

/// A lead as a map pin: the few fields a marker needs.
#[derive(SimpleObject, Debug, Clone)]
pub struct MapPin {
    /// Lead id.
    pub id: ID,
    /// Where.
    pub point: GeoPoint,
    /// First and last name, when known.
    pub name: Option<String>,
    /// Company (`""` when unknown).
    pub company: String,
    /// Status.
    pub status: Option<LeadStatus>,
    /// Score.
    pub score: i32,
}

/// The pins of `mapLeads`, highest score first.
#[derive(SimpleObject, Debug, Clone)]
pub struct MapLeads {
    /// At most `limit` pins.
    pub pins: Vec<MapPin>,
    /// More leads lie in the box than were returned.
    pub truncated: bool,
}

/// One cell of a heatmap: a geohash cell with the leads inside it.
#[derive(SimpleObject, Debug, Clone)]
pub struct HeatmapCell {
    /// The cell's geohash.
    pub geohash: String,
    /// The cell's bounds.
    pub bounds: BoundingBox,
    /// The cell's center.
    pub center: GeoPoint,
    /// Leads in the cell (and the box).
    pub count: u64,
    /// `count` relative to the fullest cell, 0…1.
    pub weight: f64,
}

/// A heatmap: lead counts in geohash cells.
#[derive(SimpleObject, Debug, Clone)]
pub struct Heatmap {
    /// Geohash characters of the cells (from the zoom and the box size).
    pub precision: i32,
    /// Non-empty cells.
    pub cells: Vec<HeatmapCell>,
    /// Leads in the box (the sum of the cells' counts).
    pub total: u64,
}

/// A cluster of leads: those of one geohash cell.
#[derive(SimpleObject, Debug, Clone)]
pub struct Cluster {
    /// The cell's geohash (stable while the map pans).
    pub geohash: String,
    /// Leads in the cluster.
    pub count: u64,
    /// Mean position of its leads.
    pub centroid: GeoPoint,
    /// The box around its leads.
    pub bounds: BoundingBox,
}

/// The clusters of a map view.
#[derive(SimpleObject, Debug, Clone)]
pub struct Clusters {
    /// Geohash characters of the cells (from the zoom and the box size).
    pub precision: i32,
    /// Non-empty clusters.
    pub clusters: Vec<Cluster>,
    /// Leads in the box (the sum of the clusters' counts).
    pub total: u64,
}

/// How precise a geocoded point is.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GeocodePrecision {
    /// A building or an address point.
    Rooftop,
    /// A street or a neighbourhood.
    Street,
    /// A city, town or village (the offline gazetteer's precision).
    City,
    /// A county, state or region.
    Region,
    /// A country.
    Country,
}

/// A place a geocoder found for a query (`searchLocations`).
#[derive(SimpleObject, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GeocodeCandidate {
    /// A readable name, e.g. "Austin, Texas, United States".
    pub label: String,
    /// Latitude, −90…90.
    pub latitude: f64,
    /// Longitude, −180…180.
    pub longitude: f64,
    /// How precise the point is.
    pub precision: GeocodePrecision,
    /// The geocoder that answered (`gazetteer` offline, `nominatim` with `GEOCODER_URL`).
    pub geocoder: String,
    /// City, when known.
    pub city: Option<String>,
    /// Region or state, when known.
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country code, when known.
    pub country: Option<String>,
}
