//! Acceptance: a real npm `graphql-ws` client (tests/node/subscribe.mjs, installed by
//! scripts/test) subscribes with a token, receives lead events, and a reconnect with `after`
//! receives exactly the events it missed, then live ones.

use std::{
    path::PathBuf,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{json, Value};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, Command},
    sync::mpsc,
};

use crate::{fixtures, helpers::TestApp, identity::signed_up};

const EVENTS: &str = "subscription($types: [EventType!], $after: ID) { events(types: $types, after: $after) { id type userId occurredAt data } }";
const UPDATE: &str =
    "mutation($id: ID!, $i: UpdateLeadInput!) { updateLead(id: $id, input: $i) { id } }";
const TYPES: [&str; 2] = ["LEAD_CREATED", "LEAD_UPDATED"];

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// The node script as a child process; stdout lines arrive on a channel, stderr is kept for
/// failure messages.
struct NodeClient {
    child: Child,
    lines: mpsc::UnboundedReceiver<Value>,
    stderr: Arc<Mutex<String>>,
}

impl NodeClient {
    /// Starts `subscribe.mjs` subscribed to `events(types: [LEAD_CREATED, LEAD_UPDATED], after)`
    /// and waits for its `{"ready":true}` line (the server's connection_ack).
    async fn start(app: &TestApp, token: &str, after: Option<&str>, count: usize) -> NodeClient {
        let dir = node_dir();
        assert!(
            dir.join("node_modules/graphql-ws").is_dir(),
            "{}/node_modules is missing: run scripts/test (it runs `npm ci` there), or \
             `npm ci --no-audit --no-fund` in tests/node",
            dir.display()
        );
        let mut variables = json!({ "types": TYPES });
        if let Some(after) = after {
            variables["after"] = json!(after);
        }
        let mut child = Command::new("node")
            .current_dir(&dir)
            .arg("subscribe.mjs")
            .args(["--url", &format!("ws://{}/graphql/ws", app.addr)])
            .args(["--variables", &variables.to_string()])
            .args(["--count", &count.to_string()])
            .args(["--timeout-ms", "60000"])
            .arg(EVENTS)
            .env("LG_TOKEN", token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `node` ({e}): install Node.js (scripts/test does) and run scripts/test")
            });
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let v = serde_json::from_str(&line).unwrap_or_else(|_| json!({ "nonJson": line }));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        collect(child.stderr.take().unwrap(), stderr.clone());
        let mut client = NodeClient {
            child,
            lines,
            stderr,
        };
        let first = client.next_line(20).await;
        assert_eq!(first, json!({"ready": true}), "first line of subscribe.mjs");
        client
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn next_line(&mut self, secs: u64) -> Value {
        match tokio::time::timeout(Duration::from_secs(secs), self.lines.recv()).await {
            Ok(Some(v)) => v,
            Ok(None) => {
                let status = self.child.wait().await.ok();
                panic!(
                    "subscribe.mjs ended ({status:?}); stderr: {}",
                    self.stderr()
                )
            }
            Err(_) => panic!(
                "no line from subscribe.mjs within {secs} s; stderr: {}",
                self.stderr()
            ),
        }
    }

    /// The next event (`payload.data.events`).
    async fn next_event(&mut self, secs: u64) -> Value {
        let v = self.next_line(secs).await;
        event_of(v)
    }

    /// The next event if one arrives within `ms`.
    async fn try_next_event(&mut self, ms: u64) -> Option<Value> {
        match tokio::time::timeout(Duration::from_millis(ms), self.lines.recv()).await {
            Ok(Some(v)) => Some(event_of(v)),
            Ok(None) | Err(_) => None,
        }
    }

    /// Asserts that nothing more arrives for a while (no extra event, no duplicate).
    async fn assert_quiet(&mut self, what: &str) {
        if let Some(ev) = self.try_next_event(700).await {
            panic!("unexpected event {what}: {ev}");
        }
    }

    async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// Waits for the script to exit on its own; its status and stderr.
    async fn wait(mut self) -> (ExitStatus, String) {
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("subscribe.mjs did not exit; stderr: {}", self.stderr()))
            .unwrap();
        (status, self.stderr())
    }
}

/// The event inside one `next` payload; a payload with errors fails the test.
fn event_of(v: Value) -> Value {
    assert!(v["errors"].is_null(), "payload with errors: {v}");
    let ev = v["data"]["events"].clone();
    assert!(ev.is_object(), "not an event payload: {v}");
    ev
}

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, into: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let mut s = into.lock().unwrap();
            s.push_str(&line);
            s.push('\n');
        }
    });
}

