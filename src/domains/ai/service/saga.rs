//! The `search_goal.run` job: a goal's saga on the durable queue.
//!
//! Each run of the job does the next step for the goal's status and is safe to repeat:
//! - **Launch** (RUNNING, no sources linked yet): every strategy source is validated as a scrape
//!   job input (sources without an API key, or with an invalid query, are *skipped* with the
//!   reason); then, in one transaction, the scrape jobs (with their queue jobs) and one
//!   `search_goal_jobs` row per source (unique per goal and position) are stored. A retried
//!   launch finds the rows and creates nothing; two racing launches cannot both commit.
//!   A goal none of whose sources could run is FAILED.
//! - **Wait** (RUNNING): when some scrape job is not finished, `search_goal.progress` is recorded
//!   if the counts moved, and the job enqueues its successor (`run_at` 0.5 s later, 5 s after
//!   the first 40 checks; the idempotency key names the predecessor, so a retried check enqueues
//!   no second successor) and completes. Polling keeps the scraping domain unaware of goals.
//! - **Rank** (all finished → RANKING): the leads the jobs found are ranked and validated by the
//!   provider (batches of 25, through the same budget/cache/usage path as every AI call);
//!   results (unique per goal and lead), the COMPLETED status and the event commit together.
//!   If no scrape job succeeded, or the provider refuses (budget, unavailable), the goal is
//!   FAILED with the reason. A cancelled goal stops the saga at its next step.

use async_trait::async_trait;
use chrono::Utc;
use entity::{scrape_job, scrape_job_lead, search_goal, search_goal_job, search_goal_result};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    auth::{Role, Viewer, ViewerVia},
    domains::{
        ai::types::{SearchGoalStatus, SearchStrategy},
        scraping::{
            self,
            types::{
                CreateScrapeJobInput, GoogleMapsScrapeInput, ScrapeJobStatus, ScrapeSource,
                SearchScrapeInput, WebsiteScrapeInput,
            },
            Params,
        },
    },
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, GoalCounts, SearchGoalProgress},
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    state::AppState,
    state::Wakes,
};

/// Job kind.
pub const KIND: &str = "search_goal.run";
/// Checks 0.5 s apart before slowing down to 5 s.
const FAST_CHECKS: u32 = 40;

/// Payload of a `search_goal.run` job.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub goal_id: Uuid,
    /// Who ran the goal (scrape jobs, leads and AI usage are theirs).
    pub user_id: Uuid,
    pub role: Role,
    /// How many wait steps came before this one.
    #[serde(default)]
    pub check: u32,
}

fn new_job(org_id: Uuid, p: &Payload, key: String, run_at_ms: Option<i64>) -> AppResult<NewJob> {
    Ok(NewJob {
        org_id: Some(org_id),
        created_by: Some(p.user_id),
        idempotency_key: Some(key),
        run_at_ms,
        ..NewJob::new(KIND, serde_json::to_value(p)?)
    })
}

/// Queues the saga's first step (inside `runSearchGoal`'s transaction).
pub async fn enqueue_first(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    goal_id: Uuid,
) -> AppResult<()> {
    let p = Payload {
        goal_id,
        user_id: viewer.user_id,
        role: viewer.role,
        check: 0,
    };
    queue::enqueue(
        conn,
        new_job(viewer.org_id, &p, format!("{KIND}:{goal_id}"), None)?,
    )
    .await?;
    Ok(())
}

fn n(x: u64) -> i32 {
    i32::try_from(x).unwrap_or(i32::MAX)
}

