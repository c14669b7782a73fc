//! The `scrape.run` job: a resumable, durable crawl, following the importer's pattern.
//!
//! - **Claim.** The run takes the scrape job (`status = running`, `run_attempt` = this queue
//!   attempt). Every later write is fenced on `status = 'running' AND run_attempt = <mine>`, so a
//!   cancelled job, a deleted job or a worker whose lease was taken over writes nothing more and
//!   stops.
//! - **Seed once.** The source's seeds and API contacts are stored in one transaction with
//!   `seeded = true`; a resumed run skips this. The seed commit runs while the first pages are
//!   fetched (it is the first of the run's commits, which run one at a time).
//! - **Group commit** ([`writer`]). Finished pages wait until the previous commit is done and
//!   they make a batch of [`writer::MIN_BATCH`] or the first waited [`writer::LINGER`], then
//!   commit together (at most [`writer::MAX_BATCH`]): their statuses, the links they add
//!   (`scrape_pages`, unique per job and URL), their leads and the job's counters, with a fixed
//!   number of statements per batch. After a crash only the pages in flight or in the
//!   uncommitted batch are fetched again; done pages never are, and no lead is duplicated.
//! - **Visited set in memory.** The page URLs of the job are read once when the run starts;
//!   deciding whether a link is new costs no statement.
//! - **Progress.** Every 250 ms the run re-reads the job (this is also how it notices a cancel
//!   within a second) and records `scrape.progress` when something changed; status changes
//!   record it too, and the end records `scrape.completed`.

mod end;
mod frontier;
mod page;
mod stop;
mod writer;

use frontier::Frontier;
use page::{PageResult, Workers};
use stop::{poisoned, Stop};
use writer::{Batch, Writer};

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::Utc;
use entity::{scrape_job, scrape_page};
use sea_orm::{
    sea_query::Expr, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::{sync::mpsc, task::JoinHandle};
use url::Url;
use uuid::Uuid;

use super::{
    crawler::Hosts,
    params::{Params, ScrapeSource},
    progress, record_progress,
    sources::{self, Seed, SeedEnv},
    transition,
};
use crate::domains::scraping::types::{ScrapeJobStatus, ScrapePageStatus};
use crate::{
    auth::{Role, Viewer, ViewerVia},
    domains::leads::types::LeadSource,
    events::ScrapeProgress,
    jobs::{JobContext, JobError, JobHandler},
    state::AppState,
    state::Wakes,
};

/// Job kind.
pub const KIND: &str = "scrape.run";
/// Progress tick (and cancel check) interval.
pub const TICK: Duration = Duration::from_millis(250);

/// Payload of a `scrape.run` job.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// The scrape job.
    pub scrape_job_id: Uuid,
    /// The creator's role when the job was created (leads are written as them).
    pub role: Role,
}

/// The `scrape.run` handler.
pub struct ScrapeRun(pub AppState);

#[async_trait]
impl JobHandler for ScrapeRun {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p: Payload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let state = &self.0;
        let job = scrape_job::Entity::find_by_id(p.scrape_job_id)
            .one(&state.db)
            .await
            .map_err(|e| JobError::Retryable(e.to_string()))?;
        let Some(job) = job else {
            return Ok(json!({"skipped": "the scrape job was deleted"}));
        };
        let params: Params = serde_json::from_value(job.params.clone())
            .map_err(|e| JobError::Permanent(format!("bad params: {e}")))?;
        let run = Run {
            state,
            ctx,
            id: job.id,
            attempt: ctx.job.attempts,
            viewer: Viewer {
                user_id: job.created_by.unwrap_or_default(),
                org_id: job.org_id,
                role: p.role,
                via: ViewerVia::Jwt,
                session_id: None,
            },
            source: match params.source() {
                ScrapeSource::Search => LeadSource::Search,
                ScrapeSource::GoogleMaps => LeadSource::GoogleMaps,
                ScrapeSource::Craigslist => LeadSource::Craigslist,
                ScrapeSource::JobBoards => LeadSource::JobBoards,
                ScrapeSource::Social => LeadSource::Social,
                ScrapeSource::Website => LeadSource::Website,
            },
            params,
            last: Mutex::new(None),
            current: Arc::new(Mutex::new(None)),
        };
        let job = match run.claim(job).await {
            Ok(Claim::Run(job)) => *job,
            Ok(Claim::Done(v)) => return Ok(v),
            Err(stop) => return run.stopped(stop).await,
        };
        match run.execute(job).await {
            Ok(v) => Ok(v),
            Err(stop) => run.stopped(stop).await,
        }
    }
}

