//! `testIntegration(id)` against the local fakes: n8n (`GET /api/v1/workflows?limit=1` with
//! `X-N8N-API-KEY`, tests/api/workflows.rs) and Slack (incoming-webhook POST,
//! tests/api/integrations.rs). A pass and a failure are both recorded on the integration
//! (`lastTestedAt`, `lastSuccessAt` / `lastError`); the key and the Slack URL are in no answer;
//! ADMIN only; another organization's integration is NOT_FOUND and is not called.

use leadgraph::auth::Role;
use serde_json::{json, Value};

use crate::{
    fixtures::{member, ok, Person},
    helpers::{code, host_of, Options, TestApp},
    integrations::{fake_slack, slack},
    workflows::{admin, configure, fake_n8n, N8N_KEY},
};

const TEST: &str = "mutation($id: ID!) { testIntegration(id: $id) { ok statusCode error integration { id kind lastTestedAt lastSuccessAt lastError lastErrorAt } } }";

/// An app whose guarded client may reach both fakes.
async fn app_for(n8n: &str, slack: &str) -> TestApp {
    TestApp::spawn_with(Options::allowing(&[host_of(n8n), host_of(slack)])).await
}

async fn test(app: &TestApp, who: &Person, id: &str) -> Value {
    let v = ok(app, &who.token, TEST, json!({"id": id})).await;
    v["testIntegration"].clone()
}

#[tokio::test]
async fn a_live_call_per_kind_is_recorded_on_the_integration() {
    let (n8n, n8n_base) = fake_n8n().await;
    let (hooks, slack_base) = fake_slack().await;
    let app = app_for(&n8n_base, &slack_base).await;
    let (_, ada) = admin(&app).await;

    // n8n: one workflow listed with the key; recorded as a success.
    let id = configure(&app, &ada, &n8n_base, N8N_KEY).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = test(&app, &ada, &id).await;
    assert_eq!(
        (r["ok"].as_bool(), r["statusCode"].as_i64()),
        (Some(true), Some(200)),
        "{r}"
    );
    assert!(r["error"].is_null());
    let i = &r["integration"];
    assert!(
        i["lastTestedAt"].is_string() && i["lastSuccessAt"].is_string(),
        "{i}"
    );
    assert!(i["lastError"].is_null());
    assert_eq!(n8n.calls("GET /workflows"), 1);
    assert_eq!(n8n.0.lock().unwrap().refused, 0);

    // A wrong key: the failure is the answer and is recorded; the key is not shown.
    let wrong = "n8n-wrong-KEY-0099";
    configure(&app, &ada, &n8n_base, wrong).await;
    let r = test(&app, &ada, &id).await;
    assert_eq!(
        (r["ok"].as_bool(), r["statusCode"].as_i64()),
        (Some(false), Some(401)),
        "{r}"
    );
    assert_eq!(r["error"], "n8n refused the API key (HTTP 401)");
    assert_eq!(r["integration"]["lastError"], r["error"]);
    assert!(r["integration"]["lastErrorAt"].is_string());
    assert_eq!(n8n.0.lock().unwrap().refused, 1);
    assert!(!r.to_string().contains(wrong) && !r.to_string().contains(N8N_KEY));

    // Slack: a test message in Slack's format reaches the channel.
    let secret = "xoxProbeHookPart0001";
    let sid = slack(&app, &ada, &slack_base, secret).await;
    let r = test(&app, &ada, &sid).await;
    assert_eq!(
        (r["ok"].as_bool(), r["statusCode"].as_i64()),
        (Some(true), Some(200)),
        "{r}"
    );
    assert_eq!(r["integration"]["kind"], "SLACK");
    let posted = hooks.0.lock().unwrap().clone();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].0, secret);
    assert!(posted[0].1["text"]
        .as_str()
        .unwrap()
        .contains("test message"));

    // A dead Slack webhook: Slack's code, recorded, without the URL.
    let dead = "deadProbeHookPart0002";
    let did = slack(&app, &ada, &slack_base, dead).await;
    let r = test(&app, &ada, &did).await;
    assert_eq!(
        (r["ok"].as_bool(), r["statusCode"].as_i64()),
        (Some(false), Some(404)),
        "{r}"
    );
    assert_eq!(
        r["error"],
        "Slack refused the message: no_service (HTTP 404)"
    );
    assert_eq!(r["integration"]["lastError"], r["error"]);
    assert!(r["integration"]["lastTestedAt"].is_string());
    assert!(!r.to_string().contains(dead));
    assert_eq!(hooks.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn only_admins_of_the_organization_test_it() {
    let (n8n, n8n_base) = fake_n8n().await;
    let (hooks, slack_base) = fake_slack().await;
    let app = app_for(&n8n_base, &slack_base).await;
    let (org, ada) = admin(&app).await;
    let id = configure(&app, &ada, &n8n_base, N8N_KEY).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sid = slack(&app, &ada, &slack_base, "xoxProbeHookPart0003").await;

    let mia = member(&app, org, Role::Member, "Mia").await;
    let vic = member(&app, org, Role::Viewer, "Vic").await;
    let (_, eve) = admin(&app).await;
    for target in [&id, &sid] {
        let v = app.gql(Some(&mia.token), TEST, json!({"id": target})).await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
        let v = app.gql(Some(&vic.token), TEST, json!({"id": target})).await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
        let v = app.gql(Some(&eve.token), TEST, json!({"id": target})).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
        let v = app.gql(None, TEST, json!({"id": target})).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    }
    let v = app.gql(Some(&ada.token), TEST, json!({"id": "nope"})).await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    // Nothing was called, and nothing was recorded as tested.
    assert_eq!(n8n.calls("GET /workflows"), 0);
    assert!(hooks.0.lock().unwrap().is_empty());
    let v = ok(
        &app,
        &ada.token,
        "{ integrations { id lastSuccessAt lastError } }",
        json!({}),
    )
    .await;
    for i in v["integrations"].as_array().unwrap() {
        assert!(
            i["lastSuccessAt"].is_null() && i["lastError"].is_null(),
            "{i}"
        );
    }
}
