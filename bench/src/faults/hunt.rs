//! The SIGKILL loop of the job scenarios (`crash/scrape`, `crash/import`): two instances
//! (`INSTANCE_ID` = their names, so a lease's `locked_by` says which one holds the job), and
//! the instance that holds the job's lease is SIGKILLed each time the job made progress since
//! the last kill, at most every `gap` and at most [`MAX_KILLS`] times. Odd kills restart the instance at once (it reclaims its
//! own dead lease); even kills keep it down one lease period, so the other instance takes the
//! job over. Kills are tied to progress, not to the clock, so a fast (release) and a slow
//! (debug) build both die mid-job several times.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use super::server::{psql, Env, Server, ServerSpec};

/// Job lease of the instances (`JOB_LEASE_SECS`): short, so a takeover fits the CI budget.
pub const LEASE_SECS: u64 = 5;
/// Kills per job: enough for three restarts in place and three takeovers, within ~60 s.
pub const MAX_KILLS: u32 = 6;

/// Two instances on one database, with Redis, named `<name>-a` and `<name>-b`.
pub async fn two_instances(
    env: &Env,
    name: &str,
    db: &str,
    extra: &[(&str, String)],
) -> anyhow::Result<Vec<Server>> {
    let mut servers = Vec::new();
    for side in ["a", "b"] {
        let id = format!("{name}-{side}");
        let mut spec = ServerSpec::new(&id, db)?
            .set("JOB_LEASE_SECS", LEASE_SECS)
            .set("INSTANCE_ID", &id);
        for (k, v) in extra {
            spec = spec.set(k, v);
        }
        spec.redis_url = Some(env.redis_url.clone());
        servers.push(Server::start(env, spec).await?);
    }
    Ok(servers)
}

/// What the loop did.
#[derive(Debug, Default)]
pub struct Hunt {
    /// The job's last queue state (`succeeded`, `failed`, …), None if never read.
    pub state: Option<String>,
    pub kills: u32,
    /// Kills after which the other instance had to take the job over.
    pub held_down: u32,
    /// Instances that held the job's lease at some point.
    pub holders: BTreeSet<String>,
    pub seconds: f64,
}

impl Hunt {
    pub fn figures(&self) -> Value {
        json!({"job_state": self.state, "kills": self.kills, "held_down": self.held_down,
               "holders": self.holders, "seconds": self.seconds.round()})
    }
}

/// Runs until the job ends or `within` passes. `probe` is a SQL query returning one line
/// `state|locked_by|progress` for the job (progress: any text that changes as work commits).
pub async fn hunt(
    env: &Env,
    servers: &mut [Server],
    db: &str,
    probe: &str,
    gap: Duration,
    within: Duration,
) -> anyhow::Result<Hunt> {
    let started = Instant::now();
    let mut h = Hunt::default();
    let mut last_kill = Instant::now();
    let mut progress_at_kill: Option<String> = None;
    while started.elapsed() < within {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let Ok(line) = psql(db, probe).await else {
            continue;
        };
        let mut parts = line.splitn(3, '|');
        let (state, holder, progress) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let instance = holder.split('/').next().unwrap_or_default().to_string();
        if !instance.is_empty() {
            h.holders.insert(instance.clone());
        }
        h.state = Some(state.clone());
        if matches!(state.as_str(), "succeeded" | "failed" | "cancelled") {
            break;
        }
        let moved = progress_at_kill.as_deref() != Some(progress.as_str()) && !progress.is_empty();
        let Some(i) = servers.iter().position(|s| s.spec.name == instance) else {
            continue;
        };
        if state != "running" || !moved || last_kill.elapsed() < gap || h.kills >= MAX_KILLS {
            continue;
        }
        servers[i].kill().await;
        h.kills += 1;
        progress_at_kill = Some(progress);
        if h.kills % 2 == 0 {
            h.held_down += 1;
            tokio::time::sleep(Duration::from_secs(LEASE_SECS) + Duration::from_millis(1500)).await;
        }
        servers[i].restart(env).await?;
        last_kill = Instant::now();
    }
    h.seconds = started.elapsed().as_secs_f64();
    Ok(h)
}

/// Polls `probe` (same form as for [`hunt`]) until the job ends, at most `within`; its state.
pub async fn wait_job(db: &str, probe: &str, within: Duration) -> Option<String> {
    let t = Instant::now();
    let mut last = None;
    while t.elapsed() < within {
        if let Ok(line) = psql(db, probe).await {
            let state = line.split('|').next().unwrap_or_default().to_string();
            let done = matches!(state.as_str(), "succeeded" | "failed" | "cancelled");
            last = Some(state);
            if done {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last
}

/// `state:attempts` of every queue job of `kind` in `db`, oldest first.
pub async fn jobs_of_kind(db: &str, kind: &str, extra_where: &str) -> Vec<String> {
    psql(
        db,
        &format!(
            "SELECT state || ':' || attempts FROM jobs WHERE kind = '{kind}' {extra_where} \
             ORDER BY created_at"
        ),
    )
    .await
    .unwrap_or_default()
    .lines()
    .map(str::to_string)
    .collect()
}
