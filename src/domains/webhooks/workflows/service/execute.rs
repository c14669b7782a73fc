//! `executeWorkflow`: POST the input to the workflow's production webhook
//! (`{baseUrl}/webhook/{path}`), record the execution and `workflow.started` in one
//! transaction with the first round of its completion poll (`complete.rs`); the trigger gets
//! the execution's id in `X-Leadgraph-Execution-Id` (for the completion callback);
//! `retryWorkflowExecution` starts a failed one again; `workflowExecutions` lists them.

use chrono::Utc;
use entity::{workflow, workflow_execution};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;

use super::{complete::enqueue_poll, definition, registry::get};
use crate::{
    auth::{Permission, Viewer},
    domains::webhooks::{
        integrations::{n8n_connection, record_outcome},
        workflows::types::{WorkflowExecution, WorkflowExecutionStatus as Status, WorkflowStatus},
    },
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, WorkflowStarted},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::{AppState, Wakes},
};

/// Largest input (serialized).
const MAX_INPUT: usize = 256 * 1024;
/// The part of the trigger's answer kept.
const EXCERPT: usize = 1024;

/// The trigger URL of `w`, or CONFLICT saying why it cannot run.
fn trigger(base: &str, w: &workflow::Model) -> AppResult<String> {
    if w.status != WorkflowStatus::Synced.as_str() {
        return Err(AppError::Conflict("the workflow is gone from n8n".into()));
    }
    if !w.active {
        return Err(AppError::Conflict("the workflow is not active".into()));
    }
    match definition::webhook(&w.definition) {
        Some((path, true)) => Ok(format!("{base}/webhook/{path}")),
        Some((_, false)) => Err(AppError::Conflict(
            "the workflow's Webhook trigger does not take POST".into(),
        )),
        None => Err(AppError::Conflict(
            "the workflow has no Webhook trigger".into(),
        )),
    }
}

/// The header that tells the workflow its Leadgraph execution id (for the completion callback).
pub const EXECUTION_HEADER: &str = "x-leadgraph-execution-id";

/// What the trigger answered: (status, body excerpt) or the transport error.
async fn post(
    state: &AppState,
    url: &str,
    id: Uuid,
    input: &Value,
) -> Result<(u16, String), String> {
    let b = state
        .http
        .request(reqwest::Method::POST, url)
        .map_err(|e| e.to_string())?
        .header(EXECUTION_HEADER, id.to_string())
        .json(input);
    let r = state.http.execute(b).await.map_err(|e| e.to_string())?;
    Ok((r.status, r.text_lossy().chars().take(EXCERPT).collect()))
}

/// Starts workflow `id` with `input` (MEMBER+): the execution is RUNNING when the trigger
/// answered 2xx, FAILED (with the reason) otherwise.
pub async fn execute(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: Value,
) -> AppResult<workflow_execution::Model> {
    viewer.require(Permission::RunWorkflows)?;
    if serde_json::to_vec(&input).map_or(true, |b| b.len() > MAX_INPUT) {
        return Err(AppError::invalid(
            "input",
            format!("must be at most {} KiB", MAX_INPUT / 1024),
        ));
    }
    let w = get(&state.db, viewer, id).await?;
    start(state, viewer, &w, input, None).await
}

/// Retries failed execution `id` with its input (MEMBER+): a new execution that names it in
/// `retryOf`. CONFLICT unless it FAILED.
pub async fn retry(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<workflow_execution::Model> {
    viewer.require(Permission::RunWorkflows)?;
    let old = workflow_execution::Entity::find_by_id(id)
        .filter(workflow_execution::Column::OrgId.eq(viewer.org_id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("workflow execution"))?;
    if old.status != Status::Failed.as_str() {
        return Err(AppError::Conflict(format!(
            "only a FAILED execution can be retried; this one is {}",
            old.status
        )));
    }
    let w = get(&state.db, viewer, old.workflow_id).await?;
    start(state, viewer, &w, old.input, Some(old.id)).await
}

/// Posts `input` to `w`'s trigger and records the execution; a RUNNING one gets
/// `workflow.started` and its first poll round in the same transaction.
async fn start(
    state: &AppState,
    viewer: &Viewer,
    w: &workflow::Model,
    input: Value,
    retry_of: Option<Uuid>,
) -> AppResult<workflow_execution::Model> {
    let conn = n8n_connection(state, viewer).await?;
    let url = trigger(&conn.base_url, w)?;
    let started = Utc::now();
    let id = Uuid::now_v7();
    let answer = post(state, &url, id, &input).await;
    let (status, code, response, error) = match answer {
        Ok((s, body)) if (200..300).contains(&s) => (Status::Running, Some(s), Some(body), None),
        Ok((s, body)) => {
            let e = format!("the trigger answered HTTP {s}");
            (Status::Failed, Some(s), Some(body), Some(e))
        }
        Err(e) => (
            Status::Failed,
            None,
            None,
            Some(format!("n8n is unreachable: {e}")),
        ),
    };
    record_outcome(state, conn.id, error.as_deref().map_or(Ok(()), Err)).await;
    let row = workflow_execution::ActiveModel {
        id: Set(id),
        org_id: Set(viewer.org_id),
        workflow_id: Set(w.id),
        status: Set(status.as_str().into()),
        input: Set(input),
        response_status: Set(code.map(i32::from)),
        response: Set(response),
        error: Set(error),
        started_by: Set(Some(viewer.user_id)),
        started_at: Set(started),
        finished_at: Set((status == Status::Failed).then(Utc::now)),
        remote_execution_id: Set(None),
        duration_ms: Set(None),
        retry_of: Set(retry_of),
    };
    let txn = state.db.begin().await?;
    let row = row.insert(&txn).await?;
    if status == Status::Running {
        let env = EventEnvelope::new(
            viewer.org_id,
            Some(viewer.user_id),
            DomainEvent::WorkflowStarted(WorkflowStarted {
                workflow_id: w.id,
                execution_id: row.id,
                response_status: row.response_status.unwrap_or_default(),
            }),
        );
        outbox::record(&txn, &env).await?;
        enqueue_poll(&txn, row.id, 0).await?;
    }
    state.commit(txn, Wakes::Events).await?;
    Ok(row)
}

/// A page of a workflow's executions, newest first (MEMBER+).
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    workflow_id: Uuid,
    args: PageArgs,
) -> AppResult<IdConnection<WorkflowExecution>> {
    viewer.require(Permission::RunWorkflows)?;
    let w = get(&state.db, viewer, workflow_id).await?;
    let select = workflow_execution::Entity::find()
        .filter(workflow_execution::Column::OrgId.eq(viewer.org_id))
        .filter(workflow_execution::Column::WorkflowId.eq(w.id));
    page_by_id_desc(
        &state.db,
        select,
        workflow_execution::Column::Id,
        &args,
        |m| m.id,
        WorkflowExecution,
    )
    .await
}
