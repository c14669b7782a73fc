//! Scenario `crash-enrich` (verdict `crash/enrich`): two instances on one database; 1,000 leads
//! (imported from a CSV), Hunter configured at a fake in this process that speaks Hunter's
//! documented email finder (`GET /v2/email-finder?domain&first_name&last_name`, key in
//! `X-API-KEY`), answers each lead's address after 10 ms and records when each lead was asked;
//! `enrichLeads` of the 1,000 leads for EMAIL while the instance holding the `enrichment.run`
//! job's lease is SIGKILLed each time finished items grew ([`super::hunt`]).
//! Pass: the job ended `succeeded`, once; every lead has its email and one run item; no lead
//! was asked again after its item committed (a call in flight at a kill may be repeated: at
//! most one lead per kill was asked twice); at least two kills landed.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;

use super::{
    hunt::{self, hunt, jobs_of_kind, wait_job},
    server::{psql, user, Env},
    Verdict,
};
use crate::gql::Gql;

const LEADS: usize = 1000;
const KEY: &str = "faults-hunter-key";

/// When each lead (by first name) was asked, in ms since the epoch.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<HashMap<String, Vec<i64>>>>);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

async fn finder(
    State(calls): State<Calls>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        let body = json!({"errors": [{"id": "authentication_failed", "code": 401}]});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let first = q.get("first_name").cloned().unwrap_or_default();
    let last = q.get("last_name").cloned().unwrap_or_default();
    let domain = q.get("domain").cloned().unwrap_or_default();
    if let Ok(mut m) = calls.0.lock() {
        m.entry(first.clone()).or_default().push(now_ms());
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let email = format!("{}.{}@{domain}", first.to_lowercase(), last.to_lowercase());
    Json(json!({
        "data": {"first_name": first, "last_name": last, "email": email, "score": 90,
                 "domain": domain, "accept_all": false, "position": null, "sources": []},
        "meta": {"params": {"first_name": first, "last_name": last, "domain": domain}}
    }))
    .into_response()
}

async fn fake_hunter(calls: Calls) -> anyhow::Result<String> {
    let app = Router::new()
        .route("/v2/email-finder", get(finder))
        .with_state(calls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(base)
}

pub async fn run(env: &Env) -> anyhow::Result<Vec<Verdict>> {
    let db = env.fresh_db("crash_enrich").await?;
    let calls = Calls::default();
    let hunter = fake_hunter(calls.clone()).await?;
    let mut servers =
        hunt::two_instances(env, "enrich", &db, &[("HUNTER_BASE_URL", hunter)]).await?;
    let base = servers[0].url();
    let token = user(&base, "enrich@faults.example.com").await?;
    let g = Gql::new(&base)?.with_token(&token);
    let org = seed_leads(&base, &token, &db).await?;
    let configure = "mutation($i: ConfigureEnrichmentProviderInput!) { configureEnrichmentProvider(input: $i) { keyConfigured } }";
    g.run(
        configure,
        json!({"i": {"provider": "HUNTER", "apiKey": KEY, "position": 0, "costCents": 1}}),
    )
    .await
    .context("configureEnrichmentProvider")?;
    let ids: Vec<String> = psql(&db, &format!("SELECT id FROM leads WHERE org_id = '{org}'"))
        .await?
        .lines()
        .map(str::to_string)
        .collect();
    let started = Instant::now();
    let v = g
        .run(
            "mutation($i: EnrichLeadsInput!) { enrichLeads(input: $i) { id jobId } }",
            json!({"i": {"leadIds": ids, "fields": ["EMAIL"]}}),
        )
        .await
        .context("enrichLeads")?;
    let run_id = v["enrichLeads"]["id"]
        .as_str()
        .context("run id")?
        .to_string();
    let job = v["enrichLeads"]["jobId"]
        .as_str()
        .context("job id")?
        .to_string();
    let probe = format!(
        "SELECT state || '|' || coalesce(locked_by, '') || '|' || \
         (SELECT count(*) FROM enrichment_run_items WHERE run_id = '{run_id}') \
         FROM jobs WHERE id = '{job}'"
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
    // Each lead's first name and when its item committed (ms since the epoch).
    let items: Vec<(String, i64)> = psql(
        &db,
        &format!(
            "SELECT l.first_name || '|' || floor(extract(epoch FROM i.at) * 1000)::bigint \
             FROM enrichment_run_items i JOIN leads l ON l.id = i.lead_id \
             WHERE i.run_id = '{run_id}'"
        ),
    )
    .await?
    .lines()
    .filter_map(|l| {
        let (name, at) = l.split_once('|')?;
        Some((name.to_string(), at.parse().ok()?))
    })
    .collect();
    let with_email = psql(
        &db,
        &format!("SELECT count(*) FROM leads WHERE org_id = '{org}' AND email IS NOT NULL"),
    )
    .await?;
    let queue_jobs = jobs_of_kind(&db, "enrichment.run", "").await;
    for s in &mut servers {
        s.kill().await;
    }
    let asked = calls.0.lock().map(|m| m.clone()).unwrap_or_default();
    let total: usize = asked.values().map(Vec::len).sum();
    let twice = asked.values().filter(|c| c.len() > 1).count();
    // A call after the lead's item committed repeats a finished lead × field.
    let after_done = items
        .iter()
        .filter(|(name, at)| asked.get(name).is_some_and(|c| c.iter().any(|t| t > at)))
        .count();
    let checks = vec![
        (
            h.state.as_deref() == Some("succeeded"),
            format!("the enrichment job ended {:?}", h.state),
        ),
        (
            queue_jobs.len() == 1 && queue_jobs.iter().all(|j| j.starts_with("succeeded")),
            format!("enrichment.run jobs (state:attempts): {queue_jobs:?}, wanted one succeeded"),
        ),
        (
            items.len() == LEADS,
            format!("{} run items, wanted {LEADS}", items.len()),
        ),
        (
            with_email.trim() == LEADS.to_string(),
            format!("{} leads have an email, wanted {LEADS}", with_email.trim()),
        ),
        (
            after_done == 0,
            format!("{after_done} leads were asked again after their item committed"),
        ),
        (
            twice <= h.kills as usize && asked.len() == LEADS,
            format!(
                "{twice} leads asked twice with {} kills; {} of {LEADS} leads asked",
                h.kills,
                asked.len()
            ),
        ),
        (
            h.kills >= 2 && h.held_down >= 1,
            format!(
                "only {} kills ({} takeovers) landed during the run",
                h.kills, h.held_down
            ),
        ),
    ];
    let mut figures = h.figures();
    figures["seconds"] = json!(seconds.round());
    figures["leads"] = json!(LEADS);
    figures["calls"] = json!(total);
    figures["asked_twice"] = json!(twice);
    figures["queue_jobs"] = json!(queue_jobs);
    Ok(vec![Verdict::from_checks("crash/enrich", checks, figures)])
}

/// Imports [`LEADS`] leads with a name and a company website (no email) through `importLeads`
/// and waits for the import; the organization's id.
async fn seed_leads(base: &str, token: &str, db: &str) -> anyhow::Result<String> {
    let mut csv = String::from("First Name,Last Name,Company,Website\n");
    for i in 0..LEADS {
        csv.push_str(&format!("F{i},L{i},Co {i},https://co{i}.example.com\n"));
    }
    let id = super::crash_import::upload(base, token, csv.as_bytes()).await?;
    let probe = format!("SELECT state FROM jobs WHERE id = '{id}'");
    let state = wait_job(db, &probe, Duration::from_secs(120)).await;
    anyhow::ensure!(
        state.as_deref() == Some("succeeded"),
        "the seed import ended {state:?}"
    );
    let org = psql(db, &format!("SELECT org_id FROM jobs WHERE id = '{id}'")).await?;
    Ok(org.trim().to_string())
}
