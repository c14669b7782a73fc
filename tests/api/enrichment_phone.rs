//! The phone look-up: Numverify's `GET /validate?access_key=…&number=…` against a local fake
//! speaking that wire format (the documented answer, and the 200 `{"success": false, "error"}`
//! envelope) and counting calls per number. It fills a lead's phone type, carrier and country
//! with provenance, history and cost; a 429 with `Retry-After` is retried after the delay; the
//! key (which travels in the query) never comes back; another organization's lead behaves as
//! missing; the keyless LOCAL provider answers from the numbering plan; a changed phone forgets
//! the look-up.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use leadgraph::auth::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

use crate::{
    fixtures::{field_errors, lead, ok, org_with},
    helpers::{code, Options, TestApp},
};

const KEY: &str = "numverify-secret-KEY-0004";

/// Calls per number, and when each came.
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<HashMap<String, Vec<Instant>>>>);

impl Fake {
    fn calls(&self, number: &str) -> usize {
        self.0.lock().unwrap().get(number).map_or(0, Vec::len)
    }
    fn total(&self) -> usize {
        self.0.lock().unwrap().values().map(Vec::len).sum()
    }
    fn gap(&self, number: &str) -> Duration {
        let m = self.0.lock().unwrap();
        let at = &m[number];
        at[1] - at[0]
    }
}

/// `GET /validate`. A wrong key gets the API's 101 envelope; 14155552672 answers 429
/// (`Retry-After: 1`) once; 14155552673 is `valid: false`; others are a US mobile.
async fn validate(State(f): State<Fake>, Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("access_key").map(String::as_str) != Some(KEY) {
        let e = json!({"success": false, "error": {"code": 101, "type": "invalid_access_key",
            "info": "You have not supplied a valid API Access Key."}});
        return Json(e).into_response();
    }
    let number = q.get("number").cloned().unwrap_or_default();
    let n = {
        let mut m = f.0.lock().unwrap();
        let at = m.entry(number.clone()).or_default();
        at.push(Instant::now());
        at.len()
    };
    if number == "14155552672" && n == 1 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            "slow down",
        )
            .into_response();
    }
    if number == "14155552673" {
        return Json(json!({"valid": false, "number": number, "local_format": "",
            "international_format": "", "country_prefix": "", "country_code": "",
            "country_name": "", "location": "", "carrier": "", "line_type": null}))
        .into_response();
    }
    Json(json!({
        "valid": true, "number": number, "local_format": &number[1..],
        "international_format": format!("+{number}"), "country_prefix": "+1",
        "country_code": "US", "country_name": "United States of America",
        "location": "Novato", "carrier": "AT&T Mobility LLC", "line_type": "mobile"
    }))
    .into_response()
}

async fn start() -> (Fake, TestApp) {
    let f = Fake::default();
    let router = Router::new()
        .route("/validate", get(validate))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = TestApp::spawn_with(Options::with_env(&[("NUMVERIFY_BASE_URL", &base)])).await;
    (f, app)
}

const CONFIGURE: &str = "mutation($i: ConfigureEnrichmentProviderInput!) { configureEnrichmentProvider(input: $i) { provider costCents keyConfigured } }";
const ENRICH: &str = "mutation($i: EnrichLeadInput!) { enrichLead(input: $i) {
  lead { id phone phoneType phoneCarrier phoneCountry provenance { field kind reference } }
  fields { field status provider calls } } }";
const HISTORY: &str = "query($id: ID!) { enrichmentHistory(leadId: $id) { totalCount nodes { provider field outcome costCents returned detail } } }";
const ALL: [&str; 3] = ["PHONE_TYPE", "PHONE_CARRIER", "PHONE_COUNTRY"];

