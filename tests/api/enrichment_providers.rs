//! Enrichment providers, the waterfall, the budget and batch runs, against local fake Hunter
//! (API v2 email finder) and Apollo (people match) servers that speak the documented wire
//! formats and count every call per person: Hunter finds nothing and Apollo fills the email
//! (provenance, history, budget), a 429 with `Retry-After` retried after the delay, a used-up
//! budget stopping the calls, a batch whose worker dies halfway finishing without repeating a
//! call for a finished lead × field, keys never returned, isolation, authentication, input
//! validation, events and the history list's statement count.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use leadgraph::{
    auth::Role,
    domains::enrichment::{EnrichLeadsJob, RUN_KIND},
    jobs::{JobRegistry, Worker},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, lead, ok, org_with},
    helpers::{code, Options, TestApp},
};

const HUNTER_KEY: &str = "hunter-secret-KEY-0001";
const APOLLO_KEY: &str = "apollo-secret-KEY-0002";

/// What the fakes saw and how they answer.
#[derive(Default)]
struct FakeState {
    /// Calls per `(provider, first name)`.
    calls: HashMap<(String, String), usize>,
    /// When Hunter was called, per first name.
    hunter_at: HashMap<String, Vec<Instant>>,
    /// First names Hunter answers 429 (`Retry-After: 1`) once, then finds.
    hunter_429_once: Vec<String>,
}

#[derive(Clone, Default)]
struct Fakes(Arc<Mutex<FakeState>>);

impl Fakes {
    fn count(&self, provider: &str, first: &str) -> usize {
        let s = self.0.lock().unwrap();
        s.calls
            .get(&(provider.to_string(), first.to_string()))
            .copied()
            .unwrap_or(0)
    }

    fn total(&self, provider: &str) -> usize {
        let s = self.0.lock().unwrap();
        s.calls
            .iter()
            .filter(|((p, _), _)| p == provider)
            .map(|(_, n)| n)
            .sum()
    }

    fn hit(&self, provider: &str, first: &str) -> usize {
        let mut s = self.0.lock().unwrap();
        let n = s
            .calls
            .entry((provider.to_string(), first.to_string()))
            .or_default();
        *n += 1;
        *n
    }
}

/// Hunter `GET /v2/email-finder?domain&first_name&last_name`, key in `X-API-KEY`.
async fn hunter(
    State(f): State<Fakes>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(HUNTER_KEY) {
        let body = json!({"errors": [{"id": "authentication_failed", "code": 401}]});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let first = q.get("first_name").cloned().unwrap_or_default();
    let last = q.get("last_name").cloned().unwrap_or_default();
    let domain = q.get("domain").cloned().unwrap_or_default();
    let n = f.hit("hunter", &first);
    let limited = {
        let mut s = f.0.lock().unwrap();
        s.hunter_at
            .entry(first.clone())
            .or_default()
            .push(Instant::now());
        s.hunter_429_once.contains(&first)
    };
    if limited && n == 1 {
        let body = json!({"errors": [{"id": "too_many_requests", "code": 429}]});
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(body),
        )
            .into_response();
    }
    let email =
        limited.then(|| format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase()));
    Json(json!({
        "data": {
            "first_name": first, "last_name": last, "email": email,
            "score": email.as_ref().map(|_| 91), "domain": domain, "accept_all": false,
            "position": null, "twitter": null, "linkedin_url": null, "phone_number": null,
            "company": null, "sources": []
        },
        "meta": {"params": {"first_name": first, "last_name": last, "domain": domain}}
    }))
    .into_response()
}

