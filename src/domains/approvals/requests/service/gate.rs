//! The approval gate: domains call [`approval_gate`] before a risky action, inside the
//! transaction of that action. When an enabled rule of the organization matches the facts, a
//! PENDING request is created in that transaction (its assignees are notified through
//! `approval.pending`) and the caller waits; otherwise it proceeds.
//!
//! An approval covers one **snapshot** of the resource: an opaque string the domain computes
//! (for campaigns a hash of the content, the sender and the recipient set), stored in the
//! request's `payload.snapshot`. [`approved_snapshot`] tells a domain whether the newest gated
//! request about a resource was approved and for which snapshot, so any change since then goes
//! through the gate again.

use chrono::{Duration, Utc};
use entity::approval_request;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{insert, NewRequest, MAX_TITLE};
use crate::{
    auth::{Role, Viewer},
    domains::approvals::{
        requests::types::{ApprovalPriority, ApprovalStatus},
        rules,
        types::{ids_of, ApprovalResourceType},
    },
    error::AppResult,
};

/// What a domain wants to do.
#[derive(Debug, Clone)]
pub struct GatedResource {
    /// Its kind (rules are per kind).
    pub resource_type: ApprovalResourceType,
    /// Its id.
    pub resource_id: String,
    /// Headline of the request, e.g. `Launch campaign "Spring"`.
    pub title: String,
    /// Details for the approvers.
    pub description: Option<String>,
    /// The facts rules are evaluated against (a JSON object).
    pub facts: Value,
    /// What an approval would cover (stored as `payload.snapshot`); `None` = nothing specific.
    pub snapshot: Option<String>,
}

/// What the gate decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateOutcome {
    /// No rule applies: go ahead.
    Proceed,
    /// A rule applies: wait for this request.
    Pending(Uuid),
}

/// Evaluates the enabled rules of the viewer's organization for the resource's type (oldest
/// first; the first match wins) and creates the request when one matches. `conn` is the
/// caller's transaction.
pub async fn approval_gate(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    resource: GatedResource,
) -> AppResult<GateOutcome> {
    let Some(rule) =
        rules::matching(conn, viewer.org_id, resource.resource_type, &resource.facts).await?
    else {
        return Ok(GateOutcome::Proceed);
    };
    let now = Utc::now();
    let r = insert(
        conn,
        NewRequest {
            org_id: viewer.org_id,
            rule_id: Some(rule.id),
            resource_type: resource.resource_type,
            resource_id: resource.resource_id,
            title: resource.title.chars().take(MAX_TITLE).collect(),
            description: resource.description,
            requested_by: Some(viewer.user_id),
            assignee_ids: ids_of(&rule.approver_ids),
            assignee_role: rule.approver_role.as_deref().and_then(Role::parse),
            required_approvals: rule.required_approvals,
            priority: ApprovalPriority::Normal,
            due_at: rule.sla_hours.map(|h| now + Duration::hours(i64::from(h))),
            gated: true,
            payload: json!({"facts": resource.facts, "rule": rule.name, "snapshot": resource.snapshot}),
        },
    )
    .await?;
    Ok(GateOutcome::Pending(r.id))
}

/// Asks for an approval whatever the rules say (an action that always waits for a person, such
/// as an AI-written reply), in the caller's transaction. The organization's first matching
/// enabled rule for the type names the approvers and the count; without one, members at or
/// above `default_role` decide with one approval. `requested_by` is None for automations.
pub async fn require_approval(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    requested_by: Option<Uuid>,
    resource: GatedResource,
    default_role: Role,
) -> AppResult<Uuid> {
    let rule = rules::matching(conn, org_id, resource.resource_type, &resource.facts).await?;
    let now = Utc::now();
    let (assignees, role, required, due, name) = match &rule {
        Some(r) => (
            ids_of(&r.approver_ids),
            r.approver_role.as_deref().and_then(Role::parse),
            r.required_approvals,
            r.sla_hours.map(|h| now + Duration::hours(i64::from(h))),
            Some(r.name.clone()),
        ),
        None => (Vec::new(), Some(default_role), 1, None, None),
    };
    let r = insert(
        conn,
        NewRequest {
            org_id,
            rule_id: rule.as_ref().map(|r| r.id),
            resource_type: resource.resource_type,
            resource_id: resource.resource_id,
            title: resource.title.chars().take(MAX_TITLE).collect(),
            description: resource.description,
            requested_by,
            assignee_ids: assignees,
            assignee_role: role,
            required_approvals: required,
            priority: ApprovalPriority::Normal,
            due_at: due,
            gated: true,
            payload: json!({"facts": resource.facts, "rule": name, "snapshot": resource.snapshot}),
        },
    )
    .await?;
    Ok(r.id)
}

/// The snapshot an approval covers, from a request's payload.
pub fn snapshot_of(r: &approval_request::Model) -> Option<String> {
    r.payload
        .get("snapshot")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The snapshot covered by the newest gated request about the resource when that request was
/// approved; `None` when there is none, or the newest one is pending, rejected, withdrawn or
/// expired (a later decision or request replaces an older approval).
pub async fn approved_snapshot(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    resource_type: ApprovalResourceType,
    resource_id: &str,
) -> AppResult<Option<String>> {
    let newest = approval_request::Entity::find()
        .filter(approval_request::Column::OrgId.eq(org_id))
        .filter(approval_request::Column::ResourceType.eq(resource_type.as_str()))
        .filter(approval_request::Column::ResourceId.eq(resource_id))
        .filter(approval_request::Column::Gated.eq(true))
        .order_by_desc(approval_request::Column::CreatedAt)
        .order_by_desc(approval_request::Column::Id)
        .one(conn)
        .await?;
    Ok(newest
        .filter(|r| r.status == ApprovalStatus::Approved.as_str())
        .and_then(|r| snapshot_of(&r)))
}
