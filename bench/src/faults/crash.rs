//! Scenario `crash`: two server instances on one database, Redis and SMTP sink; a campaign to
//! 200 recipients at 1,200/min; every 3 s one instance (in turn) is SIGKILLed and started
//! again at once. Pass: the campaign completes, every recipient is SENT or UNCERTAIN (the
//! at-most-once contract: a message cut off by a crash is reported, never sent twice), no
//! address receives two messages, and the send job ended succeeded exactly once.
//!
//! The instances run with `JOB_LEASE_SECS=5` so an orphaned lease expires within the CI
//! budget (the default is 30 s); the time from a crash to the next message is reported.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{
    campaign, client,
    server::{psql, user, Env, Server, ServerSpec},
    sink::Sink,
    Verdict,
};

const RECIPIENTS: usize = 200;

pub async fn run(env: &Env) -> anyhow::Result<Vec<Verdict>> {
    let db = env.fresh_db("crash").await?;
    let sink = Sink::start().await?;
    let mut servers = Vec::new();
    for name in ["crash-a", "crash-b"] {
        let mut spec = ServerSpec::new(name, &db)?.set("JOB_LEASE_SECS", 5);
        spec.redis_url = Some(env.redis_url.clone());
        spec.smtp_url = Some(format!("smtp://{}", sink.addr));
        servers.push(Server::start(env, spec).await?);
    }
    let base = servers[0].url();
    let token = user(&base, "crash@faults.example.com").await?;
    let http = client::http(Duration::from_secs(30))?;
    let c = campaign::prepare(&http, &base, &token, "crash", RECIPIENTS, Some(1200)).await?;
    let started = Instant::now();
    campaign::launch(&http, &base, &token, &c.id).await?;

    let within = Duration::from_secs(if env.long { 600 } else { 120 });
    let (mut kills, mut turn) = (0, 0usize);
    let mut last = None;
    let mut longest_gap = Duration::ZERO;
    let mut last_count = (0usize, Instant::now());
    while started.elapsed() < within {
        tokio::time::sleep(Duration::from_secs(3)).await;
        last = campaign::db_status(&db, &c.id).await;
        let n = sink.received().len();
        if n != last_count.0 {
            last_count = (n, Instant::now());
        }
        longest_gap = longest_gap.max(last_count.1.elapsed());
        if matches!(last.as_deref(), Some("COMPLETED" | "FAILED" | "STOPPED")) {
            break;
        }
        // Keep killing while sending; the restarted instance rejoins at once.
        let s = &mut servers[turn % 2];
        s.kill().await;
        kills += 1;
        s.restart(env).await?;
        turn += 1;
    }
    let (last, _) = match last.as_deref() {
        Some("COMPLETED" | "FAILED" | "STOPPED") => (last, Duration::ZERO),
        _ => campaign::wait_done(&db, &c.id, Duration::from_secs(30)).await,
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rows = campaign::recipients(&db, &c.id).await?;
    let received = sink.received();
    let jobs = psql(
        &db,
        "SELECT state || ':' || attempts FROM jobs WHERE kind = 'campaign.send' ORDER BY created_at",
    )
    .await
    .unwrap_or_default();
    for s in &mut servers {
        s.kill().await;
    }
    let (mut checks, mut figures) =
        campaign::delivery_checks(last.as_deref(), &rows, &received, &c.emails);
    let job_states: Vec<&str> = jobs.lines().collect();
    let succeeded = job_states
        .iter()
        .filter(|j| j.starts_with("succeeded"))
        .count();
    checks.push((
        succeeded == 1 && job_states.len() == 1,
        format!("send jobs (state:attempts): {job_states:?}, wanted exactly one succeeded"),
    ));
    figures["kills"] = json!(kills);
    figures["seconds"] = json!(started.elapsed().as_secs_f64().round());
    figures["fault_free_seconds"] = json!(RECIPIENTS as f64 / 20.0);
    figures["longest_gap_without_mail_ms"] = json!(longest_gap.as_millis());
    figures["send_jobs"] = json!(job_states);
    Ok(vec![Verdict::from_checks(
        "crash/sigkill-2-instances-campaign",
        checks,
        figures,
    )])
}