/// The goal's current counts: its jobs, how many finished, sources skipped, distinct leads
/// found, results and valid results.
pub async fn counts(
    conn: &impl ConnectionTrait,
    goal: &search_goal::Model,
) -> AppResult<GoalCounts> {
    let links = search_goal_job::Entity::find()
        .filter(search_goal_job::Column::GoalId.eq(goal.id))
        .all(conn)
        .await?;
    let ids: Vec<Uuid> = links.iter().filter_map(|l| l.scrape_job_id).collect();
    let skipped = links.iter().filter(|l| l.skipped_reason.is_some()).count();
    let jobs_total = links.len() - skipped;
    let (done, leads_found) = if ids.is_empty() {
        (0, 0)
    } else {
        let statuses: Vec<String> = scrape_job::Entity::find()
            .select_only()
            .column(scrape_job::Column::Status)
            .filter(scrape_job::Column::Id.is_in(ids.clone()))
            .into_tuple()
            .all(conn)
            .await?;
        let found = scrape_job_lead::Entity::find()
            .select_only()
            .column(scrape_job_lead::Column::LeadId)
            .distinct()
            .filter(scrape_job_lead::Column::ScrapeJobId.is_in(ids.clone()))
            .into_tuple::<Uuid>()
            .all(conn)
            .await?
            .len();
        // A deleted scrape job counts as done (its link lost the id).
        let done = statuses
            .iter()
            .filter(|s| ScrapeJobStatus::parse(s).is_some_and(ScrapeJobStatus::is_terminal))
            .count()
            + (ids.len() - statuses.len());
        (done, found)
    };
    let deleted = links
        .iter()
        .filter(|l| l.scrape_job_id.is_none() && l.skipped_reason.is_none())
        .count();
    let results =
        search_goal_result::Entity::find().filter(search_goal_result::Column::GoalId.eq(goal.id));
    Ok(GoalCounts {
        jobs_total: n(jobs_total as u64),
        jobs_done: n((done + deleted) as u64),
        sources_skipped: n(skipped as u64),
        leads_found: n(leads_found as u64),
        ranked: n(results.clone().count(conn).await?),
        valid: n(results
            .filter(search_goal_result::Column::Validation.eq("valid"))
            .count(conn)
            .await?),
    })
}

/// Stores the progress on the goal and records `search_goal.progress` (same transaction).
pub async fn record_progress(
    conn: &impl ConnectionTrait,
    goal: &search_goal::Model,
    c: GoalCounts,
    error: Option<String>,
) -> AppResult<()> {
    let p = SearchGoalProgress {
        search_goal_id: goal.id,
        status: goal.status.to_uppercase(),
        counts: c,
        error: error.or_else(|| goal.error.clone()),
    };
    search_goal::Entity::update_many()
        .col_expr(
            search_goal::Column::Progress,
            Expr::value(serde_json::to_value(&p)?),
        )
        .filter(search_goal::Column::Id.eq(goal.id))
        .exec(conn)
        .await?;
    outbox::record(
        conn,
        &EventEnvelope::new(
            goal.org_id,
            goal.created_by,
            DomainEvent::SearchGoalProgress(p),
        ),
    )
    .await?;
    Ok(())
}

/// Moves the goal from `from` to `to` (with `error` when failing); false when it was not in
/// `from` any more (cancelled meanwhile, or another attempt moved it).
pub(super) async fn transition(
    conn: &impl ConnectionTrait,
    goal_id: Uuid,
    from: SearchGoalStatus,
    to: SearchGoalStatus,
    error: Option<String>,
) -> AppResult<bool> {
    transition_from(conn, goal_id, &[from], to, error).await
}

/// [`transition`] from any of `from`; RUNNING stamps `startedAt`, the final statuses
/// `finishedAt`.
pub(super) async fn transition_from(
    conn: &impl ConnectionTrait,
    goal_id: Uuid,
    from: &[SearchGoalStatus],
    to: SearchGoalStatus,
    error: Option<String>,
) -> AppResult<bool> {
    let now = Utc::now();
    let mut q = search_goal::Entity::update_many()
        .col_expr(search_goal::Column::Status, Expr::value(to.as_str()));
    match to {
        SearchGoalStatus::Running => {
            q = q.col_expr(search_goal::Column::StartedAt, Expr::value(now));
        }
        SearchGoalStatus::Completed | SearchGoalStatus::Failed | SearchGoalStatus::Cancelled => {
            q = q.col_expr(search_goal::Column::FinishedAt, Expr::value(now));
        }
        _ => {}
    }
    q = q.col_expr(search_goal::Column::UpdatedAt, Expr::value(now));
    if let Some(e) = error {
        q = q.col_expr(search_goal::Column::Error, Expr::value(e));
    }
    let q = q.filter(search_goal::Column::Id.eq(goal_id));
    let q = match from {
        [one] => q.filter(search_goal::Column::Status.eq(one.as_str())),
        many => q.filter(search_goal::Column::Status.is_in(many.iter().map(|s| s.as_str()))),
    };
    Ok(q.exec(conn).await?.rows_affected == 1)
}

