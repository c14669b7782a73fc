//! The durable job queue and the jobs API.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use async_trait::async_trait;
use leadgraph::{
    auth::Role,
    jobs::{queue, JobContext, JobError, JobHandler, JobRegistry, NewJob, Worker},
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{code, Options, TestApp};

/// First call hangs forever (a worker that died mid-job); later calls succeed.
struct HangsOnce(Arc<AtomicUsize>);

#[async_trait]
impl JobHandler for HangsOnce {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        if n == 1 {
            std::future::pending::<()>().await;
        }
        Ok(json!({"ranOnAttempt": ctx.job.attempts}))
    }
}

fn registry_with(kind: &str, h: impl JobHandler) -> JobRegistry {
    let mut r = JobRegistry::new();
    r.register(kind, h);
    r
}

#[tokio::test]
async fn a_job_whose_worker_dies_is_run_again_and_completes_once() {
    let app = TestApp::spawn().await;
    let db = app.state.db.clone();
    let runs = Arc::new(AtomicUsize::new(0));
    let org = Uuid::now_v7();
    let job = queue::enqueue(
        &db,
        NewJob {
            org_id: Some(org),
            ..NewJob::new("test.hang", json!({}))
        },
    )
    .await
    .unwrap();

    // Worker A leases it and hangs; then "dies".
    let a = Worker::new(
        db.clone(),
        registry_with("test.hang", HangsOnce(runs.clone())),
        Duration::from_millis(600),
    );
    let a_task = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    while runs.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a_task.abort();
    let leased = entity_job(&app, job.id).await;
    assert_eq!(leased.state, "running");
    assert_eq!(leased.locked_by.as_deref(), Some(a.id()));

    // Worker B finds nothing while the lease holds, then takes over after it expires.
    let b = Worker::new(
        db.clone(),
        registry_with("test.hang", HangsOnce(runs.clone())),
        Duration::from_millis(600),
    );
    assert!(!b.run_once().await, "lease still held");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(b.run_once().await);
    let done = entity_job(&app, job.id).await;
    assert_eq!(done.state, "succeeded");
    assert_eq!(done.attempts, 2);
    assert_eq!(done.result, Some(json!({"ranOnAttempt": 2})));
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    // The dead worker's stale lease cannot complete it a second time.
    assert!(!queue::complete(&db, &leased, a.id(), json!({"dup": true}))
        .await
        .unwrap());
    assert_eq!(
        entity_job(&app, job.id).await.result,
        Some(json!({"ranOnAttempt": 2}))
    );
    // And nothing is left to run.
    assert!(!b.run_once().await);
}

struct FailsWith(bool);

#[async_trait]
impl JobHandler for FailsWith {
    async fn run(&self, _ctx: &JobContext) -> Result<Value, JobError> {
        if self.0 {
            Err(JobError::Retryable("upstream 503".into()))
        } else {
            Err(JobError::Permanent("bad payload".into()))
        }
    }
}

#[tokio::test]
async fn failures_back_off_then_fail_for_good() {
    let app = TestApp::spawn().await;
    let db = app.state.db.clone();
    let job = queue::enqueue(
        &db,
        NewJob {
            max_attempts: 2,
            ..NewJob::new("test.retry", json!({}))
        },
    )
    .await
    .unwrap();
    let w = Worker::new(
        db.clone(),
        registry_with("test.retry", FailsWith(true)),
        Duration::from_secs(5),
    );
    assert!(w.run_once().await);
    let j = entity_job(&app, job.id).await;
    assert_eq!((j.state.as_str(), j.attempts), ("queued", 1));
    assert_eq!(j.last_error.as_deref(), Some("upstream 503"));
    assert!(j.run_at_ms > queue::now_ms() + 1000, "backed off");
    assert!(!w.run_once().await, "not due yet");

    let job2 = queue::enqueue(&db, NewJob::new("test.perm", json!({})))
        .await
        .unwrap();
    let w2 = Worker::new(
        db.clone(),
        registry_with("test.perm", FailsWith(false)),
        Duration::from_secs(5),
    );
    assert!(w2.run_once().await);
    let j2 = entity_job(&app, job2.id).await;
    assert_eq!((j2.state.as_str(), j2.attempts), ("failed", 1));
    assert!(j2.finished_at.is_some());
}

#[tokio::test]
async fn idempotency_key_returns_the_existing_job() {
    let app = TestApp::spawn().await;
    let db = app.state.db.clone();
    let key = Some(format!("k-{}", Uuid::now_v7()));
    let a = queue::enqueue(
        &db,
        NewJob {
            idempotency_key: key.clone(),
            ..NewJob::new("x", json!({}))
        },
    )
    .await
    .unwrap();
    let b = queue::enqueue(
        &db,
        NewJob {
            idempotency_key: key,
            ..NewJob::new("x", json!({"other": 1}))
        },
    )
    .await
    .unwrap();
    assert_eq!(a.id, b.id);
}

/// Counts runs; used to prove the in-app worker picks jobs up.
struct Count(Arc<AtomicUsize>);

