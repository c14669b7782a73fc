//! GraphQL over WebSocket at `/graphql/ws`: `graphql-transport-ws` (default) and the legacy
//! `graphql-ws` (subscriptions-transport-ws) protocol.
//!
//! The protocol handling is ours, not async-graphql's, so clients see the close codes of the
//! graphql-ws PROTOCOL.md: 4400 invalid message, 4401 subscribe before ack, 4403 init rejected,
//! 4408 no init in time, 4409 duplicate operation id, 4429 second init. Buffers are small (1 KiB read, 4 KiB write)
//! and each connection has a bounded outgoing queue. Connections per viewer and live operations
//! per connection are capped (4429 / a RATE_LIMITED error), and every operation spends the
//! viewer's request budget.

use std::{collections::HashMap, time::Duration};

use async_graphql::Response as GqlResponse;
use axum::{
    extract::{
        ws::{Message, WebSocket, WebSocketUpgrade},
        State,
    },
    response::Response,
};
use futures::StreamExt;
use http::HeaderMap;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, watch};

use super::{
    ws_slots::{Slot, Slots},
    ws_writer::{close_connection, write_loop, Out},
    HttpState, REQUEST_ID,
};
use crate::{
    auth::{credentials, Viewer},
    events::BusMessage,
    graphql::{extension, prepare_request, AppSchema, RequestMeta},
};

/// Interval of server keep-alive messages.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Outgoing messages queued per connection before producers wait.
const OUT_QUEUE: usize = 64;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    TransportWs,
    LegacyWs,
}

/// One outgoing operation message (`next`/`data`), serialized without building a JSON tree.
#[derive(serde::Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    ty: &'a str,
    id: &'a str,
    payload: &'a GqlResponse,
}

/// How a subscription task ended.
enum Done {
    /// The operation finished (complete or error sent).
    Finished,
    /// The client did not read its messages in time: drop it.
    TooSlow,
}

/// Upgrades the connection.
pub async fn handler(
    State(s): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    ws: WebSocketUpgrade,
) -> Response {
    let ws = ws
        .protocols(["graphql-transport-ws", "graphql-ws"])
        // Clients send small messages (init, subscribe, pings); larger ones just take more reads.
        .read_buffer_size(1024)
        .write_buffer_size(4096)
        .max_write_buffer_size(1 << 20)
        .max_message_size(256 * 1024);
    let proto = match ws.selected_protocol().and_then(|v| v.to_str().ok()) {
        Some("graphql-ws") => Proto::LegacyWs,
        _ => Proto::TransportWs,
    };
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let meta = RequestMeta {
        request_id: header(REQUEST_ID.as_str()).unwrap_or_default(),
        ip: super::graphql::client_ip(&headers, &extensions, &s.app.config.trusted_proxies),
        user_agent: header("user-agent"),
        is_get: false,
    };
    let header_credential = credentials::credential_from_headers(&headers)
        .ok()
        .flatten();
    ws.on_upgrade(move |socket| async move {
        metrics::gauge!("ws_connections_active").increment(1.0);
        Connection::new(s, proto, meta, header_credential)
            .run(socket)
            .await;
        metrics::gauge!("ws_connections_active").decrement(1.0);
    })
}

struct Connection {
    s: HttpState,
    proto: Proto,
    meta: RequestMeta,
    header_credential: Option<String>,
    init_received: bool,
    viewer: Option<Viewer>,
    /// The credential the viewer authenticated with: checked again before every operation.
    credential: Option<String>,
    /// When the access token expires (API keys: never): the connection closes then with 4403
    /// unless the client re-authenticates (a `ping` whose payload carries a fresh token).
    expires: Option<tokio::time::Instant>,
    /// This connection's place in its viewer's connection cap.
    slot: Option<Slot>,
    /// Live operations by id; their tasks run in `tasks`.
    subs: HashMap<String, tokio::task::AbortHandle>,
    tasks: tokio::task::JoinSet<(String, Done)>,
}

/// What the reader decided.
enum Step {
    Continue,
    Close(u16, String),
}

fn close(code: u16, reason: impl Into<String>) -> Step {
    Step::Close(code, reason.into())
}

impl Connection {
    fn new(
        s: HttpState,
        proto: Proto,
        meta: RequestMeta,
        header_credential: Option<String>,
    ) -> Self {
        Connection {
            s,
            proto,
            meta,
            header_credential,
            init_received: false,
            viewer: None,
            credential: None,
            expires: None,
            slot: None,
            subs: HashMap::new(),
            tasks: tokio::task::JoinSet::new(),
        }
    }

