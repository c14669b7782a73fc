//! Security review, WebSocket limits (S15): connections per viewer, operations per connection,
//! the request budget over sockets, and the replay window of `events(after:)`.

use std::time::Duration;

use leadgraph::auth::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{Options, TestApp};

fn subscribe(id: &str, query: &str) -> Value {
    json!({"type": "subscribe", "id": id, "payload": {"query": query}})
}

#[tokio::test]
async fn s15_connections_per_viewer_are_capped_with_4429() {
    let app =
        TestApp::spawn_with(Options::with_env(&[("WS_MAX_CONNECTIONS_PER_VIEWER", "2")])).await;
    let token = app.token(Uuid::now_v7(), Role::Member).await;
    let mut a = app.ws("graphql-transport-ws").await;
    a.init(&token).await;
    let mut b = app.ws("graphql-transport-ws").await;
    b.init(&token).await;
    let mut c = app.ws("graphql-transport-ws").await;
    c.send(
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}),
    )
    .await;
    assert_eq!(c.expect_close(5).await, 4429);
    // Another viewer is not affected.
    let other = app.token(Uuid::now_v7(), Role::Member).await;
    app.ws("graphql-transport-ws").await.init(&other).await;
    // A closed connection gives its slot back.
    drop(a);
    let mut again = None;
    for _ in 0..50 {
        let mut d = app.ws("graphql-transport-ws").await;
        d.send(json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}))
            .await;
        let v = d.next_frame(5).await;
        if matches!(&v, Some(crate::helpers::Frame::Json(j)) if j["type"] == "connection_ack") {
            again = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(again.is_some(), "the slot was never released");
}

#[tokio::test]
async fn s15_operations_per_connection_are_capped() {
    let app = TestApp::spawn_with(Options::with_env(&[(
        "WS_MAX_OPERATIONS_PER_CONNECTION",
        "2",
    )]))
    .await;
    let token = app.token(Uuid::now_v7(), Role::Member).await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&token).await;
    ws.send(subscribe("1", "subscription { events { id } }"))
        .await;
    ws.send(subscribe("2", "subscription { events { id } }"))
        .await;
    ws.send(subscribe("3", "subscription { events { id } }"))
        .await;
    let v = ws.next_json(5).await;
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["id"], "3");
    assert_eq!(v["payload"][0]["extensions"]["code"], "RATE_LIMITED", "{v}");
    // Completing one frees a place.
    ws.send(json!({"type": "complete", "id": "1"})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    ws.send(subscribe("4", "subscription { events { id } }"))
        .await;
    ws.send(json!({"type": "ping"})).await;
    let v = ws.next_frame(5).await;
    match v {
        Some(crate::helpers::Frame::Json(v)) => assert_eq!(v["type"], "pong", "{v}"),
        _ => panic!("expected a pong, the 4th operation must have been accepted"),
    }
}

#[tokio::test]
async fn s15_socket_operations_spend_the_viewer_budget() {
    let app =
        TestApp::spawn_with(Options::with_env(&[("RATE_LIMIT_VIEWER_PER_MINUTE", "3")])).await;
    let token = app.token(Uuid::now_v7(), Role::Member).await;
    // Two HTTP requests and one socket operation use the budget of three...
    for _ in 0..2 {
        let v = app
            .gql(Some(&token), "{ viewer { role } }", json!({}))
            .await;
        assert!(v["errors"].is_null(), "{v}");
    }
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&token).await;
    ws.send(subscribe("1", "query { viewer { role } }")).await;
    assert_eq!(ws.next_json(5).await["type"], "next");
    assert_eq!(ws.next_json(5).await["type"], "complete");
    // ...so the next operation over the socket is refused, with a retry hint.
    ws.send(subscribe("2", "query { viewer { role } }")).await;
    let v = ws.next_json(5).await;
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["payload"][0]["extensions"]["code"], "RATE_LIMITED", "{v}");
    assert!(v["payload"][0]["extensions"]["retryAfter"]
        .as_u64()
        .is_some());
}

#[tokio::test]
async fn s15_replay_stops_at_the_retention_window_and_old_events_are_pruned() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let token = app.token(org, Role::Member).await;
    let create =
        "mutation($e: String!) { createLead(input: {email: $e, firstName: \"Old\"}) { id } }";
    for e in ["old@example.com", "new@example.com"] {
        let v = app.gql(Some(&token), create, json!({"e": e})).await;
        assert!(v["errors"].is_null(), "{v}");
    }
    // Both events published.
    let events = || async {
        entity::outbox_event::Entity::find()
            .filter(entity::outbox_event::Column::OrgId.eq(org))
            .filter(entity::outbox_event::Column::EventType.eq("lead.created"))
            .all(&app.state.db)
            .await
            .unwrap()
    };
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = events().await;
        if rows.len() == 2 && rows.iter().all(|r| r.position.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows.len(), 2);
    rows.sort_by_key(|r| r.seq);
    let (old, new) = (rows[0].id, rows[1].id);
    // The first one happened 100 hours ago (retention: 72).
    entity::outbox_event::Entity::update_many()
        .col_expr(
            entity::outbox_event::Column::OccurredAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::hours(100)),
        )
        .filter(entity::outbox_event::Column::Id.eq(old))
        .exec(&app.state.db)
        .await
        .unwrap();

    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&token).await;
    ws.send(json!({"type": "subscribe", "id": "1", "payload": {"query": "subscription($a: ID) { events(after: $a) { id } }", "variables": {"a": old}}}))
        .await;
    // The resolver refuses the anchor: the operation's one result carries the error.
    let v = ws.next_json(5).await;
    assert_eq!(v["type"], "next", "{v}");
    assert_eq!(
        v["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{v}"
    );
    assert_eq!(ws.next_json(5).await["type"], "complete");
    // Within the window, replay works.
    ws.send(json!({"type": "subscribe", "id": "2", "payload": {"query": "subscription($a: ID) { events(after: $a) { id } }", "variables": {"a": new}}}))
        .await;
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.next_json(5).await["type"], "pong");

    let deleted = leadgraph::events::outbox::prune(&app.state.db, app.state.config.event_retention)
        .await
        .unwrap();
    assert!(deleted >= 1);
    let left: Vec<Uuid> = events().await.into_iter().map(|r| r.id).collect();
    assert_eq!(left, vec![new], "only the old event is pruned");
}
