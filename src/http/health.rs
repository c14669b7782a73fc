//! `GET /health` and `GET /metrics`.

use axum::{extract::State, response::IntoResponse, Json};
use http::{header, StatusCode};
use sea_orm::ConnectionTrait;
use serde_json::json;

use super::HttpState;
use crate::db::backend_name;

/// Overall status plus database and bus status, and the version.
pub async fn health(State(s): State<HttpState>) -> impl IntoResponse {
    let db_status = match s.app.db.execute_unprepared("SELECT 1").await {
        Ok(_) => json!({"status": "ok", "kind": backend_name(&s.app.db)}),
        Err(e) => {
            tracing::warn!(error = %e, "health: database check failed");
            json!({"status": "down", "kind": backend_name(&s.app.db)})
        }
    };
    let bus_status = match s.app.bus.health().await {
        Ok(()) => json!({"status": "ok", "kind": s.app.bus.kind()}),
        Err(e) => {
            tracing::warn!(error = %e, "health: bus check failed");
            json!({"status": "down", "kind": s.app.bus.kind()})
        }
    };
    let db_ok = db_status["status"] == "ok";
    let bus_ok = bus_status["status"] == "ok";
    // The database is essential; a bus outage degrades live updates only (events wait in the
    // outbox), so the instance stays in rotation.
    let (code, overall) = match (db_ok, bus_ok) {
        (true, true) => (StatusCode::OK, "ok"),
        (true, false) => (StatusCode::OK, "degraded"),
        (false, _) => (StatusCode::SERVICE_UNAVAILABLE, "down"),
    };
    (
        code,
        Json(json!({
            "status": overall,
            "version": env!("CARGO_PKG_VERSION"),
            "database": db_status,
            "bus": bus_status,
            "mailer": {"kind": s.app.mailer.kind()},
        })),
    )
}

/// Prometheus text exposition.
pub async fn metrics() -> impl IntoResponse {
    let body = crate::telemetry::prometheus()
        .map(|h| h.render())
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
