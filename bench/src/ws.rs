//! Subscription figures (c): N graphql-transport-ws subscribers of
//! `events(types: [LEAD_CREATED])`, M `createLead` mutations at a fixed open-loop rate, delivery
//! ratio and latency (event arrival at a subscriber − the mutation's intended send time), and the
//! server's RSS before the connections, after they are acknowledged, and after they subscribed,
//! so memory per subscribed connection is ΔRSS ÷ N (split into the connection's and the
//! subscription's share). Also the raw Redis PUBLISH → pattern-subscriber hop for comparison.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::{
    net::TcpStream,
    sync::{watch, Semaphore},
};
use tokio_tungstenite::{
    tungstenite::{
        client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig, Message,
    },
    MaybeTlsStream, WebSocketStream,
};

use crate::gql::{histogram, summary, Gql};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const SUBSCRIPTION: &str = "subscription { events(types: [LEAD_CREATED]) { id data } }";
const CREATE: &str = "mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }";

/// Parameters of one `ws` run.
pub struct WsRun {
    /// Server base URL (`http://host:port`); the socket is `ws://host:port/graphql/ws`.
    pub url: String,
    pub token: String,
    pub subscribers: usize,
    /// Handshakes (TCP + upgrade + init + ack + subscribe) in flight at once.
    pub handshake_concurrency: usize,
    pub mutations: usize,
    /// Mutations per second (open loop).
    pub rate: f64,
    /// The server's pid, for /proc/<pid>/status and /proc/<pid>/stat.
    pub server_pid: Option<u32>,
    /// Seconds to wait after the last mutation for the last deliveries.
    pub drain_secs: f64,
}

/// A lead id as a number (the event's `data.leadId`, the mutation's `id`).
pub(crate) fn lead_key(s: &str) -> Option<u128> {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    u128::from_str_radix(&hex, 16).ok()
}

/// `Name:   1234 kB` lines of /proc/<pid>/status, in kB.
fn proc_status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// RSS figures of a process, in kB.
fn memory(pid: Option<u32>) -> Value {
    match pid {
        Some(pid) => json!({
            "vm_rss_kb": proc_status_kb(pid, "VmRSS"),
            "rss_anon_kb": proc_status_kb(pid, "RssAnon"),
            "vm_hwm_kb": proc_status_kb(pid, "VmHWM"),
            "threads": proc_status_kb(pid, "Threads"),
        }),
        None => Value::Null,
    }
}

/// User + system CPU seconds of a process (clock ticks of 1/100 s, Linux USER_HZ).
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces; fields after it are space-separated.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The soft limit on open files of this process.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
}

pub(crate) fn ws_url(base: &str) -> anyhow::Result<String> {
    let base = base.trim_end_matches('/');
    let rest = base
        .strip_prefix("http://")
        .map(|r| format!("ws://{r}"))
        .or_else(|| base.strip_prefix("https://").map(|r| format!("wss://{r}")))
        .context("--url must start with http:// or https://")?;
    Ok(format!("{rest}/graphql/ws"))
}

pub(crate) fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

/// Connects, initialises with the token and waits for the ack.
pub(crate) async fn open(url: &str, token: &str) -> anyhow::Result<Ws> {
    let mut req = url.into_client_request()?;
    req.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    // Small client buffers: 10,000 sockets × the 128 KiB default would be 1.3 GB here.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(4096);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(req, Some(config), true)
        .await
        .context("connect")?;
    ws.send(text(
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}),
    ))
    .await?;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .context("no connection_ack within 30 s")?;
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t)?;
                match v["type"].as_str() {
                    Some("connection_ack") => break,
                    Some("ping") => ws.send(text(json!({"type": "pong"}))).await?,
                    _ => bail!("unexpected message before ack: {t}"),
                }
            }
            Some(Ok(Message::Close(f))) => bail!("closed before ack: {f:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => bail!("connection ended before ack"),
        }
    }
    Ok(ws)
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    /// (lead, arrival) for every `next`.
    arrivals: Vec<(u128, Instant)>,
    /// Why the connection ended before we stopped it (close frame, error, `error`/`complete`).
    ended: Option<String>,
}

