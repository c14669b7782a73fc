//! `approvalStats`: counts by status, the median time to a decision and decisions per approver.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{approval_action, approval_request};
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::scoped;
use crate::{
    auth::{Permission, Viewer},
    domains::approvals::requests::types::{
        ApprovalActionKind, ApprovalStats, ApprovalStatus, ApproverStats,
    },
    error::AppResult,
    state::AppState,
};

/// Decisions the median is computed over (the newest).
const MEDIAN_WINDOW: u64 = 10_000;

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
    out.median_hours_to_decision = median_hours(state, viewer).await?;
    out.by_approver = by_approver(state, viewer).await?;
    Ok(out)
}

/// Median hours from creation to decision over the newest decisions.
async fn median_hours(state: &AppState, viewer: &Viewer) -> AppResult<Option<f64>> {
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
    Ok(median(&mut hours))
}

/// Decisions per approver, most first.
async fn by_approver(state: &AppState, viewer: &Viewer) -> AppResult<Vec<ApproverStats>> {
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
    Ok(by)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}
