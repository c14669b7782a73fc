//! `ai_usage`: one AI call (or cache hit) of an organization, with its token counts and cost.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_usage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// The caller (for API keys: the key's creator).
    pub user_id: Option<Uuid>,
    /// `local` or `openai`.
    pub provider: String,
    pub model: String,
    /// `analyzeSentiment`, `createSearchGoal`, ...
    pub operation: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Estimated cost in millionths of a US dollar (0 for the local provider and cache hits).
    pub cost_micros: i64,
    /// Answered from the cache: no provider call, no tokens.
    pub cached: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