/// FAILED with `error` (if still in `from`), with its event.
pub(super) async fn fail_goal(
    state: &AppState,
    goal: &search_goal::Model,
    from: SearchGoalStatus,
    error: String,
) -> AppResult<()> {
    let txn = state.db.begin().await?;
    if transition(&txn, goal.id, from, SearchGoalStatus::Failed, Some(error)).await? {
        if let Some(fresh) = search_goal::Entity::find_by_id(goal.id).one(&txn).await? {
            let c = counts(&txn, &fresh).await?;
            record_progress(&txn, &fresh, c, None).await?;
        }
    }
    state.commit(txn, Wakes::Events).await?;
    Ok(())
}

/// The `search_goal.run` handler.
pub struct SearchGoalRun(pub AppState);

#[async_trait]
impl JobHandler for SearchGoalRun {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p: Payload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let Some(org_id) = ctx.job.org_id else {
            return Err(JobError::Permanent("job without organization".into()));
        };
        let viewer = Viewer {
            user_id: p.user_id,
            org_id,
            role: p.role,
            via: ViewerVia::Jwt,
            session_id: None,
        };
        let state = &self.0;
        match step(state, &viewer, &p, ctx).await {
            Ok(v) => Ok(v),
            Err(e) => {
                let message = match &e {
                    AppError::Internal(d) => d.clone(),
                    other => other.public_message(),
                };
                if ctx.job.attempts >= ctx.job.max_attempts {
                    // Last attempt: the goal must not stay RUNNING/RANKING forever.
                    if let Ok(Some(goal)) = search_goal::Entity::find_by_id(p.goal_id)
                        .one(&state.db)
                        .await
                    {
                        if let Some(
                            from @ (SearchGoalStatus::Running | SearchGoalStatus::Ranking),
                        ) = SearchGoalStatus::parse(&goal.status)
                        {
                            let _ = fail_goal(state, &goal, from, message.clone()).await;
                        }
                    }
                }
                Err(JobError::Retryable(message))
            }
        }
    }
}

async fn step(
    state: &AppState,
    viewer: &Viewer,
    p: &Payload,
    ctx: &JobContext,
) -> AppResult<Value> {
    let Some(goal) = search_goal::Entity::find_by_id(p.goal_id)
        .filter(search_goal::Column::OrgId.eq(viewer.org_id))
        .one(&state.db)
        .await?
    else {
        return Ok(json!({"skipped": "the goal was deleted"}));
    };
    match SearchGoalStatus::parse(&goal.status) {
        Some(SearchGoalStatus::Running) => {
            let linked = search_goal_job::Entity::find()
                .filter(search_goal_job::Column::GoalId.eq(goal.id))
                .count(&state.db)
                .await?;
            if linked == 0 && !launch(state, viewer, &goal).await? {
                return Ok(json!({"failed": "no source could run"}));
            }
            let c = counts(&state.db, &goal).await?;
            if c.jobs_done < c.jobs_total {
                wait(state, viewer, p, ctx, &goal, c).await?;
                return Ok(json!({"waiting": {"done": c.jobs_done, "total": c.jobs_total}}));
            }
            let txn = state.db.begin().await?;
            if transition(
                &txn,
                goal.id,
                SearchGoalStatus::Running,
                SearchGoalStatus::Ranking,
                None,
            )
            .await?
            {
                if let Some(fresh) = search_goal::Entity::find_by_id(goal.id).one(&txn).await? {
                    record_progress(&txn, &fresh, c, None).await?;
                }
            }
            state.commit(txn, Wakes::Events).await?;
            super::ranking::rank(state, viewer, &goal).await
        }
        Some(SearchGoalStatus::Ranking) => super::ranking::rank(state, viewer, &goal).await,
        _ => Ok(json!({"skipped": format!("the goal is {}", goal.status)})),
    }
}

/// The scrape job input for a strategy source.
fn scrape_input(
    goal: &search_goal::Model,
    source: &str,
    query: &str,
) -> Option<CreateScrapeJobInput> {
    let short: String = goal.text.chars().take(60).collect();
    let mut input = CreateScrapeJobInput::of(
        ScrapeSource::parse(source)?,
        Some(format!("Goal \"{short}\": {source} {query}")),
    );
    let max_pages = Some(goal.max_leads.clamp(1, 1_000) * 5);
    match input.source {
        ScrapeSource::Website => {
            input.website = Some(WebsiteScrapeInput {
                urls: vec![query.to_string()],
                max_pages,
                ..Default::default()
            })
        }
        ScrapeSource::Search => {
            input.search = Some(SearchScrapeInput {
                query: query.to_string(),
                max_pages,
                ..Default::default()
            })
        }
        ScrapeSource::GoogleMaps => {
            input.google_maps = Some(GoogleMapsScrapeInput {
                query: query.to_string(),
                max_results: Some(goal.max_leads.clamp(1, 60)),
                crawl_websites: Some(true),
                ..Default::default()
            })
        }
        _ => return None,
    }
    Some(input)
}

