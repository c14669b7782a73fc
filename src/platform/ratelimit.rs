//! Rate limits: GCRA everywhere. In memory through `governor` (one keyed limiter per limit);
//! shared across instances through a GCRA Lua script in Redis when `REDIS_URL` is set, so every
//! instance draws from the same budget (large budgets in leases of 1 %, see [`RedisLimiter`]).
//! Defaults come from the seeds and are configurable.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;

use super::redis_client::{RedisClient, RedisTimeouts, Unavailable};
use governor::{
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    DefaultKeyedRateLimiter, Quota, RateLimiter as Governor,
};

/// A named budget: `max` requests per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit {
    /// Name, part of the key (`login`, `register`, ...).
    pub name: &'static str,
    /// Requests allowed per window (also the burst).
    pub max: u32,
    /// Window.
    pub per: Duration,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The limit's size.
    pub limit: u32,
    /// Requests left right now.
    pub remaining: u32,
    /// Seconds until another request is allowed (0 when allowed).
    pub retry_after_secs: u64,
    /// Seconds until the budget is full again.
    pub reset_secs: u64,
}

/// Checks and consumes budget.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Consumes one unit of `limit` for `key`.
    async fn check(&self, limit: &Limit, key: &str) -> Decision;
    /// `memory` or `redis`.
    fn kind(&self) -> &'static str;
}

type Keyed = DefaultKeyedRateLimiter<String, StateInformationMiddleware>;

/// How often the in-memory limiter drops the buckets of keys that are full again (a key
/// seen once — an IP, an email — must not stay in memory for the life of the process).
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Per-process limiter. Buckets that have refilled are pruned every [`PRUNE_EVERY`] (a pruned
/// key behaves exactly like a new one, so nothing is forgotten that matters).
pub struct MemoryLimiter {
    limiters: Mutex<HashMap<Limit, Arc<Keyed>>>,
    prune_every: Duration,
    last_prune: Mutex<std::time::Instant>,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        Self::with_prune_interval(PRUNE_EVERY)
    }
}

