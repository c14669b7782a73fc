//! Workers: lease jobs, run their handler with a heartbeat, record the outcome.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use entity::job;
use sea_orm::DatabaseConnection;
use tokio::sync::{watch, Mutex, Notify};

use super::{instance::Identity, queue};

/// How long a running handler gets to stop on shutdown (it sees `cancelled()`) before it is
/// dropped; its lease is released either way.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

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
    identity: Identity,
    id: String,
    lease: Duration,
    poll: Duration,
    wake: Arc<Notify>,
    events: Option<Arc<Notify>>,
    /// Set in spawned runners: flips on shutdown.
    stop: Option<watch::Receiver<bool>>,
}

impl Worker {
    /// A worker with a one-off identity (it reclaims nothing; see [`Self::with_identity`]).
    pub fn new(db: DatabaseConnection, registry: JobRegistry, lease: Duration) -> Self {
        let identity = Identity::ephemeral();
        Worker {
            db,
            registry: Arc::new(registry),
            id: identity.holder(),
            identity,
            lease,
            poll: Duration::from_millis(500),
            wake: Arc::new(Notify::new()),
            events: None,
            stop: None,
        }
    }

    /// Leases under `identity` (`<instance>/<incarnation>`), so a successor process of the same
    /// instance can reclaim them.
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.id = identity.holder();
        self.identity = identity;
        self
    }

    /// Expires at once the leases a previous process of this instance held (it crashed: this
    /// process holds the instance identity now); other instances' leases are untouched. Returns
    /// how many jobs become runnable again.
    pub async fn reclaim_previous(&self) -> crate::error::AppResult<u64> {
        let n = queue::reclaim_previous(&self.db, &self.identity.instance, &self.id).await?;
        if n > 0 {
            tracing::info!(jobs = n, instance = %self.identity.instance, "reclaimed the leases of this instance's previous process");
            self.wake.notify_waiters();
        }
        Ok(n)
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
        let lease = queue::lease(&self.db, &self.id, &kinds, self.lease_ms());
        let job = match crate::db::within_deadline("job lease", lease).await {
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
        let cancel_tx = Arc::new(cancel_tx);
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
            let (worker, ctx, cancel_tx) = (self.clone(), ctx.clone(), cancel_tx.clone());
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
        let run = tracing::Instrument::instrument(handler.run(&ctx), span);
        let Some(outcome) = self.run_or_stop(run, &cancel_tx).await else {
            drop(heartbeat);
            self.release(&job).await;
            return;
        };
        drop(heartbeat);
        if matches!(outcome, Err(JobError::Cancelled)) && self.stopping() {
            // Stopped by shutdown, not by a user: give the job back.
            self.release(&job).await;
            return;
        }
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

    /// Runs the handler; on shutdown tells it to stop and waits [`SHUTDOWN_GRACE`] for it.
    /// `None` when it did not stop in time (it is dropped, as a crash would).
    async fn run_or_stop<F>(
        &self,
        run: F,
        cancel_tx: &watch::Sender<bool>,
    ) -> Option<Result<serde_json::Value, JobError>>
    where
        F: std::future::Future<Output = Result<serde_json::Value, JobError>>,
    {
        tokio::pin!(run);
        let Some(stop) = self.stop.clone() else {
            return Some(run.await);
        };
        tokio::select! {
            outcome = &mut run => return Some(outcome),
            () = until_true(stop) => {}
        }
        let _ = cancel_tx.send(true);
        tokio::time::timeout(SHUTDOWN_GRACE, run).await.ok()
    }

    fn stopping(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| *s.borrow())
    }

    /// Gives the lease of `job` back (shutdown), logging a failure: the lease then expires.
    async fn release(&self, job: &job::Model) {
        match queue::release(&self.db, job, &self.id).await {
            Ok(_) => tracing::info!(job_id = %job.id, "job lease released on shutdown"),
            Err(e) => tracing::warn!(job_id = %job.id, error = ?e, "releasing a job lease failed"),
        }
    }

    /// Extends the lease and flushes progress. False when the lease is lost or the job cancelled.
    async fn beat(&self, ctx: &JobContext) -> bool {
        let progress = ctx.progress.lock().await.take();
        let had_progress = progress.is_some();
        let beat = queue::heartbeat(&self.db, &ctx.job, &self.id, self.lease_ms(), progress);
        match crate::db::within_deadline("job heartbeat", beat).await {
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
                let mut worker = self.clone();
                worker.stop = Some(shutdown.clone());
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

/// Resolves once `rx` holds true (never, if its sender is gone first).
async fn until_true(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
