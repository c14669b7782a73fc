//! WebSocket protocol exactness (graphql-ws PROTOCOL.md close codes) and live events.

use std::collections::HashMap;
use std::time::Duration;

use leadgraph::{
    auth::Role,
    jobs::{queue, NewJob},
};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{Frame, Options, TestApp};

const EVENTS: &str = "subscription($types: [EventType!], $after: ID) { events(types: $types, after: $after) { id type data } }";

#[tokio::test]
async fn close_codes_follow_the_protocol() {
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("WS_INIT_TIMEOUT_SECS".to_string(), "1".to_string())]),
        ..Default::default()
    })
    .await;
    let token = app.token(Uuid::now_v7(), Role::Member).await;

    // 4408: no connection_init within the timeout.
    let mut ws = app.ws("graphql-transport-ws").await;
    assert_eq!(ws.expect_close(5).await, 4408);

    // 4403: init rejected (bad token, and no token).
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send(json!({"type": "connection_init", "payload": {"authorization": "Bearer forged"}}))
        .await;
    assert_eq!(ws.expect_close(5).await, 4403);
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send(json!({"type": "connection_init"})).await;
    assert_eq!(ws.expect_close(5).await, 4403);

    // 4401: subscribe before ack.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send(json!({"type": "subscribe", "id": "1", "payload": {"query": EVENTS}}))
        .await;
    assert_eq!(ws.expect_close(5).await, 4401);

    // 4400: invalid message.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send_text("{not json").await;
    assert_eq!(ws.expect_close(5).await, 4400);
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&token).await;
    ws.send(json!({"type": "subscribe", "payload": {"query": EVENTS}}))
        .await;
    assert_eq!(ws.expect_close(5).await, 4400);

    // 4429: second init.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&token).await;
    ws.send(json!({"type": "connection_init"})).await;
    assert_eq!(ws.expect_close(5).await, 4429);

    // 4409: duplicate operation id; ping gets pong first.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&token).await;
    ws.send(json!({"type": "ping", "payload": {"x": 1}})).await;
    let pong = ws.next_json(5).await;
    assert_eq!(pong, json!({"type": "pong", "payload": {"x": 1}}));
    ws.send(json!({"type": "subscribe", "id": "a", "payload": {"query": EVENTS}}))
        .await;
    ws.send(json!({"type": "subscribe", "id": "a", "payload": {"query": EVENTS}}))
        .await;
    assert_eq!(ws.expect_close(5).await, 4409);
}

