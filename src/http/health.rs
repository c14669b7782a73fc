//! `GET /livez`, `GET /readyz`, `GET /health` and `GET /metrics`.
//!
//! `/livez` says the process serves HTTP and touches nothing else. `/readyz` (and `/health`, the
//! same answer) probes the database and the event bus concurrently, each within
//! [`PROBE_TIMEOUT`], so it answers in under a second even when PostgreSQL or Redis hangs
//! instead of refusing (a stopped server, a full pool, a black-holed address).

use std::{future::Future, time::Duration};

use axum::{extract::State, response::IntoResponse, Json};
use http::{header, HeaderMap, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use super::HttpState;
use crate::db::backend_name;

/// Longest a single dependency probe may take before it counts as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(800);

/// Why a probe failed (no error text: the endpoint is public).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeFailure {
    /// The dependency answered with an error.
    Error,
    /// No answer within [`PROBE_TIMEOUT`].
    Timeout,
}

/// Runs one probe with a deadline; errors are logged under `name`.
pub async fn probe<E: std::fmt::Display>(
    name: &str,
    timeout: Duration,
    check: impl Future<Output = Result<(), E>>,
) -> Result<(), ProbeFailure> {
    match tokio::time::timeout(timeout, check).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health: {name} check failed");
            Err(ProbeFailure::Error)
        }
        Err(_) => {
            tracing::warn!("health: {name} check timed out after {timeout:?}");
            Err(ProbeFailure::Timeout)
        }
    }
}

fn status_json(kind: &str, outcome: Result<(), ProbeFailure>) -> Value {
    match outcome {
        Ok(()) => json!({"status": "ok", "kind": kind}),
        Err(ProbeFailure::Error) => json!({"status": "down", "kind": kind, "reason": "error"}),
        Err(ProbeFailure::Timeout) => {
            json!({"status": "down", "kind": kind, "reason": "timeout"})
        }
    }
}

/// Process liveness: always 200, no dependency is touched.
pub async fn livez() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// Readiness (also served as `/health`): overall status, database and bus status (each probed
/// within [`PROBE_TIMEOUT`]), the failing components by name, and the version.
pub async fn health(State(s): State<HttpState>) -> impl IntoResponse {
    let db = &s.app.db;
    let bus = &s.app.bus;
    let (db_outcome, bus_outcome) = tokio::join!(
        probe("database", PROBE_TIMEOUT, async {
            db.execute_unprepared("SELECT 1").await.map(|_| ())
        }),
        probe("bus", PROBE_TIMEOUT, bus.health()),
    );
    let failing: Vec<&str> = [("database", &db_outcome), ("bus", &bus_outcome)]
        .into_iter()
        .filter_map(|(name, o)| o.is_err().then_some(name))
        .collect();
    // The database is essential; a bus outage degrades live updates only (events wait in the
    // outbox, the Redis rate limiter fails open), so the instance stays in rotation: taking
    // every instance out at once because a shared Redis is down would turn a degradation into
    // an outage.
    let (code, overall) = match (db_outcome.is_ok(), bus_outcome.is_ok()) {
        (true, true) => (StatusCode::OK, "ok"),
        (true, false) => (StatusCode::OK, "degraded"),
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "down"),
    };
    (
        code,
        Json(json!({
            "status": overall,
            "version": env!("CARGO_PKG_VERSION"),
            "database": status_json(backend_name(db), db_outcome),
            "bus": status_json(bus.kind(), bus_outcome),
            "mailer": {"kind": s.app.mailer.kind()},
            "failing": failing,
        })),
    )
}

/// Whether `headers` carry `Authorization: Bearer <token>` (compared in constant time).
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Prometheus text exposition; with `METRICS_TOKEN` set, only for `Authorization: Bearer` that
/// token (401 otherwise).
pub async fn metrics(State(s): State<HttpState>, headers: HeaderMap) -> impl IntoResponse {
    if let Some(token) = &s.app.config.metrics_token {
        if !bearer_matches(&headers, token) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                String::new(),
            )
                .into_response();
        }
    }
    let body = crate::telemetry::render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hanging_probe_is_down_within_its_timeout() {
        let started = std::time::Instant::now();
        let r = probe(
            "stuck",
            Duration::from_millis(100),
            std::future::pending::<Result<(), String>>(),
        )
        .await;
        assert_eq!(r, Err(ProbeFailure::Timeout));
        assert!(started.elapsed() < Duration::from_millis(500));
        let r = probe("broken", PROBE_TIMEOUT, async { Err::<(), _>("refused") }).await;
        assert_eq!(r, Err(ProbeFailure::Error));
        let r = probe("fine", PROBE_TIMEOUT, async { Ok::<(), String>(()) }).await;
        assert_eq!(r, Ok(()));
    }

    #[test]
    fn bearer_token_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!bearer_matches(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, "Bearer s3cre".parse().unwrap());
        assert!(!bearer_matches(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, "Basic s3cret".parse().unwrap());
        assert!(!bearer_matches(&h, "s3cret"));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(bearer_matches(&h, "s3cret"));
    }
}
