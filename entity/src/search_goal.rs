//! `search_goals`: a lead-search goal in plain words and the strategy derived from it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "search_goals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub created_by: Option<Uuid>,
    pub text: String,
    pub target_market: Option<String>,
    /// Array of strings.
    pub locations: Json,
    pub max_leads: i32,
    /// The `SearchStrategy` as JSON (editable with `updateSearchStrategy`).
    pub strategy: Json,
    /// `draft` (strategy derived, not run), `running` (scrape jobs at work), `ranking`,
    /// `completed`, `failed` or `cancelled`.
    pub status: String,
    /// Who derived the strategy (`local`/`openai`, or `user` once edited).
    pub provider: String,
    pub model: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The last `search_goal.progress` payload recorded (JSON), while and after running.
    pub progress: Option<Json>,
    /// Why the run failed.
    pub error: Option<String>,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
