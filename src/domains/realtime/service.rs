//! The per-subscriber event stream: optional replay from the outbox, then live events from the
//! bus, each checked against the viewer.
//!
//! Every published event carries its publication position, gap-free across organizations. The
//! stream keeps two cursors: the last position it saw on the bus (any organization) and the last
//! position of its own organization it has handled. A jump in the first, a lagging local buffer
//! or a bus resync (Redis reconnected) makes it read the missed events of its organization from
//! the outbox; positions at or below the second cursor are dropped, so nothing is delivered twice.
//!
//! A stream never goes silent: when it cannot catch up (the outbox read fails [`CATCH_UP_TRIES`]
//! times in a row, or the bus is gone) it yields one SERVICE_UNAVAILABLE error and completes, so
//! the client resubscribes with `after` set to the last event id it received and loses nothing.

use std::{collections::VecDeque, sync::Arc};

use std::future::Future;

use async_graphql::{Context, ID};
use futures::{Stream, StreamExt};
use sea_orm::DatabaseConnection;
use tokio::sync::{
    broadcast::{self, error::RecvError},
    Semaphore,
};

use crate::{
    auth::{Permission, Viewer},
    error::{AppError, AppResult},
    events::{outbox, BusMessage, EventEnvelope, EventType},
    graphql::ContextExt,
};

/// Largest replay or catch-up page.
pub const REPLAY_LIMIT: u64 = 1000;

/// Outbox reads tried (with a growing pause) before a stream gives up with an error.
pub const CATCH_UP_TRIES: u32 = 5;

/// What a client that must resubscribe is told.
const RESUBSCRIBE: &str =
    "live events interrupted; subscribe again with `after` set to the last event id received";

/// Catch-up queries running at once per process: a Redis reconnect with 10,000 subscribers must
/// not fire 10,000 queries together.
static CATCH_UP_PERMITS: Semaphore = Semaphore::const_new(8);

/// What a subscriber wants.
#[derive(Clone, Default)]
pub struct EventFilter {
    /// Only these types (`None` = all).
    pub types: Option<Vec<EventType>>,
}

impl EventFilter {
    fn accepts(&self, viewer: &Viewer, ev: &EventEnvelope) -> bool {
        self.types
            .as_ref()
            .is_none_or(|t| t.contains(&ev.event.event_type()))
            && ev.event.visible_to(ev, viewer)
    }
}

struct State {
    rx: broadcast::Receiver<BusMessage>,
    db: DatabaseConnection,
    viewer: Viewer,
    filter: EventFilter,
    pending: VecDeque<EventEnvelope>,
    /// The last page read from the outbox was full: read on before going live.
    more: bool,
    /// Last position seen on the bus, any organization.
    seen: i64,
    /// Last position of the viewer's organization handled (delivered or filtered out).
    cursor: i64,
    /// The stream yielded its final error: end it.
    done: bool,
}

impl State {
    async fn read_outbox(&mut self) -> AppResult<()> {
        let _permit = CATCH_UP_PERMITS.acquire().await;
        let evs = outbox::published_after(&self.db, self.viewer.org_id, self.cursor, REPLAY_LIMIT)
            .await?;
        self.more = evs.len() as u64 == REPLAY_LIMIT;
        if let Some(last) = evs.last() {
            self.seen = self.seen.max(last.position);
        }
        self.pending.extend(evs);
        Ok(())
    }

    /// [`Self::read_outbox`], retried [`CATCH_UP_TRIES`] times with a growing pause (a database
    /// blip must not end every live stream); the last error when every try failed.
    async fn catch_up(&mut self) -> AppResult<()> {
        let mut pause = std::time::Duration::from_millis(200);
        let mut tries = 0;
        loop {
            match self.read_outbox().await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tries += 1;
                    if tries >= CATCH_UP_TRIES {
                        return Err(e);
                    }
                    tracing::warn!(error = ?e, tries, "outbox read failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(3));
                }
            }
        }
    }

    /// Handles one event in position order; returns it when it is to be delivered.
    fn take(&mut self, ev: &EventEnvelope) -> bool {
        if ev.org_id != self.viewer.org_id || ev.position <= self.cursor {
            return false;
        }
        self.cursor = ev.position;
        self.filter.accepts(&self.viewer, ev)
    }
}

