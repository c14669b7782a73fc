//! The SLA sweep: pending requests past `due_at` become urgent (an ESCALATE entry and
//! `approval.pending` with reason `escalated`, which notifies the assignees and their managers);
//! pending requests older than `APPROVAL_EXPIRE_HOURS` expire (a gated campaign returns to
//! DRAFT). Each request changes in its own unit of work (`state.commit`, which wakes the relay
//! and the job runners). [`sweep`] takes `now`, so tests move time instead of sleeping; [`spawn`] runs it every
//! `APPROVAL_SLA_SWEEP_SECS` on every instance — each change is a conditional update on
//! `status = 'PENDING'` (and `urgent = false`), so two instances never escalate or expire one
//! request twice.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use entity::approval_request;
use sea_orm::{
    sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    domains::approvals::requests::{
        record_action, record_event, resolve,
        types::{ApprovalActionKind, ApprovalStatus},
    },
    error::AppResult,
    state::{AppState, Wakes},
};

/// Requests handled per kind per sweep (the next sweep takes the rest).
const BATCH: u64 = 500;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Requests that became urgent.
    pub escalated: usize,
    /// Requests that expired.
    pub expired: usize,
}

/// Escalates overdue and expires old pending requests as of `now`.
pub async fn sweep(state: &AppState, now: DateTime<Utc>) -> AppResult<SweepReport> {
    let mut report = SweepReport::default();
    let pending = ApprovalStatus::Pending.as_str();
    let overdue = approval_request::Entity::find()
        .filter(approval_request::Column::Status.eq(pending))
        .filter(approval_request::Column::Urgent.eq(false))
        .filter(approval_request::Column::DueAt.lte(now))
        .order_by_asc(approval_request::Column::DueAt)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    for r in overdue {
        let txn = state.db.begin().await?;
        let res = approval_request::Entity::update_many()
            .col_expr(approval_request::Column::Urgent, Expr::value(true))
            .col_expr(approval_request::Column::EscalatedAt, Expr::value(now))
            .col_expr(approval_request::Column::UpdatedAt, Expr::value(now))
            .filter(approval_request::Column::Id.eq(r.id))
            .filter(approval_request::Column::Status.eq(pending))
            .filter(approval_request::Column::Urgent.eq(false))
            .exec(&txn)
            .await?;
        if res.rows_affected == 0 {
            continue; // decided or escalated meanwhile
        }
        let r = approval_request::Model {
            urgent: true,
            escalated_at: Some(now),
            updated_at: now,
            ..r
        };
        record_action(
            &txn,
            &r,
            None,
            ApprovalActionKind::Escalate,
            None,
            None,
            now,
        )
        .await?;
        record_event(&txn, &r, None, true, "escalated", None).await?;
        state.commit(txn, Wakes::Jobs).await?;
        report.escalated += 1;
    }

    let cutoff = now - Duration::hours(state.config.approval_expire_hours);
    let old = approval_request::Entity::find()
        .filter(approval_request::Column::Status.eq(pending))
        .filter(approval_request::Column::CreatedAt.lte(cutoff))
        .order_by_asc(approval_request::Column::CreatedAt)
        .limit(BATCH)
        .all(&state.db)
        .await?;
    for r in old {
        let txn = state.db.begin().await?;
        if resolve(
            &txn,
            &r,
            ApprovalStatus::Expired,
            None,
            ApprovalActionKind::Expire,
            None,
            now,
        )
        .await?
        .is_some()
        {
            state.commit(txn, Wakes::Jobs).await?;
            report.expired += 1;
        }
    }
    Ok(report)
}

/// Runs [`sweep`] every `APPROVAL_SLA_SWEEP_SECS` until shutdown.
pub fn spawn(state: AppState, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let period = state
            .config
            .approval_sla_sweep
            .max(StdDuration::from_secs(1));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            match sweep(&state, Utc::now()).await {
                Ok(r) if r.escalated + r.expired > 0 => {
                    tracing::info!(
                        escalated = r.escalated,
                        expired = r.expired,
                        "approval SLA sweep"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = ?e, "approval SLA sweep failed"),
            }
        }
    })
}
