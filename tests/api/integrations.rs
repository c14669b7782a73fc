//! Slack incoming webhooks against a local fake Slack (axum on loopback) that answers like
//! Slack: `200 ok`, `400 invalid_blocks` / `invalid_payload` for a bad message, `404
//! no_service` for a dead webhook; and the `integrations` status list (SMTP, n8n, Slack,
//! webhooks) with its statement count. The webhook URL (the credential) is in no answer.

use std::sync::{Arc, Mutex};

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
    Router,
};
use leadgraph::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, member, ok, org_named, Person},
    helpers::{code, host_of, Options, TestApp},
};

#[derive(Clone, Default)]
pub(crate) struct FakeSlack(pub Arc<Mutex<Vec<(String, Value)>>>);

/// `POST /services/{team}/{bot}/{secret}` like Slack's incoming webhooks.
async fn hook(
    State(f): State<FakeSlack>,
    Path((_, _, secret)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    if secret.starts_with("dead") {
        return (StatusCode::NOT_FOUND, "no_service").into_response();
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "invalid_payload").into_response();
    };
    if v["text"].as_str().is_none() && v["blocks"].as_array().is_none() {
        return (StatusCode::BAD_REQUEST, "no_text").into_response();
    }
    if v["blocks"]
        .as_array()
        .is_some_and(|b| b.iter().any(|b| b["type"].as_str().is_none()))
    {
        return (StatusCode::BAD_REQUEST, "invalid_blocks").into_response();
    }
    f.0.lock().unwrap().push((secret, v));
    (StatusCode::OK, "ok").into_response()
}

pub(crate) async fn fake_slack() -> (FakeSlack, String) {
    let f = FakeSlack::default();
    let app = Router::new()
        .route("/services/{team}/{bot}/{secret}", post(hook))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (f, format!("http://{addr}"))
}

async fn app_for(base: &str, env: &[(&str, &str)]) -> TestApp {
    let mut opts = Options::allowing(&[host_of(base)]);
    opts.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TestApp::spawn_with(opts).await
}

async fn admin(app: &TestApp) -> (Uuid, Person) {
    let org = org_named(app, &format!("Slack {}", Uuid::now_v7().simple())).await;
    (org, member(app, org, Role::Admin, "Ada").await)
}

const CREATE: &str = "mutation($i: CreateSlackIntegrationInput!) { createSlackIntegration(input: $i) { id kind name baseUrl secretConfigured lastSuccessAt lastError lastErrorAt createdAt updatedAt } }";
const SEND: &str =
    "mutation($i: SendSlackMessageInput!) { sendSlackMessage(input: $i) { ok statusCode } }";
const STATUS: &str = "{ integrations { kind id name configured lastSuccessAt lastError } }";

/// Adds a Slack integration posting to `…/services/T1/B1/{secret}`: its id.
pub(crate) async fn slack(app: &TestApp, who: &Person, base: &str, secret: &str) -> String {
    let url = format!("{base}/services/T1/B1/{secret}");
    let v = ok(
        app,
        &who.token,
        CREATE,
        json!({"i": {"name": "#sales", "webhookUrl": url}}),
    )
    .await;
    assert!(!v.to_string().contains(secret), "the URL came back: {v}");
    assert_eq!(v["createSlackIntegration"]["kind"], "SLACK");
    v["createSlackIntegration"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn entry<'a>(v: &'a Value, kind: &str) -> Vec<&'a Value> {
    v["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == kind)
        .collect()
}

#[tokio::test]
async fn a_message_is_posted_in_slacks_format_and_the_status_lists_every_integration() {
    let (fake, base) = fake_slack().await;
    let app = app_for(&base, &[]).await;
    let (org, ada) = admin(&app).await;
    let secret = "xoxSecretHookPart0001";
    let id = slack(&app, &ada, &base, secret).await;
    let mia = member(&app, org, Role::Member, "Mia").await;
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "*New lead*"}}]);
    let v = ok(
        &app,
        &mia.token,
        SEND,
        json!({"i": {"integrationId": id, "text": "New lead", "blocks": blocks}}),
    )
    .await;
    assert_eq!(
        v["sendSlackMessage"],
        json!({"ok": true, "statusCode": 200})
    );
    let got = fake.0.lock().unwrap().clone();
    assert_eq!(
        got,
        vec![(
            secret.to_string(),
            json!({"text": "New lead", "blocks": blocks})
        )]
    );

    let s = ok(&app, &ada.token, STATUS, json!({})).await;
    assert!(!s.to_string().contains(secret));
    let kinds: Vec<&str> = s["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["SMTP", "N8N", "SLACK", "WEBHOOKS"]);
    let sl = entry(&s, "SLACK")[0];
    assert_eq!(sl["id"], id.as_str());
    assert_eq!(sl["configured"], true);
    assert!(sl["lastSuccessAt"].is_string(), "{sl}");
    assert_eq!(entry(&s, "N8N")[0]["configured"], false);
    assert_eq!(entry(&s, "WEBHOOKS")[0]["configured"], false);
    // The URL is stored sealed.
    let rows = stored_secrets(&app, org).await;
    assert_eq!(rows.len(), 1);
    assert!(rows.iter().all(|r| !r.contains(secret)));
}

/// The stored (sealed) secrets of `org`'s integrations.
async fn stored_secrets(app: &TestApp, org: Uuid) -> Vec<String> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::integration::Entity::find()
        .filter(entity::integration::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.secret)
        .collect()
}

