//! `lead_analyses`: an AI analysis of a lead (the newest one is `Lead.analysis`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "lead_analyses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub lead_id: Uuid,
    pub summary: String,
    /// 0–100.
    pub fit_score: i32,
    /// Array of strings.
    pub reasons: Json,
    pub next_action: String,
    /// Array of strings.
    pub talking_points: Json,
    /// `local` or `openai`.
    pub provider: String,
    pub model: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
