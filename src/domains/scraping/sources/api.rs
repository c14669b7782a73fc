//! Calling a JSON API of a provider at its operator-configured base URL: through
//! `state.operator_http` (guarded, but trusting the configured endpoints), with a shared rate
//! limit, a response cache (Redis when configured, else in process) and retries with
//! exponential backoff on 429 and 5xx (honouring `Retry-After`).

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::SourceError;
use crate::{
    platform::{outbound::OutboundError, ratelimit::Limit},
    state::AppState,
};

/// Attempts per call (the first plus retries).
pub const MAX_ATTEMPTS: u32 = 4;
/// Longest wait between attempts, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// One request.
pub struct ApiCall<'a> {
    /// Provider name (cache key, limiter, messages): `brave`, `places`.
    pub provider: &'static str,
    /// GET or POST.
    pub method: reqwest::Method,
    /// Full URL, query included.
    pub url: String,
    /// Headers; those named in `secret_headers` are left out of the cache key.
    pub headers: Vec<(&'static str, String)>,
    /// Header names whose values are secrets (API keys).
    pub secret_headers: &'a [&'static str],
    /// JSON body (POST).
    pub body: Option<Value>,
    /// Provider-wide budget shared by every job (and every instance with Redis).
    pub limit: Option<Limit>,
}

impl ApiCall<'_> {
    fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.method.as_str());
        h.update([0]);
        h.update(&self.url);
        for (k, v) in &self.headers {
            if !self.secret_headers.contains(k) {
                h.update([0]);
                h.update(k);
                h.update(b"=");
                h.update(v);
            }
        }
        if let Some(b) = &self.body {
            h.update([0]);
            h.update(b.to_string());
        }
        format!("api:{}:{}", self.provider, hex::encode(h.finalize()))
    }
}

/// Backoff before retry `attempt` (1-based): 500 ms · 2^(attempt−1), ±25 % jitter, capped.
pub fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(10));
    let jitter = rand::random_range(0..=base / 4);
    Duration::from_millis(base + jitter).min(MAX_WAIT)
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_WAIT));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let wait = at.signed_duration_since(chrono::Utc::now()).to_std().ok()?;
    Some(wait.min(MAX_WAIT))
}

/// Sends `call`, answering from the cache when it can. Successful responses are cached for
/// `SCRAPE_CACHE_TTL_SECS`.
pub async fn call_json(state: &AppState, call: ApiCall<'_>) -> Result<Value, SourceError> {
    let key = call.cache_key();
    if let Some(hit) = state.cache.get(&key).await {
        if let Ok(v) = serde_json::from_str(&hit) {
            return Ok(v);
        }
    }
    let provider = call.provider;
    let mut attempt = 0;
    loop {
        attempt += 1;
        if let Some(limit) = &call.limit {
            loop {
                let d = state.limiter.check(limit, "global").await;
                if d.allowed {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(d.retry_after_secs.max(1)).min(MAX_WAIT))
                    .await;
            }
        }
        let mut builder = state
            .operator_http
            .request(call.method.clone(), &call.url)
            .map_err(|e| SourceError::Permanent(format!("{provider}: {e}")))?
            .header(http::header::ACCEPT, "application/json");
        for (k, v) in &call.headers {
            builder = builder.header(*k, v);
        }
        if let Some(b) = &call.body {
            builder = builder.json(b);
        }
        let last = attempt >= MAX_ATTEMPTS;
        let wait = match state.operator_http.execute(builder).await {
            Ok(r) if r.is_success() => {
                let v: Value = serde_json::from_slice(&r.body).map_err(|_| {
                    SourceError::Permanent(format!("{provider}: the response is not JSON"))
                })?;
                state
                    .cache
                    .put(&key, &v.to_string(), state.config.scrape_cache_ttl)
                    .await;
                return Ok(v);
            }
            Ok(r) if r.status == 429 || r.status >= 500 => {
                if last {
                    return Err(SourceError::Retryable(format!(
                        "{provider} answered HTTP {} {MAX_ATTEMPTS} times",
                        r.status
                    )));
                }
                retry_after(&r.headers).unwrap_or_else(|| backoff(attempt))
            }
            Ok(r) if r.status == 401 || r.status == 403 => {
                return Err(SourceError::Permanent(format!(
                    "{provider} refused the API key (HTTP {})",
                    r.status
                )))
            }
            Ok(r) => {
                return Err(SourceError::Permanent(format!(
                    "{provider} answered HTTP {}",
                    r.status
                )))
            }
            Err(e @ (OutboundError::Timeout | OutboundError::Http(_))) => {
                if last {
                    return Err(SourceError::Retryable(format!("{provider}: {e}")));
                }
                backoff(attempt)
            }
            Err(e) => return Err(SourceError::Permanent(format!("{provider}: {e}"))),
        };
        tracing::info!(
            provider,
            attempt,
            wait_ms = wait.as_millis() as u64,
            "API call retried"
        );
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn backoff_grows_and_retry_after_parses() {
        assert!(
            backoff(1) >= Duration::from_millis(500) && backoff(1) <= Duration::from_millis(625)
        );
        assert!(backoff(3) >= Duration::from_millis(2000));
        assert_eq!(backoff(30), MAX_WAIT);
        let mut h = http::HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(http::header::RETRY_AFTER, "9999".parse().unwrap());
        assert_eq!(retry_after(&h), Some(MAX_WAIT));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert(http::header::RETRY_AFTER, later.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
    }

    #[test]
    fn cache_key_ignores_secrets() {
        let call = |key: &str, q: &str| ApiCall {
            provider: "brave",
            method: reqwest::Method::GET,
            url: format!("https://x.example/s?q={q}"),
            headers: vec![("X-Subscription-Token", key.into())],
            secret_headers: &["X-Subscription-Token"],
            body: None,
            limit: None,
        };
        assert_eq!(call("a", "1").cache_key(), call("b", "1").cache_key());
        assert_ne!(call("a", "1").cache_key(), call("a", "2").cache_key());
    }
}
