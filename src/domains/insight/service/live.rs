//! `dashboardUpdates`: live KPIs, coalesced per organization and range.
//!
//! Subscribers of one organization asking for the same range share one **coalescer** (keyed by
//! the process's bus, the organization and the range or preset). It listens on the event bus;
//! the first event that can change a KPI opens a window of `DASHBOARD_UPDATE_WINDOW_MS`
//! (2 s by default), every event arriving meanwhile joins it, and when it closes the dashboard
//! statement runs **once** and the snapshot goes to every subscriber of the key. So a burst of
//! events costs one push per window, and 1,000 subscribers of one organization one query per
//! window, not one per event per subscriber. A subscriber gets a push only when one of the
//! window's events is visible to it (`DomainEvent::visible_to`), or when the bus resynced (what
//! was missed is unknown). The coalescer ends with its last subscriber (checked each window);
//! when the bus closes, subscribers get one SERVICE_UNAVAILABLE error and resubscribe.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures::Stream;
use tokio::{
    sync::broadcast::{self, error::RecvError},
    time::Instant,
};
use uuid::Uuid;

use super::{dashboard::snapshot, range::Range};
use crate::{
    auth::Viewer,
    domains::insight::types::{Dashboard, RangePreset},
    error::{AppError, AppResult},
    events::{BusMessage, EventEnvelope, EventType},
    state::AppState,
};

/// What a subscriber asked for: a rolling preset (re-read at each refresh) or a fixed range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiveRange {
    /// Ends at the refresh.
    Preset(RangePreset),
    /// `[from, to)`.
    Fixed(DateTime<Utc>, DateTime<Utc>),
}

impl LiveRange {
    fn at(self, now: DateTime<Utc>) -> Range {
        match self {
            LiveRange::Preset(p) => Range::preset(p, now),
            LiveRange::Fixed(from, to) => Range { from, to },
        }
    }
}

/// One refresh: the snapshot and what triggered it.
#[derive(Debug)]
pub struct Push {
    /// The KPIs after the window's events.
    pub dashboard: Dashboard,
    /// The window's events (of the organization, of the types that move a KPI).
    pub events: Vec<Arc<EventEnvelope>>,
    /// The bus resynced or lagged during the window: events may have been missed.
    pub resync: bool,
}

impl Push {
    fn concerns(&self, viewer: &Viewer) -> bool {
        self.resync || self.events.iter().any(|e| e.event.visible_to(e, viewer))
    }
}

/// Coalescer key: the bus (one per application instance), the organization, the range.
type Key = (usize, Uuid, LiveRange);

/// Live coalescers, each with the sender its subscribers receive from.
static HUBS: LazyLock<Mutex<HashMap<Key, broadcast::Sender<Arc<Push>>>>> =
    LazyLock::new(Default::default);

fn hubs() -> std::sync::MutexGuard<'static, HashMap<Key, broadcast::Sender<Arc<Push>>>> {
    HUBS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The event types whose events can change a dashboard KPI.
pub const MOVES_KPIS: &[EventType] = &[
    EventType::LeadCreated,
    EventType::LeadUpdated,
    EventType::LeadDeleted,
    EventType::CampaignStatus,
    EventType::CampaignActivity,
    EventType::DealCreated,
    EventType::DealUpdated,
    EventType::DealClosed,
    EventType::ApprovalPending,
    EventType::ApprovalResolved,
    EventType::ScrapeProgress,
    EventType::ScrapeCompleted,
];

/// Coalescers running in this process (for tests and metrics).
pub fn coalescers() -> usize {
    hubs().len()
}