enum Plan {
    Job(Box<Params>, String),
    Skip(String),
}

/// Creates the goal's scrape jobs and links; false when no source could run (goal FAILED).
async fn launch(state: &AppState, viewer: &Viewer, goal: &search_goal::Model) -> AppResult<bool> {
    let strategy: SearchStrategy = serde_json::from_value(goal.strategy.clone())?;
    // Validation reads settings through the pool: before the transaction (SQLite has one
    // connection).
    let mut plans = Vec::new();
    for src in &strategy.sources {
        let plan = match scrape_input(goal, &src.source, &src.query) {
            None => Plan::Skip(format!("{} is not a source a goal can run", src.source)),
            Some(input) => match scraping::validate_for(state, viewer, &input).await {
                Ok((params, name)) => Plan::Job(Box::new(params), name),
                Err(e @ AppError::BadUserInput { .. }) => Plan::Skip(e.public_message()),
                Err(e) => return Err(e),
            },
        };
        plans.push((src, plan));
    }
    let txn = state.db.begin().await?;
    let existing = search_goal_job::Entity::find()
        .filter(search_goal_job::Column::GoalId.eq(goal.id))
        .count(&txn)
        .await?;
    if existing > 0 {
        return Ok(true);
    }
    let now = Utc::now();
    let mut created = 0;
    let mut reasons = Vec::new();
    for (i, (src, plan)) in plans.into_iter().enumerate() {
        let (scrape_job_id, skipped_reason) = match plan {
            Plan::Job(params, name) => {
                let job = scraping::create_in(&txn, viewer, &params, name).await?;
                created += 1;
                (Some(job.id), None)
            }
            Plan::Skip(reason) => {
                reasons.push(format!("{} {}: {reason}", src.source, src.query));
                (None, Some(reason))
            }
        };
        search_goal_job::Entity::insert(search_goal_job::ActiveModel {
            id: Set(Uuid::now_v7()),
            goal_id: Set(goal.id),
            org_id: Set(goal.org_id),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            source: Set(src.source.clone()),
            query: Set(src.query.clone()),
            scrape_job_id: Set(scrape_job_id),
            skipped_reason: Set(skipped_reason),
            created_at: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
    }
    let ok = created > 0;
    if !ok {
        let error = if reasons.is_empty() {
            "the strategy has no sources".to_string()
        } else {
            format!("no source could run: {}", reasons.join("; "))
        };
        transition(
            &txn,
            goal.id,
            SearchGoalStatus::Running,
            SearchGoalStatus::Failed,
            Some(error),
        )
        .await?;
    }
    if let Some(fresh) = search_goal::Entity::find_by_id(goal.id).one(&txn).await? {
        let c = counts(&txn, &fresh).await?;
        record_progress(&txn, &fresh, c, None).await?;
    }
    state.commit(txn, Wakes::Jobs).await?;
    Ok(ok)
}

/// Records progress when it moved and queues the next check.
async fn wait(
    state: &AppState,
    viewer: &Viewer,
    p: &Payload,
    ctx: &JobContext,
    goal: &search_goal::Model,
    c: GoalCounts,
) -> AppResult<()> {
    let fresh = search_goal::Entity::find_by_id(goal.id)
        .one(&state.db)
        .await?
        .unwrap_or_else(|| goal.clone());
    let stored: Option<SearchGoalProgress> = fresh
        .progress
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    let moved = stored.is_none_or(|s| {
        let s = s.counts;
        (s.jobs_total, s.jobs_done, s.leads_found, s.sources_skipped)
            != (c.jobs_total, c.jobs_done, c.leads_found, c.sources_skipped)
    });
    let delay = if p.check < FAST_CHECKS { 500 } else { 5_000 };
    let next = Payload {
        goal_id: p.goal_id,
        user_id: p.user_id,
        role: p.role,
        check: p.check.saturating_add(1),
    };
    let txn = state.db.begin().await?;
    if moved && fresh.status == SearchGoalStatus::Running.as_str() {
        record_progress(&txn, &fresh, c, None).await?;
    }
    queue::enqueue(
        &txn,
        new_job(
            viewer.org_id,
            &next,
            format!("{KIND}:after:{}", ctx.job.id),
            Some(queue::now_ms() + delay),
        )?,
    )
    .await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(())
}
