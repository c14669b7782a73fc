//! Clients as a dashboard or an integration would behave: a graphql-transport-ws subscriber
//! that resumes with `after` when the server ends its subscription or its socket, and a plain
//! HTTP GraphQL caller that reports the status, the error code and the latency of each request.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::ws::{lead_key, open, text, ws_url};

/// Which subscription a subscriber holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// `events(types: [LEAD_CREATED])`.
    Events,
    /// `leadEvents`.
    LeadEvents,
}

impl Stream {
    fn query(self) -> &'static str {
        match self {
            Stream::Events => {
                "subscription($a: ID) { events(after: $a, types: [LEAD_CREATED]) { id data } }"
            }
            Stream::LeadEvents => {
                "subscription($a: ID) { leadEvents(after: $a) { id leadId kind } }"
            }
        }
    }

    /// (event id, lead) of a `next` payload.
    fn parse(self, payload: &Value) -> Option<(String, u128)> {
        let (ev, lead) = match self {
            Stream::Events => {
                let e = &payload["data"]["events"];
                (e, &e["data"]["leadId"])
            }
            Stream::LeadEvents => {
                let e = &payload["data"]["leadEvents"];
                (e, &e["leadId"])
            }
        };
        Some((ev["id"].as_str()?.to_string(), lead_key(lead.as_str()?)?))
    }
}

/// What one subscriber saw.
#[derive(Default, Debug)]
pub struct SubLog {
    /// Leads of the `next` messages, in arrival order.
    pub leads: Vec<u128>,
    /// Subscriptions the server ended (`error` / `complete`) that we subscribed again with
    /// `after`.
    pub resumes: u32,
    /// Sockets that ended and were opened again.
    pub reconnects: u32,
    /// Close codes the server sent.
    pub close_codes: Vec<u16>,
    /// `error` payloads and socket errors, first few.
    pub errors: Vec<String>,
}

/// Counters the scenario watches while subscribers run.
#[derive(Default)]
pub struct Live {
    /// Subscribers that received at least one event.
    pub live: AtomicUsize,
    /// Events received, all subscribers together.
    pub events: AtomicUsize,
}

/// Options of one subscriber.
#[derive(Clone)]
pub struct SubOpts {
    pub base_url: String,
    pub token: String,
    pub stream: Stream,
    /// Open the socket again (and resume) when it ends; false = record the close and stop.
    pub reconnect: bool,
}

/// Runs one subscriber until `stop` (or, without `reconnect`, until its socket ends).
pub async fn subscriber(o: SubOpts, mut stop: watch::Receiver<bool>, live: Arc<Live>) -> SubLog {
    let mut log = SubLog::default();
    let Ok(url) = ws_url(&o.base_url) else {
        log.errors.push("bad url".into());
        return log;
    };
    let mut after: Option<String> = None;
    let mut op = 0u32;
    let mut first_socket = true;
    'sockets: loop {
        if *stop.borrow() {
            break;
        }
        if !first_socket {
            log.reconnects += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        first_socket = false;
        let mut ws = match open(&url, &o.token).await {
            Ok(ws) => ws,
            Err(e) => {
                note(&mut log, format!("connect: {e:#}"));
                if o.reconnect {
                    continue;
                }
                break;
            }
        };
        // One operation at a time; a new id after the server ended the previous one.
        let mut subscribe = true;
        loop {
            if subscribe {
                op += 1;
                let msg = json!({"type": "subscribe", "id": op.to_string(),
                    "payload": {"query": o.stream.query(), "variables": {"a": after}}});
                if ws.send(text(msg)).await.is_err() {
                    if o.reconnect {
                        continue 'sockets;
                    }
                    break 'sockets;
                }
                subscribe = false;
            }
            let msg = tokio::select! {
                _ = stop.changed() => {
                    let _ = ws.close(None).await;
                    break 'sockets;
                }
                m = ws.next() => m,
            };
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                    match v["type"].as_str() {
                        Some("next") => match o.stream.parse(&v["payload"]) {
                            Some((id, lead)) => {
                                if log.leads.is_empty() {
                                    live.live.fetch_add(1, Ordering::Relaxed);
                                }
                                live.events.fetch_add(1, Ordering::Relaxed);
                                log.leads.push(lead);
                                after = Some(id);
                            }
                            None => note(&mut log, format!("unexpected next: {t}")),
                        },
                        Some("error") | Some("complete") => {
                            note(&mut log, format!("ended by the server: {t}"));
                            log.resumes += 1;
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            subscribe = true;
                        }
                        Some("ping") => {
                            let _ = ws.send(text(json!({"type": "pong"}))).await;
                        }
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(f))) => {
                    log.close_codes
                        .push(f.map(|f| u16::from(f.code)).unwrap_or(1005));
                    if o.reconnect {
                        continue 'sockets;
                    }
                    break 'sockets;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    note(&mut log, format!("socket: {e}"));
                    if o.reconnect {
                        continue 'sockets;
                    }
                    break 'sockets;
                }
                None => {
                    note(&mut log, "socket ended without a close frame".into());
                    if o.reconnect {
                        continue 'sockets;
                    }
                    break 'sockets;
                }
            }
        }
    }
    log
}

