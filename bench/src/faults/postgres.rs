//! Scenario `postgres`: 50 HTTP clients (half read a lead page, half create leads) and a
//! `/health` probe every 250 ms while PostgreSQL goes away behind the proxy, twice: `down`
//! (connections reset, new ones refused, as a stopped server) and `blackhole` (packets dropped:
//! the pool's open connections never answer again), 8 s each, with 10 s of recovery after each.
//! The server runs with `REQUEST_TIMEOUT_MS=5000`. Pass: no request takes longer than the timeout + 1 s; failed
//! requests fail fast (median ≤ half the timeout); every failed request says
//! SERVICE_UNAVAILABLE (or TIMEOUT); `/health` always answers within 1.5 s; after
//! each outage the server serves again without a restart (every request sent in the last 2 s
//! of the recovery and answered before it ends succeeds).
//!
//! Meanwhile a campaign to 60 recipients sends at 120/min through both outages (verdict
//! `postgres/campaign`: no job lost or run twice): it completes after them, every recipient is
//! SENT (or honestly UNCERTAIN), and no address receives two messages.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use serde_json::json;
use tokio::sync::Mutex;

use super::{
    campaign, client,
    server::{host_port, user, via, Env, Server, ServerSpec},
    sink::Sink,
    Verdict,
};
use crate::proxy::{Mode, Proxy};

const CLIENTS: usize = 50;
const TIMEOUT_MS: u64 = 5000;
/// Recipients of the campaign that sends through both outages.
const CAMPAIGN: usize = 60;
const READ: &str = "{ leads(first: 5) { edges { node { id firstName } } } }";

/// One request: when it was sent, its latency, and its outcome (None = ok, else the code).
type Sample = (Instant, Duration, Option<String>);

/// One `/health` probe: when, how long, the HTTP status (None = no answer).
type Probe = (Instant, Duration, Option<u16>);

