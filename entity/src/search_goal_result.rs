//! `search_goal_results`: a lead a goal's scrape jobs found, ranked and validated against the
//! goal (unique per goal and lead).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "search_goal_results")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub goal_id: Uuid,
    pub org_id: Uuid,
    pub lead_id: Uuid,
    /// 1 = best.
    pub rank: i32,
    /// 0–100.
    pub score: i32,
    /// `valid` or `rejected`.
    pub validation: String,
    /// Array of strings: why the score and the validation.
    pub reasons: Json,
    pub provider: String,
    pub model: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
