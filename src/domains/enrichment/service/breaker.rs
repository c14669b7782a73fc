//! Circuit breaking per provider endpoint, used by the waterfall.
//!
//! After [`BreakerSettings::failures`] consecutive failures of a provider (5xx, transport
//! errors and timeouts, a 429 still refused after its retries) the provider is **open** for
//! [`BreakerSettings::cooldown`]: the waterfall skips it without a call (and without touching
//! the budget) and tries the next one. After the cool-down it is **half-open**: one caller gets
//! a trial call (the others keep skipping it); a success closes it, a failure opens it for
//! another cool-down. An answer that says the provider is up (2xx, even "not found", or a
//! refused key) resets the count.
//!
//! The state is per instance (process memory), keyed by the provider's kind and base URL, and
//! shared by every organization: an outage is the provider's, not an organization's. Instances
//! do not share it; each learns of an outage from its own calls (at most `failures` calls per
//! instance per cool-down).

use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex},
    time::{Duration, Instant},
};

/// The breaker's thresholds (`ENRICHMENT_BREAKER_FAILURES`, default 5;
/// `ENRICHMENT_BREAKER_COOLDOWN_MS`, default 60000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the circuit (at least 1).
    pub failures: u32,
    /// How long an open circuit skips the provider.
    pub cooldown: Duration,
}

#[derive(Debug, Default)]
struct Circuit {
    failures: u32,
    open_until: Option<Instant>,
    trial: bool,
}

static CIRCUITS: LazyLock<Mutex<HashMap<String, Circuit>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn with<T>(key: &str, f: impl FnOnce(&mut Circuit) -> T) -> T {
    let mut map = CIRCUITS.lock().unwrap_or_else(|e| e.into_inner());
    f(map.entry(key.to_string()).or_default())
}

/// May the provider `key` be called now? Closed: yes. Open: no until the cool-down ends; then
/// one trial call (half-open) until its outcome is recorded.
pub fn admit(key: &str, now: Instant) -> bool {
    with(key, |c| match c.open_until {
        None => true,
        Some(until) if now < until => false,
        Some(_) if c.trial => false,
        Some(_) => {
            c.trial = true;
            true
        }
    })
}

/// Records a call's outcome: `ok` (the provider answered) closes the circuit; a failure counts,
/// and opens it at the threshold (a failed trial re-opens it at once).
pub fn record(key: &str, ok: bool, settings: BreakerSettings, now: Instant) {
    with(key, |c| {
        if ok {
            *c = Circuit::default();
            return;
        }
        c.failures = c.failures.saturating_add(1);
        if c.trial || c.failures >= settings.failures.max(1) {
            c.open_until = Some(now + settings.cooldown);
            c.trial = false;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_half_opens_after_the_cooldown_and_closes_on_success() {
        let s = BreakerSettings {
            failures: 2,
            cooldown: Duration::from_secs(10),
        };
        let key = "test:breaker-cycle";
        let t0 = Instant::now();
        assert!(admit(key, t0));
        record(key, false, s, t0);
        assert!(admit(key, t0), "one failure: still closed");
        record(key, false, s, t0);
        assert!(!admit(key, t0 + Duration::from_secs(9)), "open");
        let t1 = t0 + Duration::from_secs(10);
        assert!(admit(key, t1), "half-open: one trial");
        assert!(!admit(key, t1), "only one trial at a time");
        record(key, false, s, t1);
        assert!(
            !admit(key, t1 + Duration::from_secs(9)),
            "a failed trial re-opens"
        );
        let t2 = t1 + Duration::from_secs(10);
        assert!(admit(key, t2));
        record(key, true, s, t2);
        assert!(admit(key, t2) && admit(key, t2), "closed again");
        record(key, false, s, t2);
        assert!(admit(key, t2), "the count restarted");
    }
}
