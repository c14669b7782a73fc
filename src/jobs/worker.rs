//! Workers: lease jobs, run their handler with a heartbeat, record the outcome.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use entity::job;
use sea_orm::DatabaseConnection;
use tokio::sync::{watch, Mutex, Notify};

use super::queue;

/// A handler failure.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt (network, 5xx, lock contention).
    #[error("{0}")]
    Retryable(String),
    /// Retrying cannot help (bad payload, 4xx).
    #[error("{0}")]
    Permanent(String),
    /// The job was cancelled while running; nothing more to record.
    #[error("cancelled")]
    Cancelled,
}

/// What a handler gets: the job and a way to report progress and notice cancellation.
pub struct JobContext {
    /// The leased job (attempts already counts this attempt).
    pub job: job::Model,
    /// Database handle.
    pub db: DatabaseConnection,
    progress: Mutex<Option<serde_json::Value>>,
    cancelled: watch::Receiver<bool>,
}

impl JobContext {
    /// Stores progress; it is written with the next heartbeat.
    pub async fn set_progress(&self, progress: serde_json::Value) {
        *self.progress.lock().await = Some(progress);
    }

    /// True once the job was cancelled or its lease lost; handlers should stop soon after.
    pub fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }

    /// Resolves when the job is cancelled or its lease lost.
    pub async fn cancelled(&self) {
        let mut rx = self.cancelled.clone();
        while !*rx.borrow() {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

/// Runs jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Does the work; the returned JSON is stored as the job's result.
    async fn run(&self, ctx: &JobContext) -> Result<serde_json::Value, JobError>;

    /// The payload to keep once the job is finished (succeeded, or failed for good), when it
    /// must not stay as enqueued: a handler whose payload carries a secret (a mailed sign-in
    /// link) returns a redacted copy, written by the statement that records the outcome.
    fn finished_payload(&self, _payload: &serde_json::Value) -> Option<serde_json::Value> {
        None
    }
}

/// Aborts the task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Handlers by kind.
#[derive(Clone, Default)]
pub struct JobRegistry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

impl JobRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `kind`.
    pub fn register(&mut self, kind: impl Into<String>, handler: impl JobHandler) -> &mut Self {
        self.handlers.insert(kind.into(), Arc::new(handler));
        self
    }

    /// Registered kinds, sorted.
    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.handlers.keys().cloned().collect();
        k.sort();
        k
    }
}

/// A pool of job runners in this process.
#[derive(Clone)]
pub struct Worker {
    db: DatabaseConnection,
    registry: Arc<JobRegistry>,
    id: String,
    lease: Duration,
    poll: Duration,
    wake: Arc<Notify>,
    events: Option<Arc<Notify>>,
}

impl Worker {
    /// A worker with a unique id.
    pub fn new(db: DatabaseConnection, registry: JobRegistry, lease: Duration) -> Self {
        Worker {
            db,
            registry: Arc::new(registry),
            id: format!("w-{}", uuid::Uuid::now_v7().simple()),
            lease,
            poll: Duration::from_millis(500),
            wake: Arc::new(Notify::new()),
            events: None,
        }
    }

    /// Uses `notify` (shared with enqueuers) to wake idle runners.
    pub fn with_notifier(mut self, notify: Arc<Notify>) -> Self {
        self.wake = notify;
        self
    }

    /// Wakes the outbox relay after recording job events.
    pub fn with_event_notifier(mut self, notify: Arc<Notify>) -> Self {
        self.events = Some(notify);
        self
    }

