//! Scenario `redis`: 200 held subscriptions (150 `events(types: [LEAD_CREATED])`, 50
//! `leadEvents`) while leads are created one after another (so creation order is publication
//! order) before, during and after a 10 s Redis fault: the proxy `down` (connections reset, new
//! ones refused, as a killed Redis), `blackhole` (packets dropped: the connections open during
//! it never carry a byte again and the server must find them dead itself), `latency 500`
//! (`stall`, a partition that heals with every byte delivered, with FAULTS_LONG), and a real
//! `redis-server` SIGKILLed and started again on the same port. Pass: every subscriber receives
//! every lead created in the round, in creation order, once (a subscriber that the server ends
//! with `error`/`complete` or a closed socket resumes with `after`, as a client should; the
//! resumes are counted).

use std::{
    collections::HashSet,
    process::Stdio,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use serde_json::json;
use tokio::{process::Command, sync::watch};

use super::{
    client::{self, Crowd, SubLog},
    server::{free_port, host_port, user, via, Env, Server, ServerSpec},
    Verdict,
};
use crate::proxy::{Mode, Proxy};

/// The fault applied during one round.
#[derive(Clone, Copy)]
enum Fault {
    Proxy(Mode),
    /// SIGKILL of a private redis-server, started again on the same port after the outage.
    Restart,
}

impl Fault {
    fn name(self) -> String {
        match self {
            Fault::Proxy(Mode::Down) => "kill".into(),
            Fault::Proxy(Mode::Latency(ms)) => format!("latency-{ms}ms"),
            Fault::Proxy(m) => format!("{m:?}").to_lowercase(),
            Fault::Restart => "sigkill-restart".into(),
        }
    }
}

/// A redis-server this scenario owns (for the kill-and-restart round).
struct OwnRedis {
    port: u16,
    child: tokio::process::Child,
}

impl OwnRedis {
    async fn start(port: u16) -> anyhow::Result<OwnRedis> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("start redis-server")?;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(OwnRedis { port, child });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("redis-server did not listen on {port}")
    }

    async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Verdict>> {
    let outage = Duration::from_secs(if env.long { 30 } else { 10 });
    let db = env.fresh_db("redis").await?;
    let mut faults = vec![
        Fault::Proxy(Mode::Down),
        Fault::Proxy(Mode::Blackhole),
        Fault::Proxy(Mode::Latency(500)),
    ];
    if env.long {
        faults.push(Fault::Proxy(Mode::Stall));
    }
    let mut verdicts = Vec::new();
    // A fresh server (and proxy) per fault: a round that leaves the server broken must not fail
    // the next one.
    for fault in faults {
        let proxy = Proxy::start("127.0.0.1:0", &host_port(&env.redis_url)?).await?;
        let mut spec = ServerSpec::new(&format!("redis-{}", fault.name()), &db)?;
        spec.redis_url = Some(via(&env.redis_url, proxy.addr())?);
        let mut server = Server::start(env, spec).await?;
        let token = user(&server.url(), "redis@faults.example.com").await?;
        let p = proxy.clone();
        let apply = move |on: bool| {
            let Fault::Proxy(m) = fault else { return };
            p.set(if on { m } else { Mode::Pass });
        };
        verdicts.push(round(&server.url(), &token, fault, outage, apply).await?);
        server.kill().await;
    }

    // The issue's own repro: a real Redis process killed and started again on the same port.
    let port = free_port()?;
    let mut redis = OwnRedis::start(port).await?;
    let mut spec = ServerSpec::new("redis-restart", &db)?;
    spec.redis_url = Some(format!("redis://127.0.0.1:{}", redis.port));
    let mut server = Server::start(env, spec).await?;
    let token = user(&server.url(), "redis@faults.example.com").await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<bool>(2);
    let restarter = tokio::spawn(async move {
        let mut rx = rx;
        while let Some(on) = rx.recv().await {
            if on {
                redis.kill().await;
            } else {
                match OwnRedis::start(port).await {
                    Ok(r) => redis = r,
                    Err(e) => eprintln!("faults: {e:#}"),
                }
            }
        }
        redis.kill().await;
    });
    let apply = move |on: bool| {
        let _ = tx.try_send(on);
    };
    verdicts.push(round(&server.url(), &token, Fault::Restart, outage, apply).await?);
    server.kill().await;
    let _ = restarter.await;
    Ok(verdicts)
}

/// One round: fresh subscribers, a liveness check, leads before/during/after the fault, the
/// drain, the verdict.
async fn round(
    base: &str,
    token: &str,
    fault: Fault,
    outage: Duration,
    apply: impl Fn(bool),
) -> anyhow::Result<Verdict> {
    const SUBSCRIBERS: usize = 200;
    const LEAD_EVENTS: usize = 50;
    let name = format!("redis/{}", fault.name());
    let crowd = Crowd::spawn(SUBSCRIBERS, LEAD_EVENTS, base, token, true);
    let live = crowd.live.clone();
    let http = client::http(Duration::from_secs(60))?;
    let live_subscribers = crowd
        .wait_live(&http, base, token, Duration::from_secs(60))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let events_before = live.events.load(Ordering::Relaxed);

    // Leads one after another, every 250 ms, while the fault comes and goes.
    let (mstop_tx, mut mstop_rx) = watch::channel(false);
    let (h, b, t) = (http.clone(), base.to_string(), token.to_string());
    let maker = tokio::spawn(async move {
        let (mut made, mut failed, mut slowest) = (Vec::new(), Vec::new(), Duration::ZERO);
        let mut i = 0;
        while !*mstop_rx.borrow_and_update() {
            let t0 = Instant::now();
            match client::create_lead(&h, &b, &t, json!({"firstName": format!("F{i}")})).await {
                Ok(id) => made.push(id),
                Err(a) => failed.push(a.code.unwrap_or_default()),
            }
            slowest = slowest.max(t0.elapsed());
            i += 1;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = mstop_rx.changed() => {}
            }
        }
        (made, failed, slowest)
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    apply(true);
    tokio::time::sleep(outage).await;
    apply(false);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let _ = mstop_tx.send(true);
    let (made, failed, slowest) = maker.await?;

    // Drain: until every subscriber could have everything, then 1 s of quiet, at most 20 s.
    let target = events_before + SUBSCRIBERS * made.len();
    let drain_deadline = Instant::now() + Duration::from_secs(20);
    let mut last = (live.events.load(Ordering::Relaxed), Instant::now());
    while Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let n = live.events.load(Ordering::Relaxed);
        if n != last.0 {
            last = (n, Instant::now());
        } else if n >= target && last.1.elapsed() > Duration::from_secs(1) {
            break;
        }
    }
    let logs = crowd.finish().await;
    Ok(judge(
        &name,
        &made,
        &failed,
        slowest,
        live_subscribers,
        &logs,
    ))
}

fn judge(
    name: &str,
    made: &[u128],
    failed: &[String],
    slowest: Duration,
    live_subscribers: usize,
    logs: &[SubLog],
) -> Verdict {
    let wanted: HashSet<u128> = made.iter().copied().collect();
    let (mut complete, mut missing, mut dups, mut disordered) = (0usize, 0usize, 0usize, 0usize);
    let (mut resumes, mut reconnects, mut got_nothing_after_fault) = (0u32, 0u32, 0usize);
    let mut errors = Vec::new();
    for log in logs {
        let mine: Vec<u128> = log
            .leads
            .iter()
            .copied()
            .filter(|l| wanted.contains(l))
            .collect();
        let unique: HashSet<u128> = mine.iter().copied().collect();
        dups += mine.len() - unique.len();
        missing += made.len() - unique.len();
        let mut firsts = Vec::new();
        let mut seen = HashSet::new();
        for l in &mine {
            if seen.insert(*l) {
                firsts.push(*l);
            }
        }
        let in_order = made.iter().filter(|l| unique.contains(l)).eq(firsts.iter());
        if !in_order {
            disordered += 1;
        }
        if unique.len() == made.len() {
            complete += 1;
        }
        if mine.len() < made.len() / 2 {
            got_nothing_after_fault += 1;
        }
        resumes += log.resumes;
        reconnects += log.reconnects;
        if errors.len() < 3 {
            errors.extend(log.errors.iter().take(1).cloned());
        }
    }
    let n = logs.len();
    let expected = n * made.len();
    let delivered = expected - missing;
    let figures = json!({
        "subscribers": n, "live_before_fault": live_subscribers,
        "leads_created": made.len(), "create_failures": failed.len(),
        "create_failure_codes": failed.iter().take(3).collect::<Vec<_>>(),
        "slowest_create_ms": slowest.as_millis(),
        "delivered": delivered, "expected": expected,
        "delivery_pct": if expected > 0 { 100.0 * delivered as f64 / expected as f64 } else { 0.0 },
        "complete_subscribers": complete, "stale_subscribers": got_nothing_after_fault,
        "duplicates": dups, "out_of_order_subscribers": disordered,
        "resumes": resumes, "reconnects": reconnects, "client_errors_sample": errors,
    });
    let checks = vec![
        (
            live_subscribers == n,
            format!("{live_subscribers}/{n} subscribers live before the fault"),
        ),
        (
            !made.is_empty() && complete == n,
            format!(
                "{complete}/{n} subscribers received all {} leads ({missing} deliveries missing; {got_nothing_after_fault} subscribers got less than half: stale)",
                made.len()
            ),
        ),
        (dups == 0, format!("{dups} duplicate deliveries")),
        (
            disordered == 0,
            format!("{disordered} subscribers saw leads out of creation order"),
        ),
        (
            failed.is_empty(),
            format!("{} createLead calls failed during the Redis fault", failed.len()),
        ),
    ];
    Verdict::from_checks(name, checks, figures)
}