/// The viewer's live dashboard over `range`: one item per window in which something visible to
/// the viewer changed; one error, then the end, when the bus closes.
pub fn updates(
    state: &AppState,
    viewer: Viewer,
    range: LiveRange,
) -> impl Stream<Item = AppResult<Dashboard>> + use<> {
    let rx = join(state, viewer.org_id, range);
    futures::stream::unfold(Some((rx, viewer)), |st| async move {
        let (mut rx, viewer) = st?;
        loop {
            match rx.recv().await {
                Ok(push) if push.concerns(&viewer) => {
                    return Some((Ok(push.dashboard.clone()), Some((rx, viewer))));
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => {
                    let e =
                        AppError::Unavailable("live dashboard interrupted; subscribe again".into());
                    return Some((Err(e), None));
                }
            }
        }
    })
}

/// A receiver of the key's coalescer, started when it is the first.
fn join(state: &AppState, org: Uuid, range: LiveRange) -> broadcast::Receiver<Arc<Push>> {
    let key = (Arc::as_ptr(&state.bus) as *const () as usize, org, range);
    let mut hubs = hubs();
    if let Some(tx) = hubs.get(&key) {
        return tx.subscribe();
    }
    let (tx, rx) = broadcast::channel(16);
    hubs.insert(key, tx.clone());
    // Subscribed to the bus before the first subscriber returns: nothing falls in between.
    let bus = state.bus.subscribe();
    tokio::spawn(drive(state.clone(), key, tx, bus));
    rx
}

/// Removes the key when nobody listens any more (under the lock `join` takes, so a subscriber
/// joining at that moment either keeps it alive or starts a new one).
fn retire_if_idle(key: &Key, tx: &broadcast::Sender<Arc<Push>>) -> bool {
    let mut hubs = hubs();
    if tx.receiver_count() > 0 {
        return false;
    }
    hubs.remove(key);
    true
}

/// What one bus message means to a coalescer of `org`.
enum Seen {
    Event(Arc<EventEnvelope>),
    Resync,
    Other,
    Closed,
}

fn classify(org: Uuid, m: Result<BusMessage, RecvError>) -> Seen {
    match m {
        Ok(BusMessage::Event(ev))
            if ev.org_id == org && MOVES_KPIS.contains(&ev.event.event_type()) =>
        {
            Seen::Event(ev)
        }
        Ok(BusMessage::Event(_)) => Seen::Other,
        Ok(BusMessage::Resync) | Err(RecvError::Lagged(_)) => Seen::Resync,
        Err(RecvError::Closed) => Seen::Closed,
    }
}

/// The window's events so far.
#[derive(Default)]
struct Gathered {
    events: Vec<Arc<EventEnvelope>>,
    resync: bool,
    closed: bool,
}

impl Gathered {
    /// Adds one bus message; whether it opens (or belongs to) a window.
    fn add(&mut self, org: Uuid, m: Result<BusMessage, RecvError>) -> bool {
        match classify(org, m) {
            Seen::Event(ev) => self.events.push(ev),
            Seen::Resync => self.resync = true,
            Seen::Other => return false,
            Seen::Closed => self.closed = true,
        }
        true
    }
}

/// The coalescer's loop: wait for a relevant event (checking every window whether anyone still
/// listens), gather the window, refresh once, push.
async fn drive(
    state: AppState,
    key: Key,
    tx: broadcast::Sender<Arc<Push>>,
    mut bus: broadcast::Receiver<BusMessage>,
) {
    let window = state
        .config
        .limits
        .dashboard_update_window
        .max(Duration::from_millis(1));
    let org = key.1;
    loop {
        let mut got = Gathered::default();
        match tokio::time::timeout(window, bus.recv()).await {
            Err(_) if retire_if_idle(&key, &tx) => return,
            Err(_) => continue,
            Ok(m) => {
                if !got.add(org, m) {
                    continue;
                }
            }
        }
        let deadline = Instant::now() + window;
        while !got.closed {
            match tokio::time::timeout_at(deadline, bus.recv()).await {
                Ok(m) => {
                    got.add(org, m);
                }
                Err(_) => break,
            }
        }
        if got.closed {
            break;
        }
        match snapshot(&state.db, org, key.2.at(Utc::now())).await {
            Ok(dashboard) => {
                let _ = tx.send(Arc::new(Push {
                    dashboard,
                    events: got.events,
                    resync: got.resync,
                }));
            }
            Err(e) => {
                tracing::warn!(error = ?e, "dashboard refresh failed; the next window retries")
            }
        }
        if retire_if_idle(&key, &tx) {
            return;
        }
    }
    // The bus closed: retire this coalescer (not a newer one of the same key); dropping `tx`
    // ends its subscribers' streams with an error.
    let mut hubs = hubs();
    if hubs.get(&key).is_some_and(|t| t.same_channel(&tx)) {
        hubs.remove(&key);
    }
}
