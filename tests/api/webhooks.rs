//! Outgoing webhooks: a receiver written from the Standard Webhooks spec (below, with the
//! `hmac`/`sha2`/`base64` crates only, not the server's signer) verifies every delivery; a
//! tampered body fails; a rotated secret verifies with either key; 503, 503, 200 gives one
//! success after two recorded failures with growing delays (the retry schedule is a config
//! knob); 4xx is never retried and a failing endpoint is disabled with its creator notified;
//! ordered endpoints deliver in event order; loopback endpoints need the exact address opened;
//! another organization, no credentials, roles, invalid input, and the statement counts of the
//! lists.

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hmac::{Hmac, Mac};
use leadgraph::auth::Role;
use serde_json::{json, Value};
use sha2::Sha256;
use uuid::Uuid;
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, Request, ResponseTemplate,
};

use crate::{
    fixtures::{field_errors, member, ok, org_named, Person},
    helpers::{code, host_of, Options, TestApp},
};

const CREATE: &str = "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret endpoint { id url eventTypes enabled ordered } } }";
const DELIVERIES: &str = "query($e: ID!, $f: WebhookDeliveryFilter, $n: Int) { webhookDeliveries(endpointId: $e, filter: $f, first: $n) { nodes { id messageId eventType status requestBody attemptCount lastStatusCode attempts { attempt requestHeaders responseStatus responseBodyExcerpt error durationMs attemptedAt } } } }";
const CREATE_LEAD: &str = "mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }";

/// Verifies a request as a receiver following the spec would: `webhook-id`,
/// `webhook-timestamp` (within 5 minutes), and any `v1,` signature in `webhook-signature` equal
/// (constant time) to HMAC-SHA256 under the base64-decoded part of `whsec_…` over
/// `id.timestamp.body`.
fn verify(secret: &str, req: &Request, body: &[u8]) -> bool {
    let header = |name: &str| {
        req.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (id, ts, sigs) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let Ok(ts_secs) = ts.parse::<i64>() else {
        return false;
    };
    if (chrono::Utc::now().timestamp() - ts_secs).abs() > 300 {
        return false;
    }
    let key = B64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .unwrap();
    sigs.split(' ').any(|s| {
        let Some(("v1", sig)) = s.split_once(',') else {
            return false;
        };
        let Ok(sig) = B64.decode(sig) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&sig).is_ok()
    })
}

/// A receiver answering `statuses` in turn (the last one forever after).
async fn receiver(statuses: &[u16]) -> MockServer {
    let server = MockServer::start().await;
    let (last, first) = statuses.split_last().unwrap();
    for (i, s) in first.iter().enumerate() {
        Mock::given(method("POST"))
            .and(path("/hook"))
            .respond_with(ResponseTemplate::new(*s).set_body_string(format!("answer {i}")))
            .up_to_n_times(1)
            .with_priority(u8::try_from(i + 1).unwrap())
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(*last).set_body_string("ok"))
        .with_priority(100)
        .mount(&server)
        .await;
    server
}

/// An app whose outbound client may reach `server` (and nothing else private), with `env`.
async fn app_for(server: &MockServer, env: &[(&str, &str)]) -> TestApp {
    let mut opts = Options::allowing(&[host_of(&server.uri())]);
    opts.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    TestApp::spawn_with(opts).await
}

async fn admin(app: &TestApp) -> (Uuid, Person) {
    let org = org_named(app, &format!("Hooks {}", Uuid::now_v7().simple())).await;
    (org, member(app, org, Role::Admin, "Ada").await)
}

/// Creates an endpoint on `server` for `types`: `(endpoint id, secret)`.
async fn endpoint(
    app: &TestApp,
    who: &Person,
    server: &MockServer,
    types: Value,
) -> (String, String) {
    let v = ok(
        app,
        &who.token,
        CREATE,
        json!({"i": {"url": format!("{}/hook", server.uri()), "description": "CRM",
                     "eventTypes": types}}),
    )
    .await;
    let p = &v["createWebhookEndpoint"];
    (
        p["endpoint"]["id"].as_str().unwrap().to_string(),
        p["secret"].as_str().unwrap().to_string(),
    )
}