/// Shared counters the driver watches.
#[derive(Default)]
struct Counters {
    /// Subscribers that have received at least one event.
    live: AtomicUsize,
    /// Events received, all subscribers together.
    events: AtomicU64,
    /// Subscribers whose connection ended early.
    ended: AtomicUsize,
}

/// One connection: subscribes once `go` hands it a permit, then records every event until
/// `stop`.
async fn subscriber(
    mut ws: Ws,
    go: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
) -> Seen {
    let mut seen = Seen::default();
    let subscribe =
        text(json!({"type": "subscribe", "id": "1", "payload": {"query": SUBSCRIPTION}}));
    let ready = match go.acquire().await {
        Ok(permit) => {
            permit.forget();
            true
        }
        Err(_) => false,
    };
    let sent = if ready {
        ws.send(subscribe)
            .await
            .map_err(|e| format!("subscribe: {e}"))
    } else {
        Err("stopped before subscribing".to_string())
    };
    if let Err(why) = sent {
        counters.ended.fetch_add(1, Ordering::Relaxed);
        seen.ended = Some(why);
        return seen;
    }
    loop {
        let msg = tokio::select! {
            _ = stop.changed() => break,
            m = ws.next() => m,
        };
        let arrived = Instant::now();
        let ended = match msg {
            Some(Ok(Message::Text(t))) => match serde_json::from_str::<Value>(&t) {
                Ok(v) => match v["type"].as_str() {
                    Some("next") => {
                        match v["payload"]["data"]["events"]["data"]["leadId"]
                            .as_str()
                            .and_then(lead_key)
                        {
                            Some(lead) => {
                                if seen.arrivals.is_empty() {
                                    counters.live.fetch_add(1, Ordering::Relaxed);
                                }
                                seen.arrivals.push((lead, arrived));
                                counters.events.fetch_add(1, Ordering::Relaxed);
                                None
                            }
                            None => Some(format!("next without a leadId: {t}")),
                        }
                    }
                    Some("ping") => match ws.send(text(json!({"type": "pong"}))).await {
                        Ok(()) => None,
                        Err(e) => Some(format!("pong: {e}")),
                    },
                    Some("pong") => None,
                    _ => Some(format!("unexpected message: {t}")),
                },
                Err(e) => Some(format!("invalid JSON ({e}): {t}")),
            },
            Some(Ok(Message::Close(f))) => Some(format!(
                "closed by the server: {}",
                f.map(|f| format!("{} {}", u16::from(f.code), f.reason))
                    .unwrap_or_default()
            )),
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(format!("socket error: {e}")),
            None => Some("connection ended".to_string()),
        };
        if let Some(why) = ended {
            counters.ended.fetch_add(1, Ordering::Relaxed);
            seen.ended = Some(why);
            return seen;
        }
    }
    let _ = ws.close(None).await;
    seen
}

/// Sends one `createLead`; returns the lead.
async fn create_lead(g: &Gql, name: &str) -> anyhow::Result<u128> {
    let data = g
        .run(
            CREATE,
            json!({"i": {"firstName": name, "lastName": "Bench"}}),
        )
        .await?;
    data["createLead"]["id"]
        .as_str()
        .and_then(lead_key)
        .context("createLead returned no id")
}