fn note(log: &mut SubLog, what: String) {
    if log.errors.len() < 5 {
        log.errors.push(what.chars().take(200).collect());
    }
}

/// The answer to one HTTP GraphQL request.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status, or None when no response arrived.
    pub status: Option<u16>,
    /// `errors[0].extensions.code`, or the transport error.
    pub code: Option<String>,
    pub body: Value,
    pub latency: Duration,
    /// The request failed before any byte was sent (connection refused).
    pub connect_error: bool,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status == Some(200) && self.code.is_none() && !self.body["data"].is_null()
    }
}

/// One GraphQL request; never fails, the outcome is in the [`Answer`].
pub async fn call(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    vars: Value,
) -> Answer {
    let t = Instant::now();
    let res = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": vars}))
        .send()
        .await;
    let res = match res {
        Ok(r) => r,
        Err(e) => {
            return Answer {
                status: None,
                code: Some(format!("transport: {}", transport_kind(&e))),
                body: Value::Null,
                latency: t.elapsed(),
                connect_error: e.is_connect(),
            }
        }
    };
    let status = res.status().as_u16();
    let body: Value = match res.json().await {
        Ok(b) => b,
        Err(e) => {
            return Answer {
                status: Some(status),
                code: Some(format!("transport: body {}", transport_kind(&e))),
                body: Value::Null,
                latency: t.elapsed(),
                connect_error: false,
            }
        }
    };
    let code = body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(str::to_string)
        .or_else(|| body.get("errors").map(|_| "NO_CODE".to_string()));
    Answer {
        status: Some(status),
        code,
        body,
        latency: t.elapsed(),
        connect_error: false,
    }
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_connect() {
        "connect"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "request"
    }
}

pub const CREATE_LEAD: &str = "mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }";

/// Creates a lead; its id as a number.
pub async fn create_lead(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    input: Value,
) -> Result<u128, Answer> {
    let a = call(http, base, token, CREATE_LEAD, json!({ "i": input })).await;
    match a.body["data"]["createLead"]["id"]
        .as_str()
        .and_then(lead_key)
    {
        Some(id) if a.ok() => Ok(id),
        _ => Err(a),
    }
}

/// An HTTP client with a whole-request deadline.
pub fn http(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(64)
        .build()?)
}

/// Subscribers held together: their tasks, counters and stop switch.
pub struct Crowd {
    pub tasks: Vec<tokio::task::JoinHandle<SubLog>>,
    pub live: Arc<Live>,
    pub stop: watch::Sender<bool>,
}

impl Crowd {
    /// `n` subscribers, the first `lead_events` of them on `leadEvents`, the rest on `events`.
    pub fn spawn(n: usize, lead_events: usize, base: &str, token: &str, reconnect: bool) -> Crowd {
        let live = Arc::new(Live::default());
        let (stop, stop_rx) = watch::channel(false);
        let tasks = (0..n)
            .map(|i| {
                let o = SubOpts {
                    base_url: base.to_string(),
                    token: token.to_string(),
                    stream: if i < lead_events {
                        Stream::LeadEvents
                    } else {
                        Stream::Events
                    },
                    reconnect,
                };
                tokio::spawn(subscriber(o, stop_rx.clone(), live.clone()))
            })
            .collect();
        Crowd { tasks, live, stop }
    }

    /// Creates leads (every 500 ms) until every subscriber received one, at most `within`;
    /// returns how many are live.
    pub async fn wait_live(
        &self,
        http: &reqwest::Client,
        base: &str,
        token: &str,
        within: Duration,
    ) -> usize {
        let n = self.tasks.len();
        let deadline = Instant::now() + within;
        while self.live.live.load(Ordering::Relaxed) < n && Instant::now() < deadline {
            let _ = create_lead(http, base, token, json!({"firstName": "warm-up"})).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        self.live.live.load(Ordering::Relaxed)
    }

    /// Stops every subscriber and collects what each saw.
    pub async fn finish(self) -> Vec<SubLog> {
        let _ = self.stop.send(true);
        let mut logs = Vec::with_capacity(self.tasks.len());
        for t in self.tasks {
            logs.push(t.await.unwrap_or_default());
        }
        logs
    }
}