/// Apollo `POST /api/v1/people/match?first_name&last_name&domain…`, key in `x-api-key`.
async fn apollo(
    State(f): State<Fakes>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(APOLLO_KEY) {
        return (StatusCode::UNAUTHORIZED, "invalid api key").into_response();
    }
    let first = q.get("first_name").cloned().unwrap_or_default();
    let last = q.get("last_name").cloned().unwrap_or_default();
    f.hit("apollo", &first);
    let email = format!(
        "{}.{}@apollo-found.example",
        first.to_lowercase(),
        last.to_lowercase()
    );
    Json(json!({
        "person": {
            "id": format!("64a{}", first.to_lowercase()), "first_name": first, "last_name": last,
            "name": format!("{first} {last}"), "title": "Chief Technology Officer",
            "email": email, "email_status": "verified",
            "organization": {"name": "Found Co", "primary_domain": "found.example",
                             "website_url": "http://www.found.example"}
        }
    }))
    .into_response()
}

async fn fakes() -> (Fakes, String) {
    let f = Fakes::default();
    let app = Router::new()
        .route("/v2/email-finder", get(hunter))
        .route("/api/v1/people/match", post(apollo))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (f, format!("http://{addr}"))
}

async fn app_for(base: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut pairs = vec![("HUNTER_BASE_URL", base), ("APOLLO_BASE_URL", base)];
    pairs.extend_from_slice(extra);
    TestApp::spawn_with(Options::with_env(&pairs)).await
}

const CONFIGURE: &str = "mutation($i: ConfigureEnrichmentProviderInput!) { configureEnrichmentProvider(input: $i) { provider position costCents enabled keyConfigured updatedAt } }";
const SETTINGS: &str = "mutation($b: Int) { updateEnrichmentSettings(input: {smtpProbe: false, monthlyBudgetCents: $b}) { monthlyBudgetCents spentThisMonthCents } }";
const ENRICH: &str = "mutation($i: EnrichLeadInput!) { enrichLead(input: $i) {
  lead { id email title provenance { field kind reference } }
  fields { field status provider calls } } }";
const HISTORY: &str = "query($id: ID!, $n: Int) { enrichmentHistory(leadId: $id, first: $n) { totalCount nodes { id leadId runId provider field outcome costCents returned detail at } } }";
const ENRICH_MANY: &str = "mutation($i: EnrichLeadsInput!) { enrichLeads(input: $i) { id status total done jobId fields } }";
const RUN: &str =
    "query($id: ID!) { enrichmentRun(id: $id) { id status total done filled failed finishedAt } }";

/// Hunter first (cost 3), Apollo second (cost 5), a budget of `budget` cents.
async fn configure(app: &TestApp, admin: &str, budget: i64) {
    for (p, key, pos, cost) in [("HUNTER", HUNTER_KEY, 0, 3), ("APOLLO", APOLLO_KEY, 1, 5)] {
        let v = ok(
            app,
            admin,
            CONFIGURE,
            json!({"i": {"provider": p, "apiKey": key, "position": pos, "costCents": cost}}),
        )
        .await;
        assert_eq!(
            v["configureEnrichmentProvider"]["keyConfigured"], true,
            "{v}"
        );
    }
    ok(app, admin, SETTINGS, json!({"b": budget})).await;
}

async fn person(app: &TestApp, token: &str, first: &str) -> String {
    lead(
        app,
        token,
        json!({"firstName": first, "lastName": "Lovelace", "company": "Analytical",
               "website": "https://analytical.example"}),
    )
    .await
}

fn assert_no_key(v: &Value) {
    let s = v.to_string();
    assert!(
        !s.contains(HUNTER_KEY) && !s.contains(APOLLO_KEY),
        "a key came back: {s}"
    );
}

