//! Incoming lead hooks: a request signed per the Standard Webhooks spec (signed here with the
//! `hmac`/`sha2`/`base64` crates, not the server's code) creates a lead with provenance
//! `webhook:<name>`, and a second one with the same email merges into it; a bad signature, a
//! tampered body, a stale timestamp, a missing header, a replayed `webhook-id`, malformed JSON,
//! a missing or invalid email and an unknown hook each get a clear 4xx JSON error and write
//! nothing (row counts); another organization, no credentials, roles, invalid input, events and
//! the statement counts of the list.

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hmac::{Hmac, Mac};
use leadgraph::auth::Role;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use sha2::Sha256;
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, member, ok, org_named, Person},
    helpers::{code, Options, TestApp},
};

const CREATE: &str = "mutation($i: CreateIncomingWebhookInput!) { createIncomingWebhook(input: $i) { secret hook { id name url defaultTags enabled lastReceivedAt } } }";

pub(crate) async fn admin(app: &TestApp) -> (Uuid, Person) {
    let org = org_named(app, &format!("Intake {}", Uuid::now_v7().simple())).await;
    (org, member(app, org, Role::Admin, "Ada").await)
}

/// Creates a hook: (id, path of its URL, secret).
pub(crate) async fn hook(app: &TestApp, who: &Person, name: &str) -> (String, String, String) {
    let v = ok(
        app,
        &who.token,
        CREATE,
        json!({"i": {"name": name, "defaultTags": ["Webform"]}}),
    )
    .await;
    let p = &v["createIncomingWebhook"];
    let url = p["hook"]["url"].as_str().unwrap();
    let id = p["hook"]["id"].as_str().unwrap().to_string();
    assert!(url.ends_with(&format!("/hooks/in/{id}")), "{url}");
    (
        id.clone(),
        format!("/hooks/in/{id}"),
        p["secret"].as_str().unwrap().to_string(),
    )
}

