//! Scrape job rules: create (with its queue job, in one transaction), list, cancel, retry,
//! delete; progress snapshots and the `scrape.progress` / `scrape.completed` events.

pub mod audiences;
pub mod crawler;
pub mod extract;
pub mod lead_pages;
pub mod params;
pub mod run;
pub mod sink;
pub mod sources;
pub mod target;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{job, lead, scrape_job, scrape_job_lead, scrape_page};
use sea_orm::{
    sea_query::{Expr, ExprTrait as _, Query},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, Select,
    TransactionTrait, UpdateMany,
};
use uuid::Uuid;

use self::{
    lead_pages::LeadPages,
    params::{validate_for, CreateScrapeJobInput, ScrapeSource},
    run::{Payload, KIND},
};
use super::types::{ScrapeJobFilter, ScrapeJobStatus, ScrapePageStatus};
use crate::{
    auth::{Permission, Viewer},
    domains::leads::{
        self,
        types::{LeadOrder, LeadOrderField, OrderDirection},
        Lead, LeadConnection, LeadKey, PageQuery,
    },
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, ScrapeProgress},
    graphql::{
        pagination::{
            keyset_rows, ByColumn, IdConnection, KeysetArgs, KeysetRows, PageArgs, TotalCount,
        },
        siblings::first_pages,
    },
    jobs::{queue, JobState, NewJob},
    state::AppState,
    state::Wakes,
};

/// Attempts of one run before the job fails (each resumes where the last stopped).
pub const MAX_ATTEMPTS: i32 = 5;

/// Every scrape job query starts here.
pub fn scoped(viewer: &Viewer) -> Select<scrape_job::Entity> {
    scrape_job::Entity::find().filter(scrape_job::Column::OrgId.eq(viewer.org_id))
}

/// A scrape job of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<scrape_job::Model> {
    viewer.require(Permission::ReadScrapeJobs)?;
    scoped(viewer)
        .filter(scrape_job::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("scrape job"))
}

/// The event payload (and GraphQL progress) of a job row.
pub fn progress(m: &scrape_job::Model) -> ScrapeProgress {
    let processed = m.pages_fetched + m.pages_failed + m.pages_skipped;
    let queued = Ord::max(m.pages_total - processed, 0);
    let done = ScrapeJobStatus::parse(&m.status).is_some_and(ScrapeJobStatus::is_terminal);
    let percent = if m.status == ScrapeJobStatus::Succeeded.as_str() {
        100.0
    } else if m.pages_total > 0 {
        (f64::from(processed) * 100.0 / f64::from(m.pages_total)).min(100.0)
    } else {
        0.0
    };
    ScrapeProgress {
        scrape_job_id: m.id,
        status: m.status.clone(),
        pages_fetched: m.pages_fetched,
        pages_queued: if done { 0 } else { queued },
        pages_failed: m.pages_failed,
        pages_skipped: m.pages_skipped,
        leads_found: m.leads_found,
        leads_created: m.leads_created,
        leads_updated: m.leads_updated,
        percent: (percent * 10.0).round() / 10.0,
        current_url: if done { None } else { m.current_url.clone() },
        error: m.error.clone(),
    }
}

/// Records `scrape.progress` for the job (and `scrape.completed` after it when `completed`).
pub async fn record_progress(
    conn: &impl ConnectionTrait,
    m: &scrape_job::Model,
    completed: bool,
) -> AppResult<()> {
    let p = progress(m);
    outbox::record(
        conn,
        &EventEnvelope::new(
            m.org_id,
            m.created_by,
            DomainEvent::ScrapeProgress(p.clone()),
        ),
    )
    .await?;
    if completed {
        outbox::record(
            conn,
            &EventEnvelope::new(m.org_id, m.created_by, DomainEvent::ScrapeCompleted(p)),
        )
        .await?;
    }
    Ok(())
}

fn new_queue_job(viewer: &Viewer, scrape_job_id: Uuid) -> AppResult<NewJob> {
    let payload = Payload {
        scrape_job_id,
        role: viewer.role,
    };
    Ok(NewJob {
        org_id: Some(viewer.org_id),
        created_by: Some(viewer.user_id),
        max_attempts: MAX_ATTEMPTS,
        ..NewJob::new(KIND, serde_json::to_value(&payload)?)
    })
}