#[tokio::test]
async fn hunter_finds_nothing_then_apollo_fills_the_email_with_provenance_history_and_budget() {
    let (f, base) = fakes().await;
    let app = app_for(&base, &[]).await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    configure(&app, &admin, 1000).await;
    let id = person(&app, &member, "Ada").await;

    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": id, "fields": ["EMAIL", "TITLE"]}}),
    )
    .await;
    let r = &v["enrichLead"];
    assert_eq!(
        r["fields"][0],
        json!({"field": "EMAIL", "status": "FILLED", "provider": "APOLLO", "calls": 2}),
        "{v}"
    );
    assert_eq!(
        r["fields"][1],
        json!({"field": "TITLE", "status": "FILLED", "provider": "APOLLO", "calls": 0}),
        "{v}"
    );
    assert_eq!(r["lead"]["email"], "ada.lovelace@apollo-found.example");
    assert_eq!(r["lead"]["title"], "Chief Technology Officer");
    let prov: Vec<&Value> = r["lead"]["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["field"] == "email")
        .collect();
    assert_eq!(prov[0]["kind"], "enrichment", "{v}");
    assert!(
        prov[0]["reference"]
            .as_str()
            .unwrap()
            .starts_with("apollo: person"),
        "{v}"
    );
    assert_eq!((f.count("hunter", "Ada"), f.count("apollo", "Ada")), (1, 1));

    let h = ok(&app, &member, HISTORY, json!({"id": id})).await;
    let nodes = h["enrichmentHistory"]["nodes"].as_array().unwrap();
    assert_eq!(h["enrichmentHistory"]["totalCount"], 2, "{h}");
    let mut seen: Vec<(String, String, i64)> = nodes
        .iter()
        .map(|n| {
            (
                n["provider"].as_str().unwrap().into(),
                n["outcome"].as_str().unwrap().into(),
                n["costCents"].as_i64().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("APOLLO".into(), "FOUND".into(), 5),
            ("HUNTER".into(), "NOT_FOUND".into(), 3)
        ]
    );
    let s = ok(
        &app,
        &member,
        "{ enrichmentSettings { monthlyBudgetCents spentThisMonthCents } }",
        json!({}),
    )
    .await;
    assert_eq!(
        s["enrichmentSettings"],
        json!({"monthlyBudgetCents": 1000, "spentThisMonthCents": 8})
    );

    // A second pass finds both fields filled: no call, no charge.
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": id, "fields": ["EMAIL"]}}),
    )
    .await;
    assert_eq!(v["enrichLead"]["fields"][0]["status"], "ALREADY_FILLED");
    assert_eq!(f.total("hunter") + f.total("apollo"), 2);

    // Events: the writes went out as lead.updated through the outbox.
    let updates = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("lead.updated"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(updates.len() >= 2, "{updates:?}");

    // Keys: sealed at rest, never in an answer.
    let rows = entity::enrichment_provider::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| !r.api_key.contains("secret-KEY")),
        "stored in clear"
    );
    for q in [
        "{ enrichmentProviders { provider position costCents enabled keyConfigured updatedAt } }",
        "{ enrichmentSettings { smtpProbe monthlyBudgetCents spentThisMonthCents } }",
    ] {
        assert_no_key(&ok(&app, &admin, q, json!({})).await);
    }
    assert_no_key(&h);
    assert_no_key(&v);
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_the_delay() {
    let (f, base) = fakes().await;
    f.0.lock().unwrap().hunter_429_once.push("Grace".into());
    let app = app_for(&base, &[]).await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    configure(&app, &admin, 1000).await;
    let id = person(&app, &member, "Grace").await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": id, "fields": ["EMAIL"]}}),
    )
    .await;
    assert_eq!(v["enrichLead"]["fields"][0]["provider"], "HUNTER", "{v}");
    assert_eq!(
        v["enrichLead"]["lead"]["email"],
        "grace.lovelace@analytical.example"
    );
    assert_eq!(
        (f.count("hunter", "Grace"), f.count("apollo", "Grace")),
        (2, 0)
    );
    let at = f.0.lock().unwrap().hunter_at["Grace"].clone();
    let waited = at[1] - at[0];
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "retried after {waited:?}");
}

