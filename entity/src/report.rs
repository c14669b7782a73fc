//! `reports`: an organization's saved report definitions (insight).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reports")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// `LEAD_LIST`, `CAMPAIGN_PERFORMANCE`, … (insight's `ReportKind`).
    pub kind: String,
    /// `CSV`, `XLSX` or `PDF`.
    pub format: String,
    /// The kind's parameters, validated (a JSON object).
    pub params: Json,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    /// Set by `deleteReport`; the runs stay so the daily limit still counts them.
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