#[async_trait]
impl JobHandler for Count {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        ctx.set_progress(json!({"step": 1})).await;
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(json!({"ok": true}))
    }
}

#[tokio::test]
async fn the_app_worker_runs_jobs_and_the_api_shows_them() {
    let runs = Arc::new(AtomicUsize::new(0));
    let r2 = runs.clone();
    let app = TestApp::spawn_with(Options {
        registry: Some(Box::new(move |reg: &mut JobRegistry| {
            reg.register("test.count", Count(r2));
        })),
        ..Default::default()
    })
    .await;
    let org = Uuid::now_v7();
    let job = queue::enqueue(
        &app.state.db,
        NewJob {
            org_id: Some(org),
            ..NewJob::new("test.count", json!({}))
        },
    )
    .await
    .unwrap();
    app.state.jobs_enqueued();
    let token = app.token(org, Role::Viewer).await;
    let q = "query($id: ID!) { job(id: $id) { id kind state attempts result } }";
    let mut state = Value::Null;
    for _ in 0..100 {
        let v = app
            .gql(Some(&token), q, json!({"id": job.id.to_string()}))
            .await;
        state = v["data"]["job"]["state"].clone();
        if state == "SUCCEEDED" {
            assert_eq!(v["data"]["job"]["result"], json!({"ok": true}));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state, "SUCCEEDED");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn jobs_api_is_scoped_authorized_and_validated() {
    let app = TestApp::spawn().await;
    let (org_a, org_b) = (Uuid::now_v7(), Uuid::now_v7());
    let mut ids = Vec::new();
    for i in 0..5 {
        let j = queue::enqueue(
            &app.state.db,
            NewJob {
                org_id: Some(org_a),
                ..NewJob::new(format!("kind.{}", i % 2), json!({"i": i}))
            },
        )
        .await
        .unwrap();
        ids.push(j.id);
    }
    let other = queue::enqueue(
        &app.state.db,
        NewJob {
            org_id: Some(org_b),
            ..NewJob::new("kind.0", json!({}))
        },
    )
    .await
    .unwrap();
    let viewer_a = app.token(org_a, Role::Viewer).await;
    let manager_a = app.token(org_a, Role::Manager).await;

    // Pagination: newest first, keyset cursors, totalCount.
    let q = "query($after: String) { jobs(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } nodes { id } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let v = app.gql(Some(&viewer_a), q, json!({"after": after})).await;
        let page = &v["data"]["jobs"];
        assert_eq!(page["totalCount"], 5, "{v}");
        seen.extend(
            page["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_string()),
        );
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<String> = ids.iter().rev().map(|i| i.to_string()).collect();
    assert_eq!(seen, expected);

    // Filter.
    let v = app
        .gql(
            Some(&viewer_a),
            "{ jobs(filter: {kind: \"kind.0\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["jobs"]["totalCount"], 3);
    // Invalid input.
    let v = app
        .gql(
            Some(&viewer_a),
            "{ jobs(first: 500) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    assert_eq!(v["errors"][0]["extensions"]["fields"][0]["field"], "first");
    let v = app
        .gql(
            Some(&viewer_a),
            "{ jobs(after: \"garbage\") { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));

    // Another organization's job reads as missing, and cannot be cancelled.
    let v = app
        .gql(
            Some(&viewer_a),
            "query($id: ID!) { job(id: $id) { id } }",
            json!({"id": other.id.to_string()}),
        )
        .await;
    assert!(v["data"]["job"].is_null());
    let cancel = "mutation($id: ID!) { cancelJob(id: $id) { id state } }";
    let v = app
        .gql(
            Some(&manager_a),
            cancel,
            json!({"id": other.id.to_string()}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"));
    let v = app
        .gql(Some(&manager_a), cancel, json!({"id": "not-a-uuid"}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"));

    // Role table: VIEWER may not cancel; MANAGER may.
    let v = app
        .gql(Some(&viewer_a), cancel, json!({"id": ids[0].to_string()}))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));
    let v = app
        .gql(Some(&manager_a), cancel, json!({"id": ids[0].to_string()}))
        .await;
    assert_eq!(v["data"]["cancelJob"]["state"], "CANCELLED", "{v}");
    // Wrong state: CONFLICT. Retry brings it back.
    let v = app
        .gql(Some(&manager_a), cancel, json!({"id": ids[0].to_string()}))
        .await;
    assert_eq!(code(&v), Some("CONFLICT"));
    let v = app
        .gql(
            Some(&manager_a),
            "mutation($id: ID!) { retryJob(id: $id) { state attempts } }",
            json!({"id": ids[0].to_string()}),
        )
        .await;
    assert_eq!(v["data"]["retryJob"]["state"], "QUEUED");
    // The other organization's job is untouched.
    assert_eq!(entity_job(&app, other.id).await.state, "queued");
}

pub async fn entity_job(app: &TestApp, id: Uuid) -> entity::job::Model {
    use sea_orm::EntityTrait;
    entity::job::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}
