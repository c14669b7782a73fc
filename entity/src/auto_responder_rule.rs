//! `auto_responder_rules`: an organization's auto-responder rules (keywords, action, cooldown,
//! order).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auto_responder_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// JSON array of lowercase keywords or phrases.
    pub keywords: Json,
    /// REPLY_WITH_TEMPLATE | AI_REPLY.
    pub action: String,
    /// The template of REPLY_WITH_TEMPLATE.
    pub template_id: Option<Uuid>,
    /// At most one automatic reply per conversation within this many minutes.
    pub cooldown_minutes: i32,
    pub enabled: bool,
    /// Lower acts first.
    pub priority: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
