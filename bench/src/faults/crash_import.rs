//! Scenario `crash-import` (verdict `crash/import`): two instances on one database (each with
//! its own `DATA_DIR`, as on two hosts, sharing one object store through `STORAGE_URL`, as
//! two hosts must since uploads live in storage); `importLeads` of a CSV of 5,000 rows (multipart
//! upload, `onConflict: SKIP`), while the instance holding the import job's lease is
//! SIGKILLed each time a chunk committed, at most every 0.5 s (a release build imports a
//! chunk in well under a second) ([`super::hunt`]: half of the
//! kills restart it at once, half keep it down one lease so the other instance takes over).
//! Pass: the queue job ended `succeeded`, once, with every row imported; the organization's
//! leads equal the file's rows (by email): none missing, no duplicate.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::{json, Value};

use super::{
    hunt::{self, hunt, jobs_of_kind, wait_job},
    server::{psql, user, Env},
    Verdict,
};

const ROWS: usize = 5000;

pub async fn run(env: &Env) -> anyhow::Result<Vec<Verdict>> {
    let db = env.fresh_db("crash_import").await?;
    let objects = env.work_dir.join("objects-import");
    std::fs::create_dir_all(&objects)?;
    let storage = format!("file://{}", objects.display());
    let mut servers = hunt::two_instances(env, "import", &db, &[("STORAGE_URL", storage)]).await?;
    let base = servers[0].url();
    let token = user(&base, "import@faults.example.com").await?;
    let emails: Vec<String> = (0..ROWS)
        .map(|i| format!("imp-{i}@import.example.com"))
        .collect();
    let started = Instant::now();
    let id = upload(&base, &token, &csv(&emails)).await?;
    let probe = format!(
        "SELECT state || '|' || coalesce(locked_by, '') || '|' || \
         coalesce(progress->>'committedRows', '') FROM jobs WHERE id = '{id}'"
    );
    let within = Duration::from_secs(if env.long { 600 } else { 90 });
    let mut h = hunt(
        env,
        &mut servers,
        &db,
        &probe,
        Duration::from_millis(500),
        within,
    )
    .await?;
    if h.state.as_deref() != Some("succeeded") {
        h.state = wait_job(&db, &probe, Duration::from_secs(30)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let leads: Vec<String> = psql(
        &db,
        &format!(
            "SELECT lower(coalesce(email, '')) FROM leads \
             WHERE org_id = (SELECT org_id FROM jobs WHERE id = '{id}') ORDER BY 1"
        ),
    )
    .await?
    .lines()
    .map(str::to_string)
    .collect();
    let outcome = psql(
        &db,
        &format!(
            "SELECT coalesce(result::text, '') || '|' || coalesce(last_error, '') \
             FROM jobs WHERE id = '{id}'"
        ),
    )
    .await
    .unwrap_or_default();
    let queue_jobs = jobs_of_kind(&db, "leads.import", "").await;
    for s in &mut servers {
        s.kill().await;
    }

    let (result, last_error) = outcome.split_once('|').unwrap_or((&outcome, ""));
    let result: Value = serde_json::from_str(result).unwrap_or(Value::Null);
    let expected: BTreeSet<String> = emails.into_iter().collect();
    let got: BTreeSet<String> = leads.iter().cloned().collect();
    let duplicates = leads.len() - got.len();
    let checks = vec![
        (
            h.state.as_deref() == Some("succeeded"),
            format!("the import job ended {:?}: {last_error}", h.state),
        ),
        (
            queue_jobs.len() == 1 && queue_jobs.iter().all(|j| j.starts_with("succeeded")),
            format!("leads.import jobs (state:attempts): {queue_jobs:?}, wanted one succeeded"),
        ),
        (
            result["imported"] == json!(ROWS) && result["failed"] == json!(0),
            format!(
                "the job reports imported {} failed {} skipped {}, wanted {ROWS} 0 0",
                result["imported"], result["failed"], result["skipped"]
            ),
        ),
        (
            got == expected,
            format!(
                "the leads differ from the file: {} missing, {} extra",
                expected.difference(&got).count(),
                got.difference(&expected).count()
            ),
        ),
        (duplicates == 0, format!("{duplicates} duplicate leads")),
        (
            h.kills >= 2 && h.held_down >= 1,
            format!(
                "only {} kills ({} takeovers) landed during the import",
                h.kills, h.held_down
            ),
        ),
    ];
    let mut figures = h.figures();
    figures["seconds"] = json!(seconds.round());
    figures["rows"] = json!(ROWS);
    figures["leads"] = json!(leads.len());
    figures["result"] = json!({"imported": result["imported"], "skipped": result["skipped"],
                               "merged": result["merged"], "failed": result["failed"]});
    figures["last_error"] = json!(last_error);
    figures["queue_jobs"] = json!(queue_jobs);
    Ok(vec![Verdict::from_checks("crash/import", checks, figures)])
}

fn csv(emails: &[String]) -> Vec<u8> {
    let mut out = String::from("First Name,Last Name,Email,Company\n");
    for (i, e) in emails.iter().enumerate() {
        out.push_str(&format!("F{i},L{i},{e},\"Co {i}, Inc.\"\n"));
    }
    out.into_bytes()
}

/// `importLeads` as a multipart upload (GraphQL multipart request spec); the job's id.
pub(super) async fn upload(base: &str, token: &str, csv: &[u8]) -> anyhow::Result<String> {
    let ops = json!({
        "query": "mutation($file: Upload!) { importLeads(file: $file, onConflict: SKIP) { id } }",
        "variables": {"file": null}
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", ops.to_string())
        .text("map", json!({"0": ["variables.file"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(csv.to_vec())
                .file_name("leads.csv")
                .mime_str("text/csv")?,
        );
    let v: Value = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .timeout(Duration::from_secs(60))
        .send()
        .await?
        .json()
        .await?;
    v["data"]["importLeads"]["id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("importLeads: {v}"))
}