#[tokio::test]
async fn a_used_up_budget_stops_every_call() {
    let (f, base) = fakes().await;
    let app = app_for(&base, &[]).await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    configure(&app, &admin, 4).await;
    let id = person(&app, &member, "Edsger").await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": id, "fields": ["EMAIL"]}}),
    )
    .await;
    assert_eq!(
        v["enrichLead"]["fields"][0]["status"], "BUDGET_EXHAUSTED",
        "{v}"
    );
    assert_eq!(
        (f.count("hunter", "Edsger"), f.count("apollo", "Edsger")),
        (1, 0)
    );
    let s = ok(
        &app,
        &member,
        "{ enrichmentSettings { spentThisMonthCents } }",
        json!({}),
    )
    .await;
    assert_eq!(s["enrichmentSettings"]["spentThisMonthCents"], 3);
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": id, "fields": ["EMAIL"]}}),
    )
    .await;
    assert_eq!(
        v["enrichLead"]["fields"][0]["status"], "BUDGET_EXHAUSTED",
        "{v}"
    );
    assert_eq!(
        f.total("hunter") + f.total("apollo"),
        1,
        "no call once the budget is used up"
    );
}

fn registry(app: &TestApp) -> JobRegistry {
    let mut r = JobRegistry::new();
    r.register(RUN_KIND, EnrichLeadsJob(app.state.clone()));
    r
}