/// How a crawl starts.
enum Start {
    /// A fresh job: its seed pages, and the seed's commit (running).
    Fresh {
        pages: Vec<(Uuid, Url, i32)>,
        commit: JoinHandle<Result<(), Stop>>,
    },
    /// A seeded job: its pages are read from the database.
    Resume,
}

enum Claim {
    Run(Box<scrape_job::Model>),
    /// Nothing to run; complete the queue job with this result.
    Done(Value),
}

struct Run<'a> {
    state: &'a AppState,
    ctx: &'a JobContext,
    id: Uuid,
    attempt: i32,
    viewer: Viewer,
    params: Params,
    source: LeadSource,
    /// The last progress recorded as an event.
    last: Mutex<Option<ScrapeProgress>>,
    /// The page most recently started (set by the fetchers).
    current: Arc<Mutex<Option<String>>>,
}

/// The progress ticker. Its first tick is one [`TICK`] away, not immediate: the claim has just
/// recorded the progress, and a tick at once would hold the crawl loop on a database round trip
/// before it could queue the first page's links (up to 35 ms on the first scrape after a start,
/// when the statements are not prepared yet on the connection).
fn ticker() -> tokio::time::Interval {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// An update of job `id` that only applies while attempt `attempt` runs it.
fn fenced(id: Uuid, attempt: i32) -> sea_orm::UpdateMany<scrape_job::Entity> {
    scrape_job::Entity::update_many()
        .filter(scrape_job::Column::Id.eq(id))
        .filter(scrape_job::Column::Status.eq(ScrapeJobStatus::Running.as_str()))
        .filter(scrape_job::Column::RunAttempt.eq(attempt))
}

impl Run<'_> {
    fn fenced(&self) -> sea_orm::UpdateMany<scrape_job::Entity> {
        fenced(self.id, self.attempt)
    }

    async fn fresh(&self, txn: &DatabaseTransaction) -> Result<scrape_job::Model, Stop> {
        scrape_job::Entity::find_by_id(self.id)
            .one(txn)
            .await?
            .ok_or(Stop::Cancelled)
    }

    /// Takes the job for this attempt.
    async fn claim(&self, job: scrape_job::Model) -> Result<Claim, Stop> {
        let txn = self.state.db.begin().await?;
        let now = Utc::now();
        let active = [ScrapeJobStatus::Queued, ScrapeJobStatus::Running];
        let res = transition(self.id, ScrapeJobStatus::Running, &active, now)
            .col_expr(scrape_job::Column::RunAttempt, Expr::value(self.attempt))
            .col_expr(
                scrape_job::Column::StartedAt,
                Expr::value(job.started_at.unwrap_or(now)),
            )
            .filter(scrape_job::Column::JobId.eq(self.ctx.job.id))
            .exec(&txn)
            .await?;
        if res.rows_affected != 1 {
            // Finished, cancelled, or superseded by a retry's newer queue job: nothing to do.
            txn.rollback().await?;
            return Ok(Claim::Done(json!({
                "skipped": format!("the scrape job is {}", job.status),
            })));
        }
        let fresh = self.fresh(&txn).await?;
        if job.status != ScrapeJobStatus::Running.as_str() {
            record_progress(&txn, &fresh, false).await?;
        }
        self.state.commit(txn, Wakes::Events).await?;
        *self.last.lock().map_err(|_| poisoned())? = Some(progress(&fresh));
        Ok(Claim::Run(Box::new(fresh)))
    }

    async fn execute(&self, job: scrape_job::Model) -> Result<Value, Stop> {
        let crawl = self.params.crawl().clone();
        let rps = self
            .state
            .config
            .scrape_politeness
            .then_some(crawl.requests_per_second);
        let hosts = Arc::new(Hosts::new(self.state.http.clone(), rps));
        let writer = Arc::new(
            Writer::load(
                self.state.clone(),
                self.id,
                self.attempt,
                self.viewer.clone(),
                self.source,
            )
            .await?,
        );
        let start = if job.seeded {
            Start::Resume
        } else {
            let source = sources::for_params(&self.params);
            let env = SeedEnv {
                state: self.state,
                hosts: &hosts,
            };
            let seed = self.until_stopped(source.seed(&env)).await??;
            self.store_seed(&writer, seed)
        };
        self.crawl(hosts, writer, start).await?;
        self.finish().await
    }

    /// Runs `fut` while ticking; stops early when the job is cancelled. `fut` keeps being
    /// polled while a tick runs: a `fut` paused in the middle of a query would keep SQLite's
    /// only pooled connection from the tick (a deadlock until the pool's acquire timeout).
    async fn until_stopped<T>(&self, fut: impl std::future::Future<Output = T>) -> Result<T, Stop> {
        tokio::pin!(fut);
        let mut ticker = ticker();
        loop {
            tokio::select! {
                v = &mut fut => return Ok(v),
                _ = ticker.tick() => {
                    let tick = self.tick();
                    tokio::pin!(tick);
                    let mut out = None;
                    let ticked = loop {
                        tokio::select! {
                            r = &mut tick => break r,
                            v = &mut fut, if out.is_none() => out = Some(v),
                        }
                    };
                    ticked?;
                    if let Some(v) = out {
                        return Ok(v);
                    }
                }
            }
        }
    }

    /// Checks the job is still ours and records progress when it changed.
    async fn tick(&self) -> Result<(), Stop> {
        if self.ctx.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        let row = scrape_job::Entity::find_by_id(self.id)
            .one(&self.state.db)
            .await?
            .ok_or(Stop::Cancelled)?;
        if row.status != ScrapeJobStatus::Running.as_str() || row.run_attempt != self.attempt {
            return Err(Stop::Cancelled);
        }
        let snap = progress(&row);
        let changed = {
            let mut last = self.last.lock().map_err(|_| poisoned())?;
            let changed = last.as_ref() != Some(&snap);
            *last = Some(snap.clone());
            changed
        };
        if changed {
            let txn = self.state.db.begin().await?;
            record_progress(&txn, &row, false).await?;
            self.state.commit(txn, Wakes::Events).await?;
            self.ctx
                .set_progress(serde_json::to_value(&snap).unwrap_or_default())
                .await;
        }
        Ok(())
    }

    /// Stores the source's seed pages and API contacts in one transaction, marking the job
    /// seeded. The commit runs in the background: the crawl starts fetching the seed pages
    /// meanwhile, and its first batch commits after this one (commits run one at a time).
    fn store_seed(&self, writer: &Arc<Writer>, seed: Seed) -> Start {
        let mut seen = HashSet::new();
        let new_pages: Vec<(Uuid, Url, i32)> = seed
            .pages
            .into_iter()
            .filter(|(u, _)| seen.insert(u.to_string()))
            .map(|(u, d)| (Uuid::now_v7(), u, d))
            .collect();
        let pages = new_pages.clone();
        let w = writer.clone();
        let commit = tokio::spawn(async move {
            w.commit(Batch {
                new_pages,
                contacts: seed.contacts,
                seeded: true,
                ..Batch::default()
            })
            .await
        });
        Start::Fresh { pages, commit }
    }

    async fn crawl(
        &self,
        hosts: Arc<Hosts>,
        writer: Arc<Writer>,
        start: Start,
    ) -> Result<(), Stop> {
        let (rows, mut committing) = match start {
            Start::Fresh { pages, commit } => (
                pages
                    .into_iter()
                    .map(|(id, url, depth)| (id, url.to_string(), depth, true))
                    .collect(),
                Some(commit),
            ),
            Start::Resume => (self.pages().await?, None),
        };
        let res = self.crawl_loop(rows, hosts, &writer, &mut committing).await;
        // Never leave a commit running behind the run's back (its outcome no longer matters
        // when the run already stopped; when it did not, the loop waited for it).
        if let Some(h) = committing.take() {
            let _ = h.await;
        }
        res
    }

    /// The job's pages, `(id, url, depth, queued)`, to resume a crawl.
    async fn pages(&self) -> Result<Vec<(Uuid, String, i32, bool)>, Stop> {
        let rows = scrape_page::Entity::find()
            .filter(scrape_page::Column::ScrapeJobId.eq(self.id))
            .order_by_asc(scrape_page::Column::Depth)
            .order_by_asc(scrape_page::Column::Id)
            .all(&self.state.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let queued = r.status == ScrapePageStatus::Queued.as_str();
                (r.id, r.url, r.depth, queued)
            })
            .collect())
    }

    /// Crawls from `rows` (the job's pages, `(id, url, depth, queued)`); `committing` is the
    /// seed's commit when it is still running.
    async fn crawl_loop(
        &self,
        rows: Vec<(Uuid, String, i32, bool)>,
        hosts: Arc<Hosts>,
        writer: &Arc<Writer>,
        committing: &mut Option<JoinHandle<Result<(), Stop>>>,
    ) -> Result<(), Stop> {
        let crawl = self.params.crawl();
        let concurrency = usize::try_from(crawl.concurrency).unwrap_or(1).max(1);
        let region = crawl.default_country.clone();
        // The frontier: the loop sends the pages to fetch, the workers take them in order.
        let (send, feed) = mpsc::unbounded_channel::<page::Queued>();
        let (done_tx, mut done) = mpsc::channel::<PageResult>(concurrency);
        let mut workers = Workers::start(
            concurrency,
            feed,
            done_tx,
            hosts,
            region,
            self.current.clone(),
        );
        let mut frontier = Frontier::new(rows, crawl, send);
        let mut pending = Batch::default();
        // When the first page of `pending` finished.
        let mut pending_since: Option<Instant> = None;
        let mut ticker = ticker();
        loop {
            // Group commit: whatever finished while the previous commit ran goes next, once it
            // is a fair batch or its first page waited `LINGER` (or nothing else is coming).
            let due = pending_since.is_some_and(|t: Instant| {
                pending.pages.len() >= writer::MIN_BATCH
                    || frontier.outstanding == 0
                    || t.elapsed() >= writer::LINGER
            });
            if committing.is_none() && !pending.pages.is_empty() && due {
                pending_since = None;
                let mut batch = std::mem::take(&mut pending);
                if batch.pages.len() > writer::MAX_BATCH {
                    let rest = batch.pages.split_off(writer::MAX_BATCH);
                    pending.pages = rest;
                    pending_since = Some(Instant::now());
                }
                batch.current = self.current.lock().map_err(|_| poisoned())?.clone();
                let w = writer.clone();
                *committing = Some(tokio::spawn(async move { w.commit(batch).await }));
            }
            if frontier.outstanding == 0 && committing.is_none() && pending.pages.is_empty() {
                return Ok(());
            }
            tokio::select! {
                // A worker only ends before the loop does when it panicked.
                stop = workers.failure(), if frontier.outstanding > 0 => return Err(stop),
                page = done.recv(), if frontier.outstanding > 0 => {
                    let Some(page) = page else {
                        return Err(workers.failure().await);
                    };
                    let finished = frontier.finish(page, &mut pending);
                    pending_since.get_or_insert_with(Instant::now);
                    pending.pages.push(finished);
                }
                done = async {
                    match committing.as_mut() {
                        Some(h) => h.await,
                        None => std::future::pending().await,
                    }
                }, if committing.is_some() => {
                    *committing = None;
                    done.map_err(|e| Stop::Failed {
                        message: format!("commit task: {e}"),
                        retryable: true,
                    })??;
                }
                _ = ticker.tick() => self.tick().await?,
                // A lingering batch is due.
                _ = tokio::time::sleep_until(
                    pending_since.map_or_else(tokio::time::Instant::now, |t| (t + writer::LINGER).into()),
                ), if committing.is_none() && pending_since.is_some() => {}
            }
        }
    }
}
