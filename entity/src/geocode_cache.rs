//! `geocode_cache`: a geocoder's candidates for a normalized query, owned by the places domain
//! and shared by every organization and instance (the query is an address, not lead data).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "geocode_cache")]
pub struct Model {
    /// `<provider>:<normalized query>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The geocoder that answered (the provenance), e.g. `nominatim`.
    pub provider: String,
    /// The candidates (JSON array, each with its precision), best first; empty when none.
    pub candidates: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
