//! `enrichment_calls`: the history of provider calls made to enrich leads.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrichment_calls")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub lead_id: Uuid,
    /// The batch run that made the call, if any.
    pub run_id: Option<Uuid>,
    /// HUNTER | APOLLO.
    pub provider: String,
    /// The field sought (EMAIL, PHONE, TITLE, COMPANY, WEBSITE).
    pub field: String,
    /// FOUND | NOT_FOUND | ERROR.
    pub outcome: String,
    /// What the call cost (0 when it failed).
    pub cost_cents: i64,
    /// The fields this call filled on the lead (JSON array of field names).
    pub filled: Json,
    /// Why it failed, or the provider's request reference.
    pub detail: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