/// Numverify (cost 3, with `key`) and a budget of 100 cents.
async fn configure(app: &TestApp, admin: &str, key: &str) {
    let i = json!({"provider": "NUMVERIFY", "apiKey": key, "position": 0, "costCents": 3});
    let v = ok(app, admin, CONFIGURE, json!({"i": i})).await;
    assert_eq!(
        v["configureEnrichmentProvider"],
        json!({"provider": "NUMVERIFY", "costCents": 3, "keyConfigured": true})
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

async fn spent(app: &TestApp, token: &str) -> i64 {
    let q = "{ enrichmentSettings { spentThisMonthCents } }";
    let s = ok(app, token, q, json!({})).await;
    s["enrichmentSettings"]["spentThisMonthCents"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_phone_lookup_fills_type_carrier_and_country_with_provenance_and_cost() {
    let (f, app) = start().await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    configure(&app, &admin, KEY).await;
    let id = lead(
        &app,
        &member,
        json!({"company": "Initech", "phone": "+1 415 555 2671"}),
    )
    .await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": id, "fields": ALL}}),
    )
    .await;
    let r = &v["enrichLead"];
    assert_eq!(
        r["fields"],
        json!([
            {"field": "PHONE_TYPE", "status": "FILLED", "provider": "NUMVERIFY", "calls": 1},
            {"field": "PHONE_CARRIER", "status": "FILLED", "provider": "NUMVERIFY", "calls": 0},
            {"field": "PHONE_COUNTRY", "status": "FILLED", "provider": "NUMVERIFY", "calls": 0}
        ]),
        "{v}"
    );
    let l = &r["lead"];
    assert_eq!(
        (&l["phoneType"], &l["phoneCarrier"], &l["phoneCountry"]),
        (&json!("MOBILE"), &json!("AT&T Mobility LLC"), &json!("US")),
        "{v}"
    );
    for field in ["phoneType", "phoneCarrier", "phoneCountry"] {
        let p = provenance(l, field);
        assert_eq!(p["kind"], "enrichment");
        assert_eq!(p["reference"], "numverify: validate +14155552671");
    }
    // The API got the number's digits, once for the three fields.
    assert_eq!(f.calls("14155552671"), 1);
    let h = ok(&app, &member, HISTORY, json!({"id": id})).await;
    assert_eq!(h["enrichmentHistory"]["totalCount"], 1, "{h}");
    let node = &h["enrichmentHistory"]["nodes"][0];
    assert_eq!(
        (&node["provider"], &node["outcome"], &node["costCents"]),
        (&json!("NUMVERIFY"), &json!("FOUND"), &json!(3)),
        "{h}"
    );
    assert_eq!(node["returned"], json!(ALL), "{h}");
    assert_eq!(spent(&app, &member).await, 3);
    // Events: the three writes went out as lead.updated naming their fields.
    let updates = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("lead.updated"))
        .all(&app.state.db)
        .await
        .unwrap();
    let named: Vec<String> = updates.iter().map(|e| e.payload.to_string()).collect();
    for field in ["phoneType", "phoneCarrier", "phoneCountry"] {
        assert!(named.iter().any(|p| p.contains(field)), "{named:?}");
    }

    // Filled fields are not looked up again.
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": id, "fields": ["PHONE_TYPE"]}}),
    )
    .await;
    assert_eq!(
        v["enrichLead"]["fields"][0]["status"], "ALREADY_FILLED",
        "{v}"
    );
    assert_eq!(f.calls("14155552671"), 1);

    // A number the API calls invalid: charged, nothing filled.
    let bad = lead(
        &app,
        &member,
        json!({"company": "Ghost", "phone": "+14155552673"}),
    )
    .await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": bad, "fields": ["PHONE_TYPE"]}}),
    )
    .await;
    assert_eq!(v["enrichLead"]["fields"][0]["status"], "NOT_FOUND", "{v}");
    assert_eq!(v["enrichLead"]["lead"]["phoneType"], Value::Null);
    assert_eq!(spent(&app, &member).await, 6);

    // A lead without a phone: no provider can look it up, no call.
    let none = lead(&app, &member, json!({"company": "Mute"})).await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": none, "fields": ["PHONE_TYPE"]}}),
    )
    .await;
    assert_eq!(v["enrichLead"]["fields"][0]["status"], "NO_PROVIDER", "{v}");
    assert_eq!(f.total(), 2);

    // A new number forgets what the look-up said about the old one.
    let upd = "mutation($id: ID!) { updateLead(id: $id, input: {phone: \"+14155552699\"}) { phone phoneType phoneCarrier phoneCountry } }";
    let v = ok(&app, &member, upd, json!({"id": id})).await;
    assert_eq!(
        v["updateLead"],
        json!({"phone": "+14155552699", "phoneType": null, "phoneCarrier": null, "phoneCountry": null}),
        "{v}"
    );
}

