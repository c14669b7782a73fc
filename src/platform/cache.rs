//! A small response cache for external APIs (search, places): Redis when `REDIS_URL` is set, so
//! every instance shares it, otherwise in process with a TTL and a size bound. A cache failure
//! is never an error: it reads as a miss and is logged.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use redis::AsyncCommands;

use super::redis_client::{RedisClient, RedisTimeouts, Unavailable};

/// Entries kept by the in-process cache before the oldest are dropped.
const MEMORY_MAX_ENTRIES: usize = 10_000;

/// Get and put strings by key with a time to live.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The value, unless missing or expired.
    async fn get(&self, key: &str) -> Option<String>;
    /// Stores `value` for `ttl`.
    async fn put(&self, key: &str, value: &str, ttl: Duration);
    /// `memory` or `redis`.
    fn kind(&self) -> &'static str;
}

/// Per-process cache.
#[derive(Default)]
pub struct MemoryCache {
    entries: Mutex<HashMap<String, (Instant, String)>>,
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Option<String> {
        let mut map = self.entries.lock().ok()?;
        match map.get(key) {
            Some((expires, v)) if *expires > Instant::now() => Some(v.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    async fn put(&self, key: &str, value: &str, ttl: Duration) {
        let Ok(mut map) = self.entries.lock() else {
            return;
        };
        let now = Instant::now();
        if map.len() >= MEMORY_MAX_ENTRIES {
            map.retain(|_, (expires, _)| *expires > now);
            if map.len() >= MEMORY_MAX_ENTRIES {
                // Still full of live entries: drop the ones expiring first.
                let mut by_expiry: Vec<(Instant, String)> =
                    map.iter().map(|(k, (e, _))| (*e, k.clone())).collect();
                by_expiry.sort();
                for (_, k) in by_expiry.into_iter().take(MEMORY_MAX_ENTRIES / 10) {
                    map.remove(&k);
                }
            }
        }
        map.insert(key.to_string(), (now + ttl, value.to_string()));
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

/// Cache shared by every instance through Redis (`lg:cache:` keys with `EX`). While Redis is
/// unavailable the cache is bypassed: reads are misses and writes are dropped, each call waiting
/// at most one bounded Redis call ([`RedisClient`]), usually none.
pub struct RedisCache {
    redis: RedisClient,
}

impl RedisCache {
    /// Connects.
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        let redis = RedisClient::connect(url, "cache", RedisTimeouts::default()).await?;
        Ok(RedisCache { redis })
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Option<String> {
        let key = format!("lg:cache:{key}");
        let read = self
            .redis
            .run(|mut conn| async move { conn.get::<_, Option<String>>(key).await })
            .await;
        match read {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cache read failed; treating as a miss");
                None
            }
            Err(Unavailable) => None,
        }
    }

    async fn put(&self, key: &str, value: &str, ttl: Duration) {
        let key = format!("lg:cache:{key}");
        let secs = ttl.as_secs().max(1);
        let write = self
            .redis
            .run(|mut conn| async move { conn.set_ex::<_, _, ()>(key, value, secs).await })
            .await;
        if let Ok(Err(e)) = write {
            tracing::warn!(error = %e, "cache write failed");
        }
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn memory_cache_expires_entries() {
        let c = MemoryCache::default();
        c.put("a", "1", Duration::from_millis(50)).await;
        c.put("b", "2", Duration::from_secs(60)).await;
        assert_eq!(c.get("a").await.as_deref(), Some("1"));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(c.get("a").await, None);
        assert_eq!(c.get("b").await.as_deref(), Some("2"));
        assert_eq!(c.get("missing").await, None);
    }
}