/// Builds the stream. `rx` must be taken before this is called so nothing falls in between.
/// `after` is the position to replay after (see [`outbox::position_of`]); `None` = live only.
/// Yields events in position order, each once; ends with one SERVICE_UNAVAILABLE error when it
/// cannot continue.
pub async fn events(
    rx: broadcast::Receiver<BusMessage>,
    db: DatabaseConnection,
    viewer: Viewer,
    filter: EventFilter,
    after: Option<i64>,
) -> AppResult<impl Stream<Item = AppResult<EventEnvelope>>> {
    let now = outbox::last_position(&db).await?;
    let mut state = State {
        rx,
        db,
        viewer,
        filter,
        pending: VecDeque::new(),
        more: false,
        seen: now,
        cursor: after.unwrap_or(now),
        done: false,
    };
    if after.is_some() {
        state.read_outbox().await?;
    }
    Ok(futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        match next_event(&mut st).await {
            Ok(ev) => Some((Ok(ev), st)),
            Err(e) => {
                st.done = true;
                Some((Err(e), st))
            }
        }
    }))
}

/// The next event to deliver: from the pending outbox page, else from the bus, reading the
/// outbox after any gap, lag or resync. An error means the stream cannot continue.
async fn next_event(st: &mut State) -> AppResult<EventEnvelope> {
    loop {
        if let Some(ev) = st.pending.pop_front() {
            if st.take(&ev) {
                return Ok(ev);
            }
            continue;
        }
        let resync = if st.more {
            true
        } else {
            match st.rx.recv().await {
                Ok(BusMessage::Event(ev)) => {
                    let gap = ev.position > st.seen + 1;
                    st.seen = st.seen.max(ev.position);
                    if gap {
                        tracing::debug!(
                            position = ev.position,
                            "gap in bus positions; reading the outbox"
                        );
                        // The outbox read covers this event too (or it is another org's).
                        true
                    } else {
                        if st.take(&ev) {
                            return Ok(Arc::unwrap_or_clone(ev));
                        }
                        continue;
                    }
                }
                Ok(BusMessage::Resync) => true,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "subscriber lagged; reading the outbox");
                    true
                }
                Err(RecvError::Closed) => {
                    tracing::warn!("event bus closed; ending subscription with an error");
                    return Err(AppError::Unavailable(RESUBSCRIBE.into()));
                }
            }
        };
        if resync {
            // Boxed: the query's future is large and rarely needed, so it is not kept inline
            // in every idle subscriber's state.
            if let Err(e) = Box::pin(st.catch_up()).await {
                tracing::error!(error = ?e, "outbox read failed; ending subscription with an error");
                return Err(AppError::Unavailable(RESUBSCRIBE.into()));
            }
        }
    }
}

/// Maps a [`live`] stream with `f` (dropping events it returns `None` for) and passes its final
/// error through, so typed subscriptions end the way `events` does.
pub fn filter_live<T, Fut>(
    s: impl Stream<Item = AppResult<EventEnvelope>>,
    mut f: impl FnMut(EventEnvelope) -> Fut,
) -> impl Stream<Item = AppResult<T>>
where
    Fut: Future<Output = Option<T>>,
{
    s.filter_map(move |item| {
        let mapped = item.map(&mut f);
        async move {
            match mapped {
                Ok(fut) => fut.await.map(Ok),
                Err(e) => Some(Err(e)),
            }
        }
    })
}

/// The viewer's live events of `types` (all when empty), replayed after event `after` first.
/// Authentication, the subscribe permission and per-event visibility are applied here; typed
/// subscription fields of other domains build on this.
pub async fn live(
    ctx: &Context<'_>,
    types: &[EventType],
    after: Option<ID>,
) -> AppResult<impl Stream<Item = AppResult<EventEnvelope>> + use<>> {
    let (state, viewer) = ctx.state_and_viewer()?;
    viewer.require(Permission::SubscribeEvents)?;
    // Subscribe before reading anything, so no event falls between the read and the feed.
    let rx = state.bus.subscribe();
    let after = match after {
        Some(id) => {
            let id = uuid::Uuid::parse_str(&id)
                .map_err(|_| AppError::invalid("after", "unknown event id"))?;
            Some(
                outbox::position_of(&state.db, viewer.org_id, id, state.config.event_retention)
                    .await?,
            )
        }
        None => None,
    };
    let filter = EventFilter {
        types: (!types.is_empty()).then(|| types.to_vec()),
    };
    events(rx, state.db.clone(), viewer.clone(), filter, after).await
}