    async fn run(mut self, socket: WebSocket) {
        let (sink, mut stream) = socket.split();
        let (out_tx, out_rx) = mpsc::channel::<Out>(OUT_QUEUE);
        // Closes that cannot wait behind a full queue (a client too slow to read) jump it. A watch
        // channel, not another queue: it costs no slot block per connection.
        let (kill_tx, kill_rx) = watch::channel::<Option<(u16, String)>>(None);
        let writer = tokio::spawn(write_loop(sink, out_rx, kill_rx));
        let init_deadline = tokio::time::sleep(self.s.app.config.ws_init_timeout);
        tokio::pin!(init_deadline);
        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.tick().await;
        // Revocations of the credential behind this connection arrive on the bus.
        let mut revocations = self.s.app.bus.subscribe();
        let going_away = until_true(self.s.shutdown.clone());
        tokio::pin!(going_away);
        let closing: Option<(u16, String)> = loop {
            let expires = self.expires;
            tokio::select! {
                _ = async move {
                    match expires {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {
                    break Some((4403, "Forbidden: access token expired".into()));
                }
                _ = &mut going_away => {
                    break Some((1001, "Going Away: server shutting down".into()));
                }
                _ = &mut init_deadline, if !self.init_received => {
                    break Some((4408, "Connection initialisation timeout".into()));
                }
                _ = keepalive.tick(), if self.viewer.is_some() => {
                    let msg = match self.proto {
                        Proto::TransportWs => json!({"type": "ping"}),
                        Proto::LegacyWs => json!({"type": "ka"}),
                    };
                    if out_tx.send(Out::Text(msg.to_string())).await.is_err() { break None; }
                }
                Some(joined) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => match joined {
                    // Aborted tasks (complete from the client, replaced ids) were removed already.
                    Err(_) => {}
                    Ok((task_id, (id, Done::Finished))) => {
                        if self.subs.get(&id).is_some_and(|h| h.id() == task_id) {
                            self.subs.remove(&id);
                        }
                    }
                    Ok((_, (_, Done::TooSlow))) => {
                        tracing::warn!("websocket client too slow; closing");
                        metrics::counter!("ws_slow_client_closed_total").increment(1);
                        break Some((1013, "Try again later: client too slow".into()));
                    }
                },
                ev = revocations.recv(), if self.viewer.is_some() => {
                    // Boxed here and below: these futures hold database queries and are rare; inline
                    // they would sit in every idle connection's task state.
                    if Box::pin(self.revoked(ev)).await {
                        break Some((4403, "Forbidden: credential revoked".into()));
                    }
                }
                msg = stream.next() => {
                    let Some(Ok(msg)) = msg else { break None };
                    let text = match msg {
                        Message::Text(t) => t.to_string(),
                        Message::Binary(_) => break Some((4400, "Binary messages are not supported".into())),
                        Message::Close(_) => break None,
                        Message::Ping(_) | Message::Pong(_) => continue,
                    };
                    match Box::pin(self.handle(&text, &out_tx)).await {
                        Step::Continue => {}
                        Step::Close(code, reason) => break Some((code, reason)),
                    }
                }
            }
        };
        self.subs.clear();
        self.tasks.abort_all();
        close_connection(closing, out_tx, kill_tx, writer).await;
    }

    /// Whether a bus message (or missed ones) means this connection's credential was revoked:
    /// API key revoked, session logged out, password changed elsewhere, member removed.
    async fn revoked(&self, msg: Result<BusMessage, broadcast::error::RecvError>) -> bool {
        let Some(viewer) = self.viewer.as_ref() else {
            return false;
        };
        match msg {
            Ok(BusMessage::Event(ev)) => ev.event.revokes(&ev, viewer),
            // Missed events: ask the database.
            Ok(BusMessage::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                !credentials::still_valid(&self.s.app, viewer)
                    .await
                    .unwrap_or(true)
            }
            Err(broadcast::error::RecvError::Closed) => false,
        }
    }

    async fn send(&self, out: &mpsc::Sender<Out>, v: Value) {
        let _ = out.send(Out::Text(v.to_string())).await;
    }

    async fn handle(&mut self, text: &str, out: &mpsc::Sender<Out>) -> Step {
        let Ok(msg) = serde_json::from_str::<Value>(text) else {
            return close(4400, "Invalid message received");
        };
        let Some(ty) = msg.get("type").and_then(Value::as_str) else {
            return close(4400, "Invalid message received");
        };
        match (self.proto, ty) {
            (_, "connection_init") => self.on_init(&msg, out).await,
            (Proto::TransportWs, "ping") => {
                if let Some(c) = msg
                    .get("payload")
                    .and_then(credentials::credential_from_init)
                {
                    if let Step::Close(code, reason) = self.reauthenticate(c).await {
                        return Step::Close(code, reason);
                    }
                }
                let mut pong = json!({"type": "pong"});
                if let Some(p) = msg.get("payload") {
                    pong["payload"] = p.clone();
                }
                self.send(out, pong).await;
                Step::Continue
            }
            (Proto::TransportWs, "pong") => Step::Continue,
            (Proto::TransportWs, "subscribe") | (Proto::LegacyWs, "start") => {
                self.on_subscribe(&msg, out).await
            }
            (Proto::TransportWs, "complete") | (Proto::LegacyWs, "stop") => {
                match msg.get("id").and_then(Value::as_str) {
                    Some(id) => {
                        if let Some(task) = self.subs.remove(id) {
                            task.abort();
                        }
                        if self.proto == Proto::LegacyWs {
                            self.send(out, json!({"type": "complete", "id": id})).await;
                        }
                        Step::Continue
                    }
                    None => close(4400, "Invalid message received"),
                }
            }
            (Proto::LegacyWs, "connection_terminate") => close(1000, "Normal Closure"),
            _ => close(4400, format!("Unknown message type {ty}")),
        }
    }

    async fn on_init(&mut self, msg: &Value, out: &mpsc::Sender<Out>) -> Step {
        if self.init_received {
            return close(4429, "Too many initialisation requests");
        }
        self.init_received = true;
        let payload = msg.get("payload").cloned().unwrap_or(Value::Null);
        if !(payload.is_null() || payload.is_object()) {
            return close(4400, "Invalid connection_init payload");
        }
        let credential =
            credentials::credential_from_init(&payload).or_else(|| self.header_credential.clone());
        let authenticated = match &credential {
            Some(c) => credentials::authenticate_until(&self.s.app, c).await.ok(),
            None => None,
        };
        let Some((viewer, expires)) = authenticated else {
            if self.proto == Proto::LegacyWs {
                self.send(
                    out,
                    json!({"type": "connection_error", "payload": {"message": "Forbidden"}}),
                )
                .await;
            }
            return close(4403, "Forbidden");
        };
        let max = self.s.app.config.ws_max_connections_per_viewer;
        let Some(slot) = Slots::acquire(&self.s.ws_slots, super::graphql::viewer_key(&viewer), max)
        else {
            metrics::counter!("ws_connections_refused_total", "reason" => "per_viewer_cap")
                .increment(1);
            return close(4429, "Too many connections for this viewer");
        };
        self.slot = Some(slot);
        self.viewer = Some(viewer);
        self.credential = credential;
        self.expires = expires.map(deadline);
        self.send(out, json!({"type": "connection_ack"})).await;
        if self.proto == Proto::LegacyWs {
            self.send(out, json!({"type": "ka"})).await;
        }
        Step::Continue
    }

    /// Replaces the connection's credential with a fresh one of the same user and organization
    /// (its role may differ); anything else closes the connection with 4403.
    async fn reauthenticate(&mut self, credential: String) -> Step {
        let Some(current) = self.viewer.as_ref() else {
            return close(4401, "Unauthorized");
        };
        match credentials::authenticate_until(&self.s.app, &credential).await {
            Ok((v, expires)) if v.user_id == current.user_id && v.org_id == current.org_id => {
                self.viewer = Some(v);
                self.credential = Some(credential);
                self.expires = expires.map(deadline);
                Step::Continue
            }
            _ => close(4403, "Forbidden"),
        }
    }

    /// Why the viewer may not start another operation now: the connection's cap or the
    /// viewer's request budget (operations over a socket spend it like HTTP requests). The
    /// message and `retryAfter`.
    async fn over_budget(&self, viewer: &Viewer) -> Option<(String, Option<u64>)> {
        // Operations over a socket spend the viewer's request budget like HTTP requests, and a
        // connection holds a bounded number of live ones.
        if self.subs.len() >= self.s.app.config.ws_max_operations_per_connection {
            Some((
                format!(
                    "at most {} live operations per connection",
                    self.s.app.config.ws_max_operations_per_connection
                ),
                None,
            ))
        } else {
            let limit = super::graphql::viewer_limit(&self.s.app.config);
            let d = self
                .s
                .app
                .limiter
                .check(&limit, &super::graphql::viewer_key(viewer))
                .await;
            (!d.allowed).then(|| {
                (
                    format!("too many requests; retry after {} s", d.retry_after_secs),
                    Some(d.retry_after_secs),
                )
            })
        }
    }

    /// Answers operation `id` with a RATE_LIMITED error.
    async fn refuse(&self, out: &mpsc::Sender<Out>, id: &str, refusal: (String, Option<u64>)) {
        let (message, retry_after) = refusal;
        let mut ext = json!({"code": "RATE_LIMITED"});
        if let Some(r) = retry_after {
            ext["retryAfter"] = json!(r);
        }
        let payload = json!([{"message": message, "extensions": ext}]);
        let msg = match self.proto {
            Proto::TransportWs => json!({"type": "error", "id": id, "payload": payload}),
            Proto::LegacyWs => json!({"type": "error", "id": id, "payload": payload[0]}),
        };
        self.send(out, msg).await;
    }

    async fn on_subscribe(&mut self, msg: &Value, out: &mpsc::Sender<Out>) -> Step {
        if self.viewer.is_none() {
            return close(4401, "Unauthorized");
        }
        // Every operation gets the checks an HTTP request gets: the credential is verified again
        // (live session, unchanged role, live key; cached briefly by `auth::sessions`).
        let fresh = match &self.credential {
            Some(c) => credentials::authenticate(&self.s.app, c).await.ok(),
            None => None,
        };
        let Some(viewer) = fresh.filter(|v| Some(v) == self.viewer.as_ref()) else {
            return close(4403, "Forbidden: credential no longer valid");
        };
        let (Some(id), Some(payload)) = (msg.get("id").and_then(Value::as_str), msg.get("payload"))
        else {
            return close(4400, "Invalid message received");
        };
        if id.is_empty() {
            return close(4400, "Invalid message received");
        }
        if self.subs.contains_key(id) {
            if self.proto == Proto::TransportWs {
                return close(4409, format!("Subscriber for {id} already exists"));
            }
            if let Some(old) = self.subs.remove(id) {
                old.abort();
            }
        }
        let Ok(request) = serde_json::from_value::<async_graphql::Request>(payload.clone()) else {
            return close(4400, "Invalid subscribe payload");
        };
        if let Some(refusal) = self.over_budget(&viewer).await {
            self.refuse(out, id, refusal).await;
            return Step::Continue;
        }
        let request = prepare_request(request, &self.s.app, Some(viewer), self.meta.clone());
        let schema = self.s.schema.clone();
        let (out, id_owned, proto) = (out.clone(), id.to_string(), self.proto);
        let send_timeout = self.s.app.config.ws_send_timeout;
        let task = self
            .tasks
            .spawn(pump(schema, request, out, id_owned, proto, send_timeout));
        self.subs.insert(id.to_string(), task);
        Step::Continue
    }
}

/// Runs one operation's response stream and forwards each result to the socket; the id and how
/// it ended.
async fn pump(
    schema: AppSchema,
    request: async_graphql::Request,
    out: mpsc::Sender<Out>,
    id_owned: String,
    proto: Proto,
    send_timeout: std::time::Duration,
) -> (String, Done) {
    let stream = schema.execute_stream(request);
    futures::pin_mut!(stream);
    let mut first = true;
    while let Some(resp) = stream.next().await {
        if first && is_request_error(&resp) {
            let errors = serde_json::to_value(&resp.errors).unwrap_or(Value::Null);
            let _ = out
                .send(Out::Text(
                    json!({"type": "error", "id": id_owned, "payload": errors}).to_string(),
                ))
                .await;
            return (id_owned, Done::Finished);
        }
        first = false;
        let ty = if proto == Proto::TransportWs {
            "next"
        } else {
            "data"
        };
        // Straight to text: no intermediate JSON tree per delivery.
        let text = match serde_json::to_string(&Envelope {
            ty,
            id: &id_owned,
            payload: &resp,
        }) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "serializing a subscription result failed");
                continue;
            }
        };
        match out.send_timeout(Out::Text(text), send_timeout).await {
            Ok(()) => {}
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                return (id_owned, Done::TooSlow);
            }
            Err(mpsc::error::SendTimeoutError::Closed(_)) => return (id_owned, Done::Finished),
        }
    }
    let _ = out
        .send(Out::Text(
            json!({"type": "complete", "id": id_owned}).to_string(),
        ))
        .await;
    (id_owned, Done::Finished)
}

/// Resolves once `rx` holds true (never, if its sender is gone first).
async fn until_true(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The instant an access token expiring at `exp` stops being accepted.
fn deadline(exp: chrono::DateTime<chrono::Utc>) -> tokio::time::Instant {
    let left = (exp - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::Instant::now() + left
}

/// True when the operation failed before execution (parse or validation).
fn is_request_error(resp: &GqlResponse) -> bool {
    resp.data == async_graphql::Value::Null
        && resp.errors.first().and_then(|e| e.extensions.as_ref()).and_then(|x| x.get("code")).is_some_and(|c| {
            matches!(c, async_graphql::Value::String(s)
                if s == extension::PARSE_FAILED || s == extension::VALIDATION_FAILED || s == extension::PERSISTED_QUERY_NOT_FOUND)
        })
}
