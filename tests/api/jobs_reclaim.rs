//! Lease reclaim after a crash: a restarted instance takes back the leases its previous process
//! held at once, and leaves other live instances' leases alone.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use async_trait::async_trait;
use leadgraph::jobs::{
    queue, Identity, JobContext, JobError, JobHandler, JobRegistry, NewJob, Worker,
};
use serde_json::{json, Value};

use crate::{helpers::TestApp, jobs::entity_job};

/// The first two runs hang (workers that die mid-job, or live ones busy); later runs succeed.
struct HangTwice(Arc<AtomicUsize>);

#[async_trait]
impl JobHandler for HangTwice {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        if self.0.fetch_add(1, Ordering::SeqCst) < 2 {
            std::future::pending::<()>().await;
        }
        Ok(json!({"attempt": ctx.job.attempts}))
    }
}

#[tokio::test]
async fn a_restarted_instance_reclaims_only_its_own_dead_leases_at_once() {
    let app = TestApp::spawn().await;
    let db = app.state.db.clone();
    let runs = Arc::new(AtomicUsize::new(0));
    let registry = || {
        let mut r = JobRegistry::new();
        r.register("test.reclaim", HangTwice(runs.clone()));
        r
    };
    let dir = app.dir.join("instances");
    let lease = Duration::from_secs(60);
    let mine = queue::enqueue(&db, NewJob::new("test.reclaim", json!({})))
        .await
        .unwrap();
    let theirs = queue::enqueue(&db, NewJob::new("test.reclaim", json!({})))
        .await
        .unwrap();

    // Instance A leases the first job and its process dies mid-job; instance B, alive, leases
    // the second and is still running it.
    let a = Worker::new(db.clone(), registry(), lease)
        .with_identity(Identity::claim(Some("host-a"), &dir));
    let a_task = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    while runs.load(Ordering::SeqCst) < 1 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = Worker::new(db.clone(), registry(), lease)
        .with_identity(Identity::claim(Some("host-b"), &dir));
    let b_task = tokio::spawn({
        let b = b.clone();
        async move { b.run_once().await }
    });
    while runs.load(Ordering::SeqCst) < 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a_task.abort();
    let _ = a_task.await;
    drop(a); // the process is gone, and with it its hold on the instance identity
    assert_eq!(entity_job(&app, mine.id).await.state, "running");

    // A's successor process reclaims its predecessor's lease, not B's, and runs the job now,
    // 60 s before the lease would have expired.
    let a2 = Worker::new(db.clone(), registry(), lease)
        .with_identity(Identity::claim(Some("host-a"), &dir));
    assert_eq!(a2.reclaim_previous().await.unwrap(), 1);
    assert!(a2.run_once().await, "the reclaimed job runs at once");
    let done = entity_job(&app, mine.id).await;
    assert_eq!(done.state, "succeeded");
    assert_eq!(done.attempts, 2);
    let busy = entity_job(&app, theirs.id).await;
    assert_eq!(busy.state, "running");
    assert_eq!(busy.locked_by.as_deref(), Some(b.id()));
    assert!(!a2.run_once().await, "B's live lease is left alone");
    assert_eq!(a2.reclaim_previous().await.unwrap(), 0);
    b_task.abort();
}
