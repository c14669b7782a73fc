//! Completion of executions: the `workflow.poll` job asks n8n's public API
//! (`GET /api/v1/executions/{id}`) until the execution is finished, then records its status,
//! finish time, duration and error with `workflow.completed` or `workflow.failed`.
//!
//! A webhook trigger's answer does not name the execution, so the first rounds find it:
//! the trigger's answer when it carries `executionId` (a Respond to Webhook node returning
//! `{{$execution.id}}`), else the earliest execution of the workflow in
//! `GET /api/v1/executions?workflowId=…` started at or after ours that no other row claimed
//! (UNIQUE (workflow, remote id)). Each round is its own job (idempotency key
//! `workflow-poll:<execution>:<round>`), 1 s, 2 s, 4 s … apart, capped at 5 minutes; after
//! [`MAX_ROUNDS`] the execution is FAILED as unreported. The update is fenced on
//! `status = 'RUNNING'` and the event recorded only when it changed the row, in one
//! transaction: a retried or repeated job never records twice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entity::{workflow, workflow_execution as we};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::client::{Failure, N8n};
use crate::{
    domains::webhooks::{
        integrations::n8n_connection_of, workflows::types::WorkflowExecutionStatus as Status,
    },
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, WorkflowFinished},
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    state::{AppState, Wakes},
};

/// Job kind.
pub const POLL_KIND: &str = "workflow.poll";
/// Rounds before an execution is given up as unreported (about 3 hours).
pub const MAX_ROUNDS: i32 = 45;
/// The longest pause between rounds.
const MAX_DELAY_MS: i64 = 300_000;
/// How much earlier than our record n8n's startedAt may be (clock skew).
const SKEW_MS: i64 = 5_000;
/// Longest error kept.
const MAX_ERROR: usize = 1000;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    execution_id: Uuid,
    round: i32,
}

/// The pause before round `round` (0-based): 1 s doubling, at most 5 minutes.
fn delay_ms(round: i32) -> i64 {
    1000_i64
        .saturating_mul(1_i64 << round.clamp(0, 20))
        .min(MAX_DELAY_MS)
}

/// Enqueues poll round `round` of execution `id` in `conn` (the caller's transaction). The job
/// has no organization: its `job.updated` events are not the organization's to see.
pub async fn enqueue_poll(conn: &impl ConnectionTrait, id: Uuid, round: i32) -> AppResult<()> {
    let payload = serde_json::to_value(Payload {
        execution_id: id,
        round,
    })?;
    queue::enqueue(
        conn,
        NewJob {
            max_attempts: 5,
            idempotency_key: Some(format!("workflow-poll:{id}:{round}")),
            run_at_ms: Some(queue::now_ms() + delay_ms(round)),
            ..NewJob::new(POLL_KIND, payload)
        },
    )
    .await?;
    Ok(())
}

/// How an execution ended.
pub struct Outcome {
    /// SUCCEEDED or FAILED.
    pub status: Status,
    /// n8n's error message.
    pub error: Option<String>,
    /// n8n's stoppedAt (now when absent).
    pub finished_at: DateTime<Utc>,
    /// stoppedAt − startedAt.
    pub duration_ms: Option<i64>,
}

/// The RFC 3339 time in JSON string `v`.
pub fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// The outcome of a finished n8n execution object, or `None` while it runs.
pub fn outcome_of(v: &Value) -> Option<Outcome> {
    let status = match v["status"].as_str() {
        Some("success") => Status::Succeeded,
        Some("error" | "crashed" | "canceled") => Status::Failed,
        None if v["finished"] == json!(true) => Status::Succeeded,
        _ => return None,
    };
    let stopped = time(&v["stoppedAt"]);
    let duration_ms = stopped
        .zip(time(&v["startedAt"]))
        .map(|(s, b)| (s - b).num_milliseconds().max(0));
    let error = (status == Status::Failed).then(|| {
        let m = v["data"]["resultData"]["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!(
                    "n8n reported the execution {}",
                    v["status"].as_str().unwrap_or("failed")
                )
            });
        m.chars().take(MAX_ERROR).collect()
    });
    Some(Outcome {
        status,
        error,
        finished_at: stopped.unwrap_or_else(Utc::now),
        duration_ms,
    })
}

/// Records `outcome` on execution `row` if it is still RUNNING, with its event, in one
/// transaction. True when this call recorded it.
pub async fn finish(state: &AppState, row: &we::Model, outcome: Outcome) -> AppResult<bool> {
    let txn = state.db.begin().await?;
    let done = finish_in(&txn, row, outcome).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(done)
}

/// Records `outcome` on execution `row` in `txn` (the caller's transaction) if it is still
/// RUNNING, with `workflow.completed` or `workflow.failed`. True when this call changed the row:
/// the poll job and the completion callback both come here, and only one of them records.
pub async fn finish_in(
    txn: &impl ConnectionTrait,
    row: &we::Model,
    outcome: Outcome,
) -> AppResult<bool> {
    let done = we::Entity::update_many()
        .col_expr(we::Column::Status, Expr::value(outcome.status.as_str()))
        .col_expr(
            we::Column::FinishedAt,
            Expr::value(Some(outcome.finished_at)),
        )
        .col_expr(we::Column::Error, Expr::value(outcome.error.clone()))
        .col_expr(we::Column::DurationMs, Expr::value(outcome.duration_ms))
        .filter(we::Column::Id.eq(row.id))
        .filter(we::Column::Status.eq(Status::Running.as_str()))
        .exec(txn)
        .await?
        .rows_affected
        == 1;
    if !done {
        return Ok(false);
    }
    let remote = we::Entity::find_by_id(row.id)
        .one(txn)
        .await?
        .and_then(|r| r.remote_execution_id);
    let data = WorkflowFinished {
        workflow_id: row.workflow_id,
        execution_id: row.id,
        remote_execution_id: remote,
        status: outcome.status.as_str().into(),
        error: outcome.error,
        duration_ms: outcome.duration_ms,
    };
    let event = if outcome.status == Status::Succeeded {
        DomainEvent::WorkflowCompleted(data)
    } else {
        DomainEvent::WorkflowFailed(data)
    };
    outbox::record(txn, &EventEnvelope::new(row.org_id, None, event)).await?;
    Ok(true)
}