#[tokio::test]
async fn a_batch_cut_off_halfway_resumes_without_repeating_a_finished_call() {
    let (f, base) = fakes().await;
    let app = app_for(&base, &[("WORKER_ENABLED", "false")]).await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    configure(&app, &admin, 100_000).await;
    let n = 16;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(person(&app, &member, &format!("P{i:02}")).await);
    }
    let v = ok(
        &app,
        &member,
        ENRICH_MANY,
        json!({"i": {"leadIds": ids, "fields": ["EMAIL"]}}),
    )
    .await;
    let run = v["enrichLeads"].clone();
    assert_eq!(
        (run["status"].as_str(), run["total"].as_i64()),
        (Some("QUEUED"), Some(n as i64)),
        "{v}"
    );
    let run_id = Uuid::parse_str(run["id"].as_str().unwrap()).unwrap();

    // Worker A takes the job and "dies" after a few leads.
    let a = Worker::new(
        app.state.db.clone(),
        registry(&app),
        Duration::from_millis(800),
    );
    let task = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while f.total("apollo") < n / 2 {
        assert!(Instant::now() < deadline, "worker A made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    task.abort();
    let _ = task.await;
    let done: Vec<Uuid> = entity::enrichment_run_item::Entity::find()
        .filter(entity::enrichment_run_item::Column::RunId.eq(run_id))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.lead_id)
        .collect();
    assert!(
        !done.is_empty() && done.len() < n,
        "cut off halfway: {} done",
        done.len()
    );

    // Worker B takes over once the lease expires and finishes the run.
    tokio::time::sleep(Duration::from_millis(900)).await;
    let b = Worker::new(
        app.state.db.clone(),
        registry(&app),
        Duration::from_secs(30),
    );
    assert!(b.run_once().await, "the job was not taken over");
    let r = ok(&app, &member, RUN, json!({"id": run_id.to_string()})).await;
    assert_eq!(r["enrichmentRun"]["status"], "SUCCEEDED", "{r}");
    assert_eq!(r["enrichmentRun"]["done"], n as i64, "{r}");
    assert_eq!(r["enrichmentRun"]["filled"], n as i64, "{r}");

    // No call repeated for a lead done before the crash; at most the one in flight twice.
    let mut twice = 0;
    for i in 0..n {
        let first = format!("P{i:02}");
        let (h, a) = (f.count("hunter", &first), f.count("apollo", &first));
        assert!(h >= 1 && a >= 1, "{first} not enriched");
        if h > 1 || a > 1 {
            twice += 1;
        }
    }
    for id in &done {
        let l = entity::lead::Entity::find_by_id(*id)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        let first = l.first_name.unwrap();
        assert_eq!(
            (f.count("hunter", &first), f.count("apollo", &first)),
            (1, 1),
            "{first} was done, then called again"
        );
    }
    assert!(twice <= 1, "{twice} leads called twice");

    // Progress events: queued, running, every 10 leads, and the end.
    let events = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("enrichment.progress"))
        .all(&app.state.db)
        .await
        .unwrap();
    let statuses: Vec<String> = events
        .iter()
        .map(|e| {
            let p = e.payload.get("data").unwrap_or(&e.payload);
            p["status"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(
        statuses.first().map(String::as_str),
        Some("QUEUED"),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("SUCCEEDED"),
        "{statuses:?}"
    );
    assert!(statuses.iter().any(|s| s == "RUNNING"), "{statuses:?}");
}

#[tokio::test]
async fn another_organization_sees_nothing_and_reaches_nothing() {
    let (f, base) = fakes().await;
    let app = app_for(&base, &[("WORKER_ENABLED", "false")]).await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    configure(&app, &admin, 1000).await;
    let id = person(&app, &member, "Barbara").await;
    let run = ok(
        &app,
        &member,
        ENRICH_MANY,
        json!({"i": {"leadIds": [id], "fields": ["EMAIL"]}}),
    )
    .await;
    let run_id = run["enrichLeads"]["id"].as_str().unwrap().to_string();

    let (_, other) = org_with(&app, Role::Admin).await;
    for (q, vars) in [
        (ENRICH, json!({"i": {"leadId": id, "fields": ["EMAIL"]}})),
        (HISTORY, json!({"id": id})),
        (RUN, json!({"id": run_id})),
        (
            ENRICH_MANY,
            json!({"i": {"leadIds": [id], "fields": ["EMAIL"]}}),
        ),
    ] {
        let v = app.gql(Some(&other), q, vars).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
    }
    let v = ok(
        &app,
        &other,
        "{ enrichmentProviders { provider } }",
        json!({}),
    )
    .await;
    assert_eq!(v["enrichmentProviders"], json!([]));
    assert_eq!(f.total("hunter") + f.total("apollo"), 0);
}

#[tokio::test]
async fn unauthenticated_and_underprivileged_callers_are_refused() {
    let (_, base) = fakes().await;
    let app = app_for(&base, &[]).await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    let viewer = app.token(org, Role::Viewer).await;
    let id = person(&app, &admin, "Alan").await;
    let all = [
        (ENRICH, json!({"i": {"leadId": id, "fields": ["EMAIL"]}})),
        (HISTORY, json!({"id": id})),
        (
            ENRICH_MANY,
            json!({"i": {"leadIds": [id], "fields": ["EMAIL"]}}),
        ),
        ("{ enrichmentProviders { provider } }", json!({})),
        (
            CONFIGURE,
            json!({"i": {"provider": "HUNTER", "apiKey": "k", "position": 0, "costCents": 1}}),
        ),
    ];
    for (q, vars) in &all {
        let v = app.gql(None, q, vars.clone()).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{q}: {v}");
        let v = app.gql(Some(&viewer), q, vars.clone()).await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "viewer {q}: {v}");
    }
    let v = app.gql(Some(&member), CONFIGURE, all[4].1.clone()).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app
        .gql(
            Some(&member),
            "mutation { removeEnrichmentProvider(provider: HUNTER) }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
}

#[tokio::test]
async fn invalid_input_names_its_fields() {
    let (_, base) = fakes().await;
    let app = app_for(&base, &[]).await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    let id = person(&app, &member, "Kurt").await;
    let v = app
        .gql(
            Some(&admin),
            CONFIGURE,
            json!({"i": {"provider": "HUNTER", "position": 500, "costCents": -1}}),
        )
        .await;
    assert_eq!(
        field_errors(&v),
        vec!["input.apiKey", "input.position", "input.costCents"]
    );
    let v = app
        .gql(
            Some(&admin),
            CONFIGURE,
            json!({"i": {"provider": "APOLLO", "apiKey": "  ", "position": 0, "costCents": 1}}),
        )
        .await;
    assert_eq!(field_errors(&v), vec!["input.apiKey"]);
    let v = app.gql(Some(&admin), SETTINGS, json!({"b": -5})).await;
    assert_eq!(field_errors(&v), vec!["input.monthlyBudgetCents"]);
    for fields in [json!([]), json!(["EMAIL", "EMAIL"])] {
        let v = app
            .gql(
                Some(&member),
                ENRICH,
                json!({"i": {"leadId": id, "fields": fields}}),
            )
            .await;
        assert_eq!(field_errors(&v), vec!["input.fields"], "{v}");
    }
    let v = app
        .gql(
            Some(&member),
            ENRICH_MANY,
            json!({"i": {"leadIds": [id], "filter": {}, "fields": ["EMAIL"]}}),
        )
        .await;
    assert_eq!(field_errors(&v), vec!["input"]);
    let v = app
        .gql(
            Some(&member),
            ENRICH_MANY,
            json!({"i": {"leadIds": [], "fields": ["EMAIL"]}}),
        )
        .await;
    assert_eq!(field_errors(&v), vec!["input.leadIds"]);
    // A removed provider is gone; removing it again says so.
    ok(
        &app,
        &admin,
        CONFIGURE,
        json!({"i": {"provider": "HUNTER", "apiKey": HUNTER_KEY, "position": 0, "costCents": 1}}),
    )
    .await;
    let v = ok(
        &app,
        &admin,
        "mutation { removeEnrichmentProvider(provider: HUNTER) }",
        json!({}),
    )
    .await;
    assert_eq!(v["removeEnrichmentProvider"], true);
    let v = ok(
        &app,
        &admin,
        "mutation { removeEnrichmentProvider(provider: HUNTER) }",
        json!({}),
    )
    .await;
    assert_eq!(v["removeEnrichmentProvider"], false);
}

#[tokio::test]
async fn the_history_costs_the_same_statements_at_any_page_size() {
    let (_, base) = fakes().await;
    let app = app_for(&base, &[("RECORD_SQL", "true")]).await;
    let (org, member) = org_with(&app, Role::Member).await;
    let id = person(&app, &member, "Donald").await;
    let lead_id = Uuid::parse_str(&id).unwrap();
    let rows: Vec<entity::enrichment_call::ActiveModel> = (0..15)
        .map(|i| entity::enrichment_call::ActiveModel {
            id: sea_orm::Set(Uuid::now_v7()),
            org_id: sea_orm::Set(org),
            lead_id: sea_orm::Set(lead_id),
            run_id: sea_orm::Set(None),
            provider: sea_orm::Set(if i % 2 == 0 { "HUNTER" } else { "APOLLO" }.into()),
            field: sea_orm::Set("EMAIL".into()),
            outcome: sea_orm::Set("NOT_FOUND".into()),
            cost_cents: sea_orm::Set(1),
            filled: sea_orm::Set(json!([])),
            detail: sea_orm::Set(Some("x".into())),
            at: sea_orm::Set(chrono::Utc::now()),
        })
        .collect();
    entity::enrichment_call::Entity::insert_many(rows)
        .exec(&app.state.db)
        .await
        .unwrap();
    let mut counts = Vec::new();
    for n in [3, 12] {
        app.state.sql_log.take();
        let v = ok(&app, &member, HISTORY, json!({"id": id, "n": n})).await;
        assert_eq!(
            v["enrichmentHistory"]["nodes"].as_array().unwrap().len(),
            n,
            "{v}"
        );
        counts.push(app.request_statements().len());
    }
    assert_eq!(counts[0], counts[1], "statements at first = 3 / 12");
}
