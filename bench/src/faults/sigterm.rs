//! Scenario `sigterm`: SIGTERM while 20 subscribers hold `events` and 20 HTTP clients create
//! leads (a new connection per request, so every request is either refused or in flight), once
//! with healthy dependencies and once with PostgreSQL black-holed. Pass: the process exits
//! within 5 s, every subscriber gets a 1001 (going away) close, and (healthy round) no request
//! in flight for 200 ms or more at the signal is cut off without an answer, and the send job of
//! a campaign running at the signal gives up its lease (another instance may take it at once).

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::{
    campaign,
    client::{self, Answer, Crowd},
    server::{host_port, psql, user, via, Env, Server, ServerSpec},
    sink::Sink,
    Verdict,
};
use crate::proxy::{Mode, Proxy};

const SUBSCRIBERS: usize = 20;
const CLIENTS: usize = 20;
const EXIT_LIMIT: Duration = Duration::from_secs(5);

pub async fn run(env: &Env) -> anyhow::Result<Vec<Verdict>> {
    let db = env.fresh_db("sigterm").await?;
    let mut out = Vec::new();
    let sink = Sink::start().await?;
    for pg_down in [false, true] {
        let proxy = Proxy::start("127.0.0.1:0", &host_port(&db)?).await?;
        let name = if pg_down { "sigterm-pg" } else { "sigterm" };
        let mut spec = ServerSpec::new(name, &via(&db, proxy.addr())?)?;
        spec.redis_url = Some(env.redis_url.clone());
        spec.smtp_url = Some(format!("smtp://{}", sink.addr));
        let server = Server::start(env, spec).await?;
        out.push(round(server, &proxy, pg_down, &db).await?);
    }
    Ok(out)
}

async fn round(mut server: Server, pg: &Proxy, pg_down: bool, db: &str) -> anyhow::Result<Verdict> {
    let base = server.url();
    let token = user(&base, "sigterm@faults.example.com").await?;
    // A campaign sending at the signal (healthy round): its job must release its lease.
    let http0 = client::http(Duration::from_secs(30))?;
    let mut campaign_id = None;
    if !pg_down {
        let c = campaign::prepare(&http0, &base, &token, "sigterm", 100, Some(300)).await?;
        campaign::launch(&http0, &base, &token, &c.id).await?;
        campaign_id = Some(c.id);
    }
    let crowd = Crowd::spawn(SUBSCRIBERS, 0, &base, &token, false);
    let warm = client::http(Duration::from_secs(30))?;
    let live = crowd
        .wait_live(&warm, &base, &token, Duration::from_secs(30))
        .await;
    if pg_down {
        pg.set(Mode::Blackhole);
    }
    // One connection per request: no keep-alive race at shutdown blurs the verdict.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .pool_max_idle_per_host(0)
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let answers: Arc<Mutex<Vec<(Instant, Answer)>>> = Arc::default();
    let workers: Vec<_> = (0..CLIENTS)
        .map(|w| {
            let (http, base, token, stop, answers) = (
                http.clone(),
                base.clone(),
                token.clone(),
                stop.clone(),
                answers.clone(),
            );
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    let a = client::call(
                        &http,
                        &base,
                        &token,
                        client::CREATE_LEAD,
                        json!({"i": {"firstName": format!("T{w}-{i}")}}),
                    )
                    .await;
                    let refused = a.connect_error;
                    answers.lock().await.push((sent, a));
                    i += 1;
                    if refused {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let signalled = Instant::now();
    server.signal("TERM").await?;
    let exit = server.wait_exit(Duration::from_secs(30)).await;
    if exit.is_none() {
        server.kill().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.await;
    }
    let logs = crowd.finish().await;
    pg.set(Mode::Pass);

    let closes_1001 = logs
        .iter()
        .filter(|l| l.close_codes.contains(&1001))
        .count();
    let mut close_codes: BTreeMap<String, usize> = BTreeMap::new();
    for l in &logs {
        let k = l
            .close_codes
            .first()
            .map(|c| c.to_string())
            .unwrap_or_else(|| l.errors.first().cloned().unwrap_or_else(|| "none".into()));
        *close_codes.entry(k.chars().take(60).collect()).or_default() += 1;
    }
    let answers = answers.lock().await;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut cut = 0;
    for (sent, a) in answers
        .iter()
        .filter(|(s, _)| *s + Duration::from_secs(40) > signalled)
    {
        // Requests still unanswered at the signal, or sent after it.
        let in_flight_at_signal = *sent <= signalled && *sent + a.latency >= signalled;
        let k = match (&a.status, &a.code) {
            (_, _) if a.connect_error => "refused (after the listener closed)".to_string(),
            (Some(s), None) => format!("{s} ok"),
            (Some(s), Some(c)) => format!("{s} {c}"),
            (None, Some(c)) => {
                // Sent 200 ms before the signal: surely accepted by the server, not waiting in
                // the kernel's backlog (those are reset when the listener closes).
                if *sent + Duration::from_millis(200) <= signalled {
                    cut += 1;
                    format!("no answer (in flight ≥ 200 ms at the signal): {c}")
                } else {
                    format!("no answer (sent < 200 ms before the signal or after it): {c}")
                }
            }
            (None, None) => "?".into(),
        };
        if in_flight_at_signal || *sent > signalled {
            *outcomes.entry(k).or_default() += 1;
        }
    }
    let name = if pg_down {
        "sigterm/postgres-blackholed"
    } else {
        "sigterm/healthy"
    };
    let exit_ms = exit.map(|d| d.as_millis() as u64);
    let mut checks = vec![
        (
            exit.is_some_and(|d| d <= EXIT_LIMIT),
            format!("exit after SIGTERM took {exit_ms:?} ms (limit 5000; None = still running after 30 s)"),
        ),
        (
            live == SUBSCRIBERS && closes_1001 == SUBSCRIBERS,
            format!("{closes_1001}/{SUBSCRIBERS} subscribers got a 1001 close ({live} were live); closes seen: {close_codes:?}"),
        ),
    ];
    let mut lease = Value::Null;
    if let (false, Some(id)) = (pg_down, campaign_id) {
        checks.push((
            cut == 0,
            format!("{cut} requests in flight for ≥ 200 ms at the signal got no answer"),
        ));
        // Released = not `running`, or running with its lease already given up (expired).
        let row = psql(
            db,
            &format!(
                "SELECT state || ':' || coalesce((lease_until_ms - (extract(epoch from now()) * 1000)::bigint)::text, 'none') \
                 FROM jobs WHERE kind = 'campaign.send' AND payload::text LIKE '%{id}%'"
            ),
        )
        .await
        .unwrap_or_default();
        let released = row.split_once(':').is_some_and(|(state, left)| {
            state != "running" || left.parse::<i64>().is_ok_and(|ms| ms <= 0)
        });
        lease = json!(row);
        checks.push((
            released,
            format!("the running campaign's send job kept its lease after SIGTERM (state:ms of lease left = {row:?})"),
        ));
    }
    let figures = json!({
        "exit_ms": exit_ms, "subscribers_live": live, "closes": close_codes,
        "requests_at_or_after_signal": outcomes, "cut": cut, "send_job_after_exit": lease,
    });
    Ok(Verdict::from_checks(name, checks, figures))
}
