//! `lead_geocode_attempts`: the leads the places domain's geocoding sweep has tried, with the
//! outcome, so a lead no geocoder can place is not asked again on every sweep.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lead_geocode_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub lead_id: Uuid,
    pub org_id: Uuid,
    /// `geocoded` or `not_found`.
    pub outcome: String,
    pub attempted_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