fn secs_ceil(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

impl MemoryLimiter {
    /// A limiter pruning refilled buckets every `every` (tests use a short one).
    pub fn with_prune_interval(every: Duration) -> Self {
        MemoryLimiter {
            limiters: Mutex::new(HashMap::new()),
            prune_every: every,
            last_prune: Mutex::new(std::time::Instant::now()),
        }
    }

    /// Drops every bucket that is full again (`governor`'s `retain_recent`).
    pub fn prune(&self) {
        let limiters: Vec<Arc<Keyed>> = match self.limiters.lock() {
            Ok(map) => map.values().cloned().collect(),
            Err(_) => return,
        };
        for l in limiters {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }

    /// Keys with a bucket in memory, over all limits.
    pub fn tracked_keys(&self) -> usize {
        self.limiters
            .lock()
            .map(|map| map.values().map(|l| l.len()).sum())
            .unwrap_or(0)
    }

    fn prune_if_due(&self) {
        let due = match self.last_prune.lock() {
            Ok(mut last) if last.elapsed() >= self.prune_every => {
                *last = std::time::Instant::now();
                true
            }
            _ => false,
        };
        if due {
            self.prune();
        }
    }

    fn limiter(&self, limit: &Limit) -> Option<Arc<Keyed>> {
        let mut map = self.limiters.lock().ok()?;
        if let Some(l) = map.get(limit) {
            return Some(l.clone());
        }
        let max = NonZeroU32::new(limit.max.max(1))?;
        let quota = Quota::with_period(limit.per / limit.max.max(1))?.allow_burst(max);
        let l = Arc::new(Governor::keyed(quota).with_middleware::<StateInformationMiddleware>());
        map.insert(*limit, l.clone());
        Some(l)
    }
}

#[async_trait]
impl RateLimiter for MemoryLimiter {
    async fn check(&self, limit: &Limit, key: &str) -> Decision {
        self.prune_if_due();
        let Some(l) = self.limiter(limit) else {
            return Decision {
                allowed: true,
                limit: limit.max,
                remaining: limit.max,
                retry_after_secs: 0,
                reset_secs: 0,
            };
        };
        let per_token = limit.per / limit.max.max(1);
        match l.check_key(&key.to_string()) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit: limit.max,
                    remaining,
                    retry_after_secs: 0,
                    reset_secs: secs_ceil(per_token * (limit.max - remaining.min(limit.max))),
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                Decision {
                    allowed: false,
                    limit: limit.max,
                    remaining: 0,
                    retry_after_secs: secs_ceil(wait).max(1),
                    reset_secs: secs_ceil(per_token * limit.max),
                }
            }
        }
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

/// GCRA in one atomic script, on Redis server time, taking up to ARGV[3] tokens at once (as many
/// as the budget has room for). Returns {granted, remaining, retry_ms, reset_ms}; granted 0 means
/// refused.
const GCRA_LUA: &str = r#"
local key = KEYS[1]
local emission = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', key) or now)
if tat < now then tat = now end
local room = math.floor((now + burst * emission - tat) / emission)
if room < 1 then
  return {0, 0, tat + emission - burst * emission - now, tat - now}
end
local n = math.min(want, room)
local new_tat = tat + n * emission
redis.call('SET', key, new_tat, 'PX', new_tat - now)
return {n, room - n, 0, new_tat - now}
"#;

/// A lease is `max / LEASE_DIVISOR` tokens of a budget; budgets whose lease would be a single
/// token (under 200 per window) are checked request by request.
pub const LEASE_DIVISOR: u32 = 100;
/// Largest lease.
pub const MAX_LEASE: u32 = 1000;
/// How long a lease's unused tokens may be spent. They were charged in Redis when leased, so
/// an instance never admits more than the budget; one that stops using a key forfeits at most
/// one lease of it, and admissions can run at most one lease ahead of the shared bucket.
pub const LEASE_TTL: std::time::Duration = std::time::Duration::from_secs(1);
/// Leases held at most (expired ones are dropped first; past this, no new lease is kept).
const MAX_LEASES: usize = 10_000;

/// Tokens taken from Redis for one key, spent locally.
struct Lease {
    tokens: u32,
    /// `remaining` as Redis reported it when the lease was taken.
    remaining: u32,
    reset_secs: u64,
    expires: std::time::Instant,
}

/// Limiter shared by every instance through Redis. While Redis is unreachable (or answers with
/// an error) each instance enforces the same budgets in process ([`MemoryLimiter`]): a Redis
/// outage neither blocks requests (each waits at most one bounded Redis call, see
/// [`RedisClient`]) nor lifts the limits; a deployment of N instances admits at most N budgets
/// meanwhile. Once Redis answers again the shared budgets apply again.
///
/// Budgets of at least 200 per window are leased: one round trip takes 1 % of the budget (at
/// most [`MAX_LEASE`] tokens; 12 for the default 1,200 a minute per viewer) that this instance
/// then spends without asking Redis, for at most [`LEASE_TTL`]. Smaller budgets (login,
/// registration) are checked request by request, exactly.
pub struct RedisLimiter {
    redis: RedisClient,
    /// The budgets while Redis is unavailable.
    fallback: MemoryLimiter,
    script: redis::Script,
    leases: Mutex<HashMap<(&'static str, String), Lease>>,
    /// Key prefix of this deployment (`RATE_LIMIT_NAMESPACE`), so deployments sharing one Redis
    /// (or parallel test apps) never share budgets.
    namespace: String,
}

impl RedisLimiter {
    /// Connects.
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        let redis = RedisClient::connect(url, "rate limiter", RedisTimeouts::default()).await?;
        Ok(RedisLimiter {
            redis,
            fallback: MemoryLimiter::default(),
            script: redis::Script::new(GCRA_LUA),
            leases: Mutex::new(HashMap::new()),
            namespace: String::new(),
        })
    }

    /// Keys under `namespace` (`lg:rl:{namespace}:{limit}:{key}`); empty = `lg:rl:{limit}:{key}`.
    pub fn with_namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.to_string();
        self
    }

    fn redis_key(&self, limit: &Limit, key: &str) -> String {
        if self.namespace.is_empty() {
            format!("lg:rl:{}:{key}", limit.name)
        } else {
            format!("lg:rl:{}:{}:{key}", self.namespace, limit.name)
        }
    }

    /// Tokens one round trip takes for `limit` (1: no lease).
    pub fn lease_size(limit: &Limit) -> u32 {
        (limit.max / LEASE_DIVISOR).clamp(1, MAX_LEASE)
    }

    /// Spends a token of a live lease, if there is one.
    fn spend_leased(&self, limit: &Limit, key: &str) -> Option<Decision> {
        let mut leases = self.leases.lock().ok()?;
        let lease = leases.get_mut(&(limit.name, key.to_string()))?;
        if lease.tokens == 0 || lease.expires <= std::time::Instant::now() {
            return None;
        }
        lease.tokens -= 1;
        Some(Decision {
            allowed: true,
            limit: limit.max,
            remaining: lease.remaining.saturating_add(lease.tokens),
            retry_after_secs: 0,
            reset_secs: lease.reset_secs,
        })
    }

    fn keep_lease(&self, limit: &Limit, key: &str, lease: Lease) {
        let Ok(mut leases) = self.leases.lock() else {
            return;
        };
        if leases.len() >= MAX_LEASES {
            let now = std::time::Instant::now();
            leases.retain(|_, l| l.expires > now && l.tokens > 0);
            if leases.len() >= MAX_LEASES {
                return;
            }
        }
        leases.insert((limit.name, key.to_string()), lease);
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, limit: &Limit, key: &str) -> Decision {
        let want = Self::lease_size(limit);
        if want > 1 {
            if let Some(d) = self.spend_leased(limit, key) {
                return d;
            }
        }
        let emission = (limit.per.as_millis() as u64 / u64::from(limit.max.max(1))).max(1);
        let (script, redis_key) = (&self.script, self.redis_key(limit, key));
        let res = self
            .redis
            .run(|mut conn| async move {
                let mut call = script.key(redis_key);
                call.arg(emission).arg(limit.max).arg(want);
                call.invoke_async::<(i64, i64, i64, i64)>(&mut conn).await
            })
            .await;
        match res {
            Ok(Ok((granted, remaining, retry_ms, reset_ms))) => {
                let remaining = u32::try_from(remaining.max(0)).unwrap_or(0);
                let reset_secs = (reset_ms.max(0) as u64).div_ceil(1000);
                let granted = u32::try_from(granted.max(0)).unwrap_or(0);
                if granted > 1 {
                    self.keep_lease(
                        limit,
                        key,
                        Lease {
                            tokens: granted - 1,
                            remaining,
                            reset_secs,
                            expires: std::time::Instant::now() + LEASE_TTL,
                        },
                    );
                }
                Decision {
                    allowed: granted > 0,
                    limit: limit.max,
                    remaining: remaining.saturating_add(granted.saturating_sub(1)),
                    retry_after_secs: if granted > 0 {
                        0
                    } else {
                        (retry_ms.max(1) as u64).div_ceil(1000)
                    },
                    reset_secs,
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "rate limit script failed; limiting in process");
                self.fallback.check(limit, key).await
            }
            // Logged once per outage by the client.
            Err(Unavailable) => self.fallback.check(limit, key).await,
        }
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_gcra_allows_the_budget_then_refuses_with_retry_after() {
        let l = MemoryLimiter::default();
        let limit = Limit {
            name: "t",
            max: 3,
            per: Duration::from_secs(60),
        };
        for expected_remaining in [2, 1, 0] {
            let d = l.check(&limit, "k").await;
            assert!(d.allowed);
            assert_eq!(d.remaining, expected_remaining);
        }
        let d = l.check(&limit, "k").await;
        assert!(!d.allowed);
        assert!(d.retry_after_secs >= 1 && d.retry_after_secs <= 20, "{d:?}");
        // Other keys have their own budget.
        assert!(l.check(&limit, "other").await.allowed);
    }

    #[tokio::test]
    async fn memory_buckets_of_idle_keys_are_pruned() {
        let l = MemoryLimiter::with_prune_interval(Duration::from_millis(300));
        let limit = Limit {
            name: "prune",
            max: 5,
            per: Duration::from_millis(100),
        };
        for i in 0..1000 {
            assert!(l.check(&limit, &format!("ip-{i}")).await.allowed);
        }
        assert!(l.tracked_keys() > 1, "{} keys", l.tracked_keys());
        // Once their buckets are full again and the interval passed, the next check prunes.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(l.check(&limit, "fresh").await.allowed);
        assert_eq!(l.tracked_keys(), 1, "only the fresh key is left");
        // A key that is still limited keeps its bucket.
        for _ in 0..5 {
            l.check(&limit, "busy").await;
        }
        l.prune();
        assert!(l.tracked_keys() >= 1);
        assert!(!l.check(&limit, "busy").await.allowed);
    }

    /// Redis-only tests are `#[ignore]`d like the integration suite's Postgres-only ones
    /// (`tests/api/helpers.rs::require_postgres`); scripts/test's production run includes them.
    fn require_redis() -> String {
        std::env::var("TEST_REDIS_URL")
            .expect("redis-only test: set TEST_REDIS_URL or run without --include-ignored")
    }

    #[tokio::test]
    #[ignore = "redis-only: needs TEST_REDIS_URL"]
    async fn redis_only_limiter_keys_expire() {
        let url = require_redis();
        let l = RedisLimiter::connect(&url).await.unwrap();
        let name: &'static str =
            Box::leak(format!("ttl-{}", uuid::Uuid::now_v7()).into_boxed_str());
        let mut conn = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        // Exact (login-sized) and leased (viewer-sized) budgets both leave keys that expire
        // when their bucket would be full again.
        for (max, per) in [(5, 60), (1200, 60)] {
            let limit = Limit {
                name,
                max,
                per: Duration::from_secs(per),
            };
            let key = format!("k{max}");
            assert!(l.check(&limit, &key).await.allowed);
            let ttl: i64 = redis::cmd("PTTL")
                .arg(format!("lg:rl:{name}:{key}"))
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(ttl > 0 && ttl <= per as i64 * 1000, "PTTL {ttl}");
        }
    }

    #[tokio::test]
    #[ignore = "redis-only: needs TEST_REDIS_URL"]
    async fn redis_only_leases_share_the_budget_and_never_exceed_it() {
        let url = require_redis();
        let (a, b) = (
            RedisLimiter::connect(&url).await.unwrap(),
            RedisLimiter::connect(&url).await.unwrap(),
        );
        // 1,000 an hour: one token per 3.6 s, so nothing refills during the test.
        let name: &'static str =
            Box::leak(format!("lease-{}", uuid::Uuid::now_v7()).into_boxed_str());
        let limit = Limit {
            name,
            max: 1000,
            per: Duration::from_secs(3600),
        };
        assert_eq!(RedisLimiter::lease_size(&limit), 10);
        let small = Limit { max: 199, ..limit };
        assert_eq!(RedisLimiter::lease_size(&small), 1);

        // The first check leases 10 tokens: Redis's bucket is 10 emissions ahead.
        assert!(a.check(&limit, "k").await.allowed);
        let mut conn = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let tat: i64 = redis::cmd("GET")
            .arg(format!("lg:rl:{name}:k"))
            .query_async(&mut conn)
            .await
            .unwrap();
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut conn).await.unwrap();
        let ahead = tat - (secs * 1000 + micros / 1000);
        assert!((35_000..=36_000).contains(&ahead), "{ahead} ms ahead");

        // Two instances drawing alternately admit the budget, minus at most what each still
        // holds in a lease when the bucket runs dry, and never more.
        let mut allowed = 1;
        let mut refused = None;
        for i in 0..1200 {
            let l = if i % 2 == 0 { &b } else { &a };
            let d = l.check(&limit, "k").await;
            if d.allowed {
                allowed += 1;
            } else {
                refused = Some(d);
            }
        }
        assert!(
            (1000 - 2 * 9..=1000).contains(&allowed),
            "{allowed} admitted"
        );
        let d = refused.unwrap();
        assert!(d.retry_after_secs >= 1 && d.remaining == 0, "{d:?}");
        // Another key has its own budget.
        assert!(a.check(&limit, "other").await.allowed);
    }
}
