//! The approval gate: domains call [`approval_gate`] before a risky action, inside the
//! transaction of that action. When an enabled rule of the organization matches the facts, a
//! PENDING request is created in that transaction (its assignees are notified through
//! `approval.pending`) and the caller waits; otherwise it proceeds.

use chrono::{Duration, Utc};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    rules,
    service::{self, NewRequest},
    types::{ids_of, ApprovalPriority, ApprovalResourceType},
};
use crate::{
    auth::{Role, Viewer},
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
    let r = service::insert(
        conn,
        NewRequest {
            org_id: viewer.org_id,
            rule_id: Some(rule.id),
            resource_type: resource.resource_type,
            resource_id: resource.resource_id,
            title: resource.title.chars().take(service::MAX_TITLE).collect(),
            description: resource.description,
            requested_by: Some(viewer.user_id),
            assignee_ids: ids_of(&rule.approver_ids),
            assignee_role: rule.approver_role.as_deref().and_then(Role::parse),
            required_approvals: rule.required_approvals,
            priority: ApprovalPriority::Normal,
            due_at: rule.sla_hours.map(|h| now + Duration::hours(i64::from(h))),
            gated: true,
            payload: json!({"facts": resource.facts, "rule": rule.name}),
        },
    )
    .await?;
    Ok(GateOutcome::Pending(r.id))
}