#[tokio::test]
async fn validation_errors_are_error_messages_and_queries_complete() {
    let app = TestApp::spawn().await;
    let token = app.token(Uuid::now_v7(), Role::Member).await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&token).await;
    ws.send(
        json!({"type": "subscribe", "id": "bad", "payload": {"query": "subscription { nope }"}}),
    )
    .await;
    let m = ws.next_json(5).await;
    assert_eq!(m["type"], "error");
    assert_eq!(m["id"], "bad");
    assert_eq!(
        m["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    // A query over the socket: one next, then complete.
    ws.send(json!({"type": "subscribe", "id": "q", "payload": {"query": "{ viewer { role } }"}}))
        .await;
    let m = ws.next_json(5).await;
    assert_eq!(
        (
            m["type"].as_str(),
            m["payload"]["data"]["viewer"]["role"].as_str()
        ),
        (Some("next"), Some("MEMBER"))
    );
    assert_eq!(
        ws.next_json(5).await,
        json!({"type": "complete", "id": "q"})
    );
}

#[tokio::test]
async fn events_reach_their_organization_only_and_replay_from_after() {
    let app = TestApp::spawn().await;
    let (org_a, org_b) = (Uuid::now_v7(), Uuid::now_v7());
    let manager_a = app.token(org_a, Role::Manager).await;
    let manager_b = app.token(org_b, Role::Manager).await;

    let mut sub_a = app.ws("graphql-transport-ws").await;
    sub_a.init(&app.token(org_a, Role::Viewer).await).await;
    sub_a
        .send(json!({"type": "subscribe", "id": "e", "payload": {"query": EVENTS}}))
        .await;
    let mut sub_b = app.ws("graphql-transport-ws").await;
    sub_b.init(&app.token(org_b, Role::Viewer).await).await;
    sub_b
        .send(json!({"type": "subscribe", "id": "e", "payload": {"query": EVENTS}}))
        .await;
    // Let both subscriptions attach to the bus.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let ja = queue::enqueue(
        &app.state.db,
        NewJob {
            org_id: Some(org_a),
            ..NewJob::new("k", json!({}))
        },
    )
    .await
    .unwrap();
    let jb = queue::enqueue(
        &app.state.db,
        NewJob {
            org_id: Some(org_b),
            ..NewJob::new("k", json!({}))
        },
    )
    .await
    .unwrap();
    app.state.events_committed();
    let cancel = "mutation($id: ID!) { cancelJob(id: $id) { state } }";
    app.gql(Some(&manager_a), cancel, json!({"id": ja.id.to_string()}))
        .await;
    app.gql(Some(&manager_b), cancel, json!({"id": jb.id.to_string()}))
        .await;

    let first = sub_a.next_json(5).await;
    assert_eq!(first["type"], "next");
    let ev = &first["payload"]["data"]["events"];
    assert_eq!(ev["type"], "JOB_UPDATED");
    assert_eq!(ev["data"]["jobId"], ja.id.to_string());
    assert_eq!(ev["data"]["state"], "queued");
    let second = sub_a.next_json(5).await;
    assert_eq!(
        second["payload"]["data"]["events"]["data"]["state"],
        "cancelled"
    );
    assert_eq!(
        second["payload"]["data"]["events"]["data"]["jobId"],
        ja.id.to_string()
    );
    // B saw only its own two events.
    for _ in 0..2 {
        let m = sub_b.next_json(5).await;
        assert_eq!(
            m["payload"]["data"]["events"]["data"]["jobId"],
            jb.id.to_string()
        );
    }
    match sub_a.next_frame(1).await {
        None => {}
        Some(Frame::Json(v)) => assert!(v["type"] == "ping", "unexpected {v}"),
        Some(Frame::Closed(c, r)) => panic!("closed {c:?} {r}"),
    }

    // Reconnect with `after` = the first event: exactly the missed one is replayed.
    let first_id = first["payload"]["data"]["events"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut again = app.ws("graphql-transport-ws").await;
    again.init(&manager_a).await;
    again.send(json!({"type": "subscribe", "id": "r", "payload": {"query": EVENTS, "variables": {"after": first_id}}})).await;
    let replayed = again.next_json(5).await;
    assert_eq!(
        replayed["payload"]["data"]["events"]["id"],
        second["payload"]["data"]["events"]["id"]
    );
    // An unknown `after` is an input error.
    again.send(json!({"type": "subscribe", "id": "x", "payload": {"query": EVENTS, "variables": {"after": Uuid::now_v7().to_string()}}})).await;
    let m = again.next_json(5).await;
    assert_eq!(
        m["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{m}"
    );
}

#[tokio::test]
async fn legacy_graphql_ws_protocol_works() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let mut ws = app.ws("graphql-ws").await;
    ws.send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", app.token(org, Role::Viewer).await)}})).await;
    assert_eq!(ws.next_json(5).await["type"], "connection_ack");
    ws.send(json!({"type": "start", "id": "1", "payload": {"query": EVENTS, "variables": {"types": ["JOB_UPDATED"]}}})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    queue::enqueue(
        &app.state.db,
        NewJob {
            org_id: Some(org),
            ..NewJob::new("k", json!({}))
        },
    )
    .await
    .unwrap();
    app.state.events_committed();
    let m = ws.next_json(5).await;
    assert_eq!(m["type"], "data");
    assert_eq!(m["payload"]["data"]["events"]["type"], "JOB_UPDATED");
    ws.send(json!({"type": "stop", "id": "1"})).await;
    assert_eq!(
        ws.next_json(5).await,
        json!({"type": "complete", "id": "1"})
    );
    ws.send(json!({"type": "connection_terminate"})).await;
    assert_eq!(ws.expect_close(5).await, 1000);
}