    /// Sets the idle polling interval.
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// This worker's id (stored in `locked_by`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Wakes idle runners (call after enqueueing in this process).
    pub fn notifier(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// Leases and runs one job if one is due. Returns whether a job was run.
    pub async fn run_once(&self) -> bool {
        let kinds = self.registry.kinds();
        let job = match queue::lease(&self.db, &self.id, &kinds, self.lease_ms()).await {
            Ok(Some(job)) => job,
            Ok(None) => return false,
            Err(e) => {
                tracing::warn!(error = ?e, "job lease failed");
                return false;
            }
        };
        self.execute(job).await;
        true
    }

    async fn execute(&self, job: job::Model) {
        let Some(handler) = self.registry.handlers.get(&job.kind).cloned() else {
            return;
        };
        let span =
            tracing::info_span!("job", job_id = %job.id, kind = %job.kind, attempt = job.attempts);
        let (cancel_tx, cancel_rx) = watch::channel(false);
        let ctx = Arc::new(JobContext {
            job: job.clone(),
            db: self.db.clone(),
            progress: Mutex::new(None),
            cancelled: cancel_rx,
        });
        // The heartbeat runs beside the handler (so a handler holding a database connection
        // never blocks it) and is aborted when this task ends or is dropped: if the worker dies,
        // heart-beating stops with it and the lease expires for another worker to take.
        let heartbeat = AbortOnDrop(tokio::spawn({
            let (worker, ctx) = (self.clone(), ctx.clone());
            async move {
                let mut ticker = tokio::time::interval(worker.lease / 3);
                ticker.tick().await;
                loop {
                    ticker.tick().await;
                    if !worker.beat(&ctx).await {
                        let _ = cancel_tx.send(true);
                        return;
                    }
                }
            }
        }));
        let outcome = tracing::Instrument::instrument(handler.run(&ctx), span).await;
        drop(heartbeat);
        let scrubbed = || handler.finished_payload(&job.payload);
        let recorded = match &outcome {
            Ok(result) => {
                queue::complete_with_payload(&self.db, &job, &self.id, result.clone(), scrubbed())
                    .await
            }
            Err(JobError::Cancelled) => Ok(true),
            Err(JobError::Retryable(msg)) => {
                queue::fail_with_payload(&self.db, &job, &self.id, msg, true, scrubbed()).await
            }
            Err(JobError::Permanent(msg)) => {
                queue::fail_with_payload(&self.db, &job, &self.id, msg, false, scrubbed()).await
            }
        };
        match recorded {
            Ok(true) => self.notify_events(),
            Ok(false) => tracing::warn!(job_id = %job.id, "job lease lost; outcome discarded"),
            Err(e) => tracing::error!(job_id = %job.id, error = ?e, "recording job outcome failed"),
        }
    }

    /// Extends the lease and flushes progress. False when the lease is lost or the job cancelled.
    async fn beat(&self, ctx: &JobContext) -> bool {
        let progress = ctx.progress.lock().await.take();
        let had_progress = progress.is_some();
        match queue::heartbeat(&self.db, &ctx.job, &self.id, self.lease_ms(), progress).await {
            Ok(true) => {
                if had_progress {
                    if let Ok(Some(fresh)) =
                        <job::Entity as sea_orm::EntityTrait>::find_by_id(ctx.job.id)
                            .one(&self.db)
                            .await
                    {
                        if queue::record_job_event(&self.db, &fresh).await.is_ok() {
                            self.notify_events();
                        }
                    }
                }
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(error = ?e, "job heartbeat failed");
                true
            }
        }
    }

    fn notify_events(&self) {
        if let Some(n) = &self.events {
            n.notify_one();
        }
    }

    /// Spawns `concurrency` runners that stop when `shutdown` flips.
    pub fn spawn(
        &self,
        concurrency: usize,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..concurrency.max(1))
            .map(|_| {
                let worker = self.clone();
                let mut shutdown = shutdown.clone();
                tokio::spawn(async move {
                    loop {
                        if *shutdown.borrow() {
                            break;
                        }
                        if worker.run_once().await {
                            continue;
                        }
                        tokio::select! {
                            _ = worker.wake.notified() => {}
                            _ = tokio::time::sleep(worker.poll) => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                })
            })
            .collect()
    }
}
