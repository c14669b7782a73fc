//! Held subscriptions across Redis outages, as a client that stays connected sees them: it
//! reads continuously, keeps the same connection for the whole test, and must receive every
//! event of the outage and after it, in order, once — or an error it can act on, never silence.
//!
//! Two faults: Redis killed and restarted on the same port (the kernel closes the connections,
//! so the server sees EOF at once), and Redis black-holed (`FaultProxy`: no FIN, no RST, bytes
//! vanish; the server's connections must be found dead by the server itself). The second is
//! what the old `realtime::pg_only_a_redis_outage_loses_no_event` never exercised: a killed
//! local Redis always announces itself.

use std::{collections::HashSet, time::Duration};

use serde_json::{json, Value};

use crate::{
    fault_proxy::FaultProxy,
    fixtures::{self, token_of},
    helpers::{Frame, Options, TestApp, Ws},
    identity::signed_up,
};

/// A private `redis-server` on a fixed port, so it can be stopped and started again.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    pub fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = PrivateRedis { port, child: None };
        r.up();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn up(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start");
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn subscribe(app: &TestApp, token: &str, query: &str) -> Ws {
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(token).await;
    ws.send(json!({"type": "subscribe", "id": "s", "payload": {"query": query}}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws
}

/// The next `next` payload's data under `field`, skipping pings; panics on an error, a close
/// or `secs` without an event (pings do not count: a stale subscription still gets them).
async fn next_event(ws: &mut Ws, field: &str, secs: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match ws.next_frame(left.as_secs().max(1)).await {
            Some(Frame::Json(m)) if m["type"] == "next" => {
                assert!(m["payload"]["errors"].is_null(), "error {m}");
                return m["payload"]["data"][field].clone();
            }
            Some(Frame::Json(m)) if m["type"] == "ping" && std::time::Instant::now() < deadline => {
                continue
            }
            Some(Frame::Json(m)) if m["type"] == "ping" => panic!("{field}: no event for {secs} s"),
            Some(Frame::Json(m)) => panic!("unexpected {m}"),
            Some(Frame::Closed(c, r)) => panic!("closed {c:?} {r}"),
            None => panic!("{field}: no event for {secs} s"),
        }
    }
}

/// Creates `n` leads concurrently (a Redis outage slows each request down); their ids.
async fn create_leads(app: &TestApp, token: &str, prefix: &str, n: usize) -> Vec<String> {
    let all = (0..n).map(|i| {
        let company = format!("{prefix} {i}");
        async move { fixtures::lead(app, token, json!({ "company": company })).await }
    });
    futures::future::join_all(all).await
}

/// Reads `want.len()` lead events from each subscription (`events` or `leadEvents`) and checks
/// they are exactly `want` (compared as sets: concurrent creations commit in any order), with
/// no duplicate and nothing else after them.
async fn expect_leads(subs: &mut [(&mut Ws, &str)], want: &[String]) {
    for (ws, field) in subs.iter_mut() {
        let mut ids = HashSet::new();
        let mut got = Vec::new();
        while got.len() < want.len() {
            let ev = next_event(ws, field, 30).await;
            eprintln!("{field}: {} of {}", got.len() + 1, want.len());
            assert!(
                ids.insert(ev["id"].as_str().unwrap().to_string()),
                "duplicate {ev}"
            );
            let lead = if *field == "events" {
                &ev["data"]["leadId"]
            } else {
                &ev["leadId"]
            };
            got.push(lead.as_str().unwrap().to_string());
        }
        let (mut g, mut w) = (got.clone(), want.to_vec());
        g.sort();
        w.sort();
        assert_eq!(g, w, "{field}");
        match ws.next_frame(1).await {
            None => {}
            Some(Frame::Json(v)) => assert_eq!(v["type"], "ping", "extra message {v}"),
            Some(Frame::Closed(c, r)) => panic!("closed {c:?} {r}"),
        }
    }
}

/// Subscribes with `events(types: [LEAD_CREATED])` and `leadEvents`, and checks both see a first
/// lead live.
async fn two_subscribers(app: &TestApp, token: &str) -> (Ws, Ws) {
    let mut events = subscribe(
        app,
        token,
        "subscription { events(types: [LEAD_CREATED]) { id data } }",
    )
    .await;
    let mut leads = subscribe(app, token, "subscription { leadEvents { id leadId } }").await;
    let first = vec![fixtures::lead(app, token, json!({"company": "Before"})).await];
    expect_leads(
        &mut [(&mut events, "events"), (&mut leads, "leadEvents")],
        &first,
    )
    .await;
    (events, leads)
}

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL and TEST_REDIS_URL"]
async fn pg_only_held_subscriptions_survive_a_blackholed_redis() {
    crate::helpers::require_postgres_and_redis();
    let redis = PrivateRedis::start();
    let proxy = FaultProxy::start(redis.port).await;
    let app = TestApp::spawn_with(Options {
        env: [("REDIS_URL".to_string(), proxy.url())].into(),
        ..Default::default()
    })
    .await;
    let (_, login) = signed_up(&app).await;
    let token = token_of(&login);
    let (mut events, mut leads) = two_subscribers(&app, &token).await;

    proxy.blackhole();
    let t = std::time::Instant::now();
    let (mut created, ()) = tokio::join!(create_leads(&app, &token, "During", 10), async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        proxy.heal();
    });
    eprintln!("created during the black hole in {:?}", t.elapsed());
    tokio::time::sleep(Duration::from_secs(3)).await;
    created.push(fixtures::lead(&app, &token, json!({"company": "After"})).await);
    expect_leads(
        &mut [(&mut events, "events"), (&mut leads, "leadEvents")],
        &created,
    )
    .await;
}

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL and TEST_REDIS_URL"]
async fn pg_only_held_subscriptions_survive_a_redis_restart() {
    crate::helpers::require_postgres_and_redis();
    let mut redis = PrivateRedis::start();
    let app = TestApp::spawn_with(Options {
        env: [("REDIS_URL".to_string(), redis.url())].into(),
        ..Default::default()
    })
    .await;
    let (_, login) = signed_up(&app).await;
    let token = token_of(&login);
    let (mut events, mut leads) = two_subscribers(&app, &token).await;

    redis.kill();
    let started = std::time::Instant::now();
    let mut created = create_leads(&app, &token, "During", 10).await;
    tokio::time::sleep(Duration::from_secs(10).saturating_sub(started.elapsed())).await;
    redis.up();
    tokio::time::sleep(Duration::from_secs(8)).await;
    created.push(fixtures::lead(&app, &token, json!({"company": "After"})).await);
    expect_leads(
        &mut [(&mut events, "events"), (&mut leads, "leadEvents")],
        &created,
    )
    .await;
}
