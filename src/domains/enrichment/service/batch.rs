//! `enrichLeads`: a durable batch. The mutation fixes the lead set (ids, or a filter resolved
//! then), stores an `enrichment_runs` row and enqueues [`KIND`] in one transaction. The handler
//! ([`EnrichLeadsJob`]) walks the leads in chunks of [`CHUNK`] (one statement for the chunk's
//! leads, one for its finished pairs), runs the waterfall per lead and commits, per lead, the
//! history rows, the values, one `enrichment_run_items` row per finished field and the run's
//! counters together. A job cut off by a crash re-runs after its lease: every lead × field with
//! an item is skipped, so no provider call is repeated for a pair already done. Progress goes
//! out as `enrichment.progress` every [`PROGRESS_EVERY`] leads and at the end.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use chrono::Utc;
use entity::{enrichment_run, enrichment_run_item, lead};
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    budget,
    enrich::check_fields,
    providers,
    waterfall::{apply, Waterfall},
};
use crate::{
    auth::{Permission, Role, Viewer, ViewerVia},
    domains::{
        enrichment::types::{
            EnrichLeadsInput, EnrichmentField, EnrichmentRun, EnrichmentRunStatus as RunStatus,
            FieldEnrichment, FieldEnrichmentStatus as Status,
        },
        leads,
    },
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EnrichmentProgress, EventEnvelope},
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    state::{AppState, Wakes},
};

/// The job kind.
pub const KIND: &str = "enrichment.run";
/// Most leads in one run.
pub const MAX_LEADS: usize = 10_000;
/// Leads loaded per statement.
pub const CHUNK: usize = 50;
/// Leads between two `enrichment.progress` events.
pub const PROGRESS_EVERY: usize = 10;

async fn resolve_leads(
    state: &AppState,
    viewer: &Viewer,
    input: &EnrichLeadsInput,
) -> AppResult<Vec<Uuid>> {
    match (&input.lead_ids, &input.filter) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > MAX_LEADS {
                return Err(AppError::invalid(
                    "input.leadIds",
                    format!("must hold 1–{MAX_LEADS} ids"),
                ));
            }
            let mut parsed = Vec::with_capacity(ids.len());
            let mut seen = HashSet::new();
            for id in ids {
                let id = Uuid::parse_str(id.as_str()).map_err(|_| AppError::NotFound("lead"))?;
                if seen.insert(id) {
                    parsed.push(id);
                }
            }
            let mut found = HashSet::with_capacity(parsed.len());
            for chunk in parsed.chunks(500) {
                let rows: Vec<Uuid> = leads::scoped(viewer)
                    .select_only()
                    .column(lead::Column::Id)
                    .filter(lead::Column::Id.is_in(chunk.iter().copied()))
                    .into_tuple()
                    .all(&state.db)
                    .await?;
                found.extend(rows);
            }
            if found.len() != parsed.len() {
                return Err(AppError::NotFound("lead"));
            }
            Ok(parsed)
        }
        (None, Some(filter)) => {
            let backend = state.db.get_database_backend();
            let ids: Vec<Uuid> = leads::filtered(backend, viewer, filter)?
                .select_only()
                .column(lead::Column::Id)
                .limit(MAX_LEADS as u64 + 1)
                .into_tuple()
                .all(&state.db)
                .await?;
            if ids.len() > MAX_LEADS {
                return Err(AppError::invalid(
                    "input.filter",
                    format!("matches more than {MAX_LEADS} leads"),
                ));
            }
            if ids.is_empty() {
                return Err(AppError::invalid("input.filter", "matches no lead"));
            }
            Ok(ids)
        }
        _ => Err(AppError::invalid("input", "give either leadIds or filter")),
    }
}

fn progress_event(run: &enrichment_run::Model) -> EventEnvelope {
    EventEnvelope::new(
        run.org_id,
        Some(run.created_by),
        DomainEvent::EnrichmentProgress(EnrichmentProgress {
            run_id: run.id,
            status: run.status.clone(),
            total: run.total,
            done: run.done,
            filled: run.filled,
            failed: run.failed,
        }),
    )
}

/// Starts a batch run (MEMBER+); the leads are fixed now.
pub async fn enrich_leads(
    state: &AppState,
    viewer: &Viewer,
    input: EnrichLeadsInput,
) -> AppResult<EnrichmentRun> {
    viewer.require(Permission::EnrichLeads)?;
    viewer.require(Permission::WriteLeads)?;
    let fields = check_fields("input.fields", &input.fields)?;
    let ids = resolve_leads(state, viewer, &input).await?;
    let now = Utc::now();
    let id = Uuid::now_v7();
    let names: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
    let total = i32::try_from(ids.len() * fields.len()).unwrap_or(i32::MAX);
    let txn = state.db.begin().await?;
    let job = queue::enqueue(
        &txn,
        NewJob {
            org_id: Some(viewer.org_id),
            created_by: Some(viewer.user_id),
            idempotency_key: Some(format!("enrichment.run:{id}")),
            ..NewJob::new(KIND, json!({ "runId": id }))
        },
    )
    .await?;
    let run = enrichment_run::ActiveModel {
        id: Set(id),
        org_id: Set(viewer.org_id),
        job_id: Set(Some(job.id)),
        created_by: Set(viewer.user_id),
        role: Set(viewer.role.as_str().into()),
        fields: Set(json!(names)),
        lead_ids: Set(json!(ids)),
        status: Set(RunStatus::Queued.as_str().into()),
        total: Set(total),
        done: Set(0),
        filled: Set(0),
        failed: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
    }
    .insert(&txn)
    .await?;
    outbox::record(&txn, &progress_event(&run)).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(EnrichmentRun { row: run })
}

