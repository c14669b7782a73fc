//! Scenario `crash-scrape` (verdict `crash/scrape`): two instances on one database; a WEBSITE
//! scrape of a local fixture site ([`super::site`]) is first run without faults (the
//! reference), then again in another organization while the instance holding the job's lease
//! is SIGKILLed each time a page batch committed, at most every 2 s ([`super::hunt`]: half of
//! the kills restart it at once, half keep it down one lease so the other instance takes over).
//! Pass: both runs' scrape job and queue job ended `succeeded`, each queue job once; the
//! killed run's leads equal the reference run's and the site's contacts (by email), with no
//! duplicate lead.

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use anyhow::Context;
use serde_json::json;

use super::{
    client,
    hunt::{self, hunt, jobs_of_kind, wait_job},
    server::{psql, user, Env},
    site::Site,
    Verdict,
};

/// Pages of the site besides the index.
const PAGES: usize = 150;
/// The killed run's pace (the reference run goes at the maximum, 50/s).
const RPS: f64 = 8.0;

pub async fn run(env: &Env) -> anyhow::Result<Vec<Verdict>> {
    let db = env.fresh_db("crash_scrape").await?;
    let site = Site::start(PAGES, Duration::from_millis(20)).await?;
    let allow = [("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "true".to_string())];
    let mut servers = hunt::two_instances(env, "scrape", &db, &allow).await?;
    let base = servers[0].url();
    let http = client::http(Duration::from_secs(30))?;

    // The fault-free run.
    let token = user(&base, "scrape-reference@faults.example.com").await?;
    let reference = create(&http, &base, &token, &site, 50.0).await?;
    let ref_state = wait_job(&db, &probe(&reference), Duration::from_secs(60)).await;
    let ref_hits = site.hits();
    let ref_leads = leads(&db, &reference).await?;

    // The same job, killed.
    let token = user(&base, "scrape-killed@faults.example.com").await?;
    let started = Instant::now();
    let id = create(&http, &base, &token, &site, RPS).await?;
    let within = Duration::from_secs(if env.long { 600 } else { 90 });
    let mut h = hunt(
        env,
        &mut servers,
        &db,
        &probe(&id),
        Duration::from_secs(2),
        within,
    )
    .await?;
    if h.state.as_deref() != Some("succeeded") {
        h.state = wait_job(&db, &probe(&id), Duration::from_secs(30)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let status = psql(
        &db,
        &format!("SELECT status FROM scrape_jobs WHERE id = '{id}'"),
    )
    .await
    .unwrap_or_default();
    let killed = leads(&db, &id).await?;
    let queue_jobs = jobs_of_kind(&db, "scrape.run", "").await;
    for s in &mut servers {
        s.kill().await;
    }

    let expected: BTreeSet<String> = site.emails().into_iter().collect();
    let (ref_set, killed_set) = (set(&ref_leads), set(&killed));
    let duplicates = killed.len() - killed_set.len();
    let checks = vec![
        (
            ref_state.as_deref() == Some("succeeded") && ref_set == expected,
            format!(
                "the fault-free run ended {ref_state:?} with {} of the site's {} contacts",
                ref_set.intersection(&expected).count(),
                expected.len()
            ),
        ),
        (
            status == "succeeded" && h.state.as_deref() == Some("succeeded"),
            format!(
                "the killed scrape ended {status:?} (queue job {:?})",
                h.state
            ),
        ),
        (
            queue_jobs.len() == 2 && queue_jobs.iter().all(|j| j.starts_with("succeeded")),
            format!("scrape.run jobs (state:attempts): {queue_jobs:?}, wanted two succeeded"),
        ),
        (
            killed_set == ref_set,
            format!(
                "the killed run's leads differ from the fault-free run's: {} missing, {} extra",
                ref_set.difference(&killed_set).count(),
                killed_set.difference(&ref_set).count()
            ),
        ),
        (duplicates == 0, format!("{duplicates} duplicate leads")),
        (
            h.kills >= 2 && h.held_down >= 1,
            format!(
                "only {} kills ({} takeovers) landed during the scrape",
                h.kills, h.held_down
            ),
        ),
    ];
    let mut figures = h.figures();
    figures["seconds"] = json!(seconds.round());
    figures["scrape_status"] = json!(status);
    figures["leads"] = json!(killed.len());
    figures["reference_leads"] = json!(ref_leads.len());
    figures["page_requests_reference"] = json!(ref_hits);
    figures["page_requests_killed"] = json!(site.hits() - ref_hits);
    figures["queue_jobs"] = json!(queue_jobs);
    Ok(vec![Verdict::from_checks("crash/scrape", checks, figures)])
}

/// `state|locked_by|pages_fetched` of the scrape's queue job.
fn probe(id: &str) -> String {
    format!(
        "SELECT j.state || '|' || coalesce(j.locked_by, '') || '|' || s.pages_fetched \
         FROM scrape_jobs s JOIN jobs j ON j.id = s.job_id WHERE s.id = '{id}'"
    )
}

async fn create(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    site: &Site,
    rps: f64,
) -> anyhow::Result<String> {
    let a = client::call(
        http,
        base,
        token,
        "mutation($i: CreateScrapeJobInput!) { createScrapeJob(input: $i) { id } }",
        json!({"i": {"source": "WEBSITE", "name": "crash", "website": {
            "urls": [site.url()], "maxDepth": 1, "maxPages": PAGES + 10,
            "concurrency": 4, "requestsPerSecond": rps}}}),
    )
    .await;
    anyhow::ensure!(a.ok(), "createScrapeJob: {:?} {}", a.code, a.body);
    a.body["data"]["createScrapeJob"]["id"]
        .as_str()
        .map(str::to_string)
        .context("scrape job id")
}

/// The emails of every lead in the organization of scrape job `id` (one line per lead, so a
/// duplicate shows twice).
async fn leads(db: &str, id: &str) -> anyhow::Result<Vec<String>> {
    let out = psql(
        db,
        &format!(
            "SELECT lower(coalesce(email, '')) FROM leads \
             WHERE org_id = (SELECT org_id FROM scrape_jobs WHERE id = '{id}') ORDER BY 1"
        ),
    )
    .await?;
    Ok(out.lines().map(str::to_string).collect())
}

fn set(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}