#[tokio::test]
async fn a_429_is_retried_after_retry_after_and_the_key_never_comes_back() {
    let (f, app) = start().await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    configure(&app, &admin, KEY).await;
    let id = lead(
        &app,
        &member,
        json!({"company": "Slow", "phone": "+14155552672"}),
    )
    .await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": id, "fields": ["PHONE_CARRIER"]}}),
    )
    .await;
    assert_eq!(
        v["enrichLead"]["fields"][0],
        json!({"field": "PHONE_CARRIER", "status": "FILLED", "provider": "NUMVERIFY", "calls": 1}),
        "{v}"
    );
    assert_eq!(f.calls("14155552672"), 2, "the 429 was retried once");
    assert!(
        f.gap("14155552672") >= Duration::from_millis(950),
        "retried after {:?}, before Retry-After",
        f.gap("14155552672")
    );

    // A refused key (the API's 101 envelope): an ERROR in the history, not charged, and the
    // key that travelled in the URL is nowhere in it.
    let wrong = "numverify-WRONG-key-0005";
    configure(&app, &admin, wrong).await;
    let other = lead(
        &app,
        &member,
        json!({"company": "Refused", "phone": "+14155552688"}),
    )
    .await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": other, "fields": ["PHONE_TYPE"]}}),
    )
    .await;
    assert_eq!(v["enrichLead"]["fields"][0]["status"], "FAILED", "{v}");
    let h = ok(&app, &member, HISTORY, json!({"id": other})).await;
    let node = &h["enrichmentHistory"]["nodes"][0];
    assert_eq!(
        (&node["outcome"], &node["costCents"]),
        (&json!("ERROR"), &json!(0)),
        "{h}"
    );
    assert!(node["detail"].as_str().unwrap().contains("101"), "{h}");
    for body in [&v, &h] {
        assert!(!body.to_string().contains(wrong), "a key came back: {body}");
        assert!(!body.to_string().contains(KEY), "a key came back: {body}");
    }
    for q in [
        "{ enrichmentProviders { provider costCents enabled keyConfigured } }",
        "{ enrichmentSettings { smtpProbe monthlyBudgetCents spentThisMonthCents } }",
    ] {
        let v = ok(&app, &admin, q, json!({})).await;
        assert!(
            !v.to_string().contains(wrong) && !v.to_string().contains(KEY),
            "{v}"
        );
    }
    let rows = entity::enrichment_call::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(
        rows.iter().all(|r| !format!("{r:?}").contains(wrong)),
        "stored in the history"
    );
}