pub async fn run(env: &Env) -> anyhow::Result<Vec<Verdict>> {
    let db = env.fresh_db("postgres").await?;
    let proxy = Proxy::start("127.0.0.1:0", &host_port(&db)?).await?;
    let mut spec = ServerSpec::new("postgres", &via(&db, proxy.addr())?)?
        .set("REQUEST_TIMEOUT_MS", TIMEOUT_MS);
    spec.redis_url = Some(env.redis_url.clone());
    let sink = Sink::start().await?;
    spec.smtp_url = Some(format!("smtp://{}", sink.addr));
    let mut server = Server::start(env, spec).await?;
    let base = server.url();
    let token = user(&base, "postgres@faults.example.com").await?;
    let setup = client::http(Duration::from_secs(30))?;
    let c = campaign::prepare(&setup, &base, &token, "pgjobs", CAMPAIGN, Some(120)).await?;
    campaign::launch(&setup, &base, &token, &c.id).await?;
    let outage = Duration::from_secs(if env.long { 30 } else { 8 });
    let recovery = Duration::from_secs(10);

    let stop = Arc::new(AtomicBool::new(false));
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let http = client::http(Duration::from_secs(60))?;
    let mut tasks = Vec::new();
    for w in 0..CLIENTS {
        let (http, base, token, stop, samples) = (
            http.clone(),
            base.clone(),
            token.clone(),
            stop.clone(),
            samples.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let a = if w % 2 == 0 {
                    client::call(&http, &base, &token, READ, json!({})).await
                } else {
                    client::call(
                        &http,
                        &base,
                        &token,
                        client::CREATE_LEAD,
                        json!({"i": {"firstName": format!("P{w}-{i}")}}),
                    )
                    .await
                };
                let failed = if a.ok() {
                    None
                } else {
                    Some(
                        a.code
                            .clone()
                            .unwrap_or_else(|| format!("HTTP {:?}", a.status)),
                    )
                };
                let pause = failed.is_some();
                samples.lock().await.push((sent, a.latency, failed));
                i += 1;
                // A failing client backs off a little, as a real one would.
                let wait = if pause { 200 } else { 20 };
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
        }));
    }
    // /health every 250 ms: (sent, latency, status).
    let health: Arc<Mutex<Vec<Probe>>> = Arc::default();
    {
        let (stop, health, url) = (stop.clone(), health.clone(), format!("{base}/health"));
        let probe = client::http(Duration::from_secs(30))?;
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let st = probe
                    .get(&url)
                    .send()
                    .await
                    .ok()
                    .map(|r| r.status().as_u16());
                health.lock().await.push((t, t.elapsed(), st));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut windows = Vec::new();
    for mode in [Mode::Down, Mode::Blackhole] {
        let from = Instant::now();
        proxy.set(mode);
        tokio::time::sleep(outage).await;
        let healed = Instant::now();
        proxy.set(Mode::Pass);
        tokio::time::sleep(recovery).await;
        windows.push((mode, from, healed, Instant::now()));
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let within = Duration::from_secs(if env.long { 300 } else { 120 });
    let (last, _) = campaign::wait_done(&db, &c.id, within).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rows = campaign::recipients(&db, &c.id).await?;
    let received = sink.received();
    server.kill().await;
    let (checks, figures) = campaign::delivery_checks(last.as_deref(), &rows, &received, &c.emails);

    let samples = samples.lock().await;
    let health = health.lock().await;
    let mut verdicts = Vec::new();
    for (mode, from, healed, end) in windows {
        verdicts.push(judge(mode, from, healed, end, &samples, &health));
    }
    verdicts.push(Verdict::from_checks("postgres/campaign", checks, figures));
    Ok(verdicts)
}

fn judge(
    mode: Mode,
    from: Instant,
    healed: Instant,
    end: Instant,
    samples: &[Sample],
    health: &[Probe],
) -> Verdict {
    let name = format!("postgres/{}", format!("{mode:?}").to_lowercase());
    // Requests sent during the outage (or still running into it).
    let during: Vec<&Sample> = samples
        .iter()
        .filter(|(s, l, _)| *s < healed && *s + *l >= from)
        .collect();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut slowest = Duration::ZERO;
    for (_, l, c) in &during {
        slowest = slowest.max(*l);
        *codes
            .entry(c.clone().unwrap_or_else(|| "ok".into()))
            .or_default() += 1;
    }
    let bad_codes: usize = codes
        .iter()
        .filter(|(c, _)| !matches!(c.as_str(), "ok" | "SERVICE_UNAVAILABLE" | "TIMEOUT"))
        .map(|(_, n)| n)
        .sum();
    // Fail fast: how long the failed requests took to say so.
    let mut latencies: Vec<u128> = during
        .iter()
        .filter(|(_, _, c)| c.is_some())
        .map(|(_, l, _)| l.as_millis())
        .collect();
    latencies.sort_unstable();
    let median_ms = latencies.get(latencies.len() / 2).copied().unwrap_or(0);
    let probes: Vec<_> = health
        .iter()
        .filter(|(t, _, _)| *t >= from && *t < end)
        .collect();
    let slowest_health = probes.iter().map(|(_, l, _)| *l).max().unwrap_or_default();
    let health_during: BTreeMap<String, usize> = probes
        .iter()
        .filter(|(t, _, _)| *t < healed)
        .fold(BTreeMap::new(), |mut m, (_, _, s)| {
            *m.entry(format!("{s:?}")).or_default() += 1;
            m
        });
    let tail: Vec<&Sample> = samples
        .iter()
        .filter(|(s, l, _)| *s + Duration::from_secs(2) >= end && *s + *l < end)
        .collect();
    let tail_ok = tail.iter().filter(|(_, _, c)| c.is_none()).count();
    let tail_codes: BTreeMap<String, usize> =
        tail.iter()
            .filter_map(|(_, _, c)| c.clone())
            .fold(BTreeMap::new(), |mut m, c| {
                *m.entry(c).or_default() += 1;
                m
            });
    let first_ok_after = samples
        .iter()
        .filter(|(s, _, c)| *s >= healed && c.is_none())
        .map(|(s, l, _)| (*s + *l).saturating_duration_since(healed))
        .min();
    let figures = json!({
        "requests_during_outage": during.len(), "outcomes_during_outage": codes,
        "median_ms_of_failures_during_outage": median_ms, "slowest_ms_during_outage": slowest.as_millis(),
        "health_during_outage": health_during, "slowest_health_ms": slowest_health.as_millis(),
        "first_success_after_heal_ms": first_ok_after.map(|d| d.as_millis()),
        "last_2s_ok": format!("{tail_ok}/{}", tail.len()), "last_2s_failures": tail_codes,
    });
    let checks = vec![
        (
            slowest <= Duration::from_millis(TIMEOUT_MS + 1000),
            format!(
                "slowest request during the outage took {} ms (limit REQUEST_TIMEOUT_MS {TIMEOUT_MS} + 1000)",
                slowest.as_millis()
            ),
        ),
        (
            median_ms <= u128::from(TIMEOUT_MS / 2),
            format!(
                "failed requests took {median_ms} ms (median) to fail: not fast (limit REQUEST_TIMEOUT_MS / 2 = {} ms)",
                TIMEOUT_MS / 2
            ),
        ),
        (
            bad_codes == 0,
            format!("{bad_codes} failed requests did not say SERVICE_UNAVAILABLE/TIMEOUT: {codes:?}"),
        ),
        (
            !probes.is_empty() && slowest_health <= Duration::from_millis(1500),
            format!("slowest /health took {} ms (limit 1500)", slowest_health.as_millis()),
        ),
        (
            !tail.is_empty() && tail_ok == tail.len(),
            format!("{tail_ok}/{} requests ok in the last 2 s of the recovery", tail.len()),
        ),
    ];
    Verdict::from_checks(&name, checks, figures)
}