/// `v1,<base64 HMAC-SHA256(base64-decoded secret, "id.ts.body")>`, from the spec.
pub(crate) fn signature(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    let key = B64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// POSTs `body` with the given headers (None: left out); (status, JSON answer).
pub(crate) async fn post(
    app: &TestApp,
    path: &str,
    headers: [Option<String>; 3],
    body: &[u8],
) -> (u16, Value) {
    let mut req = app
        .http
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, v) in ["webhook-id", "webhook-timestamp", "webhook-signature"]
        .iter()
        .zip(headers)
    {
        if let Some(v) = v {
            req = req.header(*name, v);
        }
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A correctly signed POST with a fresh id.
pub(crate) async fn signed(app: &TestApp, path: &str, secret: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let id = format!("msg_{}", Uuid::now_v7().simple());
    let ts = chrono::Utc::now().timestamp();
    let sig = signature(secret, &id, ts, body.as_bytes());
    post(
        app,
        path,
        [Some(id), Some(ts.to_string()), Some(sig)],
        body.as_bytes(),
    )
    .await
}

/// (leads, receipts, outbox events) of `org`.
async fn counts(app: &TestApp, org: Uuid) -> (u64, u64, u64) {
    let db = &app.state.db;
    (
        entity::lead::Entity::find()
            .filter(entity::lead::Column::OrgId.eq(org))
            .count(db)
            .await
            .unwrap(),
        entity::incoming_hook_receipt::Entity::find()
            .count(db)
            .await
            .unwrap(),
        entity::outbox_event::Entity::find()
            .filter(entity::outbox_event::Column::OrgId.eq(org))
            .count(db)
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn a_signed_request_creates_a_lead_and_the_same_email_merges_into_it() {
    let app = TestApp::spawn().await;
    let (org, ada) = admin(&app).await;
    let (_, path, secret) = hook(&app, &ada, "Contact form").await;
    let (status, v) = signed(
        &app,
        &path,
        &secret,
        &json!({"email": "Ann@Example.com", "firstName": "Ann", "tags": ["spring"]}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["status"], "created");
    let lead_id = Uuid::parse_str(v["leadId"].as_str().unwrap()).unwrap();
    let lead = entity::lead::Entity::find_by_id(lead_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lead.org_id, org);
    assert_eq!(lead.email.as_deref(), Some("ann@example.com"));
    assert_eq!(lead.source, "API");
    assert_eq!(lead.provenance["email"]["kind"], "webhook");
    assert_eq!(
        lead.provenance["email"]["reference"],
        "webhook:Contact form"
    );
    // Same email, another request: merged, not duplicated; empty fields filled.
    let (status, v) = signed(
        &app,
        &path,
        &secret,
        &json!({"email": "ann@example.com", "firstName": "Annie", "company": "Acme"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({"leadId": lead_id.to_string(), "status": "merged"})
    );
    let lead = entity::lead::Entity::find_by_id(lead_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lead.first_name.as_deref(), Some("Ann"), "kept");
    assert_eq!(lead.company, "Acme", "filled");
    assert_eq!(lead.provenance["company"]["kind"], "webhook");
    let v = ok(
        &app,
        &ada.token,
        "query($id: ID!) { lead(id: $id) { tags } incomingWebhooks { nodes { lastReceivedAt } } }",
        json!({"id": lead_id.to_string()}),
    )
    .await;
    let mut tags: Vec<_> = v["lead"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    tags.sort();
    assert_eq!(tags, ["spring", "webform"]);
    assert!(v["incomingWebhooks"]["nodes"][0]["lastReceivedAt"].is_string());
    let (leads, _, _) = counts(&app, org).await;
    assert_eq!(leads, 1);
    // The leads' own events, through the outbox.
    let types: Vec<String> = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .filter(|t| t.starts_with("lead."))
        .collect();
    assert_eq!(types, ["lead.created", "lead.updated"]);
}

/// What is wrong, the headers, the body, the status and error code expected.
type Case = (
    &'static str,
    [Option<String>; 3],
    Vec<u8>,
    u16,
    &'static str,
);

#[tokio::test]
async fn refused_requests_get_a_clear_4xx_and_write_nothing() {
    let app = TestApp::spawn().await;
    let (org, ada) = admin(&app).await;
    let (_, path, secret) = hook(&app, &ada, "Form").await;
    let body = json!({"email": "bob@example.com"}).to_string();
    let b = body.as_bytes();
    let now = chrono::Utc::now().timestamp();
    let (other_secret, _) = (format!("whsec_{}", B64.encode([7u8; 32])), ());
    let id = "msg_fixed".to_string();
    let good = |ts: i64, body: &[u8]| signature(&secret, &id, ts, body);
    let h =
        |id: &str, ts: i64, sig: String| [Some(id.to_string()), Some(ts.to_string()), Some(sig)];
    let before = counts(&app, org).await;
    let cases: Vec<Case> = vec![
        (
            "another key",
            h(&id, now, signature(&other_secret, &id, now, b)),
            b.to_vec(),
            401,
            "BAD_SIGNATURE",
        ),
        (
            "tampered body",
            h(&id, now, good(now, b)),
            br#"{"email":"eve@example.com"}"#.to_vec(),
            401,
            "BAD_SIGNATURE",
        ),
        (
            "stale timestamp",
            h(&id, now - 600, good(now - 600, b)),
            b.to_vec(),
            401,
            "TIMESTAMP_OUT_OF_TOLERANCE",
        ),
        (
            "future timestamp",
            h(&id, now + 600, good(now + 600, b)),
            b.to_vec(),
            401,
            "TIMESTAMP_OUT_OF_TOLERANCE",
        ),
        (
            "no signature",
            [Some(id.clone()), Some(now.to_string()), None],
            b.to_vec(),
            400,
            "MISSING_HEADER",
        ),
        (
            "malformed JSON",
            h(&id, now, good(now, b"{\"email\": ")),
            b"{\"email\": ".to_vec(),
            400,
            "INVALID_JSON",
        ),
        (
            "an array",
            h(&id, now, good(now, b"[1]")),
            b"[1]".to_vec(),
            400,
            "INVALID_JSON",
        ),
        (
            "no email",
            h(&id, now, good(now, br#"{"firstName":"Bob"}"#)),
            br#"{"firstName":"Bob"}"#.to_vec(),
            400,
            "BAD_USER_INPUT",
        ),
        (
            "invalid email",
            h(&id, now, good(now, br#"{"email":"nope"}"#)),
            br#"{"email":"nope"}"#.to_vec(),
            400,
            "BAD_USER_INPUT",
        ),
    ];
    for (what, headers, body, status, err) in cases {
        let (got, v) = post(&app, &path, headers, &body).await;
        assert_eq!(got, status, "{what}: {v}");
        assert_eq!(v["error"]["code"], err, "{what}: {v}");
        assert!(v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
        assert_eq!(counts(&app, org).await, before, "{what} wrote something");
    }
    let (_, v) = post(
        &app,
        &path,
        h(&id, now, good(now, br#"{"email":"nope"}"#)),
        br#"{"email":"nope"}"#,
    )
    .await;
    assert_eq!(v["error"]["fields"][0]["field"], "email", "{v}");
    let (got, v) = post(
        &app,
        &format!("/hooks/in/{}", Uuid::now_v7()),
        h(&id, now, good(now, b)),
        b,
    )
    .await;
    assert_eq!((got, v["error"]["code"].clone()), (404, json!("NOT_FOUND")));
    // The webhook-id of a refused request is still free; accepted once, then a replay is 409.
    let (got, v) = post(&app, &path, h(&id, now, good(now, b)), b).await;
    assert_eq!(got, 201, "{v}");
    let after_first = counts(&app, org).await;
    let (got, v) = post(&app, &path, h(&id, now, good(now, b)), b).await;
    assert_eq!(got, 409, "{v}");
    assert_eq!(v["error"]["code"], "REPLAYED");
    assert_eq!(
        counts(&app, org).await,
        after_first,
        "a replay wrote something"
    );
}

#[tokio::test]
async fn another_organization_and_missing_credentials_and_roles_and_invalid_input() {
    let app = TestApp::spawn().await;
    let (org, ada) = admin(&app).await;
    let (id, path, secret) = hook(&app, &ada, "Form").await;
    let (eve_org, eve) = admin(&app).await;
    let v = app
        .gql(
            Some(&eve.token),
            "mutation($id: ID!) { deleteIncomingWebhook(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = ok(
        &app,
        &eve.token,
        "{ incomingWebhooks { nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(v["incomingWebhooks"]["nodes"], json!([]));
    // The hook's leads go to its own organization only.
    let (status, _) = signed(&app, &path, &secret, &json!({"email": "c@example.com"})).await;
    assert_eq!(status, 201);
    assert_eq!(counts(&app, org).await.0, 1);
    assert_eq!(counts(&app, eve_org).await.0, 0);
    let v = app
        .gql(None, "{ incomingWebhooks { nodes { id } } }", json!({}))
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let mgr = member(&app, org, Role::Manager, "Max").await;
    for q in [
        "{ incomingWebhooks { nodes { id } } }",
        "mutation { createIncomingWebhook(input: {name: \"x\"}) { secret } }",
    ] {
        let v = app.gql(Some(&mgr.token), q, json!({})).await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "{q}: {v}");
    }
    let tags: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let v = app
        .gql(
            Some(&ada.token),
            CREATE,
            json!({"i": {"name": " ", "defaultTags": tags}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["name", "defaultTags"]);
    // Deleted: its URL answers 404.
    ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { deleteIncomingWebhook(id: $id) }",
        json!({"id": id}),
    )
    .await;
    let (status, _) = signed(&app, &path, &secret, &json!({"email": "d@example.com"})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_list_costs_the_same_statements_at_any_page_size() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let (_, ada) = admin(&app).await;
    for i in 0..12 {
        hook(&app, &ada, &format!("Form {i}")).await;
    }
    let q = "query($n: Int) { incomingWebhooks(first: $n) { nodes { id name url defaultTags enabled lastReceivedAt createdAt } } }";
    let mut counts = Vec::new();
    for n in [3, 10] {
        app.state.sql_log.take();
        let v = ok(&app, &ada.token, q, json!({"n": n})).await;
        assert_eq!(v["incomingWebhooks"]["nodes"].as_array().unwrap().len(), n);
        counts.push(app.request_statements().len());
    }
    assert_eq!(counts[0], counts[1]);
}
