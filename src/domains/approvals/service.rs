//! Approval requests: listing, creation (by hand and by the gate), the actions (approve, reject,
//! request changes, delegate, withdraw), preview and statistics.
//!
//! Every action runs in one transaction that first touches the request row with a conditional
//! `UPDATE … WHERE status = 'PENDING'` (on Postgres that row lock makes concurrent deciders take
//! turns), then checks who may act, records the history entry, the status change, the gated
//! resource's change (the campaign launches or returns to DRAFT) and the event — which derives
//! the notifications — all committed together.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{
    approval_action, approval_request, campaign_recipient, lead, membership, organization,
};
use sea_orm::{
    sea_query::{Condition, Expr, ExprTrait},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    rules::{self, parse_members, MAX_REQUIRED},
    types::{
        ids_of, ApprovalAction, ApprovalActionKind, ApprovalPreview, ApprovalPriority,
        ApprovalRequest, ApprovalRequestFilter, ApprovalResourceType, ApprovalStats,
        ApprovalStatus, ApproverStats, CreateApprovalRequestInput, UpdateApprovalRequestInput,
    },
};
use crate::{
    auth::{Permission, Role, Viewer},
    domains::outreach::{campaigns, render, templates},
    error::{AppError, AppResult, FieldError},
    events::{outbox, ApprovalChanged, DomainEvent, EventEnvelope},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    ids::parse_id,
    state::AppState,
    state::Wakes,
};

/// Longest title.
pub const MAX_TITLE: usize = 200;
/// Longest description or comment.
pub const MAX_TEXT: usize = 5000;
/// Decisions the median is computed over (the newest).
const MEDIAN_WINDOW: u64 = 10_000;

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

/// Roles at or above `role` (the members a role-based assignment reaches).
pub fn roles_at_or_above(role: Role) -> Vec<&'static str> {
    [
        Role::Viewer,
        Role::Member,
        Role::Manager,
        Role::Admin,
        Role::Owner,
    ]
    .into_iter()
    .filter(|r| *r >= role)
    .map(Role::as_str)
    .collect()
}

fn roles_at_or_below(role: Role) -> Vec<&'static str> {
    [
        Role::Viewer,
        Role::Member,
        Role::Manager,
        Role::Admin,
        Role::Owner,
    ]
    .into_iter()
    .filter(|r| *r <= role)
    .map(Role::as_str)
    .collect()
}

/// Whether `viewer` may approve, reject, ask for changes or delegate a request with these
/// assignees: never their own request; otherwise named assignees, members at or above the
/// assignee role, and ADMIN+.
pub fn may_act_on(
    viewer: &Viewer,
    requested_by: Option<Uuid>,
    assignee_ids: &[Uuid],
    assignee_role: Option<Role>,
) -> AppResult<()> {
    viewer.require(Permission::ActOnApprovals)?;
    if requested_by == Some(viewer.user_id) {
        return Err(AppError::forbidden(
            "you cannot decide on your own approval request",
        ));
    }
    if viewer.role >= Role::Admin
        || assignee_ids.contains(&viewer.user_id)
        || assignee_role.is_some_and(|r| viewer.role >= r)
    {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only the request's assignees (or ADMIN+) may act on it",
        ))
    }
}

/// [`may_act_on`] for a GraphQL request object.
pub fn may_act(viewer: &Viewer, r: &ApprovalRequest) -> AppResult<()> {
    may_act_on(viewer, r.requested_by, &r.assignee_ids, r.assignee_role)
}

fn may_act_model(viewer: &Viewer, r: &approval_request::Model) -> AppResult<()> {
    may_act_on(
        viewer,
        r.requested_by,
        &ids_of(&r.assignee_ids),
        r.assignee_role.as_deref().and_then(Role::parse),
    )
}

/// The people who may act on `r` (named assignees and members at or above its role), without
/// the requester.
pub async fn assignees(
    conn: &impl ConnectionTrait,
    r: &approval_request::Model,
) -> AppResult<Vec<Uuid>> {
    let mut out = ids_of(&r.assignee_ids);
    if let Some(role) = r.assignee_role.as_deref().and_then(Role::parse) {
        let by_role: Vec<Uuid> = membership::Entity::find()
            .select_only()
            .column(membership::Column::UserId)
            .filter(membership::Column::OrgId.eq(r.org_id))
            .filter(membership::Column::Role.is_in(roles_at_or_above(role)))
            .order_by_asc(membership::Column::Id)
            .into_tuple::<Uuid>()
            .all(conn)
            .await?;
        for u in by_role {
            if !out.contains(&u) {
                out.push(u);
            }
        }
    }
    out.retain(|u| Some(*u) != r.requested_by);
    Ok(out)
}

