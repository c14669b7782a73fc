//! The WORKFLOW_COMPLETE callback: n8n (an HTTP Request node at the end of the workflow, or
//! any caller holding the hook's secret) reports an execution finished through an incoming
//! hook of kind WORKFLOW_COMPLETE. The hook (parent domain, `service/incoming.rs`) checks the
//! Standard Webhooks signature, timestamp and replay; this module reads the body, finds the
//! execution in the hook's organization and records the outcome through the same fenced
//! update as the poll job ([`finish_in`]), so whichever of the two comes first records it and
//! the other records nothing.
//!
//! Body: `{"executionId": "<Leadgraph's id>"}` (sent to the trigger in the
//! `X-Leadgraph-Execution-Id` header) or `{"n8nExecutionId": "<{{$execution.id}}>"}` (once the
//! poll has claimed it), with `status` (`success`, `error`, `crashed` or `canceled`, as n8n
//! names them), and optionally `error` (a string or `{message}`), `startedAt`, `stoppedAt`.

use chrono::Utc;
use entity::workflow_execution as we;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use super::complete::{finish_in, time, Outcome};
use crate::{
    domains::webhooks::workflows::types::WorkflowExecutionStatus as Status,
    error::{AppError, AppResult, FieldError},
    state::AppState,
};

/// Longest error kept.
const MAX_ERROR: usize = 1000;
/// Longest n8n execution id.
const MAX_REMOTE_ID: usize = 64;

/// Which execution a callback names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// Leadgraph's execution id.
    Ours(Uuid),
    /// n8n's execution id (claimed by the poll job).
    Remote(String),
}

/// A parsed completion callback.
pub struct Completion {
    target: Target,
    outcome: Outcome,
}

fn field(errors: &mut Vec<FieldError>, name: &str, message: &str) {
    errors.push(FieldError {
        field: name.into(),
        message: message.into(),
    });
}

/// The execution the body names, or the field errors.
fn target(o: &Value, errors: &mut Vec<FieldError>) -> Option<Target> {
    let remote = match &o["n8nExecutionId"] {
        Value::String(s) if !s.is_empty() && s.len() <= MAX_REMOTE_ID => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match (o.get("executionId"), remote) {
        (Some(Value::String(s)), _) => match Uuid::parse_str(s) {
            Ok(id) => Some(Target::Ours(id)),
            Err(_) => {
                field(errors, "executionId", "must be an execution id");
                None
            }
        },
        (Some(_), _) => {
            field(errors, "executionId", "must be an execution id");
            None
        }
        (None, Some(r)) => Some(Target::Remote(r)),
        (None, None) => {
            field(
                errors,
                "executionId",
                "executionId or n8nExecutionId is required",
            );
            None
        }
    }
}

/// Reads a callback body (a JSON object); BAD_USER_INPUT naming every bad field.
pub fn parse(body: &[u8]) -> AppResult<Completion> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| AppError::invalid("body", format!("is not JSON: {e}")))?;
    if !v.is_object() {
        return Err(AppError::invalid("body", "must be a JSON object"));
    }
    let mut errors = Vec::new();
    let target = target(&v, &mut errors);
    let status = match v["status"].as_str() {
        Some("success") => Some(Status::Succeeded),
        Some("error" | "crashed" | "canceled") => Some(Status::Failed),
        _ => {
            let m = "must be success, error, crashed or canceled";
            field(&mut errors, "status", m);
            None
        }
    };
    let stopped = time(&v["stoppedAt"]);
    if !v["stoppedAt"].is_null() && stopped.is_none() {
        field(&mut errors, "stoppedAt", "must be an RFC 3339 time");
    }
    let (Some(target), Some(status), true) = (target, status, errors.is_empty()) else {
        return Err(AppError::invalid_fields(errors));
    };
    let error = (status == Status::Failed).then(|| {
        let m = match &v["error"] {
            Value::String(s) => s.clone(),
            e => e["message"].as_str().map_or_else(
                || {
                    format!(
                        "n8n reported the execution {}",
                        v["status"].as_str().unwrap_or("failed")
                    )
                },
                str::to_string,
            ),
        };
        m.chars().take(MAX_ERROR).collect()
    });
    let duration_ms = stopped
        .zip(time(&v["startedAt"]))
        .map(|(s, b)| (s - b).num_milliseconds().max(0));
    Ok(Completion {
        target,
        outcome: Outcome {
            status,
            error,
            finished_at: stopped.unwrap_or_else(Utc::now),
            duration_ms,
        },
    })
}

/// The execution `c` names in organization `org_id`; NOT_FOUND otherwise (another
/// organization's execution is missing here).
pub async fn execution(state: &AppState, org_id: Uuid, c: &Completion) -> AppResult<we::Model> {
    let q = we::Entity::find().filter(we::Column::OrgId.eq(org_id));
    let q = match &c.target {
        Target::Ours(id) => q.filter(we::Column::Id.eq(*id)),
        Target::Remote(r) => q.filter(we::Column::RemoteExecutionId.eq(r.as_str())),
    };
    q.one(&state.db)
        .await?
        .ok_or(AppError::NotFound("workflow execution"))
}

/// Records `c` on `row` in `txn` if it is still RUNNING: the answer
/// `{executionId, status, recorded}`, `recorded` false when the poll (or an earlier callback)
/// already did.
pub async fn record(
    txn: &impl ConnectionTrait,
    row: &we::Model,
    c: Completion,
) -> AppResult<Value> {
    let recorded = finish_in(txn, row, c.outcome).await?;
    let status = we::Entity::find_by_id(row.id)
        .one(txn)
        .await?
        .map_or_else(|| row.status.clone(), |r| r.status);
    Ok(json!({"executionId": row.id, "status": status, "recorded": recorded}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::BadUserInput { fields, .. } => fields.into_iter().map(|f| f.field).collect(),
            e => panic!("not invalid input: {e:?}"),
        }
    }

    #[test]
    fn bodies_name_an_execution_and_a_finished_status() {
        let id = Uuid::now_v7();
        let ok = parse(
            json!({"executionId": id, "status": "error", "error": {"message": "boom"},
                   "startedAt": "2026-12-06T10:00:00Z", "stoppedAt": "2026-12-06T10:00:02Z"})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(ok.target, Target::Ours(id));
        assert_eq!(ok.outcome.status, Status::Failed);
        assert_eq!(ok.outcome.error.as_deref(), Some("boom"));
        assert_eq!(ok.outcome.duration_ms, Some(2000));
        let remote = parse(br#"{"n8nExecutionId": 42, "status": "success"}"#).unwrap();
        assert_eq!(remote.target, Target::Remote("42".into()));
        assert_eq!(remote.outcome.error, None);
        let bad = parse(br#"{"executionId": "x", "status": "running", "stoppedAt": 3}"#);
        assert_eq!(
            fields(bad.err().unwrap()),
            ["executionId", "status", "stoppedAt"]
        );
        assert_eq!(fields(parse(b"[1]").err().unwrap()), ["body"]);
        assert_eq!(fields(parse(b"{").err().unwrap()), ["body"]);
        assert_eq!(
            fields(parse(b"{\"status\": \"success\"}").err().unwrap()),
            ["executionId"]
        );
    }
}
