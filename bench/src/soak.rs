//! `lg-bench soak` (issue 23, not in CI): one release server on PostgreSQL + Redis + a sink,
//! held at a moderate load for `minutes`: 200 subscribers (50 `leadEvents`, 150 `events`),
//! 50 HTTP clients (half read a lead page, half create leads, each pausing 200 ms between
//! requests), and campaigns of 50 recipients at 120/min one after another. Every `every_secs`
//! one CSV row: elapsed seconds, server RSS (kB), open fds, threads, `ws_connections_active`
//! and `tokio_tasks_alive` from /metrics, database connections (pg_stat_activity), requests and
//! errors so far, events received, emails received. The verdict: RSS of the last sample within
//! 10 % of the sample taken after the warm-up (the first 10 % of the run), fds and DB
//! connections bounded (last ≤ warm-up + 20), tasks bounded (last ≤ warm-up + 10 % + 50: the
//! load holds ~200 sockets and 50 clients, so a leak of one task per request or per event
//! passes that within minutes), every subscriber still receiving.

use std::{
    io::Write,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::{json, Value};

use crate::faults::{
    call, http, launch, prepare, proc_figures, psql, user, Crowd, Env, Server, ServerSpec, Sink,
};

const READ: &str = "{ leads(first: 5) { edges { node { id firstName } } } }";

pub async fn run(env: Env, minutes: f64, every_secs: u64, csv: &str) -> anyhow::Result<Value> {
    let db = env.fresh_db("soak").await?;
    let db_name = db.rsplit('/').next().unwrap_or_default().to_string();
    let sink = Sink::start().await?;
    let mut spec = ServerSpec::new("soak", &db)?;
    spec.redis_url = Some(env.redis_url.clone());
    spec.smtp_url = Some(format!("smtp://{}", sink.addr));
    let mut server = Server::start(&env, spec).await?;
    let base = server.url();
    let login = user(&base, "soak@faults.example.com").await?;
    let client = http(Duration::from_secs(60))?;
    // An access token lives 15 minutes and sockets opened with one are closed when it expires
    // (by design); a 30-minute client holds an API key instead, as partner integrations do.
    let token = api_key(&client, &base, &login).await?;

    let crowd = Crowd::spawn(200, 50, &base, &token, true);
    let live = crowd
        .wait_live(&client, &base, &token, Duration::from_secs(60))
        .await;

    let stop = Arc::new(AtomicBool::new(false));
    let (requests, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for w in 0..50 {
        let (c, b, t, stop, requests, errors) = (
            client.clone(),
            base.clone(),
            token.clone(),
            stop.clone(),
            requests.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let a = if w % 2 == 0 {
                    call(&c, &b, &t, READ, json!({})).await
                } else {
                    call(
                        &c,
                        &b,
                        &t,
                        crate::faults::CREATE_LEAD,
                        json!({"i": {"firstName": format!("S{w}-{i}")}}),
                    )
                    .await
                };
                requests.fetch_add(1, Ordering::Relaxed);
                if !a.ok() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    // Campaigns one after another.
    {
        let (c, b, t, stop, db) = (
            client.clone(),
            base.clone(),
            token.clone(),
            stop.clone(),
            db.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                k += 1;
                let tag = format!("soak{k}");
                let Ok(camp) = prepare(&c, &b, &t, &tag, 50, Some(120)).await else {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    continue;
                };
                let _ = launch(&c, &b, &t, &camp.id).await;
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let st = psql(
                        &db,
                        &format!("SELECT status FROM campaigns WHERE id = '{}'", camp.id),
                    )
                    .await
                    .unwrap_or_default();
                    if matches!(st.as_str(), "COMPLETED" | "FAILED" | "STOPPED") {
                        break;
                    }
                }
            }
        }));
    }

    let mut out = std::fs::File::create(csv).with_context(|| format!("create {csv}"))?;
    writeln!(
        out,
        "secs,rss_kb,fds,threads,ws_connections,db_connections,requests,errors,events,emails,tasks"
    )?;
    let started = Instant::now();
    let total = Duration::from_secs_f64(minutes * 60.0);
    let mut rows: Vec<[u64; 11]> = Vec::new();
    let metrics = http(Duration::from_secs(5))?;
    while started.elapsed() < total {
        tokio::time::sleep(Duration::from_secs(every_secs)).await;
        let p = proc_figures(server.pid);
        let text = match metrics.get(format!("{base}/metrics")).send().await.ok() {
            Some(r) => r.text().await.unwrap_or_default(),
            None => String::new(),
        };
        let dbc: u64 = psql(
            &env.postgres_url,
            &format!("SELECT count(*) FROM pg_stat_activity WHERE datname = '{db_name}'"),
        )
        .await
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
        let row = [
            started.elapsed().as_secs(),
            p["rss_kb"].as_u64().unwrap_or(0),
            p["fds"].as_u64().unwrap_or(0),
            p["threads"].as_u64().unwrap_or(0),
            gauge(&text, "ws_connections_active"),
            dbc,
            requests.load(Ordering::Relaxed),
            errors.load(Ordering::Relaxed),
            crowd.live.events.load(Ordering::Relaxed) as u64,
            sink.received().len() as u64,
            gauge(&text, "tokio_tasks_alive"),
        ];
        writeln!(out, "{}", row.map(|v| v.to_string()).join(","))?;
        out.flush()?;
        eprintln!("soak: {}", row.map(|v| v.to_string()).join(","));
        rows.push(row);
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let logs = crowd.finish().await;
    server.kill().await;

    let warm = rows.get(rows.len() / 10).copied().unwrap_or_default();
    let last = rows.last().copied().unwrap_or_default();
    let rss_growth_pct = if warm[1] > 0 {
        100.0 * (last[1] as f64 - warm[1] as f64) / warm[1] as f64
    } else {
        0.0
    };
    let receiving = logs.iter().filter(|l| !l.leads.is_empty()).count();
    let tasks_bound = warm[10] + warm[10] / 10 + 50;
    let pass = rss_growth_pct <= 10.0
        && last[2] <= warm[2] + 20
        && last[5] <= warm[5] + 20
        && last[10] > 0
        && last[10] <= tasks_bound;
    Ok(json!({
        "pass": pass, "minutes": minutes, "samples": rows.len(), "csv": csv,
        "subscribers_live_at_start": live, "subscribers_receiving": receiving,
        "rss_kb_after_warmup": warm[1], "rss_kb_last": last[1], "rss_growth_pct": rss_growth_pct,
        "fds_after_warmup": warm[2], "fds_last": last[2],
        "threads_last": last[3], "db_connections_after_warmup": warm[5], "db_connections_last": last[5],
        "tasks_after_warmup": warm[10], "tasks_last": last[10], "tasks_bound": tasks_bound,
        "requests": last[6], "errors": last[7], "events": last[8], "emails": last[9],
    }))
}

/// The sum of a gauge's samples (all label sets) in Prometheus text; 0 when absent.
fn gauge(text: &str, name: &str) -> u64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with(' ') || r.starts_with('{'))
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The secret of a new OWNER API key of the logged-in user (the soak launches campaigns).
async fn api_key(client: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<String> {
    let a = call(
        client,
        base,
        token,
        "mutation { createApiKey(input: {name: \"soak\", role: OWNER}) { secret } }",
        json!({}),
    )
    .await;
    a.body["data"]["createApiKey"]["secret"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("createApiKey: {:?} {}", a.code, a.body))
}
