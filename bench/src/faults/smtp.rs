//! Scenario `smtp`: a campaign to 60 recipients at 600/min while the mail server (our sink,
//! behind a proxy) answers `421` at the greeting, then `451` after the data, then takes 10 s to
//! accept the data, then is down (refused) for 4 s. Pass: the campaign completes, every
//! recipient is SENT (or honestly UNCERTAIN), and no address receives two messages.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{
    campaign, client,
    server::{user, Env, Server, ServerSpec},
    sink::{Sink, SinkMode},
    Verdict,
};
use crate::proxy::{Mode, Proxy};

const RECIPIENTS: usize = 60;

pub async fn run(env: &Env) -> anyhow::Result<Vec<Verdict>> {
    let db = env.fresh_db("smtp").await?;
    let sink = Sink::start().await?;
    let proxy = Proxy::start("127.0.0.1:0", &sink.addr.to_string()).await?;
    let mut spec = ServerSpec::new("smtp", &db)?;
    spec.redis_url = Some(env.redis_url.clone());
    spec.smtp_url = Some(format!("smtp://{}", proxy.addr()));
    let mut server = Server::start(env, spec).await?;
    let base = server.url();
    let token = user(&base, "smtp@faults.example.com").await?;
    let http = client::http(Duration::from_secs(30))?;
    let c = campaign::prepare(&http, &base, &token, "smtp", RECIPIENTS, Some(600)).await?;
    let started = Instant::now();
    campaign::launch(&http, &base, &token, &c.id).await?;

    // The faults, one after another, while the campaign sends.
    let mut timeline = Vec::new();
    let mut step =
        |what: &str| timeline.push(format!("{:.1}s {what}", started.elapsed().as_secs_f64()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    sink.set(SinkMode::Greet421);
    step("421 at greeting");
    tokio::time::sleep(Duration::from_secs(3)).await;
    sink.set(SinkMode::Ok);
    step("ok");
    tokio::time::sleep(Duration::from_secs(2)).await;
    sink.set(SinkMode::Data451);
    step("451 after DATA");
    tokio::time::sleep(Duration::from_secs(3)).await;
    sink.set(SinkMode::Ok);
    step("ok");
    tokio::time::sleep(Duration::from_secs(2)).await;
    sink.set(SinkMode::SlowData(10));
    step("DATA answered after 10 s");
    tokio::time::sleep(Duration::from_secs(2)).await;
    sink.set(SinkMode::Ok);
    step("ok");
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.set(Mode::Down);
    step("down (refused)");
    tokio::time::sleep(Duration::from_secs(4)).await;
    proxy.set(Mode::Pass);
    step("up");

    let within = Duration::from_secs(if env.long { 300 } else { 120 });
    let (last, _) = campaign::wait_done(&db, &c.id, within).await;
    // Late replies (a slow DATA) land after the status changes; let them.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rows = campaign::recipients(&db, &c.id).await?;
    let received = sink.received();
    server.kill().await;
    let (checks, mut figures) =
        campaign::delivery_checks(last.as_deref(), &rows, &received, &c.emails);
    figures["seconds"] = json!(started.elapsed().as_secs_f64().round());
    figures["timeline"] = json!(timeline);
    Ok(vec![Verdict::from_checks(
        "smtp/421-451-slow-down",
        checks,
        figures,
    )])
}
