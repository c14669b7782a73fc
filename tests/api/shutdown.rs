//! Graceful shutdown: WebSockets get a 1001 close and running jobs give their leases back, well
//! within the shutdown deadline, even when a handler ignores the request to stop.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use leadgraph::jobs::{queue, JobContext, JobError, JobHandler, JobRegistry, NewJob};
use serde_json::{json, Value};

use crate::{
    fixtures::token_of,
    helpers::{Options, TestApp},
    identity::signed_up,
    jobs::entity_job,
};

/// Never finishes and ignores cancellation (a handler stuck on a dead dependency).
struct Stuck;

#[async_trait]
impl JobHandler for Stuck {
    async fn run(&self, _ctx: &JobContext) -> Result<Value, JobError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001_and_releases_leases_in_time() {
    let app = TestApp::spawn_with(Options {
        registry: Some(Box::new(|r: &mut JobRegistry| {
            r.register("test.stuck", Stuck);
        })),
        ..Default::default()
    })
    .await;
    let (_, login) = signed_up(&app).await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&token_of(&login)).await;
    let job = queue::enqueue(&app.state.db, NewJob::new("test.stuck", json!({})))
        .await
        .unwrap();
    app.state.job_notify.notify_waiters();
    let started = Instant::now();
    while entity_job(&app, job.id).await.state != "running" {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the job never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let stopping = Instant::now();
    app.shutdown();
    assert_eq!(ws.expect_close(5).await, 1001);
    loop {
        let j = entity_job(&app, job.id).await;
        if j.state == "queued" {
            assert_eq!(j.locked_by, None);
            assert_eq!(j.attempts, 0, "a released lease does not spend an attempt");
            break;
        }
        assert!(
            stopping.elapsed() < Duration::from_secs(5),
            "lease not released: {} {:?}",
            j.state,
            j.locked_by
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
