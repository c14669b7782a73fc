//! The outbox relay: publishes committed events to the bus, oldest first, and marks them.
//!
//! Delivery is at-least-once: a crash between PUBLISH and the commit of `published_at` publishes
//! that batch again, and clients dedupe by event id. On Postgres several processes relay at once
//! safely (`FOR UPDATE SKIP LOCKED`); SQLite is single-process by nature.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entity::outbox_event;
use sea_orm::{
    sea_query::{Expr, LockBehavior, LockType},
    ColumnTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use tokio::sync::{watch, Notify};

use super::{outbox, EventBus};
use crate::error::{AppError, AppResult};

const BATCH: u64 = 200;

/// Publishes up to one batch of pending events. Returns how many were published.
pub async fn publish_pending(db: &DatabaseConnection, bus: &dyn EventBus) -> AppResult<usize> {
    let txn = db.begin().await?;
    let mut query = outbox_event::Entity::find()
        .filter(outbox_event::Column::PublishedAt.is_null())
        .order_by_asc(outbox_event::Column::Seq)
        .limit(BATCH);
    if db.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = query.all(&txn).await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    let mut done = Vec::with_capacity(rows.len());
    for row in &rows {
        let ev = match outbox::decode(row) {
            Ok(ev) => ev,
            Err(e) => {
                // A row we cannot decode would block the queue forever: mark it and move on.
                tracing::error!(seq = row.seq, error = ?e, "undecodable outbox row skipped");
                done.push(row.seq);
                continue;
            }
        };
        if let Err(e) = bus.publish(&ev).await {
            tracing::warn!(error = %e, "event bus publish failed; will retry");
            break;
        }
        done.push(row.seq);
    }
    if !done.is_empty() {
        outbox_event::Entity::update_many()
            .col_expr(outbox_event::Column::PublishedAt, Expr::value(Utc::now()))
            .filter(outbox_event::Column::Seq.is_in(done.clone()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    if done.len() < rows.len() {
        return Err(AppError::Unavailable("event bus unavailable".into()));
    }
    Ok(done.len())
}

/// Runs the relay until `shutdown` flips: wakes on `notify` (local commits) and polls every
/// 250 ms (commits of other processes, retries after bus failures with backoff).
pub fn spawn(
    db: DatabaseConnection,
    bus: Arc<dyn EventBus>,
    notify: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(250);
        loop {
            let wait = match publish_pending(&db, bus.as_ref()).await {
                Ok(n) if n as u64 == BATCH => Duration::ZERO,
                Ok(_) => {
                    backoff = Duration::from_millis(250);
                    Duration::from_millis(250)
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "outbox relay failed");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                _ = notify.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
            if *shutdown.borrow() {
                // Flush what is committed before leaving.
                let _ = publish_pending(&db, bus.as_ref()).await;
                break;
            }
        }
    })
}
