//! `locations`: an organization's saved places (a point, a radius, tags), owned by the places
//! domain.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "locations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// As entered.
    pub address: Option<String>,
    /// Degrees, −90…90.
    pub latitude: f64,
    /// Degrees, −180…180.
    pub longitude: f64,
    /// The area the location stands for: leads within this great-circle distance.
    pub radius_km: f64,
    /// A JSON array of lowercased tags, e.g. `["hq","texas"]`.
    pub tags: String,
    /// The geocoder that found the point from the address (`gazetteer`, `nominatim`); null
    /// when a person gave the point.
    pub geocoder: Option<String>,
    /// The geocoded point's precision (`CITY`, `STREET`, …); null when a person gave it.
    pub geocode_precision: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
