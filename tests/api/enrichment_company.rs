//! The company look-up: Apollo's organization enrichment (`GET /api/v1/organizations/enrich
//! ?domain=`, key in `x-api-key`) against a local fake speaking that wire format and counting
//! calls per domain. It fills a lead's industry, company and website from its domain with
//! provenance, history and cost; a 429 with `Retry-After` is retried after the delay; keys
//! never come back; another organization's lead behaves as missing; unauthenticated refused.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use leadgraph::auth::Role;
use serde_json::{json, Value};

use crate::{
    fixtures::{lead, ok, org_with},
    helpers::{code, Options, TestApp},
};

const KEY: &str = "apollo-org-secret-KEY-0003";

/// Calls per domain, and when each came.
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<HashMap<String, Vec<Instant>>>>);

impl Fake {
    fn calls(&self, domain: &str) -> usize {
        self.0.lock().unwrap().get(domain).map_or(0, Vec::len)
    }
    fn gap(&self, domain: &str) -> Duration {
        let m = self.0.lock().unwrap();
        let at = &m[domain];
        at[1] - at[0]
    }
}

/// `GET /api/v1/organizations/enrich?domain=`; "slow.example" answers 429 (`Retry-After: 1`)
/// once; "unknown.example" is not in the fake's data (`{}`).
async fn enrich(
    State(f): State<Fake>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return (StatusCode::UNAUTHORIZED, "invalid api key").into_response();
    }
    let domain = q.get("domain").cloned().unwrap_or_default();
    let n = {
        let mut m = f.0.lock().unwrap();
        let at = m.entry(domain.clone()).or_default();
        at.push(Instant::now());
        at.len()
    };
    if domain == "slow.example" && n == 1 {
        let body = json!({"error": "rate limit exceeded"});
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(body),
        )
            .into_response();
    }
    if domain == "unknown.example" {
        return Json(json!({})).into_response();
    }
    let stem = domain.split('.').next().unwrap_or_default();
    Json(json!({"organization": {
        "id": format!("org-{stem}"), "name": format!("{stem} Incorporated"),
        "website_url": format!("http://www.{domain}"), "primary_domain": domain,
        "industry": format!("{stem} software"), "estimated_num_employees": 120,
        "city": "Austin", "state": "Texas", "country": "United States",
        "logo_url": "https://logos.example/x.png", "linkedin_url": null
    }}))
    .into_response()
}

async fn start() -> (Fake, TestApp) {
    let f = Fake::default();
    let router = Router::new()
        .route("/api/v1/organizations/enrich", get(enrich))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = TestApp::spawn_with(Options::with_env(&[("APOLLO_BASE_URL", &base)])).await;
    (f, app)
}

const CONFIGURE: &str = "mutation($i: ConfigureEnrichmentProviderInput!) { configureEnrichmentProvider(input: $i) { provider costCents keyConfigured } }";
const ENRICH: &str = "mutation($i: EnrichLeadInput!) { enrichLead(input: $i) {
  lead { id company website industry provenance { field kind reference } }
  fields { field status provider calls } } }";
const HISTORY: &str = "query($id: ID!) { enrichmentHistory(leadId: $id) { totalCount nodes { provider field outcome costCents } } }";

/// The company provider (cost 4) and a budget of 100 cents.
async fn configure(app: &TestApp, admin: &str) {
    let i = json!({"provider": "APOLLO_COMPANY", "apiKey": KEY, "position": 0, "costCents": 4});
    let v = ok(app, admin, CONFIGURE, json!({"i": i})).await;
    assert_eq!(
        v["configureEnrichmentProvider"],
        json!({"provider": "APOLLO_COMPANY", "costCents": 4, "keyConfigured": true})
    );
    let budget = "mutation { updateEnrichmentSettings(input: {smtpProbe: false, monthlyBudgetCents: 100}) { monthlyBudgetCents } }";
    ok(app, admin, budget, json!({})).await;
}

fn provenance<'a>(lead: &'a Value, field: &str) -> &'a Value {
    lead["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["field"] == field)
        .unwrap_or_else(|| panic!("no provenance for {field}: {lead}"))
}

