//! Search goals: create (the provider derives the strategy), read, edit the strategy, run (the
//! saga in [`super::saga`] does the work) and cancel; the goal's jobs and ranked results.

use std::collections::HashMap;

use async_graphql::connection::Connection;
use chrono::Utc;
use entity::{lead, search_goal, search_goal_job, search_goal_result};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Select, TransactionTrait,
};
use uuid::Uuid;

use super::{run, saga};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        ai::service::provider::Task,
        ai::types::{
            AiMeta, CreateSearchGoalInput, GoalPrompt, SearchGoalStatus, SearchStrategy,
            StrategySource,
        },
        leads::{self, Lead, LeadPage},
        scraping,
    },
    error::{AppError, AppResult, FieldError},
    events::GoalCounts,
    graphql::{
        pagination::{
            keyset_rows, page_by_id_desc, ByColumn, IdConnection, KeyCursor, KeysetArgs,
            KeysetRows, PageArgs, TotalCount,
        },
        siblings::first_pages,
    },
    state::AppState,
    state::Wakes,
};

/// Every search goal query starts here.
fn scoped(viewer: &Viewer) -> Select<search_goal::Entity> {
    search_goal::Entity::find().filter(search_goal::Column::OrgId.eq(viewer.org_id))
}

/// A goal of the viewer's organization, or NOT_FOUND.
pub async fn get_goal(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<search_goal::Model> {
    find_goal(&state.db, viewer, id).await
}

/// [`get_goal`] on any connection (a transaction).
pub async fn find_goal(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<search_goal::Model> {
    viewer.require(Permission::ReadAi)?;
    scoped(viewer)
        .filter(search_goal::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("search goal"))
}

/// The goals [`list_goals`] pages (permission, organization): also the rows of the compiled
/// read (`graphql::compiled::goals`), so both answer the same rows.
pub fn list_select(viewer: &Viewer) -> AppResult<Select<search_goal::Entity>> {
    viewer.require(Permission::ReadAi)?;
    Ok(scoped(viewer))
}

/// The organization's goals, newest first; the nodes of the page are made together by `wrap`
/// (they share one `SearchGoalPage`).
pub async fn list_goals<N, I>(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
    wrap: impl FnOnce(Vec<search_goal::Model>) -> I,
) -> AppResult<IdConnection<N>>
where
    N: async_graphql::OutputType,
    I: IntoIterator<Item = N>,
{
    let select = list_select(viewer)?;
    let order = ByColumn {
        column: search_goal::Column::Id,
        desc: true,
        key_of: |m: &search_goal::Model| m.id,
    };
    let total = TotalCount::of(state.db.clone(), select.clone());
    let page = keyset_rows(&state.db, select, &order, &args).await?;
    Ok(page.into_connection_batch(total, |m| m.id, wrap))
}

fn check_goal(input: &CreateSearchGoalInput) -> AppResult<GoalPrompt> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        })
    };
    let text = input.text.trim().to_string();
    if text.chars().count() < 3 || text.chars().count() > 2_000 {
        bad("input.text", "must be 3–2,000 characters");
    }
    let target_market = input
        .target_market
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if target_market
        .as_ref()
        .is_some_and(|m| m.chars().count() > 200)
    {
        bad("input.targetMarket", "must be at most 200 characters");
    }
    let locations: Vec<String> = input
        .locations
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    if locations.len() > 20 || locations.iter().any(|l| l.chars().count() > 100) {
        bad(
            "input.locations",
            "at most 20 locations of at most 100 characters",
        );
    }
    let max_leads = input.max_leads.unwrap_or(100);
    if !(1..=1_000).contains(&max_leads) {
        bad("input.maxLeads", "must be 1–1,000");
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    Ok(GoalPrompt {
        text,
        target_market,
        locations,
        max_leads,
    })
}