/// A run of the viewer's organization (MEMBER+), or NOT_FOUND.
pub async fn get(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<EnrichmentRun> {
    viewer.require(Permission::EnrichLeads)?;
    enrichment_run::Entity::find_by_id(id)
        .filter(enrichment_run::Column::OrgId.eq(viewer.org_id))
        .one(&state.db)
        .await?
        .map(|row| EnrichmentRun { row })
        .ok_or(AppError::NotFound("enrichment run"))
}

/// The `enrichment.run` handler.
pub struct EnrichLeadsJob(pub AppState);

fn retryable(e: impl std::fmt::Debug) -> JobError {
    JobError::Retryable(format!("{e:?}"))
}

#[async_trait]
impl JobHandler for EnrichLeadsJob {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let run_id = ctx.job.payload["runId"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| JobError::Permanent("bad payload: runId".into()))?;
        let run = enrichment_run::Entity::find_by_id(run_id)
            .one(&self.0.db)
            .await
            .map_err(retryable)?
            .ok_or_else(|| JobError::Permanent("the run is gone".into()))?;
        if RunStatus::parse(&run.status).is_some_and(RunStatus::is_final) {
            return Ok(json!({ "status": run.status }));
        }
        let status = self.process(ctx, &run).await?;
        let txn = self.0.db.begin().await.map_err(retryable)?;
        let run = set_status(&txn, run.id, status).await.map_err(retryable)?;
        outbox::record(&txn, &progress_event(&run))
            .await
            .map_err(retryable)?;
        self.0.commit(txn, Wakes::Events).await.map_err(retryable)?;
        Ok(json!({ "status": run.status, "done": run.done, "filled": run.filled }))
    }
}

async fn set_status(
    txn: &DatabaseTransaction,
    id: Uuid,
    status: RunStatus,
) -> AppResult<enrichment_run::Model> {
    let now = Utc::now();
    let mut update = enrichment_run::Entity::update_many()
        .col_expr(enrichment_run::Column::Status, Expr::value(status.as_str()))
        .col_expr(enrichment_run::Column::UpdatedAt, Expr::value(now))
        .filter(enrichment_run::Column::Id.eq(id));
    if status.is_final() {
        update = update.col_expr(enrichment_run::Column::FinishedAt, Expr::value(now));
    }
    update.exec(txn).await?;
    enrichment_run::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(AppError::NotFound("enrichment run"))
}

impl EnrichLeadsJob {
    /// Walks the run's leads; returns how it ended.
    async fn process(
        &self,
        ctx: &JobContext,
        run: &enrichment_run::Model,
    ) -> Result<RunStatus, JobError> {
        let state = &self.0;
        let viewer = run_viewer(run);
        let fields: Vec<EnrichmentField> =
            serde_json::from_value::<Vec<String>>(run.fields.clone())
                .map_err(|e| JobError::Permanent(format!("bad run fields: {e}")))?
                .iter()
                .filter_map(|f| EnrichmentField::parse(f))
                .collect();
        let ids: Vec<Uuid> = serde_json::from_value(run.lead_ids.clone())
            .map_err(|e| JobError::Permanent(format!("bad run leads: {e}")))?;
        if run.status != RunStatus::Running.as_str() {
            let txn = state.db.begin().await.map_err(retryable)?;
            let running = set_status(&txn, run.id, RunStatus::Running)
                .await
                .map_err(retryable)?;
            outbox::record(&txn, &progress_event(&running))
                .await
                .map_err(retryable)?;
            state.commit(txn, Wakes::Events).await.map_err(retryable)?;
        }
        let ready = providers::ready(&state.db, state, run.org_id)
            .await
            .map_err(retryable)?;
        let w = Waterfall {
            state,
            org: run.org_id,
            providers: &ready,
            limit: budget::limit(&state.db, run.org_id)
                .await
                .map_err(retryable)?,
            overwrite: false,
            run_id: Some(run.id),
        };
        let mut processed = 0usize;
        for chunk in ids.chunks(CHUNK) {
            if ctx.is_cancelled() {
                return Err(JobError::Cancelled);
            }
            let done = finished_pairs(&state.db, run.id, chunk)
                .await
                .map_err(retryable)?;
            let rows: HashMap<Uuid, lead::Model> = leads::scoped(&viewer)
                .filter(lead::Column::Id.is_in(chunk.iter().copied()))
                .all(&state.db)
                .await
                .map_err(retryable)?
                .into_iter()
                .map(|l| (l.id, l))
                .collect();
            for id in chunk {
                let todo: Vec<EnrichmentField> = fields
                    .iter()
                    .copied()
                    .filter(|f| !done.contains(&(*id, f.as_str().to_string())))
                    .collect();
                if todo.is_empty() {
                    continue;
                }
                processed += 1;
                let exhausted = self
                    .one_lead(&w, &viewer, run.id, *id, rows.get(id), &todo, processed)
                    .await
                    .map_err(retryable)?;
                if exhausted {
                    return Ok(RunStatus::BudgetExhausted);
                }
            }
        }
        Ok(RunStatus::Succeeded)
    }