#[tokio::test]
async fn the_company_lookup_fills_industry_and_website_from_the_domain() {
    let (f, app) = start().await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    configure(&app, &admin).await;
    // The domain comes from the company email (no website yet).
    let id = lead(
        &app,
        &member,
        json!({"email": "jane@initech.example", "company": "Initech"}),
    )
    .await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": id, "fields": ["INDUSTRY", "WEBSITE", "COMPANY"]}}),
    )
    .await;
    let r = &v["enrichLead"];
    assert_eq!(
        r["fields"],
        json!([
            {"field": "INDUSTRY", "status": "FILLED", "provider": "APOLLO_COMPANY", "calls": 1},
            {"field": "WEBSITE", "status": "FILLED", "provider": "APOLLO_COMPANY", "calls": 0},
            {"field": "COMPANY", "status": "ALREADY_FILLED", "provider": null, "calls": 0}
        ]),
        "{v}"
    );
    assert_eq!(r["lead"]["industry"], "initech software");
    assert!(
        r["lead"]["website"]
            .as_str()
            .unwrap()
            .contains("www.initech.example"),
        "{v}"
    );
    // A manual value wins: the company stays as typed.
    assert_eq!(r["lead"]["company"], "Initech");
    let p = provenance(&r["lead"], "industry");
    assert_eq!(p["kind"], "enrichment");
    assert_eq!(p["reference"], "apollo_company: organization org-initech");
    assert_eq!(f.calls("initech.example"), 1);
    let h = ok(&app, &member, HISTORY, json!({"id": id})).await;
    // One call served both fields: one history row, one charge.
    assert_eq!(
        h["enrichmentHistory"]["nodes"],
        json!([{"provider": "APOLLO_COMPANY", "field": "INDUSTRY", "outcome": "FOUND", "costCents": 4}]),
        "{h}"
    );
    let s = ok(
        &app,
        &member,
        "{ enrichmentSettings { spentThisMonthCents } }",
        json!({}),
    )
    .await;
    assert_eq!(s["enrichmentSettings"]["spentThisMonthCents"], 4, "{s}");

    // An unknown domain: the call is made and charged, nothing is filled.
    let unknown = lead(
        &app,
        &member,
        json!({"company": "Ghost", "website": "https://unknown.example"}),
    )
    .await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": unknown, "fields": ["INDUSTRY"]}}),
    )
    .await;
    assert_eq!(v["enrichLead"]["fields"][0]["status"], "NOT_FOUND", "{v}");
    assert_eq!(v["enrichLead"]["lead"]["industry"], Value::Null);
    assert_eq!(f.calls("unknown.example"), 1);

    // Keys never come back.
    for q in [
        "{ enrichmentProviders { provider costCents enabled keyConfigured } }",
        "{ enrichmentSettings { smtpProbe monthlyBudgetCents spentThisMonthCents } }",
    ] {
        let v = ok(&app, &admin, q, json!({})).await;
        assert!(!v.to_string().contains(KEY), "a key came back: {v}");
    }
    let h = ok(&app, &admin, HISTORY, json!({"id": id})).await;
    assert!(!h.to_string().contains(KEY), "{h}");
}

#[tokio::test]
async fn a_429_from_the_company_lookup_is_retried_after_retry_after() {
    let (f, app) = start().await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    configure(&app, &admin).await;
    let id = lead(
        &app,
        &member,
        json!({"company": "Slow", "website": "https://www.slow.example"}),
    )
    .await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": id, "fields": ["INDUSTRY"]}}),
    )
    .await;
    assert_eq!(
        v["enrichLead"]["fields"][0],
        json!({"field": "INDUSTRY", "status": "FILLED", "provider": "APOLLO_COMPANY", "calls": 1}),
        "{v}"
    );
    assert_eq!(v["enrichLead"]["lead"]["industry"], "slow software");
    assert_eq!(f.calls("slow.example"), 2, "the 429 was retried once");
    assert!(
        f.gap("slow.example") >= Duration::from_millis(950),
        "retried after {:?}, before Retry-After",
        f.gap("slow.example")
    );
}

#[tokio::test]
async fn another_organizations_lead_is_missing_and_a_stranger_is_refused() {
    let (f, app) = start().await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    configure(&app, &admin).await;
    let id = lead(
        &app,
        &member,
        json!({"company": "Initech", "website": "https://initech.example"}),
    )
    .await;
    let (_, other_admin) = org_with(&app, Role::Admin).await;
    // The other organization has no provider of its own, and cannot reach this lead.
    let v = app
        .gql(
            Some(&other_admin),
            ENRICH,
            json!({"i": {"leadId": id, "fields": ["INDUSTRY"]}}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = ok(
        &app,
        &other_admin,
        "{ enrichmentProviders { provider } }",
        json!({}),
    )
    .await;
    assert_eq!(v["enrichmentProviders"], json!([]), "{v}");
    let v = app
        .gql(
            None,
            ENRICH,
            json!({"i": {"leadId": id, "fields": ["INDUSTRY"]}}),
        )
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    assert_eq!(
        f.calls("initech.example"),
        0,
        "no call for a refused request"
    );
}
