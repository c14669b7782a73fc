//! `enrichment_providers`: an organization's enrichment provider (Hunter, Apollo): its sealed
//! API key, its place in the waterfall and what one call costs.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrichment_providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// HUNTER | APOLLO.
    pub provider: String,
    /// Sealed with `SECRETS_KEY` (`enrichment_providers.api_key` of the row id).
    pub api_key: String,
    /// Lower runs first.
    pub position: i32,
    /// What one call costs, in cents (credits).
    pub cost_cents: i64,
    pub enabled: bool,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
