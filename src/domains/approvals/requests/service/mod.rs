//! Approval requests: listing and history, storing a new request ([`insert`], by hand and by
//! the gate), the history entry and event every change records; the sub-modules hold who may act
//! ([`access`]), the actions ([`decide`]), requests by hand ([`edit`]), the gate ([`gate`]), the
//! gated resources' subjects ([`subject`]), the preview, statistics and the notification rules
//! ([`notify`]).

pub mod access;
pub mod decide;
pub mod edit;
pub mod gate;
pub mod notify;
pub mod preview;
pub mod stats;
pub mod subject;

pub use access::{assignees, managers_of, may_act, may_act_on, roles_at_or_above};
pub use decide::{approve, cancel, delegate, reject, request_changes, resolve};
pub use edit::{create, update};
pub use preview::preview;
pub use stats::stats;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{approval_action, approval_request};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    auth::{Permission, Role, Viewer},
    domains::approvals::{
        requests::types::{
            ApprovalAction, ApprovalActionKind, ApprovalPriority, ApprovalRequest,
            ApprovalRequestFilter, ApprovalStatus,
        },
        types::{ids_json, ApprovalResourceType},
    },
    error::{AppError, AppResult},
    events::{outbox, ApprovalChanged, DomainEvent, EventEnvelope},
    graphql::pagination::{keyset_rows, ByColumn, IdConnection, PageArgs, TotalCount},
    state::AppState,
};
use access::assigned_to;

/// Longest title.
pub const MAX_TITLE: usize = 200;
/// Longest description or comment.
pub const MAX_TEXT: usize = 5000;

/// Every request query starts here.
pub fn scoped(viewer: &Viewer) -> Select<approval_request::Entity> {
    approval_request::Entity::find().filter(approval_request::Column::OrgId.eq(viewer.org_id))
}

/// A request of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<approval_request::Model> {
    scoped(viewer)
        .filter(approval_request::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("approval request"))
}

/// The requests [`list`] pages (permission, organization, filters), on `backend`: also the
/// rows of the compiled read (`graphql::compiled::approvals`), so both answer the same rows.
pub fn list_select(
    backend: DatabaseBackend,
    viewer: &Viewer,
    filter: &ApprovalRequestFilter,
) -> AppResult<Select<approval_request::Entity>> {
    viewer.require(Permission::ReadApprovals)?;
    let mut q = scoped(viewer);
    if let Some(s) = filter.status.as_ref().filter(|s| !s.is_empty()) {
        q = q.filter(approval_request::Column::Status.is_in(s.iter().map(|x| x.as_str())));
    }
    if let Some(t) = filter.resource_type {
        q = q.filter(approval_request::Column::ResourceType.eq(t.as_str()));
    }
    if let Some(u) = filter.urgent {
        q = q.filter(approval_request::Column::Urgent.eq(u));
    }
    if filter.assigned_to_me == Some(true) {
        q = q.filter(assigned_to(backend, viewer));
    }
    Ok(q)
}