/// Validates the input, stores the job and enqueues its run, in one transaction.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: &CreateScrapeJobInput,
) -> AppResult<scrape_job::Model> {
    viewer.require(Permission::RunScrapeJobs)?;
    let (params, name) = validate_for(state, viewer, input).await?;
    let txn = state.db.begin().await?;
    let model = create_in(&txn, viewer, &params, name).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(model)
}

/// Stores a job from parameters already validated by `params::validate_for` (outside the
/// transaction: SQLite has one connection) and enqueues its run, inside the caller's
/// transaction (the AI goal saga links the job to its goal in the same commit). The caller
/// commits and wakes the workers (`state.jobs_enqueued()`).
pub async fn create_in(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    params: &self::params::Params,
    name: String,
) -> AppResult<scrape_job::Model> {
    viewer.require(Permission::RunScrapeJobs)?;
    let id = Uuid::now_v7();
    let queued = queue::enqueue(txn, new_queue_job(viewer, id)?).await?;
    let now = Utc::now();
    let model = scrape_job::ActiveModel {
        id: Set(id),
        org_id: Set(viewer.org_id),
        created_by: Set(Some(viewer.user_id)),
        source: Set(params.source().as_str().into()),
        name: Set(name),
        params: Set(serde_json::to_value(params)?),
        status: Set(ScrapeJobStatus::Queued.as_str().into()),
        seeded: Set(false),
        run_attempt: Set(0),
        pages_total: Set(0),
        pages_fetched: Set(0),
        pages_failed: Set(0),
        pages_skipped: Set(0),
        leads_found: Set(0),
        leads_created: Set(0),
        leads_updated: Set(0),
        current_url: Set(None),
        error: Set(None),
        job_id: Set(Some(queued.id)),
        started_at: Set(None),
        finished_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok(model)
}

/// The rows of `scrapeJobs` (permission, organization, filter): paged by [`list`] and by
/// the compiled read path (`graphql::compiled`), so both list the same jobs.
pub fn list_select(
    viewer: &Viewer,
    filter: &ScrapeJobFilter,
) -> AppResult<sea_orm::Select<scrape_job::Entity>> {
    viewer.require(Permission::ReadScrapeJobs)?;
    let mut q = scoped(viewer);
    if let Some(s) = filter.status.as_ref().filter(|s| !s.is_empty()) {
        q = q.filter(scrape_job::Column::Status.is_in(s.iter().map(|x| x.as_str())));
    }
    if let Some(s) = filter.source.as_ref().filter(|s| !s.is_empty()) {
        q = q.filter(scrape_job::Column::Source.is_in(s.iter().map(|x: &ScrapeSource| x.as_str())));
    }
    Ok(q)
}

/// A page of the organization's scrape jobs, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: ScrapeJobFilter,
    args: PageArgs,
) -> AppResult<IdConnection<super::types::ScrapeJob>> {
    let q = list_select(viewer, &filter)?;
    let order = ByColumn {
        column: scrape_job::Column::Id,
        desc: true,
        key_of: |m: &scrape_job::Model| m.id,
    };
    let total = TotalCount::of(state.db.clone(), q.clone());
    let page = keyset_rows(&state.db, q, &order, &args).await?;
    // The jobs of the page share one `ScrapeJobPage`: their nested lists load together.
    Ok(page.into_connection_batch(total, |m| m.id, super::types::ScrapeJob::wrap))
}

/// The update that moves job `id` to status `to` at `now`, only from one of the statuses `from`
/// (so a job another request or the runner moved meanwhile is left alone: zero rows). Callers
/// add the columns their move sets, run it and check `rows_affected`.
pub fn transition(
    id: Uuid,
    to: ScrapeJobStatus,
    from: &[ScrapeJobStatus],
    now: DateTime<Utc>,
) -> UpdateMany<scrape_job::Entity> {
    scrape_job::Entity::update_many()
        .col_expr(scrape_job::Column::Status, Expr::value(to.as_str()))
        .col_expr(scrape_job::Column::UpdatedAt, Expr::value(now))
        .filter(scrape_job::Column::Id.eq(id))
        .filter(scrape_job::Column::Status.is_in(from.iter().map(|s| s.as_str())))
}

