//! `search_goal_jobs`: one row per source of a running goal's strategy — the scrape job created
//! for it, or why the source was skipped.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "search_goal_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub goal_id: Uuid,
    pub org_id: Uuid,
    /// Index of the source in the strategy (unique per goal).
    pub position: i32,
    /// `WEBSITE`, `SEARCH` or `GOOGLE_MAPS`.
    pub source: String,
    pub query: String,
    /// The scrape job; `None` when skipped (or the job was deleted since).
    pub scrape_job_id: Option<Uuid>,
    pub skipped_reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