/// Requests `viewer` is an assignee of (named, or by role), not their own.
fn assigned_to(backend: DatabaseBackend, viewer: &Viewer) -> Condition {
    let me = viewer.user_id.to_string();
    let named = match backend {
        DatabaseBackend::Postgres => Expr::cust_with_values(
            r#""approval_requests"."assignee_ids" @> CAST($1 AS jsonb)"#,
            [sea_orm::Value::from(json!([me]).to_string())],
        ),
        _ => Expr::cust_with_values(
            r#""approval_requests"."assignee_ids" LIKE ?"#,
            [sea_orm::Value::from(format!("%\"{me}\"%"))],
        ),
    };
    Condition::all()
        .add(
            Condition::any()
                .add(named)
                .add(approval_request::Column::AssigneeRole.is_in(roles_at_or_below(viewer.role))),
        )
        .add(
            Condition::any()
                .add(approval_request::Column::RequestedBy.is_null())
                .add(approval_request::Column::RequestedBy.ne(viewer.user_id)),
        )
}

/// A page of requests, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: &ApprovalRequestFilter,
    args: PageArgs,
) -> AppResult<IdConnection<ApprovalRequest>> {
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
        q = q.filter(assigned_to(state.db.get_database_backend(), viewer));
    }
    page_by_id_desc(
        &state.db,
        q,
        approval_request::Column::Id,
        &args,
        |m| m.id,
        ApprovalRequest::from,
    )
    .await
}