#[tokio::test]
async fn the_local_provider_answers_from_the_numbering_plan_without_a_key() {
    let (f, app) = start().await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    let i = json!({"provider": "LOCAL", "position": 5, "costCents": 0});
    let v = ok(&app, &admin, CONFIGURE, json!({"i": i})).await;
    assert_eq!(
        v["configureEnrichmentProvider"],
        json!({"provider": "LOCAL", "costCents": 0, "keyConfigured": false})
    );
    let id = lead(
        &app,
        &member,
        json!({"company": "Brit", "phone": "+44 7400 123456"}),
    )
    .await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": id, "fields": ALL}}),
    )
    .await;
    let r = &v["enrichLead"];
    assert_eq!(
        r["fields"],
        json!([
            {"field": "PHONE_TYPE", "status": "FILLED", "provider": "LOCAL", "calls": 1},
            {"field": "PHONE_CARRIER", "status": "NO_PROVIDER", "provider": null, "calls": 0},
            {"field": "PHONE_COUNTRY", "status": "FILLED", "provider": "LOCAL", "calls": 0}
        ]),
        "{v}"
    );
    assert_eq!(
        (&r["lead"]["phoneType"], &r["lead"]["phoneCountry"]),
        (&json!("MOBILE"), &json!("GB"))
    );
    assert_eq!(
        provenance(&r["lead"], "phoneType")["reference"],
        "local: numbering plan"
    );
    assert_eq!(f.total(), 0, "the local provider makes no call");

    // A merge that takes the duplicate's phone takes what the look-up said about it.
    let manager = app.token(org, Role::Manager).await;
    let primary = lead(&app, &member, json!({"company": "Brit Two"})).await;
    let merge = "mutation($p: ID!, $d: [ID!]!) { mergeLeads(primaryId: $p, duplicateIds: $d) { lead { phone phoneType phoneCarrier phoneCountry } } }";
    let v = ok(&app, &manager, merge, json!({"p": primary, "d": [id]})).await;
    assert_eq!(
        v["mergeLeads"]["lead"],
        json!({"phone": "+447400123456", "phoneType": "MOBILE", "phoneCarrier": null, "phoneCountry": "GB"}),
        "{v}"
    );

    // Numverify first, local after it: the carrier comes from Numverify, which answered all.
    configure(&app, &admin, KEY).await;
    let us = lead(
        &app,
        &member,
        json!({"company": "Yank", "phone": "+14155552671"}),
    )
    .await;
    let v = ok(
        &app,
        &member,
        ENRICH,
        json!({"i": {"leadId": us, "fields": ALL}}),
    )
    .await;
    let providers: Vec<&Value> = v["enrichLead"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["provider"])
        .collect();
    assert_eq!(
        providers,
        vec!["NUMVERIFY", "NUMVERIFY", "NUMVERIFY"],
        "{v}"
    );
}

#[tokio::test]
async fn another_organizations_lead_is_missing_and_bad_input_is_named() {
    let (f, app) = start().await;
    let (org, admin) = org_with(&app, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    configure(&app, &admin, KEY).await;
    let id = lead(
        &app,
        &member,
        json!({"company": "Initech", "phone": "+14155552671"}),
    )
    .await;
    let (_, other_admin) = org_with(&app, Role::Admin).await;
    configure(&app, &other_admin, KEY).await;
    let v = app
        .gql(
            Some(&other_admin),
            ENRICH,
            json!({"i": {"leadId": id, "fields": ["PHONE_TYPE"]}}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = app
        .gql(Some(&other_admin), HISTORY, json!({"id": id}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = app
        .gql(
            None,
            ENRICH,
            json!({"i": {"leadId": id, "fields": ["PHONE_TYPE"]}}),
        )
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    for fields in [json!([]), json!(["PHONE_TYPE", "PHONE_TYPE"])] {
        let v = app
            .gql(
                Some(&member),
                ENRICH,
                json!({"i": {"leadId": id, "fields": fields}}),
            )
            .await;
        assert_eq!(field_errors(&v), vec!["input.fields"], "{v}");
    }
    // Numverify needs a key the first time; an update keeps the stored one.
    let v = ok(
        &app,
        &admin,
        CONFIGURE,
        json!({"i": {"provider": "NUMVERIFY", "position": 0, "costCents": 1}}),
    )
    .await;
    assert_eq!(
        v["configureEnrichmentProvider"]["keyConfigured"], true,
        "{v}"
    );
    let (_, fresh) = org_with(&app, Role::Admin).await;
    let v = app
        .gql(
            Some(&fresh),
            CONFIGURE,
            json!({"i": {"provider": "NUMVERIFY", "position": 0, "costCents": 1}}),
        )
        .await;
    assert_eq!(field_errors(&v), vec!["input.apiKey"], "{v}");
    assert_eq!(f.total(), 0, "no call for a refused request");
}