pub async fn fanout(p: WsRun) -> anyhow::Result<Value> {
    let url = ws_url(&p.url)?;
    if let Some(limit) = open_files_limit() {
        if limit < p.subscribers as u64 + 256 {
            bail!(
                "open files limit {limit} is too low for {} sockets: raise it (ulimit -n) first",
                p.subscribers
            );
        }
    }
    let g = Gql::new(&p.url)?.with_token(&p.token);
    let counters = Arc::new(Counters::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let go = Arc::new(Semaphore::new(0));

    // Warm the server's one-time allocations (schema, pools, first socket) before measuring.
    create_lead(&g, "warm-up")
        .await
        .context("warm-up mutation")?;
    for _ in 0..4 {
        let ws = open(&url, &p.token).await.context("warm-up socket")?;
        drop(ws);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = memory(p.server_pid);

    // Ramp: at most `handshake_concurrency` handshakes in flight.
    let ramp_started = Instant::now();
    let mut tasks = Vec::with_capacity(p.subscribers);
    let mut connect_errors: Vec<String> = Vec::new();
    {
        let mut opened = futures::stream::iter(0..p.subscribers)
            .map(|_| open(&url, &p.token))
            .buffer_unordered(p.handshake_concurrency.max(1));
        while let Some(res) = opened.next().await {
            match res {
                Ok(ws) => tasks.push(tokio::spawn(subscriber(
                    ws,
                    go.clone(),
                    stop_rx.clone(),
                    counters.clone(),
                ))),
                Err(e) => connect_errors.push(format!("{e:#}")),
            }
        }
    }
    let ramp_secs = ramp_started.elapsed().as_secs_f64();
    let connected = tasks.len();
    // Connected and acknowledged, not subscribed yet: the connection's own share of memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected = memory(p.server_pid);
    // Subscribe at the pace the connections were opened (chunks of `handshake_concurrency`), not
    // all at once: a burst of N subscribes queues N database reads and leaves a transient heap
    // peak behind in the RSS.
    let chunk = p.handshake_concurrency.max(1);
    let pace = Duration::from_secs_f64(
        (ramp_secs * chunk as f64 / connected.max(1) as f64).clamp(0.005, 1.0),
    );
    let mut released = 0;
    while released < connected {
        let n = chunk.min(connected - released);
        go.add_permits(n);
        released += n;
        tokio::time::sleep(pace).await;
    }

    // Liveness: the protocol has no "subscribed" message, so send warm-up mutations until every
    // subscriber has received one (they are not measured).
    let mut warmups = 0;
    let live_deadline = Instant::now() + Duration::from_secs(60);
    while counters.live.load(Ordering::Relaxed) + counters.ended.load(Ordering::Relaxed) < connected
        && Instant::now() < live_deadline
    {
        create_lead(&g, "liveness")
            .await
            .context("liveness mutation")?;
        warmups += 1;
        let until = Instant::now() + Duration::from_secs(5);
        while counters.live.load(Ordering::Relaxed) + counters.ended.load(Ordering::Relaxed)
            < connected
            && Instant::now() < until
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let live = counters.live.load(Ordering::Relaxed);
    // Let the warm-up deliveries finish, then measure the idle, subscribed server.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_subscribed = memory(p.server_pid);
    let events_before_run = counters.events.load(Ordering::Relaxed);
    let server_cpu_before = p.server_pid.and_then(cpu_secs);
    let own_cpu_before = cpu_secs(std::process::id());

    // The measured run: open loop, latencies from the intended send time.
    let sent: Arc<tokio::sync::Mutex<Vec<(u128, Instant)>>> =
        Arc::new(tokio::sync::Mutex::new(Vec::with_capacity(p.mutations)));
    let mutation_errors = Arc::new(AtomicU64::new(0));
    let mutation_latency = Arc::new(tokio::sync::Mutex::new(histogram()?));
    let start = Instant::now() + Duration::from_millis(100);
    let mut senders = Vec::with_capacity(p.mutations);
    for i in 0..p.mutations {
        let intended = start + Duration::from_secs_f64(i as f64 / p.rate);
        let (g, sent, errors, lat) = (
            g.clone(),
            sent.clone(),
            mutation_errors.clone(),
            mutation_latency.clone(),
        );
        senders.push(tokio::spawn(async move {
            tokio::time::sleep_until(intended.into()).await;
            match create_lead(&g, &format!("Bench {i}")).await {
                Ok(lead) => {
                    let _ = lat
                        .lock()
                        .await
                        .record(intended.elapsed().as_micros() as u64);
                    sent.lock().await.push((lead, intended));
                }
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for s in senders {
        let _ = s.await;
    }
    let sent_at: HashMap<u128, Instant> = sent.lock().await.iter().copied().collect();
    let ok_mutations = sent_at.len();
    // Wait for the measured deliveries: the counter also holds the liveness events counted
    // before the run; then until it stops moving (a late liveness event must not end the wait
    // one delivery early).
    let expected = (connected * ok_mutations) as u64;
    let target = events_before_run + expected;
    let drain_deadline = Instant::now() + Duration::from_secs_f64(p.drain_secs);
    let mut last = (counters.events.load(Ordering::Relaxed), Instant::now());
    while Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let n = counters.events.load(Ordering::Relaxed);
        if n != last.0 {
            last = (n, Instant::now());
        } else if n >= target && last.1.elapsed() > Duration::from_millis(300) {
            break;
        }
    }
    let run_secs = start.elapsed().as_secs_f64();
    let server_cpu = match (server_cpu_before, p.server_pid.and_then(cpu_secs)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let own_cpu = match (own_cpu_before, cpu_secs(std::process::id())) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let rss_after_run = memory(p.server_pid);

    let _ = stop_tx.send(true);
    let mut latency = histogram()?;
    let mut first_arrival: HashMap<u128, Instant> = HashMap::new();
    let mut last_arrival: HashMap<u128, Instant> = HashMap::new();
    let (mut delivered, mut duplicates, mut incomplete) = (0u64, 0u64, 0usize);
    let mut ended_reasons: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        let seen = t.await?;
        if let Some(why) = seen.ended {
            // Group by the first words (close code) so the output stays short.
            let key: String = why.chars().take(60).collect();
            *ended_reasons.entry(key).or_default() += 1;
        }
        let mut mine = HashSet::new();
        for (lead, at) in seen.arrivals {
            let Some(sent) = sent_at.get(&lead) else {
                continue; // a warm-up / liveness event
            };
            if !mine.insert(lead) {
                duplicates += 1;
                continue;
            }
            delivered += 1;
            latency.record(at.saturating_duration_since(*sent).as_micros().max(1) as u64)?;
            first_arrival
                .entry(lead)
                .and_modify(|f| *f = (*f).min(at))
                .or_insert(at);
            last_arrival
                .entry(lead)
                .and_modify(|f| *f = (*f).max(at))
                .or_insert(at);
        }
        if mine.len() < ok_mutations {
            incomplete += 1;
        }
    }
    let mut first = histogram()?;
    let mut last = histogram()?;
    for (lead, sent) in &sent_at {
        if let Some(at) = first_arrival.get(lead) {
            first.record(at.saturating_duration_since(*sent).as_micros().max(1) as u64)?;
        }
        if let Some(at) = last_arrival.get(lead) {
            last.record(at.saturating_duration_since(*sent).as_micros().max(1) as u64)?;
        }
    }
    let kb = |v: &Value| v["vm_rss_kb"].as_u64();
    let per_connection = |from: &Value, to: &Value| match (kb(from), kb(to)) {
        (Some(a), Some(b)) if connected > 0 => Some((b as f64 - a as f64) / connected as f64),
        _ => None,
    };
    connect_errors.truncate(5);
    let mutation_latency = mutation_latency.lock().await;
    Ok(json!({
        "subscribers": p.subscribers,
        "connected": connected,
        "connect_errors_sample": connect_errors,
        "ramp_secs": ramp_secs,
        "handshake_concurrency": p.handshake_concurrency,
        "liveness_mutations": warmups,
        "live_subscribers": live,
        "mutations": p.mutations,
        "mutations_ok": ok_mutations,
        "mutation_errors": mutation_errors.load(Ordering::Relaxed),
        "rate": p.rate,
        "expected": expected,
        "delivered": delivered,
        "delivery_ratio": if expected > 0 { delivered as f64 / expected as f64 } else { 0.0 },
        "duplicates": duplicates,
        "incomplete_subscribers": incomplete,
        "ended_early": ended_reasons,
        "latency": summary(&latency),
        "first_subscriber_latency": summary(&first),
        "last_subscriber_latency": summary(&last),
        "mutation_latency": summary(&mutation_latency),
        "run_secs": run_secs,
        "server_cpu_secs": server_cpu,
        "bench_cpu_secs": own_cpu,
        "server_kb_per_connection": per_connection(&rss_before, &rss_subscribed),
        "server_kb_per_connection_before_subscribe": per_connection(&rss_before, &rss_connected),
        "server_kb_per_subscription": per_connection(&rss_connected, &rss_subscribed),
        "server_memory_before": rss_before,
        "server_memory_connected": rss_connected,
        "server_memory_subscribed": rss_subscribed,
        "server_memory_after_run": rss_after_run,
    }))
}
