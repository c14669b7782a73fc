//! `approval_requests`: one decision to take about one resource.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// The rule that created it (gate requests); `None` for requests made by hand.
    pub rule_id: Option<Uuid>,
    pub resource_type: String,
    pub resource_id: String,
    pub title: String,
    pub description: Option<String>,
    pub requested_by: Option<Uuid>,
    /// Named assignees (`[uuid, ...]`).
    pub assignee_ids: Json,
    /// Everybody at or above this role is an assignee too.
    pub assignee_role: Option<String>,
    pub required_approvals: i32,
    /// Distinct approvers so far.
    pub approval_count: i32,
    /// PENDING | APPROVED | REJECTED | CHANGES_REQUESTED | CANCELLED | EXPIRED.
    pub status: String,
    /// LOW | NORMAL | HIGH | URGENT.
    pub priority: String,
    pub due_at: Option<DateTimeUtc>,
    /// Set by the SLA sweep once `due_at` passed.
    pub urgent: bool,
    pub escalated_at: Option<DateTimeUtc>,
    pub resolved_at: Option<DateTimeUtc>,
    /// The deciding comment (reject reason, requested changes, ...).
    pub resolution_comment: Option<String>,
    /// Created by a domain's gate: the decision resumes (or returns) the gated action.
    pub gated: bool,
    /// Facts the rule saw at creation.
    pub payload: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
