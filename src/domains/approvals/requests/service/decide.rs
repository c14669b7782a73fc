//! The actions on a pending request — approve, reject, request changes, delegate, withdraw — and
//! [`resolve`], which every final outcome (also the SLA's expiry) goes through.
//!
//! Every action runs in one transaction that first touches the request row with a conditional
//! `UPDATE … WHERE status = 'PENDING'` ([`lock_pending`]; on Postgres that row lock makes
//! concurrent deciders take turns), then checks who may act, records the history entry, the
//! status change, the gated resource's change (through its [`super::subject::ApprovalSubject`]) and the event —
//! which derives the notifications — all committed together.

use chrono::{DateTime, Utc};
use entity::{approval_action, approval_request, membership};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, TransactionTrait,
};
use uuid::Uuid;

use super::{
    access::{assignees, may_act_model, owner_or_admin},
    edit::text,
    gate::snapshot_of,
    get, record_action, record_event, save_change,
    subject::{subject_of_request, Decision},
    MAX_TEXT,
};
use crate::{
    auth::{Permission, Role, Viewer},
    domains::approvals::{
        requests::types::{ApprovalActionKind, ApprovalStatus},
        types::ids_json,
    },
    error::{AppError, AppResult},
    ids::parse_id,
    state::{AppState, Wakes},
};

pub(super) async fn commit(state: &AppState, txn: DatabaseTransaction) -> AppResult<()> {
    state.commit(txn, Wakes::Jobs).await?;
    Ok(())
}

/// Loads a pending request of the viewer's organization and takes its row lock (a conditional
/// update), so concurrent actions on one request run one after the other.
pub(super) async fn lock_pending(
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

pub(super) fn not_pending(r: &approval_request::Model) -> AppError {
    AppError::Conflict(format!("the request is {}, not pending", r.status))
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
    let reason = status.as_str().to_lowercase();
    record_event(txn, &r, actor, false, &reason, None).await?;
    Ok(Some(r))
}

/// The gated action follows the decision, through the resource type's [`super::subject::ApprovalSubject`]:
/// approved → [`Decision::Approved`] with the snapshot the request covered; any other outcome →
/// [`Decision::Returned`] with the comment (or why).
async fn apply_to_resource(
    txn: &DatabaseTransaction,
    r: &approval_request::Model,
    status: ApprovalStatus,
    actor: Option<Uuid>,
    comment: Option<String>,
) -> AppResult<()> {
    let Some(subject) = subject_of_request(r) else {
        return Ok(());
    };
    let decision = if status == ApprovalStatus::Approved {
        Decision::Approved {
            snapshot: snapshot_of(r),
        }
    } else {
        Decision::Returned {
            note: comment.unwrap_or_else(|| match status {
                ApprovalStatus::Expired => "The approval request expired.".into(),
                ApprovalStatus::Cancelled => "The approval request was withdrawn.".into(),
                _ => "Not approved.".into(),
            }),
        }
    };
    subject.apply(txn, r, actor, decision).await
}

pub(super) fn comment_of(
    field: &str,
    v: Option<String>,
    required: bool,
) -> AppResult<Option<String>> {
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
        save_change(
            &txn,
            a,
            viewer,
            ApprovalActionKind::Approve,
            comment,
            None,
            now,
        )
        .await?
    };
    commit(state, txn).await?;
    Ok(r)
}

/// Resolves pending request `id` as `status` with a `kind` entry, after `may` allowed the
/// viewer.
async fn decide(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    (status, kind): (ApprovalStatus, ApprovalActionKind),
    comment: Option<String>,
    may: fn(&Viewer, &approval_request::Model) -> AppResult<()>,
) -> AppResult<approval_request::Model> {
    let txn = state.db.begin().await?;
    let r = lock_pending(&txn, viewer, id).await?;
    may(viewer, &r)?;
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
    let outcome = (ApprovalStatus::Rejected, ApprovalActionKind::Reject);
    decide(state, viewer, id, outcome, reason, may_act_model).await
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
    let outcome = (
        ApprovalStatus::ChangesRequested,
        ApprovalActionKind::RequestChanges,
    );
    decide(state, viewer, id, outcome, comment, may_act_model).await
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
    a.assignee_ids = Set(ids_json(&ids));
    a.assignee_role = Set(None);
    let r = save_change(
        &txn,
        a,
        viewer,
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
    let outcome = (ApprovalStatus::Cancelled, ApprovalActionKind::Cancel);
    decide(state, viewer, id, outcome, None, owner_or_admin).await
}