#[tokio::test]
async fn slacks_refusals_are_clear_errors_and_recorded() {
    let (fake, base) = fake_slack().await;
    let app = app_for(&base, &[]).await;
    let (_, ada) = admin(&app).await;
    let id = slack(&app, &ada, &base, "live0001").await;
    // A block without a type: Slack's invalid_blocks is the message's fault.
    let v = app
        .gql(
            Some(&ada.token),
            SEND,
            json!({"i": {"integrationId": id, "blocks": [{"text": "no type"}]}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.blocks"]);
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("invalid_blocks"),
        "{v}"
    );
    // A dead webhook: no_service.
    let dead = slack(&app, &ada, &base, "dead0001").await;
    let v = app
        .gql(
            Some(&ada.token),
            SEND,
            json!({"i": {"integrationId": dead, "text": "hi"}}),
        )
        .await;
    assert_eq!(code(&v), Some("SERVICE_UNAVAILABLE"), "{v}");
    let msg = v["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("no_service") && msg.contains("404"), "{msg}");
    assert!(fake.0.lock().unwrap().is_empty());
    let s = ok(&app, &ada.token, STATUS, json!({})).await;
    let dead_entry = entry(&s, "SLACK")
        .into_iter()
        .find(|i| i["id"] == dead.as_str())
        .unwrap()
        .clone();
    assert!(
        dead_entry["lastError"]
            .as_str()
            .unwrap()
            .contains("no_service"),
        "{dead_entry}"
    );
    assert!(dead_entry["lastSuccessAt"].is_null());
}

#[tokio::test]
async fn isolation_credentials_roles_and_invalid_input() {
    let (fake, base) = fake_slack().await;
    let app = app_for(&base, &[]).await;
    let (org, ada) = admin(&app).await;
    let id = slack(&app, &ada, &base, "mine0001").await;
    let (_, eve) = admin(&app).await;
    for (q, vars) in [
        (SEND, json!({"i": {"integrationId": id, "text": "hi"}})),
        (
            "mutation($id: ID!) { deleteIntegration(id: $id) }",
            json!({"id": id}),
        ),
    ] {
        let v = app.gql(Some(&eve.token), q, vars).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
    }
    let s = ok(&app, &eve.token, STATUS, json!({})).await;
    assert!(entry(&s, "SLACK").is_empty());
    for (q, vars) in [
        (SEND, json!({"i": {"integrationId": id, "text": "hi"}})),
        (STATUS, json!({})),
    ] {
        let v = app.gql(None, q, vars).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{q}: {v}");
    }
    let vic = member(&app, org, Role::Viewer, "Vic").await;
    let v = app
        .gql(
            Some(&vic.token),
            SEND,
            json!({"i": {"integrationId": id, "text": "hi"}}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let mia = member(&app, org, Role::Member, "Mia").await;
    let v = app
        .gql(
            Some(&mia.token),
            CREATE,
            json!({"i": {"name": "x", "webhookUrl": format!("{base}/services/a/b/c")}}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    // Invalid input; nothing reaches Slack.
    for (input, fields) in [
        (json!({"integrationId": id}), vec!["input.text"]),
        (
            json!({"integrationId": id, "text": "x", "blocks": {"type": "section"}}),
            vec!["input.blocks"],
        ),
        (
            json!({"integrationId": id, "blocks": [1]}),
            vec!["input.blocks"],
        ),
    ] {
        let v = app.gql(Some(&mia.token), SEND, json!({"i": input})).await;
        assert_eq!(field_errors(&v), fields, "{v}");
    }
    for url in [
        "ftp://hooks.example.com/x",
        "http://127.0.0.1:9/services/a/b/c",
    ] {
        let v = app
            .gql(
                Some(&ada.token),
                CREATE,
                json!({"i": {"name": " ", "webhookUrl": url}}),
            )
            .await;
        assert_eq!(
            field_errors(&v),
            ["input.name", "input.webhookUrl"],
            "{url}: {v}"
        );
    }
    assert!(fake.0.lock().unwrap().is_empty());
    // Unknown ids; deletion.
    let v = app
        .gql(
            Some(&mia.token),
            SEND,
            json!({"i": {"integrationId": Uuid::now_v7().to_string(), "text": "x"}}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { deleteIntegration(id: $id) }",
        json!({"id": id}),
    )
    .await;
    let v = app
        .gql(
            Some(&mia.token),
            SEND,
            json!({"i": {"integrationId": id, "text": "x"}}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
}

#[tokio::test]
async fn the_status_list_costs_the_same_statements_whatever_the_number_of_integrations() {
    let (_, base) = fake_slack().await;
    let app = app_for(&base, &[("RECORD_SQL", "true")]).await;
    let (_, ada) = admin(&app).await;
    let mut counts = Vec::new();
    for n in [1, 6] {
        while entry(&ok(&app, &ada.token, STATUS, json!({})).await, "SLACK").len() < n {
            slack(&app, &ada, &base, &format!("s{}", Uuid::now_v7().simple())).await;
        }
        app.state.sql_log.take();
        let v = ok(&app, &ada.token, STATUS, json!({})).await;
        assert_eq!(entry(&v, "SLACK").len(), n);
        counts.push(app.request_statements().len());
    }
    assert_eq!(counts[0], counts[1]);
}
