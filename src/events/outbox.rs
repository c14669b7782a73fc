//! The transactional outbox: events are stored with the change that caused them.

use entity::outbox_event;
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::EventEnvelope;
use crate::error::{AppError, AppResult};

/// Stores `event` using `conn` (pass the service's transaction).
pub async fn record(conn: &impl ConnectionTrait, event: &EventEnvelope) -> AppResult<()> {
    let row = outbox_event::ActiveModel {
        seq: NotSet,
        id: Set(event.id),
        org_id: Set(event.org_id),
        user_id: Set(event.user_id),
        event_type: Set(event.event.type_name().to_string()),
        payload: Set(serde_json::to_value(event)?),
        occurred_at: Set(event.occurred_at),
        published_at: Set(None),
    };
    outbox_event::Entity::insert(row).exec(conn).await?;
    Ok(())
}

/// Decodes a stored row back into its envelope (with `seq` filled in).
pub fn decode(row: &outbox_event::Model) -> AppResult<EventEnvelope> {
    let mut ev: EventEnvelope = serde_json::from_value(row.payload.clone())?;
    ev.seq = row.seq;
    Ok(ev)
}

/// Events of `org_id` stored after the event `after` (exclusive), oldest first, at most `limit`.
/// NOT_FOUND-like BAD_USER_INPUT when `after` is not an event of that organization.
pub async fn replay_after(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    after: Uuid,
    limit: u64,
) -> AppResult<Vec<EventEnvelope>> {
    let anchor = outbox_event::Entity::find()
        .filter(outbox_event::Column::Id.eq(after))
        .filter(outbox_event::Column::OrgId.eq(org_id))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::invalid("after", "unknown event id"))?;
    let rows = outbox_event::Entity::find()
        .filter(outbox_event::Column::OrgId.eq(org_id))
        .filter(outbox_event::Column::Seq.gt(anchor.seq))
        .order_by_asc(outbox_event::Column::Seq)
        .limit(limit)
        .all(conn)
        .await?;
    rows.iter().map(decode).collect()
}
