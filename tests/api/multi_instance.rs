//! Two application instances on one Postgres + Redis: an event committed through one reaches a
//! subscriber connected to the other. Runs only in the production run (TEST_POSTGRES_URL and
//! TEST_REDIS_URL set): `#[ignore]`d and named `pg_only_…`, so the embedded run lists them as
//! ignored (see `helpers::require_postgres`).

use std::time::Duration;

use leadgraph::{
    auth::Role,
    jobs::{queue, NewJob},
};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Options, TestApp};

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL and TEST_REDIS_URL"]
async fn pg_only_an_event_from_instance_a_reaches_a_subscriber_on_instance_b() {
    crate::helpers::require_postgres_and_redis();
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_with(Options {
        db_url: Some(a.db_url.clone()),
        ..Default::default()
    })
    .await;
    let org = Uuid::now_v7();
    let mut sub = b.ws("graphql-transport-ws").await;
    sub.init(&b.token(org, Role::Viewer).await).await;
    sub.send(json!({"type": "subscribe", "id": "e", "payload": {"query": "subscription { events { id type data } }"}})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let job = queue::enqueue(
        &a.state.db,
        NewJob {
            org_id: Some(org),
            ..NewJob::new("k", json!({}))
        },
    )
    .await
    .unwrap();
    a.state.events_committed();
    let v = a
        .gql(
            Some(&a.token(org, Role::Manager).await),
            "mutation($id: ID!) { cancelJob(id: $id) { state } }",
            json!({"id": job.id.to_string()}),
        )
        .await;
    assert_eq!(v["data"]["cancelJob"]["state"], "CANCELLED", "{v}");

    let mut states = Vec::new();
    for _ in 0..2 {
        let m = sub.next_json(5).await;
        assert_eq!(
            m["payload"]["data"]["events"]["data"]["jobId"],
            job.id.to_string()
        );
        states.push(
            m["payload"]["data"]["events"]["data"]["state"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // Each event exactly once, in order, although both instances run a relay.
    assert_eq!(states, ["queued", "cancelled"]);
    if let Some(crate::helpers::Frame::Json(v)) = sub.next_frame(1).await {
        assert_eq!(v["type"], "ping", "duplicate delivery: {v}");
    }
}

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL and TEST_REDIS_URL"]
async fn pg_only_rate_limits_are_shared_across_instances_through_redis() {
    crate::helpers::require_postgres_and_redis();
    // 5 a minute: a token comes back every 12 s, far longer than the six attempts take even on
    // a loaded machine (at 20 a minute, 3 s, a slow run saw a refill and a flaky pass).
    let limit = || {
        std::collections::HashMap::from([(
            "RATE_LIMIT_LOGIN_PER_MINUTE".to_string(),
            "5".to_string(),
        )])
    };
    let a = TestApp::spawn_with(Options {
        env: limit(),
        ..Default::default()
    })
    .await;
    let b = TestApp::spawn_with(Options {
        db_url: Some(a.db_url.clone()),
        env: limit(),
        ..Default::default()
    })
    .await;
    // Both instances see the same client (127.0.0.1) and, being one deployment on one
    // database, use the same rate-limit namespace (helpers.rs).
    let login = |app: &TestApp| {
        app.http
            .post(app.url("/graphql"))
            .json(&json!({"query": "mutation { login(input: {email: \"n@example.com\", password: \"wrong password!\"}) { accessToken } }"}))
            .send()
    };
    for i in 0..5 {
        let app = if i % 2 == 0 { &a } else { &b };
        let v: serde_json::Value = login(app).await.unwrap().json().await.unwrap();
        assert_eq!(
            crate::helpers::code(&v),
            Some("UNAUTHENTICATED"),
            "attempt {i}"
        );
    }
    let v: serde_json::Value = login(&b).await.unwrap().json().await.unwrap();
    assert_eq!(crate::helpers::code(&v), Some("RATE_LIMITED"));
}
