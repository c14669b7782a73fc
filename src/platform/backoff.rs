//! Retry timing for calls to external HTTP APIs: exponential backoff with jitter and the
//! `Retry-After` header, both capped. Used by the scraping sources and the AI provider.

use std::time::Duration;

/// Attempts per call (the first plus retries).
pub const MAX_ATTEMPTS: u32 = 4;
/// Longest wait between attempts, whatever `Retry-After` says.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Backoff before retry `attempt` (1-based): 500 ms · 2^(attempt−1), ±25 % jitter, capped.
pub fn backoff(attempt: u32) -> Duration {
    let base = 500u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(10));
    let jitter = rand::random_range(0..=base / 4);
    Duration::from_millis(base + jitter).min(MAX_WAIT)
}

/// Waits `wait` before attempt `attempt + 1` of a call to `peer` (a model, a provider), saying
/// so in the log.
pub async fn wait_before_retry(peer: &str, attempt: u32, wait: Duration) {
    tracing::info!(
        peer,
        attempt,
        wait_ms = wait.as_millis() as u64,
        "outbound call retried"
    );
    tokio::time::sleep(wait).await;
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    retry_after_within(headers, MAX_WAIT)
}

/// [`retry_after`] capped at `cap` instead of [`MAX_WAIT`] (webhook retries wait hours).
pub fn retry_after_within(headers: &http::HeaderMap, cap: Duration) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(cap));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let wait = at.signed_duration_since(chrono::Utc::now()).to_std().ok()?;
    Some(wait.min(cap))
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
}