/// (type, leadId) of an event, with its shape checked.
fn key(ev: &Value) -> (String, String) {
    assert!(ev["id"].is_string(), "event without id: {ev}");
    assert!(ev["userId"].is_string(), "event without userId: {ev}");
    assert!(
        ev["occurredAt"].is_string(),
        "event without occurredAt: {ev}"
    );
    (
        ev["type"].as_str().unwrap().to_string(),
        ev["data"]["leadId"].as_str().unwrap().to_string(),
    )
}

fn created(id: &str) -> (String, String) {
    ("LEAD_CREATED".to_string(), id.to_string())
}

#[tokio::test]
async fn npm_graphql_ws_client_receives_events_and_resumes_after_reconnect() {
    let app = TestApp::spawn().await;
    let (_, login) = signed_up(&app).await;
    let token = login["accessToken"].as_str().unwrap().to_string();

    // 1. Subscribe; connection_ack has been seen. The subscription is live once an event of
    //    ours arrives: create probe leads until one does (an early probe may predate it).
    let mut client = NodeClient::start(&app, &token, None, 0).await;
    let mut probes = Vec::new();
    let first = loop {
        assert!(probes.len() < 20, "no event reached the node client");
        probes.push(
            fixtures::lead(
                &app,
                &token,
                json!({"firstName": &format!("Probe {}", probes.len()), "lastName": "Node"}),
            )
            .await,
        );
        if let Some(ev) = client.try_next_event(1500).await {
            break ev;
        }
    };
    let (ty, lead) = key(&first);
    assert_eq!(ty, "LEAD_CREATED", "{first}");
    let at = probes
        .iter()
        .position(|p| *p == lead)
        .unwrap_or_else(|| panic!("first event is not one of the probes: {first}"));

    // 2. Live events: exactly the leads created from here (and later probes), in order.
    let mut expected: Vec<(String, String)> = probes[at + 1..].iter().map(|p| created(p)).collect();
    let mut leads = Vec::new();
    for i in 0..3 {
        let id = fixtures::lead(
            &app,
            &token,
            json!({"firstName": &format!("Live {i}"), "lastName": "Node"}),
        )
        .await;
        expected.push(created(&id));
        leads.push(id);
    }
    let v = app
        .gql(
            Some(&token),
            UPDATE,
            json!({"id": leads[0], "i": {"company": "Analytical Engines"}}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    expected.push(("LEAD_UPDATED".to_string(), leads[0].clone()));
    let mut seen = vec![first.clone()];
    for _ in 0..expected.len() {
        seen.push(client.next_event(10).await);
    }
    let got: Vec<_> = seen[1..].iter().map(key).collect();
    assert_eq!(got, expected, "live events in order");
    client.assert_quiet("after the live events").await;
    let ids: std::collections::HashSet<&str> =
        seen.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), seen.len(), "event ids are unique");
    let last_id = seen.last().unwrap()["id"].as_str().unwrap().to_string();

    // 3. Disconnect, miss three leads, reconnect with `after`: exactly those three, in order,
    //    then live events. `--count 4` makes the script exit 0 after the fourth.
    client.kill().await;
    let mut missed = Vec::new();
    for i in 0..3 {
        missed.push(
            fixtures::lead(
                &app,
                &token,
                json!({"firstName": &format!("Missed {i}"), "lastName": "Node"}),
            )
            .await,
        );
    }
    let mut client = NodeClient::start(&app, &token, Some(&last_id), 4).await;
    let mut replayed = Vec::new();
    for _ in 0..3 {
        replayed.push(client.next_event(10).await);
    }
    assert_eq!(
        replayed.iter().map(key).collect::<Vec<_>>(),
        missed.iter().map(|m| created(m)).collect::<Vec<_>>(),
        "replay after {last_id}"
    );
    for ev in &replayed {
        assert!(
            !ids.contains(ev["id"].as_str().unwrap()),
            "replayed an event already seen: {ev}"
        );
    }
    client.assert_quiet("after the replay").await;
    let live = fixtures::lead(
        &app,
        &token,
        json!({"firstName": "After reconnect", "lastName": "Node"}),
    )
    .await;
    let ev = client.next_event(10).await;
    assert_eq!(key(&ev), created(&live), "live event after the replay");
    let (status, stderr) = client.wait().await;
    assert!(
        status.success(),
        "subscribe.mjs exit {status}; stderr: {stderr}"
    );
}