/// Cancels the queue job behind a scrape job, if it is still active.
async fn cancel_queue_job(conn: &impl ConnectionTrait, job_id: Option<Uuid>) -> AppResult<()> {
    let Some(job_id) = job_id else { return Ok(()) };
    let now = Utc::now();
    let res = job::Entity::update_many()
        .col_expr(
            job::Column::State,
            Expr::value(JobState::Cancelled.as_str()),
        )
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .col_expr(job::Column::FinishedAt, Expr::value(now))
        .col_expr(job::Column::LeaseUntilMs, Expr::value(Option::<i64>::None))
        .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::State.is_in([JobState::Queued.as_str(), JobState::Running.as_str()]))
        .exec(conn)
        .await?;
    if res.rows_affected == 1 {
        if let Some(fresh) = job::Entity::find_by_id(job_id).one(conn).await? {
            queue::record_job_event(conn, &fresh).await?;
        }
    }
    Ok(())
}

/// Cancels a queued or running scrape job. The runner notices within 250 ms (it checks the
/// job's status between pages and on every progress tick) and stops, dropping pages in flight.
pub async fn cancel(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<scrape_job::Model> {
    viewer.require(Permission::RunScrapeJobs)?;
    let txn = state.db.begin().await?;
    let current = get(&txn, viewer, id).await?;
    let now = Utc::now();
    let active = [ScrapeJobStatus::Queued, ScrapeJobStatus::Running];
    let res = transition(id, ScrapeJobStatus::Cancelled, &active, now)
        .col_expr(scrape_job::Column::FinishedAt, Expr::value(now))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "scrape job is {}; only a queued or running job can be cancelled",
            current.status
        )));
    }
    cancel_queue_job(&txn, current.job_id).await?;
    let fresh = get(&txn, viewer, id).await?;
    record_progress(&txn, &fresh, true).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(fresh)
}

/// Runs a failed or cancelled job again as a new queue job. Pages already processed are kept
/// (one row per URL), so the run resumes and fetches none of them again.
pub async fn retry(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<scrape_job::Model> {
    viewer.require(Permission::RunScrapeJobs)?;
    let txn = state.db.begin().await?;
    let current = get(&txn, viewer, id).await?;
    let queued = queue::enqueue(&txn, new_queue_job(viewer, id)?).await?;
    let ended = [ScrapeJobStatus::Failed, ScrapeJobStatus::Cancelled];
    let res = transition(id, ScrapeJobStatus::Queued, &ended, Utc::now())
        .col_expr(scrape_job::Column::JobId, Expr::value(queued.id))
        .col_expr(
            scrape_job::Column::Error,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            scrape_job::Column::FinishedAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "scrape job is {}; only a failed or cancelled job can be retried",
            current.status
        )));
    }
    // Pages that failed get another chance; done and skipped pages stay as they are.
    let failed = scrape_page::Entity::update_many()
        .col_expr(
            scrape_page::Column::Status,
            Expr::value(ScrapePageStatus::Queued.as_str()),
        )
        .col_expr(
            scrape_page::Column::Error,
            Expr::value(Option::<String>::None),
        )
        .filter(scrape_page::Column::ScrapeJobId.eq(id))
        .filter(scrape_page::Column::Status.eq(ScrapePageStatus::Failed.as_str()))
        .exec(&txn)
        .await?;
    if failed.rows_affected > 0 {
        scrape_job::Entity::update_many()
            .col_expr(
                scrape_job::Column::PagesFailed,
                Expr::col(scrape_job::Column::PagesFailed).sub(failed.rows_affected as i32),
            )
            .filter(scrape_job::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    let fresh = get(&txn, viewer, id).await?;
    record_progress(&txn, &fresh, false).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(fresh)
}

/// Deletes a scrape job with its pages and lead links (MANAGER+); the leads stay. A running job
/// is cancelled first, and subscribers receive `scrape.completed` (CANCELLED).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<scrape_job::Model> {
    viewer.require(Permission::DeleteScrapeJobs)?;
    let txn = state.db.begin().await?;
    let mut current = get(&txn, viewer, id).await?;
    cancel_queue_job(&txn, current.job_id).await?;
    let active = ScrapeJobStatus::parse(&current.status).is_some_and(|s| !s.is_terminal());
    scrape_page::Entity::delete_many()
        .filter(scrape_page::Column::ScrapeJobId.eq(id))
        .exec(&txn)
        .await?;
    scrape_job_lead::Entity::delete_many()
        .filter(scrape_job_lead::Column::ScrapeJobId.eq(id))
        .exec(&txn)
        .await?;
    scrape_job::Entity::delete_by_id(id).exec(&txn).await?;
    if active {
        current.status = ScrapeJobStatus::Cancelled.as_str().into();
        record_progress(&txn, &current, true).await?;
    }
    state.commit(txn, Wakes::Events).await?;
    Ok(current)
}