async fn create_lead(app: &TestApp, who: &Person, email: &str) -> String {
    ok(app, &who.token, CREATE_LEAD, json!({"i": {"email": email}})).await["createLead"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits until `server` has received `n` requests; returns them.
async fn requests(server: &MockServer, n: usize) -> Vec<Request> {
    for _ in 0..200 {
        let got = server.received_requests().await.unwrap();
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the receiver did not get {n} requests");
}

/// Waits until the endpoint's newest delivery has `status`; returns it.
async fn delivery_with(app: &TestApp, who: &Person, ep: &str, status: &str) -> Value {
    for _ in 0..200 {
        let v = ok(app, &who.token, DELIVERIES, json!({"e": ep, "n": 1})).await;
        let d = v["webhookDeliveries"]["nodes"][0].clone();
        if d["status"] == status {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no delivery reached {status}");
}

#[tokio::test]
async fn deliveries_are_signed_per_the_spec_and_a_tampered_body_fails() {
    let server = receiver(&[200]).await;
    let app = app_for(&server, &[]).await;
    let (_, ada) = admin(&app).await;
    let (ep, secret) = endpoint(&app, &ada, &server, json!(["LEAD_CREATED"])).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let lead = create_lead(&app, &ada, "signed@example.com").await;
    let got = requests(&server, 1).await;
    let req = &got[0];
    assert!(verify(&secret, req, &req.body), "a valid delivery verifies");
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["type"], "lead.created");
    assert_eq!(body["data"]["leadId"], lead);
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    let tampered = String::from_utf8(req.body.clone())
        .unwrap()
        .replace("lead.created", "lead.deleted");
    assert!(!verify(&secret, req, tampered.as_bytes()), "tampered body");
    assert!(!verify(
        &format!("whsec_{}", B64.encode([7u8; 32])),
        req,
        &req.body
    ));
    let d = delivery_with(&app, &ada, &ep, "SUCCEEDED").await;
    assert_eq!(d["attemptCount"], 1);
    assert_eq!(d["messageId"], req.headers["webhook-id"].to_str().unwrap());
    assert_eq!(d["requestBody"].as_str().unwrap().as_bytes(), &req.body[..]);
    let a = &d["attempts"][0];
    assert_eq!(a["responseStatus"], 200);
    assert_eq!(a["responseBodyExcerpt"], "ok");
    assert_eq!(
        a["requestHeaders"]["webhook-signature"],
        req.headers["webhook-signature"].to_str().unwrap()
    );
    // The stats count the one delivery.
    let stats = ok(
        &app,
        &ada.token,
        "query($e: ID!) { webhookStats(endpointId: $e) { total succeeded failed pending successRate attempts averageDurationMs lastSuccessAt } }",
        json!({"e": ep}),
    )
    .await["webhookStats"]
        .clone();
    assert_eq!(stats["total"], 1, "{stats}");
    assert_eq!(stats["succeeded"], 1);
    assert_eq!(stats["successRate"], 1.0);
    assert_eq!(stats["attempts"], 1);
    assert!(!stats["lastSuccessAt"].is_null());
}

#[tokio::test]
async fn a_rotated_secret_verifies_with_either_key() {
    let server = receiver(&[200]).await;
    let app = app_for(&server, &[]).await;
    let (_, ada) = admin(&app).await;
    let (ep, old) = endpoint(&app, &ada, &server, json!(["LEAD_CREATED"])).await;
    let v = ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { previousSecretExpiresAt } } }",
        json!({"id": ep}),
    )
    .await;
    let new = v["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new, old);
    assert!(!v["rotateWebhookSecret"]["endpoint"]["previousSecretExpiresAt"].is_null());
    create_lead(&app, &ada, "rotated@example.com").await;
    let req = requests(&server, 1).await.remove(0);
    let sigs = req.headers["webhook-signature"].to_str().unwrap();
    assert_eq!(sigs.split(' ').count(), 2, "{sigs}");
    assert!(verify(&new, &req, &req.body), "new key");
    assert!(verify(&old, &req, &req.body), "old key");
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_event_once_as_a_success_after_growing_delays() {
    let server = receiver(&[503, 503, 200]).await;
    let app = app_for(&server, &[("WEBHOOK_RETRY_SCHEDULE_MS", "200,1500")]).await;
    let (_, ada) = admin(&app).await;
    let (ep, secret) = endpoint(&app, &ada, &server, json!(["LEAD_CREATED"])).await;
    create_lead(&app, &ada, "retried@example.com").await;
    let d = delivery_with(&app, &ada, &ep, "SUCCEEDED").await;
    let got = server.received_requests().await.unwrap();
    assert_eq!(got.len(), 3, "two failures and one success");
    let ids: Vec<&str> = got
        .iter()
        .map(|r| r.headers["webhook-id"].to_str().unwrap())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "one webhook-id: {ids:?}");
    assert!(got.iter().all(|r| verify(&secret, r, &r.body)));
    let attempts = d["attempts"].as_array().unwrap();
    let statuses: Vec<i64> = attempts
        .iter()
        .map(|a| a["responseStatus"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [503, 503, 200]);
    let at: Vec<chrono::DateTime<chrono::Utc>> = attempts
        .iter()
        .map(|a| a["attemptedAt"].as_str().unwrap().parse().unwrap())
        .collect();
    let (first, second) = (at[1] - at[0], at[2] - at[1]);
    assert!(first >= chrono::Duration::milliseconds(200), "{first}");
    assert!(second >= chrono::Duration::milliseconds(1500), "{second}");
    assert!(second > first, "growing delays: {first} then {second}");
}

#[tokio::test]
async fn a_4xx_is_never_retried_and_a_failing_endpoint_is_disabled_and_its_owner_told() {
    let server = receiver(&[400]).await;
    let app = app_for(
        &server,
        &[
            ("WEBHOOK_RETRY_SCHEDULE_MS", "100"),
            ("WEBHOOK_DISABLE_AFTER_SECS", "0"),
        ],
    )
    .await;
    let (_, ada) = admin(&app).await;
    let (ep, _) = endpoint(&app, &ada, &server, json!(["LEAD_CREATED"])).await;
    create_lead(&app, &ada, "refused@example.com").await;
    let d = delivery_with(&app, &ada, &ep, "FAILED").await;
    assert_eq!(d["attemptCount"], 1, "{d}");
    assert_eq!(d["lastStatusCode"], 400);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "no retry"
    );
    let e = ok(
        &app,
        &ada.token,
        "query($id: ID!) { webhookEndpoint(id: $id) { enabled disabledReason failingSince } }",
        json!({"id": ep}),
    )
    .await["webhookEndpoint"]
        .clone();
    assert_eq!(e["enabled"], false, "{e}");
    assert!(
        e["disabledReason"].as_str().unwrap().contains("failed"),
        "{e}"
    );
    let n = ok(
        &app,
        &ada.token,
        "{ notifications { nodes { title resourceType resourceId } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        n["notifications"]["nodes"][0],
        json!({"title": "Webhook endpoint disabled", "resourceType": "webhook_endpoint", "resourceId": ep}),
        "{n}"
    );
    // Disabled: no new deliveries. Enabling again clears the streak.
    create_lead(&app, &ada, "while-disabled@example.com").await;
    let v = ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { toggleWebhookEndpoint(id: $id) { enabled disabledReason failingSince } }",
        json!({"id": ep}),
    )
    .await;
    assert_eq!(
        v["toggleWebhookEndpoint"],
        json!({"enabled": true, "disabledReason": null, "failingSince": null})
    );
    let all = ok(&app, &ada.token, DELIVERIES, json!({"e": ep})).await;
    assert_eq!(
        all["webhookDeliveries"]["nodes"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn an_ordered_endpoint_delivers_in_event_order() {
    let server = receiver(&[503, 200]).await;
    let app = app_for(&server, &[("WEBHOOK_RETRY_SCHEDULE_MS", "300")]).await;
    let (_, ada) = admin(&app).await;
    let v = ok(
        &app,
        &ada.token,
        CREATE,
        json!({"i": {"url": format!("{}/hook", server.uri()),
                     "eventTypes": ["LEAD_CREATED"], "ordered": true}}),
    )
    .await;
    assert_eq!(v["createWebhookEndpoint"]["endpoint"]["ordered"], true);
    let mut leads = Vec::new();
    for i in 0..3 {
        leads.push(create_lead(&app, &ada, &format!("ordered{i}@example.com")).await);
    }
    let got = requests(&server, 4).await;
    let order: Vec<String> = got
        .iter()
        .map(|r| {
            let b: Value = serde_json::from_slice(&r.body).unwrap();
            b["data"]["leadId"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(
        order,
        [&leads[0], &leads[0], &leads[1], &leads[2]].map(String::clone),
        "the first is retried before the others go"
    );
}

#[tokio::test]
async fn test_sends_answer_with_the_response_and_redelivery_keeps_the_webhook_id() {
    let server = receiver(&[200]).await;
    let app = app_for(&server, &[]).await;
    let (_, ada) = admin(&app).await;
    let (ep, secret) = endpoint(&app, &ada, &server, json!(["LEAD_CREATED"])).await;
    let v = ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { testWebhookEndpoint(id: $id, eventType: CAMPAIGN_STATUS) { success statusCode responseBody error durationMs delivery { id eventType status attemptCount } } }",
        json!({"id": ep}),
    )
    .await["testWebhookEndpoint"]
        .clone();
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(v["statusCode"], 200);
    assert_eq!(v["responseBody"], "ok");
    assert_eq!(v["delivery"]["eventType"], "campaign.status");
    assert_eq!(v["delivery"]["status"], "SUCCEEDED");
    let req = requests(&server, 1).await.remove(0);
    assert!(verify(&secret, &req, &req.body));
    let id = v["delivery"]["id"].as_str().unwrap();
    let r = ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id status } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(r["redeliverWebhook"]["status"], "PENDING");
    let got = requests(&server, 2).await;
    assert_eq!(got[1].headers["webhook-id"], got[0].headers["webhook-id"]);
    assert!(verify(&secret, &got[1], &got[1].body));
    let d = delivery_with(&app, &ada, &ep, "SUCCEEDED").await;
    assert_eq!(d["attemptCount"], 2, "{d}");
    // Filters.
    let f = ok(
        &app,
        &ada.token,
        DELIVERIES,
        json!({"e": ep, "f": {"status": "FAILED"}}),
    )
    .await;
    assert_eq!(f["webhookDeliveries"]["nodes"], json!([]));
    let f = ok(
        &app,
        &ada.token,
        DELIVERIES,
        json!({"e": ep, "f": {"eventType": "CAMPAIGN_STATUS", "status": "SUCCEEDED"}}),
    )
    .await;
    assert_eq!(f["webhookDeliveries"]["nodes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn loopback_endpoints_are_refused_unless_that_exact_address_is_opened() {
    let opened = receiver(&[200]).await;
    let closed = receiver(&[200]).await;
    let app = app_for(&opened, &[]).await;
    let (_, ada) = admin(&app).await;
    let v = app
        .gql(
            Some(&ada.token),
            CREATE,
            json!({"i": {"url": format!("{}/hook", closed.uri()), "eventTypes": ["LEAD_CREATED"]}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["url"], "{v}");
    for url in [
        "http://127.0.0.1/hook",
        "http://169.254.169.254/latest",
        "http://[::1]:80/",
    ] {
        let v = app
            .gql(
                Some(&ada.token),
                CREATE,
                json!({"i": {"url": url, "eventTypes": ["LEAD_CREATED"]}}),
            )
            .await;
        assert_eq!(field_errors(&v), ["url"], "{url}: {v}");
    }
    endpoint(&app, &ada, &opened, json!(["LEAD_CREATED"])).await;
    // An app that opened nothing refuses the same address.
    let plain = TestApp::spawn().await;
    let (_, bob) = admin(&plain).await;
    let v = plain
        .gql(
            Some(&bob.token),
            CREATE,
            json!({"i": {"url": format!("{}/hook", opened.uri()), "eventTypes": ["LEAD_CREATED"]}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["url"], "{v}");
}

#[tokio::test]
async fn invalid_input_names_the_field() {
    let server = receiver(&[200]).await;
    let app = app_for(&server, &[]).await;
    let (_, ada) = admin(&app).await;
    let url = format!("{}/hook", server.uri());
    let cases = [
        (
            json!({"url": "ftp://example.com/x", "eventTypes": ["LEAD_CREATED"]}),
            vec!["url"],
        ),
        (
            json!({"url": "not a url", "eventTypes": ["LEAD_CREATED"]}),
            vec!["url"],
        ),
        (json!({"url": url, "eventTypes": []}), vec!["eventTypes"]),
        (
            json!({"url": url, "eventTypes": ["NOTIFICATION_NEW"]}),
            vec!["eventTypes"],
        ),
        (
            json!({"url": "ftp://x", "eventTypes": [], "description": "d".repeat(501)}),
            vec!["url", "description", "eventTypes"],
        ),
    ];
    for (input, fields) in cases {
        let v = app.gql(Some(&ada.token), CREATE, json!({"i": input})).await;
        assert_eq!(field_errors(&v), fields, "{input}: {v}");
    }
    // An unknown event type is not a value of the enum.
    let v = app
        .gql(
            Some(&ada.token),
            CREATE,
            json!({"i": {"url": url, "eventTypes": ["LEAD_EXPLODED"]}}),
        )
        .await;
    assert!(v["data"].is_null(), "{v}");
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("LEAD_EXPLODED"),
        "{v}"
    );
    let (ep, _) = endpoint(&app, &ada, &server, json!(["LEAD_CREATED"])).await;
    let v = app
        .gql(
            Some(&ada.token),
            "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {url: \"gopher://x\"}) { id } }",
            json!({"id": ep}),
        )
        .await;
    assert_eq!(field_errors(&v), ["url"], "{v}");
    let v = ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {eventTypes: [LEAD_UPDATED, LEAD_DELETED], description: \"new\"}) { eventTypes description } }",
        json!({"id": ep}),
    )
    .await;
    assert_eq!(
        v["updateWebhookEndpoint"],
        json!({"eventTypes": ["LEAD_UPDATED", "LEAD_DELETED"], "description": "new"})
    );
}

#[tokio::test]
async fn another_organization_and_missing_credentials_and_roles() {
    let server = receiver(&[200]).await;
    let app = app_for(&server, &[]).await;
    let (org, ada) = admin(&app).await;
    let (ep, _) = endpoint(&app, &ada, &server, json!(["LEAD_CREATED"])).await;
    let test = ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { testWebhookEndpoint(id: $id, eventType: LEAD_CREATED) { delivery { id } } }",
        json!({"id": ep}),
    )
    .await;
    let delivery = test["testWebhookEndpoint"]["delivery"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, eve) = admin(&app).await;
    let missing = Uuid::now_v7().to_string();
    let by_id = [
        "query($id: ID!) { webhookDeliveries(endpointId: $id) { nodes { id } } }",
        "query($id: ID!) { webhookStats(endpointId: $id) { total } }",
        "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {description: \"x\"}) { id } }",
        "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }",
        "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
        "mutation($id: ID!) { toggleWebhookEndpoint(id: $id) { id } }",
        "mutation($id: ID!) { testWebhookEndpoint(id: $id, eventType: LEAD_CREATED) { success } }",
    ];
    for q in by_id {
        let theirs = app.gql(Some(&eve.token), q, json!({"id": ep})).await;
        let none = app.gql(Some(&eve.token), q, json!({"id": missing})).await;
        assert_eq!(code(&theirs), Some("NOT_FOUND"), "{q}: {theirs}");
        assert_eq!(
            theirs["errors"][0]["message"], none["errors"][0]["message"],
            "{q}"
        );
    }
    let v = app
        .gql(
            Some(&eve.token),
            "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id } }",
            json!({"id": delivery}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = ok(
        &app,
        &eve.token,
        "query($id: ID!) { webhookEndpoint(id: $id) { id } webhookEndpoints { nodes { id } } }",
        json!({"id": ep}),
    )
    .await;
    assert_eq!(
        v,
        json!({"webhookEndpoint": null, "webhookEndpoints": {"nodes": []}})
    );
    // Nothing of the first organization changed.
    let mine = ok(
        &app,
        &ada.token,
        "query($id: ID!) { webhookEndpoint(id: $id) { description enabled } }",
        json!({"id": ep}),
    )
    .await;
    assert_eq!(
        mine["webhookEndpoint"],
        json!({"description": "CRM", "enabled": true})
    );
    // No credentials; below ADMIN.
    let v = app
        .gql(None, "{ webhookEndpoints { nodes { id } } }", json!({}))
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let mgr = member(&app, org, Role::Manager, "Max").await;
    for q in [
        "{ webhookEndpoints { nodes { id } } }",
        "mutation { createWebhookEndpoint(input: {url: \"https://example.com/h\", eventTypes: [LEAD_CREATED]}) { secret } }",
    ] {
        let v = app.gql(Some(&mgr.token), q, json!({})).await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "{q}: {v}");
    }
}

#[tokio::test]
async fn lists_cost_the_same_statements_at_any_page_size() {
    let server = receiver(&[200]).await;
    let app = app_for(&server, &[("RECORD_SQL", "true")]).await;
    let (_, ada) = admin(&app).await;
    let mut ep = String::new();
    for _ in 0..12 {
        ep = endpoint(&app, &ada, &server, json!(["LEAD_CREATED", "LEAD_UPDATED"]))
            .await
            .0;
    }
    for _ in 0..12 {
        ok(
            &app,
            &ada.token,
            "mutation($id: ID!) { testWebhookEndpoint(id: $id, eventType: LEAD_UPDATED) { success } }",
            json!({"id": ep}),
        )
        .await;
    }
    let endpoints = "query($n: Int) { webhookEndpoints(first: $n) { nodes { id url description eventTypes enabled ordered disabledReason failingSince previousSecretExpiresAt createdAt updatedAt } } }";
    for (q, root, vars) in [
        (endpoints, "webhookEndpoints", json!({})),
        (DELIVERIES, "webhookDeliveries", json!({"e": ep})),
    ] {
        let mut counts = Vec::new();
        for n in [3, 10] {
            let mut vars = vars.clone();
            vars["n"] = json!(n);
            app.state.sql_log.take();
            let v = ok(&app, &ada.token, q, vars).await;
            assert_eq!(v[root]["nodes"].as_array().unwrap().len(), n, "{v}");
            counts.push(app.request_statements().len());
        }
        assert_eq!(counts[0], counts[1], "{root}: statements at first = 3 / 10");
    }
}
