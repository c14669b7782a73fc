//! The per-subscriber event stream: optional replay from the outbox, then live events from the
//! bus, each checked against the viewer. If the subscriber falls behind the local fan-out buffer
//! it catches up from the outbox instead of silently losing events.

use std::{
    collections::{HashSet, VecDeque},
    sync::Arc,
};

use entity::outbox_event;
use futures::Stream;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::{
    auth::Viewer,
    error::AppResult,
    events::{outbox, EventEnvelope, EventType},
};

/// Largest replay served in one go.
pub const REPLAY_LIMIT: u64 = 1000;

/// What a subscriber wants.
#[derive(Clone)]
pub struct EventFilter {
    /// Only these types (`None` = all).
    pub types: Option<HashSet<EventType>>,
}

impl EventFilter {
    fn accepts(&self, viewer: &Viewer, ev: &EventEnvelope) -> bool {
        ev.org_id == viewer.org_id
            && self
                .types
                .as_ref()
                .is_none_or(|t| t.contains(&ev.event.event_type()))
    }
}

struct State {
    rx: broadcast::Receiver<Arc<EventEnvelope>>,
    db: DatabaseConnection,
    viewer: Viewer,
    filter: EventFilter,
    pending: VecDeque<EventEnvelope>,
    /// Ids already delivered by replay, so the live feed does not repeat them.
    replayed: HashSet<uuid::Uuid>,
    last_seq: i64,
}

async fn catch_up(
    db: &DatabaseConnection,
    viewer: &Viewer,
    after_seq: i64,
) -> AppResult<Vec<EventEnvelope>> {
    let rows = outbox_event::Entity::find()
        .filter(outbox_event::Column::OrgId.eq(viewer.org_id))
        .filter(outbox_event::Column::Seq.gt(after_seq))
        .filter(outbox_event::Column::PublishedAt.is_not_null())
        .order_by_asc(outbox_event::Column::Seq)
        .limit(REPLAY_LIMIT)
        .all(db)
        .await?;
    rows.iter().map(outbox::decode).collect()
}

/// Builds the stream. `rx` must be taken before the replay query so nothing falls in between.
pub async fn events(
    rx: broadcast::Receiver<Arc<EventEnvelope>>,
    db: DatabaseConnection,
    viewer: Viewer,
    filter: EventFilter,
    after: Option<uuid::Uuid>,
) -> AppResult<impl Stream<Item = EventEnvelope>> {
    let replay = match after {
        Some(id) => outbox::replay_after(&db, viewer.org_id, id, REPLAY_LIMIT).await?,
        None => Vec::new(),
    };
    let replayed: HashSet<uuid::Uuid> = replay.iter().map(|e| e.id).collect();
    let last_seq = replay.last().map(|e| e.seq).unwrap_or(0);
    let state = State {
        rx,
        db,
        viewer,
        filter,
        pending: replay.into(),
        replayed,
        last_seq,
    };
    Ok(futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                st.last_seq = st.last_seq.max(ev.seq);
                if st.filter.accepts(&st.viewer, &ev) {
                    return Some((ev, st));
                }
                continue;
            }
            match st.rx.recv().await {
                Ok(ev) => {
                    if st.replayed.remove(&ev.id) || !st.filter.accepts(&st.viewer, &ev) {
                        continue;
                    }
                    st.last_seq = st.last_seq.max(ev.seq);
                    return Some(((*ev).clone(), st));
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(
                        skipped = n,
                        "subscriber lagged; catching up from the outbox"
                    );
                    match catch_up(&st.db, &st.viewer, st.last_seq).await {
                        Ok(evs) => {
                            st.replayed.extend(evs.iter().map(|e| e.id));
                            st.pending.extend(evs);
                        }
                        Err(e) => {
                            tracing::error!(error = ?e, "catch-up failed; ending subscription");
                            return None;
                        }
                    }
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }))
}
