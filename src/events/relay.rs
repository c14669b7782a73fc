//! The outbox relay: gives committed events their publication position, publishes them to the
//! bus in that order, and marks them.
//!
//! Positions are assigned in a transaction of their own before anything is published, so a
//! published position never changes meaning. Both steps hold one advisory lock on Postgres, so
//! relays of several processes take turns and the bus sees positions in order; SQLite is
//! single-process by nature. Delivery is at-least-once: a crash between PUBLISH and the commit of
//! `published_at` publishes those events again with the same positions and ids, and subscribers
//! drop what they already have.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use entity::outbox_event;
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use tokio::sync::{watch, Notify};

use super::{handlers, outbox, EventBus};
use crate::error::{AppError, AppResult};

const BATCH: u64 = 200;

/// Advisory lock key shared by every relay of a database ("lgrelay").
const RELAY_LOCK: i64 = 0x006c_6772_656c_6179;

/// Gives up to [`BATCH`] committed, unpositioned events the next positions, in `seq` order.
const ASSIGN_POSITIONS: &str = r#"WITH next AS (
    SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS rn FROM outbox_events
    WHERE "position" IS NULL ORDER BY seq LIMIT 200
), base AS (SELECT COALESCE(MAX("position"), 0) AS b FROM outbox_events)
UPDATE outbox_events SET "position" = (SELECT b FROM base) + next.rn
FROM next WHERE outbox_events.seq = next.seq"#;

async fn begin_locked(db: &DatabaseConnection) -> AppResult<DatabaseTransaction> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({RELAY_LOCK})"))
            .await?;
    }
    Ok(txn)
}

/// Assigns positions to committed events. Returns how many got one.
pub async fn assign_positions(db: &DatabaseConnection) -> AppResult<u64> {
    let txn = begin_locked(db).await?;
    let res = txn.execute_unprepared(ASSIGN_POSITIONS).await?;
    txn.commit().await?;
    Ok(res.rows_affected())
}

/// Positions new events, then publishes up to one batch of positioned, unpublished events and,
/// after marking them, hands them to the after-commit handlers
/// ([`handlers::PublishedHandler`]). Returns how many were published.
pub async fn publish_pending(db: &DatabaseConnection, bus: &dyn EventBus) -> AppResult<usize> {
    assign_positions(db).await?;
    let txn = begin_locked(db).await?;
    let rows = outbox_event::Entity::find()
        .filter(outbox_event::Column::PublishedAt.is_null())
        .filter(outbox_event::Column::Position.is_not_null())
        .order_by_asc(outbox_event::Column::Position)
        .limit(BATCH)
        .all(&txn)
        .await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    let mut done = Vec::with_capacity(rows.len());
    let mut published = Vec::with_capacity(rows.len());
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
        published.push(ev);
    }
    if !done.is_empty() {
        outbox_event::Entity::update_many()
            .col_expr(outbox_event::Column::PublishedAt, Expr::value(Utc::now()))
            .filter(outbox_event::Column::Seq.is_in(done.clone()))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    handlers::run_published(db, &published).await;
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
            let round =
                crate::db::within_deadline("outbox relay", publish_pending(&db, bus.as_ref()));
            let wait = match round.await {
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
                let _ =
                    crate::db::within_deadline("outbox flush", publish_pending(&db, bus.as_ref()))
                        .await;
                break;
            }
        }
    })
}