/// The history of one request, oldest first.
pub async fn history_of(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    request_id: Uuid,
) -> AppResult<Vec<ApprovalAction>> {
    viewer.require(Permission::ReadApprovals)?;
    Ok(approval_action::Entity::find()
        .filter(approval_action::Column::OrgId.eq(viewer.org_id))
        .filter(approval_action::Column::RequestId.eq(request_id))
        .order_by_asc(approval_action::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(ApprovalAction::from)
        .collect())
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
    page_by_id_desc(
        &state.db,
        q,
        approval_action::Column::Id,
        &args,
        |m| m.id,
        ApprovalAction::from,
    )
    .await
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
        assignee_ids: Set(Value::Array(
            n.assignee_ids
                .iter()
                .map(|u| Value::String(u.to_string()))
                .collect(),
        )),
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

fn text(
    field: &str,
    v: Option<String>,
    max: usize,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    match &v {
        None if required => errors.push(FieldError {
            field: field.into(),
            message: "is required".into(),
        }),
        Some(s) if s.chars().count() > max => errors.push(FieldError {
            field: field.into(),
            message: format!("must be at most {max} characters"),
        }),
        _ => {}
    }
    v
}

async fn check_assignees(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    ids: Option<&[async_graphql::ID]>,
    role: Option<Role>,
    errors: &mut Vec<FieldError>,
) -> AppResult<Vec<Uuid>> {
    let ids = ids.unwrap_or_default();
    if role == Some(Role::Viewer) {
        errors.push(FieldError {
            field: "input.assigneeRole".into(),
            message: "must be MEMBER or higher (viewers cannot approve)".into(),
        });
    }
    if ids.len() > rules::MAX_APPROVERS {
        errors.push(FieldError {
            field: "input.assigneeIds".into(),
            message: format!("at most {} assignees", rules::MAX_APPROVERS),
        });
    }
    let parsed = parse_members(conn, viewer.org_id, "input.assigneeIds", ids, errors).await?;
    if let Some(i) = parsed.iter().position(|u| *u == viewer.user_id) {
        errors.push(FieldError {
            field: format!("input.assigneeIds[{i}]"),
            message: "you cannot assign your own request to yourself".into(),
        });
    }
    Ok(parsed)
}

/// `createApprovalRequest`: a request made by hand (not gated: deciding it changes nothing
/// else).
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateApprovalRequestInput,
) -> AppResult<approval_request::Model> {
    viewer.require(Permission::ActOnApprovals)?;
    let mut errors = Vec::new();
    let title = text(
        "input.title",
        Some(input.title),
        MAX_TITLE,
        true,
        &mut errors,
    );
    let description = text(
        "input.description",
        input.description,
        MAX_TEXT,
        false,
        &mut errors,
    );
    let resource_id = input.resource_id.trim().to_string();
    if resource_id.is_empty() || resource_id.len() > 64 {
        errors.push(FieldError {
            field: "input.resourceId".into(),
            message: "must be 1–64 characters".into(),
        });
    } else if input.resource_type == ApprovalResourceType::Campaign {
        let found = match Uuid::parse_str(&resource_id) {
            Ok(id) => campaigns::get(&state.db, viewer, id).await.is_ok(),
            Err(_) => false,
        };
        if !found {
            errors.push(FieldError {
                field: "input.resourceId".into(),
                message: "no such campaign".into(),
            });
        }
    }
    let assignee_ids = check_assignees(
        &state.db,
        viewer,
        input.assignee_ids.as_deref(),
        input.assignee_role,
        &mut errors,
    )
    .await?;
    if assignee_ids.is_empty() && input.assignee_role.is_none() {
        errors.push(FieldError {
            field: "input.assigneeIds".into(),
            message: "give assigneeIds, assigneeRole or both".into(),
        });
    }
    let required = input.required_approvals.unwrap_or(1);
    if !(1..=MAX_REQUIRED).contains(&required) {
        errors.push(FieldError {
            field: "input.requiredApprovals".into(),
            message: format!("must be between 1 and {MAX_REQUIRED}"),
        });
    } else if input.assignee_role.is_none()
        && !assignee_ids.is_empty()
        && required as usize > assignee_ids.len()
    {
        errors.push(FieldError {
            field: "input.requiredApprovals".into(),
            message: "cannot exceed the number of assignees".into(),
        });
    }
    if input.due_at.is_some_and(|d| d <= Utc::now()) {
        errors.push(FieldError {
            field: "input.dueAt".into(),
            message: "must be in the future".into(),
        });
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let txn = state.db.begin().await?;
    let r = insert(
        &txn,
        NewRequest {
            org_id: viewer.org_id,
            rule_id: None,
            resource_type: input.resource_type,
            resource_id,
            title: title.unwrap_or_default(),
            description,
            requested_by: Some(viewer.user_id),
            assignee_ids,
            assignee_role: input.assignee_role,
            required_approvals: required,
            priority: input.priority.unwrap_or_default(),
            due_at: input.due_at,
            gated: false,
            payload: json!({}),
        },
    )
    .await?;
    commit(state, txn).await?;
    Ok(r)
}

fn owner_or_admin(viewer: &Viewer, r: &approval_request::Model) -> AppResult<()> {
    if r.requested_by == Some(viewer.user_id) || viewer.role >= Role::Admin {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only the requester (or ADMIN+) may change or withdraw a request",
        ))
    }
}

fn not_pending(r: &approval_request::Model) -> AppError {
    AppError::Conflict(format!("the request is {}, not pending", r.status))
}

