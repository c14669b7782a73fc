//! The saga's last step: the leads a goal's scrape jobs found are ranked and validated by the
//! provider, stored as results (unique per goal and lead) and the goal completed — one
//! transaction for results, status and event.

use chrono::Utc;
use entity::{lead, scrape_job, scrape_job_lead, search_goal, search_goal_job, search_goal_result};
use sea_orm::{
    sea_query::OnConflict, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    run,
    saga::{counts, fail_goal, record_progress, transition},
};
use crate::{
    auth::Viewer,
    domains::{
        ai::{
            service::provider::Task,
            types::{AiMeta, Candidate, RankedLead, Ranking, SearchGoalStatus, SearchStrategy},
        },
        scraping::types::ScrapeJobStatus,
    },
    error::{AppError, AppResult},
    state::AppState,
    state::Wakes,
};

/// Leads per ranking request.
const RANK_BATCH: usize = 25;

fn candidate(l: &lead::Model) -> Candidate {
    let facts = super::lead_facts(l);
    Candidate {
        id: l.id.to_string(),
        name: facts.name,
        title: facts.title,
        company: facts.company,
        industry: facts.industry,
        website: facts.website,
        location: facts.location,
        email: l.email.clone(),
        has_phone: l.phone.is_some(),
        tags: Vec::new(),
    }
}

/// Ranks and validates the leads the goal's jobs found, and completes the goal.
pub async fn rank(
    state: &AppState,
    viewer: &Viewer,
    goal: &search_goal::Model,
) -> AppResult<Value> {
    let leads = match found_leads(state, goal).await? {
        Ok(leads) => leads,
        Err(why) => {
            let reason = format!("no scrape job of the goal succeeded: {why}");
            fail_goal(state, goal, SearchGoalStatus::Ranking, reason).await?;
            return Ok(json!({"failed": "no scrape job succeeded"}));
        }
    };
    let (mut ranked, meta) = match rank_all(state, viewer, goal, &leads).await {
        Ok(r) => r,
        Err(e @ AppError::Internal(_)) => return Err(e),
        Err(e) => {
            let reason = format!("ranking failed: {}", e.public_message());
            fail_goal(state, goal, SearchGoalStatus::Ranking, reason).await?;
            return Ok(json!({"failed": "ranking"}));
        }
    };
    ranked.sort_by(|a, b| {
        b.valid
            .cmp(&a.valid)
            .then(b.score.cmp(&a.score))
            .then(a.lead_id.cmp(&b.lead_id))
    });
    ranked.truncate(usize::try_from(goal.max_leads).unwrap_or(0));
    let (provider, model) = meta.map(|m| (m.provider, m.model)).unwrap_or_else(|| {
        (
            super::provider(state).name().to_string(),
            super::provider(state).model().to_string(),
        )
    });
    let rows = result_rows(goal, &ranked, &provider, &model);
    store(state, goal, rows).await
}

/// The distinct leads the goal's scrape jobs found, by id; `Err` with a reason when none of
/// its jobs succeeded.
async fn found_leads(
    state: &AppState,
    goal: &search_goal::Model,
) -> AppResult<Result<Vec<lead::Model>, String>> {
    let links = search_goal_job::Entity::find()
        .filter(search_goal_job::Column::GoalId.eq(goal.id))
        .all(&state.db)
        .await?;
    let ids: Vec<Uuid> = links.iter().filter_map(|l| l.scrape_job_id).collect();
    let jobs = scrape_job::Entity::find()
        .filter(scrape_job::Column::Id.is_in(ids.clone()))
        .all(&state.db)
        .await?;
    if !jobs
        .iter()
        .any(|j| j.status == ScrapeJobStatus::Succeeded.as_str())
    {
        let why = jobs
            .iter()
            .find_map(|j| j.error.clone())
            .unwrap_or_else(|| "cancelled or deleted".into());
        return Ok(Err(why));
    }
    let lead_ids: Vec<Uuid> = scrape_job_lead::Entity::find()
        .select_only()
        .column(scrape_job_lead::Column::LeadId)
        .distinct()
        .filter(scrape_job_lead::Column::ScrapeJobId.is_in(ids))
        .into_tuple()
        .all(&state.db)
        .await?;
    if lead_ids.is_empty() {
        return Ok(Ok(Vec::new()));
    }
    Ok(Ok(lead::Entity::find()
        .filter(lead::Column::OrgId.eq(goal.org_id))
        .filter(lead::Column::Id.is_in(lead_ids))
        .order_by_asc(lead::Column::Id)
        .all(&state.db)
        .await?))
}

/// Asks the provider to rank `leads` in batches of [`RANK_BATCH`] (through `run`: budget,
/// cache, usage); the answers and who gave the last one.
async fn rank_all(
    state: &AppState,
    viewer: &Viewer,
    goal: &search_goal::Model,
    leads: &[lead::Model],
) -> AppResult<(Vec<RankedLead>, Option<AiMeta>)> {
    let strategy: SearchStrategy = serde_json::from_value(goal.strategy.clone())?;
    let mut ranked: Vec<RankedLead> = Vec::new();
    let mut meta: Option<AiMeta> = None;
    for chunk in leads.chunks(RANK_BATCH) {
        let task = Task::RankLeads {
            goal: goal.text.clone(),
            strategy: strategy.clone(),
            leads: chunk.iter().map(candidate).collect(),
        };
        let (r, m) = run::<Ranking>(state, viewer, task).await?;
        ranked.extend(r.leads);
        meta = Some(m);
    }
    Ok((ranked, meta))
}

/// The result rows, ranked 1…n in order.
fn result_rows(
    goal: &search_goal::Model,
    ranked: &[RankedLead],
    provider: &str,
    model: &str,
) -> Vec<search_goal_result::ActiveModel> {
    let now = Utc::now();
    ranked
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            Some(search_goal_result::ActiveModel {
                id: Set(Uuid::now_v7()),
                goal_id: Set(goal.id),
                org_id: Set(goal.org_id),
                lead_id: Set(Uuid::parse_str(&r.lead_id).ok()?),
                rank: Set(i32::try_from(i + 1).ok()?),
                score: Set(r.score),
                validation: Set(if r.valid { "valid" } else { "rejected" }.into()),
                reasons: Set(json!(r.reasons)),
                provider: Set(provider.to_string()),
                model: Set(model.to_string()),
                created_at: Set(now),
            })
        })
        .collect()
}

/// Stores the results and completes the goal, with its progress event, in one transaction.
async fn store(
    state: &AppState,
    goal: &search_goal::Model,
    rows: Vec<search_goal_result::ActiveModel>,
) -> AppResult<Value> {
    let txn = state.db.begin().await?;
    if !transition(
        &txn,
        goal.id,
        SearchGoalStatus::Ranking,
        SearchGoalStatus::Completed,
        None,
    )
    .await?
    {
        // Cancelled (or completed by another attempt) meanwhile.
        return Ok(json!({"skipped": "the goal is no longer ranking"}));
    }
    let stored = rows.len();
    if !rows.is_empty() {
        search_goal_result::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    search_goal_result::Column::GoalId,
                    search_goal_result::Column::LeadId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
    }
    if let Some(fresh) = search_goal::Entity::find_by_id(goal.id).one(&txn).await? {
        let c = counts(&txn, &fresh).await?;
        record_progress(&txn, &fresh, c, None).await?;
    }
    state.commit(txn, Wakes::Events).await?;
    Ok(json!({"ranked": stored}))
}
