//! The event bus: in-process (tokio broadcast) or Redis pub/sub.
//!
//! Redis: one PUBLISH per event on `lg:org:{org_id}`; each process holds exactly one pub/sub
//! connection (PSUBSCRIBE `lg:org:*`) that feeds a local broadcast channel, so WebSocket
//! subscribers never open Redis connections of their own.
//!
//! A Redis outage must never leave a subscriber silently stale. The subscriber connection is
//! checked with a `PING` every [`PING_EVERY`] (a dead peer that sent no FIN, a black-holed
//! address or a stalled server is noticed within [`PING_EVERY`] + [`PING_TIMEOUT`], not after TCP's
//! own timeouts of many minutes); every (re)connection after the first sends
//! [`BusMessage::Resync`], on which each stream reads what it missed from the outbox. Publishing
//! is bounded by [`PUBLISH_TIMEOUT`], so the relay never holds its lock on a hung connection.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::broadcast;

use super::EventEnvelope;

/// Local fan-out capacity; a subscriber lagging further than this is told it lagged.
const LOCAL_CAPACITY: usize = 4096;

/// How often the subscriber connection is probed with `PING`.
pub const PING_EVERY: Duration = Duration::from_secs(2);
/// How long a `PING`, a connection attempt or a `PSUBSCRIBE` may take before the subscriber
/// connection counts as dead and is replaced.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one `PUBLISH` may take (the relay retries later).
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// What a local subscriber receives.
#[derive(Debug, Clone)]
pub enum BusMessage {
    /// A published event.
    Event(Arc<EventEnvelope>),
    /// The bus may have missed events (its subscription to Redis was re-established):
    /// subscribers catch up from the outbox.
    Resync,
}

/// Bus failures.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// Redis failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Encoding failed.
    #[error("encode: {0}")]
    Encode(#[from] serde_json::Error),
    /// Not connected.
    #[error("bus unavailable: {0}")]
    Unavailable(String),
}

/// Publishes events and hands out local subscriptions.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// `memory` or `redis`.
    fn kind(&self) -> &'static str;
    /// Publishes to every process.
    async fn publish(&self, event: &EventEnvelope) -> Result<(), BusError>;
    /// A receiver of every event this process sees (filter by organization downstream).
    fn subscribe(&self) -> broadcast::Receiver<BusMessage>;
    /// Health probe.
    async fn health(&self) -> Result<(), BusError>;
}

/// In-process bus for single-instance deployments and tests.
pub struct MemoryBus {
    tx: broadcast::Sender<BusMessage>,
}

impl MemoryBus {
    /// A new, empty bus.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(LOCAL_CAPACITY);
        MemoryBus { tx }
    }
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn publish(&self, event: &EventEnvelope) -> Result<(), BusError> {
        // No receivers is not an error: nobody is listening right now.
        let _ = self.tx.send(BusMessage::Event(Arc::new(event.clone())));
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.tx.subscribe()
    }

    async fn health(&self) -> Result<(), BusError> {
        Ok(())
    }
}

/// Redis pub/sub bus.
pub struct RedisBus {
    client: redis::Client,
    /// The publishing connection; dropped after a timeout (a connection that stopped answering
    /// without closing is never replaced by the manager itself) and made again on next use.
    publisher: std::sync::Mutex<Option<redis::aio::ConnectionManager>>,
    tx: broadcast::Sender<BusMessage>,
    subscribed: Arc<AtomicBool>,
    listener: tokio::task::JoinHandle<()>,
}

/// Channel name for an organization's events.
pub fn org_channel(org_id: uuid::Uuid) -> String {
    format!("lg:org:{org_id}")
}

impl RedisBus {
    /// Connects the publisher and starts the single subscriber task (reconnects with backoff).
    pub async fn connect(url: &str) -> Result<Self, BusError> {
        let client = redis::Client::open(url)?;
        let publisher = publisher_connection(&client).await?;
        let (tx, _) = broadcast::channel(LOCAL_CAPACITY);
        let subscribed = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let listener = tokio::spawn(listen(
            client.clone(),
            tx.clone(),
            subscribed.clone(),
            Some(ready_tx),
        ));
        // Wait for the first PSUBSCRIBE so events published right after start are not missed.
        match tokio::time::timeout(Duration::from_secs(5), ready_rx).await {
            Ok(Ok(())) => {}
            _ => {
                listener.abort();
                return Err(BusError::Unavailable(
                    "redis subscriber did not start".into(),
                ));
            }
        }
        Ok(RedisBus {
            client,
            publisher: std::sync::Mutex::new(Some(publisher)),
            tx,
            subscribed,
            listener,
        })
    }
}

