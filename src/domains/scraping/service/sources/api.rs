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

pub use crate::platform::backoff::{backoff, retry_after, MAX_ATTEMPTS, MAX_WAIT};

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
            wait_for_budget(state, limit).await;
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
        crate::platform::backoff::wait_before_retry(provider, attempt, wait).await;
    }
}

/// Waits until the provider-wide `limit` lets one more call through.
async fn wait_for_budget(state: &AppState, limit: &Limit) {
    loop {
        let d = state.limiter.check(limit, "global").await;
        if d.allowed {
            return;
        }
        tokio::time::sleep(Duration::from_secs(d.retry_after_secs.max(1)).min(MAX_WAIT)).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
