//! Rate limits: GCRA everywhere. In memory through `governor` (one keyed limiter per limit);
//! shared across instances through a GCRA Lua script in Redis when `REDIS_URL` is set, so every
//! instance draws from the same budget. Defaults come from the seeds and are configurable.

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
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

/// Per-process limiter.
#[derive(Default)]
pub struct MemoryLimiter {
    limiters: Mutex<HashMap<Limit, Arc<Keyed>>>,
}

fn secs_ceil(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}

impl MemoryLimiter {
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

/// GCRA in one atomic script, on Redis server time. Returns {allowed, remaining, retry_ms, reset_ms}.
const GCRA_LUA: &str = r#"
local key = KEYS[1]
local emission = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', key) or now)
if tat < now then tat = now end
local new_tat = tat + emission
local allow_at = new_tat - burst * emission
if allow_at > now then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', key, new_tat, 'PX', new_tat - now)
return {1, math.floor((now - allow_at) / emission), 0, new_tat - now}
"#;

/// Limiter shared by every instance through Redis. If Redis is unreachable the request is
/// allowed (fail open) and a warning is logged: availability over strictness.
pub struct RedisLimiter {
    conn: redis::aio::ConnectionManager,
    script: redis::Script,
}

impl RedisLimiter {
    /// Connects.
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        let conn = redis::Client::open(url)?.get_connection_manager().await?;
        Ok(RedisLimiter {
            conn,
            script: redis::Script::new(GCRA_LUA),
        })
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, limit: &Limit, key: &str) -> Decision {
        let emission = (limit.per.as_millis() as u64 / u64::from(limit.max.max(1))).max(1);
        let mut conn = self.conn.clone();
        let res: Result<(i64, i64, i64, i64), _> = self
            .script
            .key(format!("lg:rl:{}:{key}", limit.name))
            .arg(emission)
            .arg(limit.max)
            .invoke_async(&mut conn)
            .await;
        match res {
            Ok((allowed, remaining, retry_ms, reset_ms)) => Decision {
                allowed: allowed == 1,
                limit: limit.max,
                remaining: u32::try_from(remaining.max(0)).unwrap_or(0),
                retry_after_secs: if allowed == 1 {
                    0
                } else {
                    (retry_ms.max(1) as u64).div_ceil(1000)
                },
                reset_secs: (reset_ms.max(0) as u64).div_ceil(1000),
            },
            Err(e) => {
                tracing::warn!(error = %e, "rate limiter unavailable; allowing request");
                Decision {
                    allowed: true,
                    limit: limit.max,
                    remaining: limit.max,
                    retry_after_secs: 0,
                    reset_secs: 0,
                }
            }
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
}
