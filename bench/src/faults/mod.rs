//! `lg-bench faults`: the fault-injection suite (issue 23). It drives the release server as a
//! separate process, as clients outside see it, with real PostgreSQL and Redis (from
//! `TEST_POSTGRES_URL` / `TEST_REDIS_URL`, provisioned by `scripts/test --with-services`) behind
//! [`crate::proxy`] fault proxies, and its own SMTP sink ([`sink`]) whose answers can be
//! switched. Every scenario prints one `PASS`/`FAIL` line with its figures; the exit status is
//! non-zero when any scenario failed. `scripts/faults` builds the binaries and calls this.
//!
//! Scenarios: `redis` (kill, black-hole, 500 ms latency under 200 live subscriptions),
//! `sigterm` (in-flight requests, 1001 closes, exit ≤ 5 s, also with PostgreSQL black-holed),
//! `postgres` (outage under 50 HTTP clients: fail fast, `/health` answers, recovery),
//! `smtp` (421/451/slow DATA/down during a campaign: no duplicate, completes),
//! `crash` (SIGKILL of one of two instances every few seconds during a campaign),
//! `crash-scrape`, `crash-import` and `crash-enrich` (SIGKILL of the instance holding a scrape,
//! a CSV import or a batch enrichment job each time it made progress, restarted at once or
//! after a takeover by the other one).
//! A webhook fan-out scenario waits for webhooks, which the server does not have yet.

mod campaign;
mod client;
mod crash;
mod crash_enrich;
mod crash_import;
mod crash_scrape;
mod hunt;
mod postgres;
mod redis;
mod server;
mod sigterm;
pub mod sink;
mod site;
mod smtp;

use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

pub use campaign::{launch, prepare};
pub use client::{call, http, Crowd, CREATE_LEAD};
pub use server::{proc_figures, psql, user, Env, Server, ServerSpec};
pub use sink::Sink;

/// The verdict of one scenario: what was asserted, what was measured.
pub struct Verdict {
    pub name: String,
    pub pass: bool,
    /// Each failed assertion, in words.
    pub failures: Vec<String>,
    /// The figures behind the verdict.
    pub figures: Value,
}

impl Verdict {
    /// A verdict from a list of (assertion holds, what it says) pairs.
    pub fn from_checks(name: &str, checks: Vec<(bool, String)>, figures: Value) -> Verdict {
        let failures: Vec<String> = checks
            .into_iter()
            .filter(|(ok, _)| !ok)
            .map(|(_, what)| what)
            .collect();
        Verdict {
            name: name.to_string(),
            pass: failures.is_empty(),
            failures,
            figures,
        }
    }
}

/// Every scenario, in the order `all` runs them.
pub const ALL: &[&str] = &[
    "redis",
    "sigterm",
    "postgres",
    "smtp",
    "crash",
    "crash-scrape",
    "crash-import",
    "crash-enrich",
];

/// Runs the named scenarios (`all` = [`ALL`]); returns true when every one passed.
pub async fn run(names: &[String], env: Env) -> anyhow::Result<bool> {
    let names: Vec<String> = if names.is_empty() || names.iter().any(|n| n == "all") {
        ALL.iter().map(|s| s.to_string()).collect()
    } else {
        names.to_vec()
    };
    let mut all_ok = true;
    let started = Instant::now();
    for name in &names {
        let t = Instant::now();
        eprintln!("faults: scenario {name} …");
        let verdicts = match run_one(name, &env).await {
            Ok(v) => v,
            Err(e) => vec![Verdict {
                name: name.clone(),
                pass: false,
                failures: vec![format!("the scenario could not run: {e:#}")],
                figures: Value::Null,
            }],
        };
        for v in verdicts {
            all_ok &= v.pass;
            let word = if v.pass { "PASS" } else { "FAIL" };
            println!("{word} {}", v.name);
            for f in &v.failures {
                println!("     - {f}");
            }
            println!("     {}", v.figures);
        }
        println!("faults: {name} took {:.0} s", t.elapsed().as_secs_f64());
    }
    println!(
        "faults: {} scenario group(s) in {:.0} s: {}",
        names.len(),
        started.elapsed().as_secs_f64(),
        if all_ok { "all passed" } else { "FAILED" }
    );
    Ok(all_ok)
}

async fn run_one(name: &str, env: &Env) -> anyhow::Result<Vec<Verdict>> {
    match name {
        "redis" => redis::run(env).await,
        "sigterm" => sigterm::run(env).await,
        "postgres" => postgres::run(env).await,
        "smtp" => smtp::run(env).await,
        "crash" => crash::run(env).await,
        "crash-scrape" => crash_scrape::run(env).await,
        "crash-import" => crash_import::run(env).await,
        "crash-enrich" => crash_enrich::run(env).await,
        other => anyhow::bail!("unknown scenario {other:?} (known: {})", ALL.join(", ")),
    }
    .with_context(|| format!("scenario {name}"))
}