/// n8n's id of the execution the trigger's answer names.
fn answered_id(row: &we::Model) -> Option<String> {
    let v: Value = serde_json::from_str(row.response.as_deref()?).ok()?;
    match &v["executionId"] {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Finds and claims n8n's execution of `row`; `None` while n8n lists none that fits.
async fn claim(
    state: &AppState,
    client: &N8n<'_>,
    row: &we::Model,
    w: &workflow::Model,
) -> AppResult<Option<String>> {
    let found = match answered_id(row) {
        Some(id) => Some(id),
        None => {
            let listed = client
                .executions(&w.remote_id)
                .await
                .map_err(AppError::from)?;
            let claimed: Vec<String> = we::Entity::find()
                .filter(we::Column::WorkflowId.eq(w.id))
                .filter(we::Column::RemoteExecutionId.is_not_null())
                .all(&state.db)
                .await?
                .into_iter()
                .filter_map(|r| r.remote_execution_id)
                .collect();
            let since = row.started_at - chrono::Duration::milliseconds(SKEW_MS);
            listed
                .iter()
                .filter_map(|e| Some((time(&e["startedAt"])?, super::definition::remote_id(e)?)))
                .filter(|(t, id)| *t >= since && !claimed.contains(id))
                .min()
                .map(|(_, id)| id)
        }
    };
    let Some(id) = found else { return Ok(None) };
    let set = we::Entity::update_many()
        .col_expr(we::Column::RemoteExecutionId, Expr::value(Some(id.clone())))
        .filter(we::Column::Id.eq(row.id))
        .filter(we::Column::RemoteExecutionId.is_null())
        .exec(&state.db)
        .await;
    // Another row claimed it at the same moment (the unique index): look again next round.
    Ok(set.ok().filter(|r| r.rows_affected == 1).map(|_| id))
}

/// One poll round: records the outcome when n8n reports one, else enqueues the next round.
async fn poll(state: &AppState, execution_id: Uuid, round: i32) -> AppResult<Value> {
    let Some(row) = we::Entity::find_by_id(execution_id).one(&state.db).await? else {
        return Ok(json!({"gone": true}));
    };
    if row.status != Status::Running.as_str() {
        return Ok(json!({"already": row.status}));
    }
    let Some(w) = workflow::Entity::find_by_id(row.workflow_id)
        .one(&state.db)
        .await?
    else {
        return Ok(json!({"gone": true}));
    };
    let client = N8n {
        state,
        conn: n8n_connection_of(state, row.org_id).await?,
    };
    let remote = match row.remote_execution_id.clone() {
        Some(id) => Some(id),
        None => claim(state, &client, &row, &w).await?,
    };
    if let Some(id) = &remote {
        match client.execution(id).await {
            Ok(v) => {
                if let Some(outcome) = outcome_of(&v) {
                    let recorded = finish(state, &row, outcome).await?;
                    return Ok(json!({"execution": id, "recorded": recorded}));
                }
            }
            Err(Failure::Missing) => {}
            Err(Failure::Error(e)) => return Err(e),
        }
    }
    if round + 1 >= MAX_ROUNDS {
        let outcome = Outcome {
            status: Status::Failed,
            error: Some("n8n did not report the execution finished".into()),
            finished_at: Utc::now(),
            duration_ms: None,
        };
        let recorded = finish(state, &row, outcome).await?;
        return Ok(json!({"gaveUp": true, "recorded": recorded}));
    }
    enqueue_poll(&state.db, row.id, round + 1).await?;
    Ok(json!({"execution": remote, "running": true, "next": round + 1}))
}

/// Runs `workflow.poll` jobs.
pub struct PollWorkflowExecution(pub AppState);

#[async_trait]
impl JobHandler for PollWorkflowExecution {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p: Payload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad poll payload: {e}")))?;
        poll(&self.0, p.execution_id, p.round)
            .await
            .map_err(|e| match e {
                AppError::Unavailable(m) => JobError::Retryable(m),
                AppError::Internal(m) => JobError::Retryable(m),
                e => JobError::Permanent(e.public_message()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_follow_n8n_status() {
        assert!(outcome_of(&json!({"status": "running", "finished": false})).is_none());
        assert!(outcome_of(&json!({"status": "waiting"})).is_none());
        let ok = outcome_of(
            &json!({"status": "success", "startedAt": "2026-12-06T10:00:00.000Z",
                                    "stoppedAt": "2026-12-06T10:00:01.500Z"}),
        )
        .unwrap();
        assert_eq!(
            (ok.status, ok.duration_ms, ok.error),
            (Status::Succeeded, Some(1500), None)
        );
        let bad = outcome_of(&json!({"status": "error",
            "data": {"resultData": {"error": {"message": "boom"}}}}))
        .unwrap();
        assert_eq!(
            (bad.status, bad.error.as_deref()),
            (Status::Failed, Some("boom"))
        );
        assert_eq!(delay_ms(0), 1000);
        assert_eq!(delay_ms(3), 8000);
        assert_eq!(delay_ms(40), MAX_DELAY_MS);
    }
}