/// A publishing connection. Few, short retries: a request waits about a second for a dead Redis
/// instead of the default ~9 s of reconnect attempts; the relay retries on its own schedule.
async fn publisher_connection(
    client: &redis::Client,
) -> Result<redis::aio::ConnectionManager, BusError> {
    let manager = redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(400))
        .set_connection_timeout(Some(PING_TIMEOUT))
        .set_response_timeout(Some(PUBLISH_TIMEOUT));
    let connect = client.get_connection_manager_with_config(manager);
    Ok(tokio::time::timeout(PING_TIMEOUT * 2, connect)
        .await
        .map_err(|_| BusError::Unavailable("redis did not answer in time".into()))??)
}

impl RedisBus {
    /// Runs `cmd` on the publishing connection (made anew when the last one was dropped),
    /// within `limit`; a timeout or an error drops the connection so the next call starts over.
    async fn on_publisher<T: redis::FromRedisValue>(
        &self,
        cmd: redis::Cmd,
        limit: Duration,
    ) -> Result<T, BusError> {
        let current = self.publisher.lock().ok().and_then(|g| g.clone());
        let mut conn = match current {
            Some(c) => c,
            None => publisher_connection(&self.client).await?,
        };
        let outcome = match tokio::time::timeout(limit, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(BusError::from(e)),
            Err(_) => Err(BusError::Unavailable("redis did not answer in time".into())),
        };
        if let Ok(mut slot) = self.publisher.lock() {
            *slot = outcome.is_ok().then_some(conn);
        }
        outcome
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

async fn listen(
    client: redis::Client,
    tx: broadcast::Sender<BusMessage>,
    subscribed: Arc<AtomicBool>,
    mut ready: Option<tokio::sync::oneshot::Sender<()>>,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let result =
            subscribe_and_forward(&client, &tx, &subscribed, &mut ready, &mut backoff).await;
        subscribed.store(false, Ordering::SeqCst);
        match result {
            Ok(()) => tracing::warn!("redis event subscription ended; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "redis event subscriber failed; reconnecting"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// One subscriber connection: connects and subscribes (bounded by [`PING_TIMEOUT`]), announces
/// itself (ready, or `Resync` after a reconnect), then forwards messages until the connection
/// ends or fails a `PING`.
async fn subscribe_and_forward(
    client: &redis::Client,
    tx: &broadcast::Sender<BusMessage>,
    subscribed: &AtomicBool,
    ready: &mut Option<tokio::sync::oneshot::Sender<()>>,
    backoff: &mut Duration,
) -> Result<(), BusError> {
    let timed_out = || BusError::Unavailable("redis did not answer in time".into());
    let connect = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.psubscribe("lg:org:*").await?;
        Ok::<_, redis::RedisError>(pubsub)
    };
    let pubsub = tokio::time::timeout(PING_TIMEOUT, connect)
        .await
        .map_err(|_| timed_out())??;
    subscribed.store(true, Ordering::SeqCst);
    match ready.take() {
        Some(r) => {
            let _ = r.send(());
        }
        // Events published while we were away never reach us: tell subscribers.
        None => {
            let _ = tx.send(BusMessage::Resync);
        }
    }
    *backoff = Duration::from_millis(100);
    tracing::info!("redis event subscriber connected");
    let (mut sink, mut stream) = pubsub.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    loop {
        tokio::select! {
            msg = stream.next() => {
                let Some(msg) = msg else { return Ok(()) };
                match serde_json::from_slice::<EventEnvelope>(msg.get_payload_bytes()) {
                    Ok(ev) => {
                        let _ = tx.send(BusMessage::Event(Arc::new(ev)));
                    }
                    Err(e) => tracing::warn!(error = %e, "undecodable event on redis bus"),
                }
            }
            _ = ping.tick() => {
                tokio::time::timeout(PING_TIMEOUT, sink.ping::<redis::Value>())
                    .await
                    .map_err(|_| timed_out())??;
            }
        }
    }
}

#[async_trait]
impl EventBus for RedisBus {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn publish(&self, event: &EventEnvelope) -> Result<(), BusError> {
        let payload = serde_json::to_string(event)?;
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(org_channel(event.org_id)).arg(payload);
        self.on_publisher::<i64>(cmd, PUBLISH_TIMEOUT).await?;
        Ok(())
    }

    fn subscribe(&self) -> broadcast::Receiver<BusMessage> {
        self.tx.subscribe()
    }

    async fn health(&self) -> Result<(), BusError> {
        self.on_publisher::<String>(redis::cmd("PING"), PING_TIMEOUT)
            .await?;
        if !self.subscribed.load(Ordering::SeqCst) {
            return Err(BusError::Unavailable("subscriber reconnecting".into()));
        }
        Ok(())
    }
}