/// Pages of some statuses (all when `status` is empty or absent).
fn pages_of(status: &Option<Vec<ScrapePageStatus>>) -> Select<scrape_page::Entity> {
    let q = scrape_page::Entity::find();
    match status.as_ref().filter(|s| !s.is_empty()) {
        Some(s) => q.filter(scrape_page::Column::Status.is_in(s.iter().map(|x| x.as_str()))),
        None => q,
    }
}

/// Newest first (UUID v7 ids sort by creation).
fn newest_pages() -> crate::graphql::pagination::NewestFirst<scrape_page::Entity> {
    crate::graphql::pagination::newest_first::<scrape_page::Entity>(scrape_page::Column::Id, |m| {
        m.id
    })
}

/// The pages of a job, newest first, optionally only some statuses.
pub async fn pages(
    state: &AppState,
    job_id: Uuid,
    status: Option<Vec<ScrapePageStatus>>,
    args: PageArgs,
) -> AppResult<IdConnection<super::types::ScrapePage>> {
    let q = pages_of(&status).filter(scrape_page::Column::ScrapeJobId.eq(job_id));
    let page = keyset_rows(&state.db, q, &newest_pages(), &args).await?;
    Ok(pages_connection(&state.db, job_id, status, page))
}

/// The crawl pages of every job of a page of jobs (`ScrapeJob.pages`), a first page per job in
/// one statement (`graphql::siblings`; `args` must be `siblings::batchable`).
pub async fn pages_of_jobs(
    db: &DatabaseConnection,
    job_ids: &[Uuid],
    status: &Option<Vec<ScrapePageStatus>>,
    args: &PageArgs,
) -> AppResult<HashMap<Uuid, KeysetRows<scrape_page::Model>>> {
    first_pages(
        db,
        pages_of(status),
        scrape_page::Column::ScrapeJobId,
        |m| m.scrape_job_id,
        &newest_pages(),
        args,
        job_ids,
    )
    .await
}

/// The connection of one job's crawl pages (`totalCount` counted only when selected).
pub fn pages_connection(
    db: &DatabaseConnection,
    job_id: Uuid,
    status: Option<Vec<ScrapePageStatus>>,
    page: KeysetRows<scrape_page::Model>,
) -> IdConnection<super::types::ScrapePage> {
    let total = TotalCount::lazy(db.clone(), move || {
        pages_of(&status).filter(scrape_page::Column::ScrapeJobId.eq(job_id))
    });
    page.into_connection(total, |m| m.id, super::types::ScrapePage::from)
}

/// The page query of the leads a job created or updated, newest first (the `leads`
/// connection type and cursors, ordered by creation time).
fn job_leads_query(
    viewer: &Viewer,
    job_id: Uuid,
    args: KeysetArgs<LeadKey>,
) -> AppResult<PageQuery> {
    let linked = Query::select()
        .column(scrape_job_lead::Column::LeadId)
        .from(scrape_job_lead::Entity)
        .and_where(scrape_job_lead::Column::ScrapeJobId.eq(job_id))
        .to_owned();
    let base = leads::scoped(viewer).filter(lead::Column::Id.in_subquery(linked));
    let newest_first = LeadOrder {
        field: LeadOrderField::CreatedAt,
        direction: OrderDirection::Desc,
    };
    PageQuery::new(base, newest_first, args)
}

/// The leads a job created or updated, newest first, through the leads' own page
/// ([`leads::page`]): one statement, and their tags and owners load once per page.
pub async fn leads(
    state: &AppState,
    viewer: &Viewer,
    job_id: Uuid,
    args: KeysetArgs<LeadKey>,
) -> AppResult<LeadConnection<Lead>> {
    viewer.require(Permission::ReadLeads)?;
    leads::page(state, job_leads_query(viewer, job_id, args)?).await
}

/// The leads pages of a page of jobs (`ScrapeJob.leads`), in one statement ([`LeadPages`];
/// `args` must be `siblings::batchable`).
pub async fn leads_of_jobs(
    state: &AppState,
    viewer: &Viewer,
    job_ids: &[Uuid],
    args: &KeysetArgs<LeadKey>,
) -> AppResult<LeadPages> {
    viewer.require(Permission::ReadLeads)?;
    let queries = job_ids
        .iter()
        .map(|id| Ok((*id, job_leads_query(viewer, *id, args.clone())?)))
        .collect::<AppResult<Vec<_>>>()?;
    LeadPages::load(&state.db, queries).await
}
