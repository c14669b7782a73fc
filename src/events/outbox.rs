//! The transactional outbox: events are stored with the change that caused them, and the
//! registered [`handlers`] run in the same transaction.

use entity::outbox_event;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::{handlers, EventEnvelope};
use crate::error::{AppError, AppResult};

/// The unpublished outbox row of `event`.
fn row(event: &EventEnvelope) -> AppResult<outbox_event::ActiveModel> {
    Ok(outbox_event::ActiveModel {
        seq: NotSet,
        id: Set(event.id),
        org_id: Set(event.org_id),
        user_id: Set(event.user_id),
        event_type: Set(event.event.type_name().to_string()),
        payload: Set(serde_json::to_value(event)?),
        occurred_at: Set(event.occurred_at),
        published_at: Set(None),
        position: Set(None),
    })
}

/// Stores `event` using `conn` (pass the service's transaction).
pub async fn record(conn: &impl ConnectionTrait, event: &EventEnvelope) -> AppResult<()> {
    outbox_event::Entity::insert(row(event)?).exec(conn).await?;
    dispatch(conn, event).await
}

/// Runs the registered handlers that want `event` (see [`handlers`]), in `conn`. Boxed only when
/// one does: a handler may record events through [`record`] again (notifications record
/// `notification.new`), an async recursion.
async fn dispatch(conn: &impl ConnectionTrait, event: &EventEnvelope) -> AppResult<()> {
    let wanted = handlers::wanted(event);
    if wanted.is_empty() {
        return Ok(());
    }
    Box::pin(handlers::run(conn, wanted, event)).await
}

/// Stores `events` like [`record`], with one multi-row `INSERT` per 200 events (for batch
/// writers such as the crawler's group commit), then gives each handler the whole batch at once
/// ([`handlers::EventHandler::handle_many`]).
pub async fn record_many(conn: &impl ConnectionTrait, events: &[EventEnvelope]) -> AppResult<()> {
    for chunk in events.chunks(200) {
        let rows = chunk.iter().map(row).collect::<AppResult<Vec<_>>>()?;
        outbox_event::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Box::pin(handlers::run_many(conn, events)).await
}

/// Decodes a stored row back into its envelope (with `seq` filled in).
pub fn decode(row: &outbox_event::Model) -> AppResult<EventEnvelope> {
    let mut ev: EventEnvelope = serde_json::from_value(row.payload.clone())?;
    ev.seq = row.seq;
    ev.position = row.position.unwrap_or(0);
    Ok(ev)
}

/// Published events of `org_id` after publication position `after`, oldest first, at most
/// `limit`. Rows that cannot be decoded are logged and skipped.
pub async fn published_after(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    after: i64,
    limit: u64,
) -> AppResult<Vec<EventEnvelope>> {
    let rows = outbox_event::Entity::find()
        .filter(outbox_event::Column::OrgId.eq(org_id))
        .filter(outbox_event::Column::Position.gt(after))
        .order_by_asc(outbox_event::Column::Position)
        .limit(limit)
        .all(conn)
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| match decode(row) {
            Ok(ev) => Some(ev),
            Err(e) => {
                tracing::error!(seq = row.seq, error = ?e, "undecodable outbox row skipped");
                None
            }
        })
        .collect())
}

/// The newest publication position (0 when nothing was published yet).
pub async fn last_position(conn: &impl ConnectionTrait) -> AppResult<i64> {
    let max: Option<Option<i64>> = outbox_event::Entity::find()
        .select_only()
        .column_as(outbox_event::Column::Position.max(), "max")
        .into_tuple()
        .one(conn)
        .await?;
    Ok(max.flatten().unwrap_or(0))
}

/// The publication position of event `id` of `org_id`: the replay anchor for `after`.
/// BAD_USER_INPUT when it is not a published event of that organization, or when it occurred
/// more than `retention` ago: replay never reaches past the retention window.
pub async fn position_of(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    id: Uuid,
    retention: std::time::Duration,
) -> AppResult<i64> {
    let row = outbox_event::Entity::find()
        .filter(outbox_event::Column::Id.eq(id))
        .filter(outbox_event::Column::OrgId.eq(org_id))
        .one(conn)
        .await?;
    let oldest = chrono::Utc::now() - retention;
    match row {
        Some(row) if row.occurred_at < oldest => Err(AppError::invalid(
            "after",
            "the event is older than the replay window (EVENT_RETENTION_HOURS)",
        )),
        Some(row) => row
            .position
            .ok_or_else(|| AppError::invalid("after", "unknown event id")),
        None => Err(AppError::invalid("after", "unknown event id")),
    }
}

/// Deletes published events that occurred more than `retention` ago; returns how many.
pub async fn prune(conn: &impl ConnectionTrait, retention: std::time::Duration) -> AppResult<u64> {
    let cutoff = chrono::Utc::now() - retention;
    let res = outbox_event::Entity::delete_many()
        .filter(outbox_event::Column::PublishedAt.is_not_null())
        .filter(outbox_event::Column::OccurredAt.lt(cutoff))
        .exec(conn)
        .await?;
    Ok(res.rows_affected)
}

/// Prunes the outbox to the retention window at start and then hourly, until shutdown.
pub fn spawn_pruner(
    db: sea_orm::DatabaseConnection,
    retention: std::time::Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tokio::select! {
                _ = every.tick() => match prune(&db, retention).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "outbox pruned to the retention window"),
                    Err(e) => tracing::warn!(error = ?e, "pruning the outbox failed"),
                },
                _ = shutdown.changed() => break,
            }
        }
    })
}