    /// Enriches one lead and commits its pairs; true when the budget ran out.
    #[allow(clippy::too_many_arguments)]
    async fn one_lead(
        &self,
        w: &Waterfall<'_>,
        viewer: &Viewer,
        run_id: Uuid,
        lead_id: Uuid,
        lead: Option<&lead::Model>,
        todo: &[EnrichmentField],
        processed: usize,
    ) -> AppResult<bool> {
        let state = &self.0;
        let pass = match lead {
            Some(l) => Some(w.seek(l, todo).await?),
            // Deleted since the run was created: its pairs are done, with nothing to do.
            None => None,
        };
        let txn = state.db.begin().await?;
        let outcomes = match &pass {
            Some(p) => apply(&txn, viewer, p, false).await?,
            None => todo
                .iter()
                .map(|f| FieldEnrichment {
                    field: *f,
                    status: Status::NoProvider,
                    provider: None,
                    calls: 0,
                })
                .collect(),
        };
        let exhausted = pass.as_ref().is_some_and(|p| p.budget_exhausted);
        let finished: Vec<_> = outcomes
            .iter()
            .filter(|o| o.status != Status::BudgetExhausted)
            .collect();
        let now = Utc::now();
        if !finished.is_empty() {
            let items = finished.iter().map(|o| enrichment_run_item::ActiveModel {
                run_id: Set(run_id),
                lead_id: Set(lead_id),
                field: Set(o.field.as_str().into()),
                outcome: Set(o.status.as_str().into()),
                provider: Set(o.provider.map(|p| p.as_str().to_string())),
                at: Set(now),
            });
            enrichment_run_item::Entity::insert_many(items)
                .exec_without_returning(&txn)
                .await?;
        }
        count(&txn, run_id, &finished, now).await?;
        if processed.is_multiple_of(PROGRESS_EVERY) {
            if let Some(run) = enrichment_run::Entity::find_by_id(run_id).one(&txn).await? {
                outbox::record(&txn, &progress_event(&run)).await?;
            }
        }
        state.commit(txn, Wakes::Events).await?;
        Ok(exhausted)
    }
}

/// Adds `finished` to the run's counters inside `txn`.
async fn count(
    txn: &DatabaseTransaction,
    run_id: Uuid,
    finished: &[&FieldEnrichment],
    now: chrono::DateTime<Utc>,
) -> AppResult<()> {
    let filled = finished
        .iter()
        .filter(|o| o.status == Status::Filled)
        .count();
    let failed = finished
        .iter()
        .filter(|o| o.status == Status::Failed)
        .count();
    let add = |c: enrichment_run::Column, n: usize| {
        Expr::col(c).add(i32::try_from(n).unwrap_or(i32::MAX))
    };
    enrichment_run::Entity::update_many()
        .col_expr(
            enrichment_run::Column::Done,
            add(enrichment_run::Column::Done, finished.len()),
        )
        .col_expr(
            enrichment_run::Column::Filled,
            add(enrichment_run::Column::Filled, filled),
        )
        .col_expr(
            enrichment_run::Column::Failed,
            add(enrichment_run::Column::Failed, failed),
        )
        .col_expr(enrichment_run::Column::UpdatedAt, Expr::value(now))
        .filter(enrichment_run::Column::Id.eq(run_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The run's creator, with the role they had when they asked for it: the job acts as them.
fn run_viewer(run: &enrichment_run::Model) -> Viewer {
    Viewer {
        user_id: run.created_by,
        org_id: run.org_id,
        role: Role::parse(&run.role).unwrap_or(Role::Member),
        via: ViewerVia::Jwt,
        session_id: None,
    }
}

/// The lead × field pairs of `leads` already finished in run `run_id`.
async fn finished_pairs(
    conn: &impl ConnectionTrait,
    run_id: Uuid,
    leads: &[Uuid],
) -> AppResult<HashSet<(Uuid, String)>> {
    let rows: Vec<(Uuid, String)> = enrichment_run_item::Entity::find()
        .select_only()
        .column(enrichment_run_item::Column::LeadId)
        .column(enrichment_run_item::Column::Field)
        .filter(enrichment_run_item::Column::RunId.eq(run_id))
        .filter(enrichment_run_item::Column::LeadId.is_in(leads.iter().copied()))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}
