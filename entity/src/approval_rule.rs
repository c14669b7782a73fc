//! `approval_rules`: when an action on a resource type needs approval, and from whom.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// `CAMPAIGN`, `AI_REPLY`, `DEMO_SITE`, `OTHER`.
    pub resource_type: String,
    /// Expression tree: `{all: [...]}`, `{any: [...]}` or `{field, operator, value}`.
    pub condition: Json,
    /// Anyone at or above this role may approve (`MANAGER`, ...), or `None` with `approver_ids`.
    pub approver_role: Option<String>,
    /// Named approvers (`[uuid, ...]`).
    pub approver_ids: Json,
    pub required_approvals: i32,
    /// Hours until a request becomes overdue (urgent).
    pub sla_hours: Option<i32>,
    pub enabled: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