/// `updateApprovalRequest`: pending requests only, by the requester or ADMIN+.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateApprovalRequestInput,
) -> AppResult<approval_request::Model> {
    viewer.require(Permission::ActOnApprovals)?;
    let txn = state.db.begin().await?;
    let r = lock_pending(&txn, viewer, id).await?;
    owner_or_admin(viewer, &r)?;
    let mut errors = Vec::new();
    let title = match input.title {
        Some(t) => text("input.title", Some(t), MAX_TITLE, true, &mut errors),
        None => None,
    };
    let description = input
        .description
        .map(|d| text("input.description", Some(d), MAX_TEXT, false, &mut errors));
    let ids = match &input.assignee_ids {
        Some(ids) => Some(check_assignees(&txn, viewer, Some(ids), None, &mut errors).await?),
        None => None,
    };
    if input.assignee_role == Some(Role::Viewer) {
        errors.push(FieldError {
            field: "input.assigneeRole".into(),
            message: "must be MEMBER or higher (viewers cannot approve)".into(),
        });
    }
    if input.due_at.is_some_and(|d| d <= Utc::now()) {
        errors.push(FieldError {
            field: "input.dueAt".into(),
            message: "must be in the future".into(),
        });
    }
    let new_ids = ids.clone().unwrap_or_else(|| ids_of(&r.assignee_ids));
    let new_role = input
        .assignee_role
        .or(r.assignee_role.as_deref().and_then(Role::parse));
    if new_ids.is_empty() && new_role.is_none() {
        errors.push(FieldError {
            field: "input.assigneeIds".into(),
            message: "a request needs assignees or an assignee role".into(),
        });
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let now = Utc::now();
    let mut a: approval_request::ActiveModel = r.clone().into();
    if let Some(t) = title {
        a.title = Set(t);
    }
    if let Some(d) = description {
        a.description = Set(d);
    }
    if let Some(ids) = ids {
        a.assignee_ids = Set(Value::Array(
            ids.iter().map(|u| Value::String(u.to_string())).collect(),
        ));
    }
    if let Some(role) = input.assignee_role {
        a.assignee_role = Set(Some(role.as_str().into()));
    }
    if let Some(d) = input.due_at {
        a.due_at = Set(Some(d));
        a.urgent = Set(false);
        a.escalated_at = Set(None);
    }
    if let Some(p) = input.priority {
        a.priority = Set(p.as_str().into());
    }
    a.updated_at = Set(now);
    let r = a.update(&txn).await?;
    record_action(
        &txn,
        &r,
        Some(viewer.user_id),
        ApprovalActionKind::Update,
        None,
        None,
        now,
    )
    .await?;
    commit(state, txn).await?;
    Ok(r)
}

async fn commit(state: &AppState, txn: DatabaseTransaction) -> AppResult<()> {
    state.commit(txn, Wakes::Jobs).await?;
    Ok(())
}

/// Loads a pending request of the viewer's organization and takes its row lock (a conditional
/// update), so concurrent actions on one request run one after the other.
async fn lock_pending(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<approval_request::Model> {
    let r = get(txn, viewer, id).await?;
    let res = approval_request::Entity::update_many()
        .col_expr(approval_request::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(approval_request::Column::Id.eq(r.id))
        .filter(approval_request::Column::Status.eq(ApprovalStatus::Pending.as_str()))
        .exec(txn)
        .await?;
    if res.rows_affected == 0 {
        return Err(not_pending(&r));
    }
    get(txn, viewer, id).await
}

/// Moves a PENDING request to a final status (conditionally: `None` when it was no longer
/// pending), applies the decision to a gated resource and records the history entry and
/// `approval.resolved`.
pub async fn resolve(
    txn: &DatabaseTransaction,
    r: &approval_request::Model,
    status: ApprovalStatus,
    actor: Option<Uuid>,
    kind: ApprovalActionKind,
    comment: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<Option<approval_request::Model>> {
    let approvals = if status == ApprovalStatus::Approved {
        r.approval_count + 1
    } else {
        r.approval_count
    };
    let res = approval_request::Entity::update_many()
        .col_expr(
            approval_request::Column::Status,
            Expr::value(status.as_str()),
        )
        .col_expr(
            approval_request::Column::ApprovalCount,
            Expr::value(approvals),
        )
        .col_expr(approval_request::Column::ResolvedAt, Expr::value(now))
        .col_expr(
            approval_request::Column::ResolutionComment,
            Expr::value(comment.clone()),
        )
        .col_expr(approval_request::Column::UpdatedAt, Expr::value(now))
        .filter(approval_request::Column::Id.eq(r.id))
        .filter(approval_request::Column::Status.eq(ApprovalStatus::Pending.as_str()))
        .exec(txn)
        .await?;
    if res.rows_affected == 0 {
        return Ok(None);
    }
    let r = approval_request::Entity::find_by_id(r.id)
        .one(txn)
        .await?
        .ok_or(AppError::NotFound("approval request"))?;
    record_action(txn, &r, actor, kind, comment.clone(), None, now).await?;
    if r.gated {
        apply_to_resource(txn, &r, status, actor, comment).await?;
    }
    let reason = match status {
        ApprovalStatus::Approved => "approved",
        ApprovalStatus::Rejected => "rejected",
        ApprovalStatus::ChangesRequested => "changes_requested",
        ApprovalStatus::Cancelled => "cancelled",
        ApprovalStatus::Expired => "expired",
        ApprovalStatus::Pending => "pending",
    };
    record_event(txn, &r, actor, false, reason, None).await?;
    Ok(Some(r))
}

/// The gated action follows the decision: an approved campaign launches
/// ([`campaigns::launch_approved`]) if it is still the snapshot the request covered (else the
/// campaign raises a new request and keeps waiting); otherwise it returns to DRAFT with the comment
/// ([`campaigns::return_to_draft`]). A campaign that is no longer waiting (stopped or deleted
/// meanwhile) cannot be launched: approving it is CONFLICT; the other outcomes leave it alone.
async fn apply_to_resource(
    txn: &DatabaseTransaction,
    r: &approval_request::Model,
    status: ApprovalStatus,
    actor: Option<Uuid>,
    comment: Option<String>,
) -> AppResult<()> {
    if r.resource_type != ApprovalResourceType::Campaign.as_str() {
        return Ok(());
    }
    let Ok(cid) = Uuid::parse_str(&r.resource_id) else {
        return Ok(());
    };
    if status == ApprovalStatus::Approved {
        let approved = campaigns::Approved {
            snapshot: super::gate::snapshot_of(r),
            requested_by: r.requested_by,
        };
        campaigns::launch_approved(txn, r.org_id, actor, cid, approved)
            .await
            .map_err(|e| match e {
                AppError::NotFound(_) => AppError::Conflict("the campaign no longer exists".into()),
                e => e,
            })?;
        return Ok(());
    }
    let note = comment.unwrap_or_else(|| match status {
        ApprovalStatus::Expired => "The approval request expired.".into(),
        ApprovalStatus::Cancelled => "The approval request was withdrawn.".into(),
        _ => "Not approved.".into(),
    });
    match campaigns::return_to_draft(txn, r.org_id, actor, cid, Some(note)).await {
        Ok(_) | Err(AppError::NotFound(_)) | Err(AppError::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

fn comment_of(field: &str, v: Option<String>, required: bool) -> AppResult<Option<String>> {
    let mut errors = Vec::new();
    let v = text(field, v, MAX_TEXT, required, &mut errors);
    if errors.is_empty() {
        Ok(v)
    } else {
        Err(AppError::invalid_fields(errors))
    }
}

/// `approveRequest`: one approval per person; the last one needed approves the request (and
/// launches a gated campaign).
pub async fn approve(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    comment: Option<String>,
) -> AppResult<approval_request::Model> {
    viewer.require(Permission::ActOnApprovals)?;
    let comment = comment_of("comment", comment, false)?;
    let txn = state.db.begin().await?;
    let r = lock_pending(&txn, viewer, id).await?;
    may_act_model(viewer, &r)?;
    let already = approval_action::Entity::find()
        .filter(approval_action::Column::RequestId.eq(r.id))
        .filter(approval_action::Column::ActorId.eq(viewer.user_id))
        .filter(approval_action::Column::Action.eq(ApprovalActionKind::Approve.as_str()))
        .count(&txn)
        .await?;
    if already > 0 {
        return Err(AppError::Conflict(
            "you already approved this request".into(),
        ));
    }
    let now = Utc::now();
    let r = if r.approval_count + 1 >= r.required_approvals {
        resolve(
            &txn,
            &r,
            ApprovalStatus::Approved,
            Some(viewer.user_id),
            ApprovalActionKind::Approve,
            comment,
            now,
        )
        .await?
        .ok_or_else(|| not_pending(&r))?
    } else {
        let count = r.approval_count + 1;
        let mut a: approval_request::ActiveModel = r.into();
        a.approval_count = Set(count);
        a.updated_at = Set(now);
        let r = a.update(&txn).await?;
        record_action(
            &txn,
            &r,
            Some(viewer.user_id),
            ApprovalActionKind::Approve,
            comment,
            None,
            now,
        )
        .await?;
        r
    };
    commit(state, txn).await?;
    Ok(r)
}

async fn decide(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    status: ApprovalStatus,
    kind: ApprovalActionKind,
    comment: Option<String>,
) -> AppResult<approval_request::Model> {
    let txn = state.db.begin().await?;
    let r = lock_pending(&txn, viewer, id).await?;
    may_act_model(viewer, &r)?;
    let r = resolve(
        &txn,
        &r,
        status,
        Some(viewer.user_id),
        kind,
        comment,
        Utc::now(),
    )
    .await?
    .ok_or_else(|| not_pending(&r))?;
    commit(state, txn).await?;
    Ok(r)
}

/// `rejectRequest`: final; a gated campaign returns to DRAFT with the reason.
pub async fn reject(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    reason: String,
) -> AppResult<approval_request::Model> {
    viewer.require(Permission::ActOnApprovals)?;
    let reason = comment_of("reason", Some(reason), true)?;
    decide(
        state,
        viewer,
        id,
        ApprovalStatus::Rejected,
        ApprovalActionKind::Reject,
        reason,
    )
    .await
}

/// `requestChanges`: final for this request; a gated campaign returns to DRAFT with the
/// comment (launching it again asks again).
pub async fn request_changes(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    comment: String,
) -> AppResult<approval_request::Model> {
    viewer.require(Permission::ActOnApprovals)?;
    let comment = comment_of("comment", Some(comment), true)?;
    decide(
        state,
        viewer,
        id,
        ApprovalStatus::ChangesRequested,
        ApprovalActionKind::RequestChanges,
        comment,
    )
    .await
}

/// `delegateApproval`: the acting assignee hands their part to another member. A role-based
/// assignment is turned into the named members it reaches, without the delegator, plus the
/// delegate; the delegate is notified (`approval.pending`, reason `delegated`).
pub async fn delegate(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    to_user: &async_graphql::ID,
    comment: Option<String>,
) -> AppResult<approval_request::Model> {
    viewer.require(Permission::ActOnApprovals)?;
    let comment = comment_of("comment", comment, false)?;
    let not_member = || AppError::invalid("toUserId", "is not a member of the organization");
    let txn = state.db.begin().await?;
    let r = lock_pending(&txn, viewer, id).await?;
    may_act_model(viewer, &r)?;
    let to = parse_id(to_user).map_err(|_| not_member())?;
    if to == viewer.user_id {
        return Err(AppError::invalid(
            "toUserId",
            "you cannot delegate to yourself",
        ));
    }
    if Some(to) == r.requested_by {
        return Err(AppError::invalid(
            "toUserId",
            "the requester cannot decide on their own request",
        ));
    }
    let m = membership::Entity::find()
        .filter(membership::Column::OrgId.eq(viewer.org_id))
        .filter(membership::Column::UserId.eq(to))
        .one(&txn)
        .await?
        .ok_or_else(not_member)?;
    if Role::parse(&m.role).unwrap_or(Role::Viewer) < Role::Member {
        return Err(AppError::invalid(
            "toUserId",
            "viewers cannot approve; choose a MEMBER or higher",
        ));
    }
    let mut ids = assignees(&txn, &r).await?;
    ids.retain(|u| *u != viewer.user_id);
    if !ids.contains(&to) {
        ids.push(to);
    }
    let now = Utc::now();
    let mut a: approval_request::ActiveModel = r.into();
    a.assignee_ids = Set(Value::Array(
        ids.iter().map(|u| Value::String(u.to_string())).collect(),
    ));
    a.assignee_role = Set(None);
    a.updated_at = Set(now);
    let r = a.update(&txn).await?;
    record_action(
        &txn,
        &r,
        Some(viewer.user_id),
        ApprovalActionKind::Delegate,
        comment,
        Some(to),
        now,
    )
    .await?;
    record_event(&txn, &r, Some(viewer.user_id), true, "delegated", Some(to)).await?;
    commit(state, txn).await?;
    Ok(r)
}

/// `deleteApprovalRequest`: withdraws a pending request (requester or ADMIN+). The row stays as
/// CANCELLED with a CANCEL entry, so the history survives; a gated campaign returns to DRAFT.
pub async fn cancel(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<approval_request::Model> {
    viewer.require(Permission::ActOnApprovals)?;
    let txn = state.db.begin().await?;
    let r = lock_pending(&txn, viewer, id).await?;
    owner_or_admin(viewer, &r)?;
    let r = resolve(
        &txn,
        &r,
        ApprovalStatus::Cancelled,
        Some(viewer.user_id),
        ApprovalActionKind::Cancel,
        None,
        Utc::now(),
    )
    .await?
    .ok_or_else(|| not_pending(&r))?;
    commit(state, txn).await?;
    Ok(r)
}

/// `approvalPreview`: the facts, and for a campaign its recipient count, schedule and the email
/// rendered for its first recipient (the template as it is now; the launch freezes it).
pub async fn preview(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<ApprovalPreview> {
    viewer.require(Permission::ReadApprovals)?;
    let r = get(&state.db, viewer, id).await?;
    let mut out = ApprovalPreview {
        request_id: async_graphql::ID(r.id.to_string()),
        resource_type: ApprovalResourceType::parse(&r.resource_type)
            .unwrap_or(ApprovalResourceType::Other),
        title: r.title.clone(),
        facts: async_graphql::Json(r.payload.get("facts").cloned().unwrap_or(json!({}))),
        recipient_count: None,
        schedule_at: None,
        send_rate_per_minute: None,
        email: None,
        sample_recipient: None,
    };
    if out.resource_type != ApprovalResourceType::Campaign {
        return Ok(out);
    }
    let Ok(cid) = Uuid::parse_str(&r.resource_id) else {
        return Ok(out);
    };
    let c = match campaigns::get(&state.db, viewer, cid).await {
        Ok(c) => c,
        Err(AppError::NotFound(_)) => return Ok(out),
        Err(e) => return Err(e),
    };
    let recipients = campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.eq(c.id))
        .filter(campaign_recipient::Column::Status.eq("PENDING"));
    out.recipient_count = Some(recipients.clone().count(&state.db).await? as i64);
    out.schedule_at = c.schedule_at;
    out.send_rate_per_minute = c.send_rate_per_minute;
    let first = recipients
        .filter(campaign_recipient::Column::LeadId.is_not_null())
        .order_by_asc(campaign_recipient::Column::Id)
        .one(&state.db)
        .await?;
    let lead = match first.as_ref().and_then(|f| f.lead_id) {
        Some(lid) => {
            lead::Entity::find_by_id(lid)
                .filter(lead::Column::OrgId.eq(viewer.org_id))
                .one(&state.db)
                .await?
        }
        None => None,
    };
    out.sample_recipient = first.map(|f| f.email);
    let Some(tid) = c.template_id else {
        return Ok(out);
    };
    let t = match templates::get(&state.db, viewer, tid).await {
        Ok(t) => t,
        Err(AppError::NotFound(_)) => return Ok(out),
        Err(e) => return Err(e),
    };
    let org = organization::Entity::find_by_id(viewer.org_id)
        .one(&state.db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let vars = lead
        .as_ref()
        .map_or_else(render::sample_lead, render::lead_vars);
    let ctx = render::context(
        vars,
        &c.from_name,
        &c.from_email,
        &org,
        &format!("{}/u/preview", state.config.public_url),
    );
    out.email = Some(templates::render_or_invalid(&templates::content_of(&t), &ctx).await?);
    Ok(out)
}

/// `approvalStats`: counts by status, the median time to a decision and decisions per approver.
pub async fn stats(state: &AppState, viewer: &Viewer) -> AppResult<ApprovalStats> {
    viewer.require(Permission::ReadApprovals)?;
    let mut out = ApprovalStats::default();
    let by_status: Vec<(String, i64)> = scoped(viewer)
        .select_only()
        .column(approval_request::Column::Status)
        .column_as(Expr::col(approval_request::Column::Id).count(), "n")
        .group_by(approval_request::Column::Status)
        .into_tuple()
        .all(&state.db)
        .await?;
    for (s, n) in by_status {
        match ApprovalStatus::parse(&s) {
            Some(ApprovalStatus::Pending) => out.pending = n,
            Some(ApprovalStatus::Approved) => out.approved = n,
            Some(ApprovalStatus::Rejected) => out.rejected = n,
            Some(ApprovalStatus::ChangesRequested) => out.changes_requested = n,
            Some(ApprovalStatus::Cancelled) => out.cancelled = n,
            Some(ApprovalStatus::Expired) => out.expired = n,
            None => {}
        }
    }
    out.urgent = scoped(viewer)
        .filter(approval_request::Column::Status.eq(ApprovalStatus::Pending.as_str()))
        .filter(approval_request::Column::Urgent.eq(true))
        .count(&state.db)
        .await? as i64;
    let decided: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = scoped(viewer)
        .select_only()
        .column(approval_request::Column::CreatedAt)
        .column(approval_request::Column::ResolvedAt)
        .filter(approval_request::Column::Status.is_in([
            ApprovalStatus::Approved.as_str(),
            ApprovalStatus::Rejected.as_str(),
            ApprovalStatus::ChangesRequested.as_str(),
        ]))
        .order_by_desc(approval_request::Column::Id)
        .limit(MEDIAN_WINDOW)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut hours: Vec<f64> = decided
        .into_iter()
        .filter_map(|(c, r)| r.map(|r| (r - c).num_milliseconds() as f64 / 3_600_000.0))
        .collect();
    out.median_hours_to_decision = median(&mut hours);
    let rows: Vec<(Option<Uuid>, String, i64)> = approval_action::Entity::find()
        .select_only()
        .column(approval_action::Column::ActorId)
        .column(approval_action::Column::Action)
        .column_as(Expr::col(approval_action::Column::Id).count(), "n")
        .filter(approval_action::Column::OrgId.eq(viewer.org_id))
        .filter(approval_action::Column::ActorId.is_not_null())
        .filter(approval_action::Column::Action.is_in([
            ApprovalActionKind::Approve.as_str(),
            ApprovalActionKind::Reject.as_str(),
            ApprovalActionKind::RequestChanges.as_str(),
        ]))
        .group_by(approval_action::Column::ActorId)
        .group_by(approval_action::Column::Action)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut per: HashMap<Uuid, ApproverStats> = HashMap::new();
    for (actor, action, n) in rows {
        let Some(actor) = actor else { continue };
        let s = per.entry(actor).or_insert(ApproverStats {
            approved: 0,
            rejected: 0,
            changes_requested: 0,
            user_id: actor,
        });
        match ApprovalActionKind::parse(&action) {
            Some(ApprovalActionKind::Approve) => s.approved += n,
            Some(ApprovalActionKind::Reject) => s.rejected += n,
            Some(ApprovalActionKind::RequestChanges) => s.changes_requested += n,
            _ => {}
        }
    }
    let mut by: Vec<ApproverStats> = per.into_values().collect();
    by.sort_by_key(|s| {
        (
            std::cmp::Reverse(s.approved + s.rejected + s.changes_requested),
            s.user_id,
        )
    });
    out.by_approver = by;
    Ok(out)
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Members of `org_id` among `ids` with a role at or above MANAGER who share a team with one of
/// `users`, plus the organization's ADMIN/OWNERs: who hears about an overdue request besides
/// its assignees.
pub async fn managers_of(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    users: &[Uuid],
) -> AppResult<Vec<Uuid>> {
    use entity::team_member;
    let teams: Vec<Uuid> = if users.is_empty() {
        Vec::new()
    } else {
        team_member::Entity::find()
            .select_only()
            .column(team_member::Column::TeamId)
            .filter(team_member::Column::OrgId.eq(org_id))
            .filter(team_member::Column::UserId.is_in(users.to_vec()))
            .into_tuple()
            .all(conn)
            .await?
    };
    let mates: HashSet<Uuid> = if teams.is_empty() {
        HashSet::new()
    } else {
        team_member::Entity::find()
            .select_only()
            .column(team_member::Column::UserId)
            .filter(team_member::Column::TeamId.is_in(teams))
            .into_tuple::<Uuid>()
            .all(conn)
            .await?
            .into_iter()
            .collect()
    };
    let rows: Vec<(Uuid, String)> = membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .column(membership::Column::Role)
        .filter(membership::Column::OrgId.eq(org_id))
        .filter(membership::Column::Role.is_in(roles_at_or_above(Role::Manager)))
        .order_by_asc(membership::Column::Id)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(u, role)| {
            Role::parse(role).is_some_and(|r| r >= Role::Admin) || mates.contains(u)
        })
        .map(|(u, _)| u)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn viewer(role: Role, user: Uuid) -> Viewer {
        Viewer {
            user_id: user,
            org_id: Uuid::nil(),
            role,
            via: crate::auth::ViewerVia::Jwt,
            session_id: None,
        }
    }

    #[test]
    fn who_may_act() {
        let (me, other) = (Uuid::now_v7(), Uuid::now_v7());
        // Never on one's own request, whatever the role.
        assert!(may_act_on(&viewer(Role::Owner, me), Some(me), &[me], None).is_err());
        // Named assignee.
        assert!(may_act_on(&viewer(Role::Member, me), Some(other), &[me], None).is_ok());
        // By role.
        assert!(may_act_on(
            &viewer(Role::Manager, me),
            Some(other),
            &[],
            Some(Role::Manager)
        )
        .is_ok());
        assert!(may_act_on(
            &viewer(Role::Member, me),
            Some(other),
            &[],
            Some(Role::Manager)
        )
        .is_err());
        // ADMIN+ always; viewers never.
        assert!(may_act_on(&viewer(Role::Admin, me), Some(other), &[], None).is_ok());
        assert!(may_act_on(&viewer(Role::Viewer, me), Some(other), &[me], None).is_err());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
