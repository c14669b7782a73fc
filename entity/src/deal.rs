//! `deals`: an opportunity with a lead, its value in integer minor units of an ISO 4217
//! currency, its stage in a pipeline and its outcome.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    /// `None` once the lead was deleted.
    pub lead_id: Option<Uuid>,
    pub title: String,
    /// Minor units (cents for USD, yen for JPY).
    pub amount_minor: i64,
    /// ISO 4217, uppercase.
    pub currency: String,
    /// OPEN | WON | LOST.
    pub status: String,
    pub lost_reason: Option<String>,
    pub owner_id: Option<Uuid>,
    pub expected_close_date: Option<Date>,
    /// Set when WON or LOST.
    pub closed_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