/// The organization's requests created in `[from, to)`, oldest first, at most `limit` (the
/// rows of insight's APPROVALS_AUDIT report). Needs the right to read requests.
pub async fn created_between(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<approval_request::Model>> {
    viewer.require(Permission::ReadApprovals)?;
    Ok(scoped(viewer)
        .filter(approval_request::Column::CreatedAt.gte(from))
        .filter(approval_request::Column::CreatedAt.lt(to))
        .order_by_asc(approval_request::Column::CreatedAt)
        .order_by_asc(approval_request::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// How many of the organization's requests created in `[from, to)` are in each status (one
/// grouped statement; statuses with none are absent).
pub async fn counts_by_status(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<Vec<(String, i64)>> {
    viewer.require(Permission::ReadApprovals)?;
    Ok(scoped(viewer)
        .select_only()
        .column(approval_request::Column::Status)
        .column_as(approval_request::Column::Id.count(), "n")
        .filter(approval_request::Column::CreatedAt.gte(from))
        .filter(approval_request::Column::CreatedAt.lt(to))
        .group_by(approval_request::Column::Status)
        .into_tuple()
        .all(conn)
        .await?)
}

/// A page of requests, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: &ApprovalRequestFilter,
    args: PageArgs,
) -> AppResult<IdConnection<ApprovalRequest>> {
    let q = list_select(state.db.get_database_backend(), viewer, filter)?;
    // Wrapped together: users, rules and histories load once for the page.
    page_newest_first(
        state,
        q,
        approval_request::Column::Id,
        &args,
        |m| m.id,
        ApprovalRequest::wrap,
    )
    .await
}

/// A keyset page of `select`, newest first by `id_col`, whose nodes are made for the whole
/// page at once by `wrap` (so they share page-wide batches).
async fn page_newest_first<E, N>(
    state: &AppState,
    select: Select<E>,
    id_col: E::Column,
    args: &PageArgs,
    id_of: fn(&E::Model) -> Uuid,
    wrap: fn(Vec<E::Model>) -> Vec<N>,
) -> AppResult<IdConnection<N>>
where
    E: EntityTrait,
    E::Model: Sync,
    N: async_graphql::OutputType,
{
    let total = TotalCount::of(state.db.clone(), select.clone());
    let order = ByColumn {
        column: id_col,
        desc: true,
        key_of: id_of,
    };
    let page = keyset_rows(&state.db, select, &order, args).await?;
    Ok(page.into_connection_batch(total, id_of, wrap))
}

/// A request's history is ordered by this column, ascending (oldest first: UUID v7 ids); the
/// compiled read orders by it too.
pub const HISTORY_ORDER: approval_action::Column = approval_action::Column::Id;

/// The history of one request, oldest first.
pub async fn history_of(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    request_id: Uuid,
) -> AppResult<Vec<ApprovalAction>> {
    Ok(histories_of(conn, viewer, &[request_id])
        .await?
        .remove(&request_id)
        .unwrap_or_default())
}

/// The histories of the requests `request_ids`, oldest first each, in one statement; every
/// entry is wrapped together (their users load once).
pub async fn histories_of(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    request_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<ApprovalAction>>> {
    viewer.require(Permission::ReadApprovals)?;
    let mut out: HashMap<Uuid, Vec<ApprovalAction>> = HashMap::new();
    if request_ids.is_empty() {
        return Ok(out);
    }
    let models = approval_action::Entity::find()
        .filter(approval_action::Column::OrgId.eq(viewer.org_id))
        .filter(approval_action::Column::RequestId.is_in(request_ids.iter().copied()))
        .order_by_asc(HISTORY_ORDER)
        .all(conn)
        .await?;
    let requests: Vec<Uuid> = models.iter().map(|m| m.request_id).collect();
    for (request, action) in requests.into_iter().zip(ApprovalAction::wrap(models)) {
        out.entry(request).or_default().push(action);
    }
    Ok(out)
}

/// `approvalHistory`: actions of the organization (or of one request), newest first.
pub async fn history(
    state: &AppState,
    viewer: &Viewer,
    request_id: Option<Uuid>,
    args: PageArgs,
) -> AppResult<IdConnection<ApprovalAction>> {
    viewer.require(Permission::ReadApprovals)?;
    let mut q =
        approval_action::Entity::find().filter(approval_action::Column::OrgId.eq(viewer.org_id));
    if let Some(id) = request_id {
        get(&state.db, viewer, id).await?;
        q = q.filter(approval_action::Column::RequestId.eq(id));
    }
    page_newest_first(
        state,
        q,
        approval_action::Column::Id,
        &args,
        |m| m.id,
        ApprovalAction::wrap,
    )
    .await
}

/// Saves the viewer's change `a` to a request, stamped `now`, with its `kind` history entry
/// (same instant): every action on a request is both.
pub(super) async fn save_change(
    conn: &impl ConnectionTrait,
    mut a: approval_request::ActiveModel,
    viewer: &Viewer,
    kind: ApprovalActionKind,
    comment: Option<String>,
    to_user: Option<Uuid>,
    now: DateTime<Utc>,
) -> AppResult<approval_request::Model> {
    a.updated_at = Set(now);
    let r = a.update(conn).await?;
    record_action(conn, &r, Some(viewer.user_id), kind, comment, to_user, now).await?;
    Ok(r)
}

/// Appends a history entry.
pub async fn record_action(
    conn: &impl ConnectionTrait,
    r: &approval_request::Model,
    actor: Option<Uuid>,
    kind: ApprovalActionKind,
    comment: Option<String>,
    to_user: Option<Uuid>,
    at: DateTime<Utc>,
) -> AppResult<()> {
    approval_action::ActiveModel {
        id: Set(Uuid::now_v7()),
        request_id: Set(r.id),
        org_id: Set(r.org_id),
        actor_id: Set(actor),
        action: Set(kind.as_str().into()),
        comment: Set(comment),
        to_user_id: Set(to_user),
        created_at: Set(at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Records `approval.pending` (`pending`) or `approval.resolved` for `r`; the notification rules
/// derive the notifications from it in the same transaction.
pub async fn record_event(
    conn: &impl ConnectionTrait,
    r: &approval_request::Model,
    actor: Option<Uuid>,
    pending: bool,
    reason: &str,
    delegate_id: Option<Uuid>,
) -> AppResult<()> {
    let data = ApprovalChanged {
        request_id: r.id,
        resource_type: r.resource_type.clone(),
        resource_id: r.resource_id.clone(),
        status: r.status.clone(),
        urgent: r.urgent,
        approval_count: r.approval_count,
        required_approvals: r.required_approvals,
        reason: reason.into(),
        delegate_id,
    };
    let event = if pending {
        DomainEvent::ApprovalPending(data)
    } else {
        DomainEvent::ApprovalResolved(data)
    };
    outbox::record(conn, &EventEnvelope::new(r.org_id, actor, event)).await
}

/// A request to store.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// Organization.
    pub org_id: Uuid,
    /// The rule that asked for it.
    pub rule_id: Option<Uuid>,
    /// What it is about.
    pub resource_type: ApprovalResourceType,
    /// The resource.
    pub resource_id: String,
    /// Headline.
    pub title: String,
    /// Details.
    pub description: Option<String>,
    /// Who asks.
    pub requested_by: Option<Uuid>,
    /// Named assignees.
    pub assignee_ids: Vec<Uuid>,
    /// Everybody at or above this role.
    pub assignee_role: Option<Role>,
    /// Distinct approvals needed.
    pub required_approvals: i32,
    /// Priority.
    pub priority: ApprovalPriority,
    /// Overdue after.
    pub due_at: Option<DateTime<Utc>>,
    /// Created by a gate.
    pub gated: bool,
    /// Facts and context.
    pub payload: Value,
}

/// Stores a PENDING request with its CREATE entry and `approval.pending` (which notifies the
/// assignees), in `conn` (the caller's transaction).
pub async fn insert(
    conn: &impl ConnectionTrait,
    n: NewRequest,
) -> AppResult<approval_request::Model> {
    let now = Utc::now();
    let r = approval_request::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(n.org_id),
        rule_id: Set(n.rule_id),
        resource_type: Set(n.resource_type.as_str().into()),
        resource_id: Set(n.resource_id),
        title: Set(n.title),
        description: Set(n.description),
        requested_by: Set(n.requested_by),
        assignee_ids: Set(ids_json(&n.assignee_ids)),
        assignee_role: Set(n.assignee_role.map(|r| r.as_str().to_string())),
        required_approvals: Set(n.required_approvals),
        approval_count: Set(0),
        status: Set(ApprovalStatus::Pending.as_str().into()),
        priority: Set(n.priority.as_str().into()),
        due_at: Set(n.due_at),
        urgent: Set(false),
        escalated_at: Set(None),
        resolved_at: Set(None),
        resolution_comment: Set(None),
        gated: Set(n.gated),
        payload: Set(n.payload),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    record_action(
        conn,
        &r,
        n.requested_by,
        ApprovalActionKind::Create,
        None,
        None,
        now,
    )
    .await?;
    record_event(conn, &r, n.requested_by, true, "created", None).await?;
    Ok(r)
}