/// Derives the strategy with the provider and stores the goal.
pub async fn create_goal(
    state: &AppState,
    viewer: &Viewer,
    input: CreateSearchGoalInput,
) -> AppResult<search_goal::Model> {
    viewer.require(Permission::UseAi)?;
    let goal = check_goal(&input)?;
    let (strategy, meta): (SearchStrategy, AiMeta) =
        run(state, viewer, Task::Strategy { goal: goal.clone() }).await?;
    let now = Utc::now();
    Ok(search_goal::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        created_by: Set(Some(viewer.user_id)),
        text: Set(goal.text),
        target_market: Set(goal.target_market),
        locations: Set(serde_json::to_value(&goal.locations)?),
        max_leads: Set(goal.max_leads),
        strategy: Set(serde_json::to_value(&strategy)?),
        status: Set(SearchGoalStatus::Draft.as_str().into()),
        provider: Set(meta.provider),
        model: Set(meta.model),
        created_at: Set(now),
        updated_at: Set(now),
        progress: Set(None),
        error: Set(None),
        started_at: Set(None),
        finished_at: Set(None),
    }
    .insert(&state.db)
    .await?)
}

fn check_strategy(s: &SearchStrategy) -> AppResult<()> {
    let mut errors = Vec::new();
    let lists = [
        ("strategy.industries", &s.industries),
        ("strategy.keywords", &s.keywords),
        ("strategy.jobTitles", &s.job_titles),
        ("strategy.locations", &s.locations),
        ("strategy.exclusions", &s.exclusions),
    ];
    for (field, list) in lists {
        if list.len() > 50
            || list
                .iter()
                .any(|v| v.trim().is_empty() || v.chars().count() > 200)
        {
            errors.push(FieldError {
                field: field.into(),
                message: "at most 50 entries of 1–200 characters".into(),
            });
        }
    }
    let bad_source = |src: &StrategySource| {
        !["WEBSITE", "SEARCH", "GOOGLE_MAPS"].contains(&src.source.as_str())
            || src.query.trim().is_empty()
            || src.query.chars().count() > 500
    };
    if s.sources.len() > 20 || s.sources.iter().any(bad_source) {
        errors.push(FieldError {
            field: "strategy.sources".into(),
            message: "at most 20 sources; source is WEBSITE, SEARCH or GOOGLE_MAPS and query 1–500 characters".into(),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::invalid_fields(errors))
    }
}

/// Replaces a goal's strategy (no provider call).
pub async fn update_strategy(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    strategy: SearchStrategy,
) -> AppResult<search_goal::Model> {
    viewer.require(Permission::UseAi)?;
    let goal = get_goal(state, viewer, id).await?;
    check_strategy(&strategy)?;
    if goal.status != SearchGoalStatus::Draft.as_str() {
        return Err(AppError::Conflict(format!(
            "search goal is {}; only a DRAFT goal's strategy can be changed",
            goal.status.to_uppercase()
        )));
    }
    let mut am: search_goal::ActiveModel = goal.into();
    am.strategy = Set(serde_json::to_value(&strategy)?);
    am.updated_at = Set(Utc::now());
    Ok(am.update(&state.db).await?)
}

/// Opens the transaction that moves goal `id` from one of `from` to `to` (running or cancelling
/// a goal needs UseAi and RunScrapeJobs); CONFLICT naming the goal's status and `rule` when it
/// is in none of `from`.
async fn begin_move(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    from: &[SearchGoalStatus],
    to: SearchGoalStatus,
    rule: &str,
) -> AppResult<DatabaseTransaction> {
    viewer.require(Permission::UseAi)?;
    viewer.require(Permission::RunScrapeJobs)?;
    let txn = state.db.begin().await?;
    let goal = find_goal(&txn, viewer, id).await?;
    if !saga::transition_from(&txn, id, from, to, None).await? {
        return Err(AppError::Conflict(format!(
            "search goal is {}; {rule}",
            goal.status.to_uppercase()
        )));
    }
    Ok(txn)
}

/// Starts a DRAFT goal: RUNNING, and the saga's first step queued, in one transaction. A goal
/// that is not DRAFT (running, finished, cancelled) is CONFLICT: a goal runs once.
pub async fn run_goal(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<search_goal::Model> {
    let txn = begin_move(
        state,
        viewer,
        id,
        &[SearchGoalStatus::Draft],
        SearchGoalStatus::Running,
        "only a DRAFT goal can be run (a goal runs once)",
    )
    .await?;
    saga::enqueue_first(&txn, viewer, id).await?;
    let fresh = find_goal(&txn, viewer, id).await?;
    saga::record_progress(&txn, &fresh, GoalCounts::default(), None).await?;
    let fresh = find_goal(&txn, viewer, id).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(fresh)
}

/// Cancels a RUNNING or RANKING goal, then its scrape jobs that are still queued or running
/// (each in its own transaction, after the goal's; the saga stops at its next step).
pub async fn cancel_goal(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<search_goal::Model> {
    let txn = begin_move(
        state,
        viewer,
        id,
        &[SearchGoalStatus::Running, SearchGoalStatus::Ranking],
        SearchGoalStatus::Cancelled,
        "only a RUNNING or RANKING goal can be cancelled",
    )
    .await?;
    let fresh = find_goal(&txn, viewer, id).await?;
    let counts = saga::counts(&txn, &fresh).await?;
    saga::record_progress(&txn, &fresh, counts, None).await?;
    state.commit(txn, Wakes::Events).await?;
    for link in goal_jobs(state, id).await? {
        let Some(job_id) = link.scrape_job_id else {
            continue;
        };
        match scraping::cancel(state, viewer, job_id).await {
            Ok(_) | Err(AppError::Conflict(_)) | Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    get_goal(state, viewer, id).await
}

/// The goal's sources with their scrape jobs (or skip reasons), in strategy order.
pub async fn goal_jobs(state: &AppState, goal_id: Uuid) -> AppResult<Vec<search_goal_job::Model>> {
    Ok(search_goal_job::Entity::find()
        .filter(search_goal_job::Column::GoalId.eq(goal_id))
        .order_by_asc(search_goal_job::Column::Position)
        .all(&state.db)
        .await?)
}

/// Newest first (UUID v7 ids sort by creation).
fn newest_jobs() -> crate::graphql::pagination::NewestFirst<search_goal_job::Entity> {
    crate::graphql::pagination::newest_first::<search_goal_job::Entity>(
        search_goal_job::Column::Id,
        |m| m.id,
    )
}

/// A page of the goal's sources, newest first (the order they were created in, reversed).
pub async fn goal_jobs_page<N: async_graphql::OutputType>(
    state: &AppState,
    goal_id: Uuid,
    args: PageArgs,
    to_node: impl Fn(search_goal_job::Model) -> N,
) -> AppResult<IdConnection<N>> {
    page_by_id_desc(
        &state.db,
        search_goal_job::Entity::find().filter(search_goal_job::Column::GoalId.eq(goal_id)),
        search_goal_job::Column::Id,
        &args,
        |m| m.id,
        to_node,
    )
    .await
}

/// The sources pages of a page of goals (`SearchGoal.jobs`): a first (or last) page per goal
/// in one statement (`graphql::siblings`; `args` must be `siblings::batchable`).
pub async fn jobs_of_goals(
    db: &DatabaseConnection,
    goal_ids: &[Uuid],
    args: &PageArgs,
) -> AppResult<HashMap<Uuid, KeysetRows<search_goal_job::Model>>> {
    first_pages(
        db,
        search_goal_job::Entity::find(),
        search_goal_job::Column::GoalId,
        |m| m.goal_id,
        &newest_jobs(),
        args,
        goal_ids,
    )
    .await
}

/// The connection of one goal's sources from its batched page.
pub fn goal_jobs_connection<N: async_graphql::OutputType>(
    db: &DatabaseConnection,
    goal_id: Uuid,
    page: KeysetRows<search_goal_job::Model>,
    to_node: impl Fn(search_goal_job::Model) -> N,
) -> IdConnection<N> {
    let total = TotalCount::lazy(db.clone(), move || {
        search_goal_job::Entity::find().filter(search_goal_job::Column::GoalId.eq(goal_id))
    });
    page.into_connection(total, |m| m.id, to_node)
}

/// A ranked lead with its lead (loaded for the whole page at once).
pub struct ResultRow {
    pub result: search_goal_result::Model,
    pub lead: Option<Lead>,
}

/// Results connection: ordered by rank, cursors are ranks (unique per goal).
pub type ResultConnection<N> = Connection<KeyCursor<i32>, N, TotalCount>;

/// The order of a goal's results.
pub type ResultOrder = ByColumn<search_goal_result::Column, fn(&search_goal_result::Model) -> i32>;

/// Best rank first. Ranks are 1…n per goal as the ranking step writes them, and unique per goal
/// (`uq_search_goal_results_goal_rank`, migration 043), so the rank alone is a total order and a
/// rank cursor never skips a result. The compiled read orders a goal's results by it too.
pub fn best_first() -> ResultOrder {
    ByColumn {
        column: search_goal_result::Column::Rank,
        desc: false,
        key_of: |r| r.rank,
    }
}

/// Results of the viewer's organization (a lead of another organization never shows).
fn org_results(viewer: &Viewer) -> Select<search_goal_result::Entity> {
    search_goal_result::Entity::find().filter(search_goal_result::Column::OrgId.eq(viewer.org_id))
}

/// The leads of some results, by id, resolved together (one statement, one `LeadPage`); none
/// without READ on leads.
async fn leads_of<'a>(
    state: &AppState,
    viewer: &Viewer,
    rows: impl Iterator<Item = &'a search_goal_result::Model>,
) -> AppResult<HashMap<Uuid, Lead>> {
    let mut ids: Vec<Uuid> = rows.map(|r| r.lead_id).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() || viewer.require(Permission::ReadLeads).is_err() {
        return Ok(HashMap::new());
    }
    let models = leads::scoped(viewer)
        .filter(lead::Column::Id.is_in(ids))
        .all(&state.db)
        .await?;
    Ok(LeadPage::wrap(models)
        .into_iter()
        .map(|l| (l.0.id, l))
        .collect())
}

/// The connection of one goal's results page, with the leads loaded for it.
fn results_connection<N: async_graphql::OutputType>(
    state: &AppState,
    viewer: &Viewer,
    goal_id: Uuid,
    page: KeysetRows<search_goal_result::Model>,
    leads: &HashMap<Uuid, Lead>,
    to_node: impl Fn(ResultRow) -> N,
) -> ResultConnection<N> {
    let base = org_results(viewer).filter(search_goal_result::Column::GoalId.eq(goal_id));
    let total = TotalCount::of(state.db.clone(), base);
    page.into_connection(
        total,
        |r| r.rank,
        |result| {
            let lead = leads.get(&result.lead_id).cloned();
            to_node(ResultRow { result, lead })
        },
    )
}

/// A page of the goal's results, best rank first; the leads of the page load in one statement
/// (a lead of another organization never shows: results are scoped by the goal's organization).
pub async fn results_page<N: async_graphql::OutputType>(
    state: &AppState,
    viewer: &Viewer,
    goal_id: Uuid,
    args: KeysetArgs<i32>,
    to_node: impl Fn(ResultRow) -> N,
) -> AppResult<ResultConnection<N>> {
    let base = org_results(viewer).filter(search_goal_result::Column::GoalId.eq(goal_id));
    let page = keyset_rows(&state.db, base, &best_first(), &args).await?;
    let leads = leads_of(state, viewer, page.rows.iter()).await?;
    Ok(results_connection(
        state, viewer, goal_id, page, &leads, to_node,
    ))
}

/// The results pages of a page of goals and their leads, for `SearchGoal.results`: a first (or
/// last) page per goal in one statement, their leads in one more, wrapped once
/// (`graphql::siblings`). A page with a cursor is read by [`results_page`] instead.
pub struct GoalResults {
    pages: HashMap<Uuid, KeysetRows<search_goal_result::Model>>,
    leads: HashMap<Uuid, Lead>,
}

impl GoalResults {
    /// Loads the pages of `goal_ids` (`args` must be `siblings::batchable`).
    pub async fn load(
        state: &AppState,
        viewer: &Viewer,
        goal_ids: &[Uuid],
        args: &KeysetArgs<i32>,
    ) -> AppResult<Self> {
        let pages = first_pages(
            &state.db,
            org_results(viewer),
            search_goal_result::Column::GoalId,
            |m| m.goal_id,
            &best_first(),
            args,
            goal_ids,
        )
        .await?;
        let leads = leads_of(state, viewer, pages.values().flat_map(|p| p.rows.iter())).await?;
        Ok(GoalResults { pages, leads })
    }

    /// The page of one goal of the batch.
    pub fn connection<N: async_graphql::OutputType>(
        &self,
        state: &AppState,
        viewer: &Viewer,
        goal_id: Uuid,
        args: &KeysetArgs<i32>,
        to_node: impl Fn(ResultRow) -> N,
    ) -> ResultConnection<N> {
        let page = match self.pages.get(&goal_id) {
            Some(p) => p.clone(),
            None => KeysetRows::new(args, Vec::new()),
        };
        results_connection(state, viewer, goal_id, page, &self.leads, to_node)
    }
}
