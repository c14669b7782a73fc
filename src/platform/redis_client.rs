//! The Redis command connection of the request path (the rate limiter, the response cache):
//! every call is bounded, a connection that failed or stopped answering is dropped, and while
//! Redis is down calls are skipped at once instead of waiting for it.
//!
//! `redis::aio::ConnectionManager` alone did neither: with Redis stopped, every command waited
//! for the manager's own reconnect attempts (six, with exponential backoff: about 9 s per
//! request), and a connection whose peer went silent (a black hole: no FIN, no RST) only timed
//! out command after command and was never replaced. Here a failure drops the connection and
//! starts a back-off window ([`RedisTimeouts::retry_after`], doubling up to
//! [`RedisTimeouts::retry_max`]) during which [`RedisClient::run`] answers
//! [`Unavailable`] without touching the network; the first call after the window probes with a
//! fresh connection (the others keep skipping meanwhile), and a success closes the window.
//! Callers decide what a skipped call means: the rate limiter falls back to the in-process
//! limiter, the cache reads as a miss.

use std::{
    future::Future,
    sync::Mutex,
    time::{Duration, Instant},
};

use redis::aio::ConnectionManager;

/// Deadlines of the request path's Redis calls.
#[derive(Debug, Clone, Copy)]
pub struct RedisTimeouts {
    /// Longest TCP connect + handshake.
    pub connect: Duration,
    /// Longest wait for one command's answer (the whole call, queueing included).
    pub response: Duration,
    /// Calls skipped after a failure before the next probe; doubles per failed probe.
    pub retry_after: Duration,
    /// Longest back-off window.
    pub retry_max: Duration,
}

impl Default for RedisTimeouts {
    /// 500 ms to connect, 300 ms per command, probes 0.5 s after a failure and at least every
    /// 2 s while Redis stays down: a request pays at most one of those deadlines, and the
    /// shared budget/cache is back within ~2 s of Redis.
    fn default() -> Self {
        RedisTimeouts {
            connect: Duration::from_millis(500),
            response: Duration::from_millis(300),
            retry_after: Duration::from_millis(500),
            retry_max: Duration::from_secs(2),
        }
    }
}

/// Why a call did not reach Redis (or got no answer): skipped during a back-off window, or it
/// failed or timed out just now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

#[derive(Default)]
struct Health {
    /// Calls are skipped until then.
    skip_until: Option<Instant>,
    /// The current back-off window (zero while healthy).
    backoff: Duration,
}

/// A self-healing, bounded Redis command connection.
pub struct RedisClient {
    client: redis::Client,
    conn: Mutex<Option<ConnectionManager>>,
    health: Mutex<Health>,
    timeouts: RedisTimeouts,
    /// Names the user in logs (`rate limiter`, `cache`).
    name: &'static str,
}

impl RedisClient {
    /// Connects (within the connect deadline: Redis must be up at start, as for the bus).
    pub async fn connect(
        url: &str,
        name: &'static str,
        timeouts: RedisTimeouts,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let conn = fresh(&client, timeouts).await?;
        Ok(RedisClient {
            client,
            conn: Mutex::new(Some(conn)),
            health: Mutex::new(Health::default()),
            timeouts,
            name,
        })
    }

    /// Runs `call` on the connection within [`RedisTimeouts::response`] (a new connection is
    /// made first, within [`RedisTimeouts::connect`], after a failure). A connection-level
    /// failure or a timeout drops the connection and opens a back-off window; an error Redis
    /// itself answered (a bad command) is returned as `Ok(Err(_))` and changes nothing.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<redis::RedisResult<T>, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let conn = match self.current()? {
            Some(c) => c,
            None => match fresh(&self.client, self.timeouts).await {
                Ok(c) => {
                    if let Ok(mut slot) = self.conn.lock() {
                        *slot = Some(c.clone());
                    }
                    c
                }
                Err(e) => {
                    self.failed(&e.to_string());
                    return Err(Unavailable);
                }
            },
        };
        match tokio::time::timeout(self.timeouts.response, call(conn)).await {
            Ok(Err(e)) if is_connection_failure(&e) => {
                self.failed(&e.to_string());
                Err(Unavailable)
            }
            Ok(r) => {
                self.succeeded();
                Ok(r)
            }
            Err(_) => {
                self.failed("no answer within the response deadline");
                Err(Unavailable)
            }
        }
    }

    /// The connection to use, `Ok(None)` to make one (this call probes), or `Err` to skip.
    fn current(&self) -> Result<Option<ConnectionManager>, Unavailable> {
        let mut health = self.health.lock().map_err(|_| Unavailable)?;
        if let Some(until) = health.skip_until {
            let now = Instant::now();
            if now < until {
                return Err(Unavailable);
            }
            // This call probes; the others keep skipping until it is done.
            health.skip_until = Some(now + self.timeouts.connect + self.timeouts.response);
        }
        drop(health);
        Ok(self.conn.lock().ok().and_then(|c| c.clone()))
    }

    fn failed(&self, error: &str) {
        if let Ok(mut slot) = self.conn.lock() {
            *slot = None;
        }
        let Ok(mut health) = self.health.lock() else {
            return;
        };
        let first = health.backoff.is_zero();
        health.backoff = if first {
            self.timeouts.retry_after
        } else {
            (health.backoff * 2).min(self.timeouts.retry_max)
        };
        health.skip_until = Some(Instant::now() + health.backoff);
        if first {
            tracing::warn!(
                error,
                client = self.name,
                "redis unavailable; skipping it until it answers again"
            );
        }
    }

    fn succeeded(&self) {
        let Ok(mut health) = self.health.lock() else {
            return;
        };
        if !health.backoff.is_zero() {
            tracing::info!(client = self.name, "redis answers again");
        }
        *health = Health::default();
    }
}

/// A new connection manager that never retries on its own (this client does, between calls).
async fn fresh(
    client: &redis::Client,
    t: RedisTimeouts,
) -> Result<ConnectionManager, redis::RedisError> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_number_of_retries(0)
        .set_connection_timeout(Some(t.connect))
        .set_response_timeout(Some(t.response));
    match tokio::time::timeout(t.connect, client.get_connection_manager_with_config(config)).await {
        Ok(r) => r,
        Err(_) => Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "connect deadline passed",
        ))),
    }
}

/// Whether `e` says the connection (not the command) failed.
fn is_connection_failure(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
}
