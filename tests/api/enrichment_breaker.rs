//! Circuit breaking per provider in the waterfall, against a local fake Hunter (API v2 email
//! finder) that can be switched between up (finds nothing), down (HTTP 503) and rate-limited
//! (HTTP 429, `Retry-After: 0`), and a fake Apollo (people match) that fills the email; both
//! count their calls. With `ENRICHMENT_BREAKER_FAILURES=2` Hunter is skipped without a call
//! after two failing look-ups while Apollo still fills the field, is tried once again
//! (half-open) after `ENRICHMENT_BREAKER_COOLDOWN_MS`, re-opens when that trial fails and
//! closes when it succeeds.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex,
};

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use leadgraph::auth::Role;
use serde_json::{json, Value};

use crate::{
    fixtures::{lead, ok, org_with},
    helpers::{Options, TestApp},
};

const COOLDOWN_MS: u64 = 1500;

#[derive(Clone, Default)]
struct Fakes {
    hunter_calls: Arc<AtomicUsize>,
    apollo_calls: Arc<AtomicUsize>,
    /// "up", "down" or "429".
    hunter_mode: Arc<Mutex<&'static str>>,
}

impl Fakes {
    fn calls(&self) -> (usize, usize) {
        (
            self.hunter_calls.load(Ordering::SeqCst),
            self.apollo_calls.load(Ordering::SeqCst),
        )
    }

    fn hunter(&self, mode: &'static str) {
        *self.hunter_mode.lock().unwrap() = mode;
    }
}

async fn hunter(
    State(f): State<Fakes>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    f.hunter_calls.fetch_add(1, Ordering::SeqCst);
    let mode = *f.hunter_mode.lock().unwrap();
    match mode {
        "down" => (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable").into_response(),
        "429" => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            Json(json!({"errors": [{"id": "too_many_requests", "code": 429}]})),
        )
            .into_response(),
        _ => Json(json!({
            "data": {"first_name": q.get("first_name"), "last_name": q.get("last_name"),
                     "email": null, "score": null, "domain": q.get("domain"), "sources": []},
            "meta": {"params": {}}
        }))
        .into_response(),
    }
}

async fn apollo(
    State(f): State<Fakes>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    f.apollo_calls.fetch_add(1, Ordering::SeqCst);
    let first = q.get("first_name").cloned().unwrap_or_default();
    Json(json!({"person": {
        "id": format!("64b{}", first.to_lowercase()), "first_name": first,
        "last_name": "Lovelace", "email": format!("{}@apollo-found.example", first.to_lowercase()),
        "email_status": "verified"
    }}))
    .into_response()
}

async fn start() -> (Fakes, TestApp, String) {
    let f = Fakes::default();
    f.hunter("up");
    let router = Router::new()
        .route("/v2/email-finder", get(hunter))
        .route("/api/v1/people/match", post(apollo))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let cooldown = COOLDOWN_MS.to_string();
    let app = TestApp::spawn_with(Options::with_env(&[
        ("HUNTER_BASE_URL", &base),
        ("APOLLO_BASE_URL", &base),
        ("ENRICHMENT_BREAKER_FAILURES", "2"),
        ("ENRICHMENT_BREAKER_COOLDOWN_MS", &cooldown),
    ]))
    .await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let configure = "mutation($i: ConfigureEnrichmentProviderInput!) { configureEnrichmentProvider(input: $i) { keyConfigured } }";
    for (p, pos) in [("HUNTER", 0), ("APOLLO", 1)] {
        let i =
            json!({"provider": p, "apiKey": format!("{p}-key"), "position": pos, "costCents": 1});
        ok(&app, &admin, configure, json!({ "i": i })).await;
    }
    let member = app.token(org, Role::Member).await;
    (f, app, member)
}

/// Enriches a new lead's email; the EMAIL field result.
async fn enrich(app: &TestApp, token: &str, first: &str) -> Value {
    let id = lead(
        app,
        token,
        json!({"firstName": first, "lastName": "Lovelace", "company": "Analytical",
               "website": "https://analytical.example"}),
    )
    .await;
    let q = "mutation($i: EnrichLeadInput!) { enrichLead(input: $i) { fields { field status provider calls } } }";
    let v = ok(
        app,
        token,
        q,
        json!({"i": {"leadId": id, "fields": ["EMAIL"]}}),
    )
    .await;
    v["enrichLead"]["fields"][0].clone()
}

fn filled_by_apollo(calls: i64) -> Value {
    json!({"field": "EMAIL", "status": "FILLED", "provider": "APOLLO", "calls": calls})
}

async fn cool_down() {
    tokio::time::sleep(std::time::Duration::from_millis(COOLDOWN_MS + 200)).await;
}

#[tokio::test]
async fn a_failing_provider_opens_is_skipped_then_half_opens_after_the_cooldown() {
    let (f, app, member) = start().await;
    f.hunter("down");
    assert_eq!(enrich(&app, &member, "Ada").await, filled_by_apollo(2));
    assert_eq!(enrich(&app, &member, "Bea").await, filled_by_apollo(2));
    assert_eq!(f.calls(), (2, 2), "two failures reached Hunter");
    // Open: Hunter skipped without a call, Apollo still fills.
    assert_eq!(enrich(&app, &member, "Cai").await, filled_by_apollo(1));
    assert_eq!(enrich(&app, &member, "Dee").await, filled_by_apollo(1));
    assert_eq!(f.calls(), (2, 4));
    // Half-open, still down: one trial call, then open again at once.
    cool_down().await;
    assert_eq!(enrich(&app, &member, "Eve").await, filled_by_apollo(2));
    assert_eq!(enrich(&app, &member, "Fay").await, filled_by_apollo(1));
    assert_eq!(f.calls(), (3, 6));
    // Half-open, back up: the trial succeeds and the circuit closes.
    f.hunter("up");
    cool_down().await;
    assert_eq!(enrich(&app, &member, "Gus").await, filled_by_apollo(2));
    assert_eq!(enrich(&app, &member, "Hal").await, filled_by_apollo(2));
    assert_eq!(f.calls(), (5, 8), "closed: every lead asks Hunter again");
}

#[tokio::test]
async fn exhausted_rate_limits_count_as_failures_and_answers_keep_it_closed() {
    let (f, app, member) = start().await;
    f.hunter("429");
    // Each look-up is tried 3 times (Retry-After: 0) before it counts as one failure.
    assert_eq!(enrich(&app, &member, "Ada").await, filled_by_apollo(2));
    assert_eq!(f.calls(), (3, 1));
    assert_eq!(enrich(&app, &member, "Bea").await, filled_by_apollo(2));
    assert_eq!(f.calls(), (6, 2));
    assert_eq!(enrich(&app, &member, "Cai").await, filled_by_apollo(1));
    assert_eq!(f.calls(), (6, 3), "open after two exhausted 429s");
    // A provider that answers (here: finds nothing) keeps its circuit closed.
    f.hunter("up");
    cool_down().await;
    for name in ["Dee", "Eve", "Fay"] {
        assert_eq!(enrich(&app, &member, name).await, filled_by_apollo(2));
    }
    assert_eq!(f.calls(), (9, 6));
}
