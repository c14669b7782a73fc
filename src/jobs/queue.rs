//! Queue operations on the `jobs` table, for both SQLite and Postgres.

use chrono::Utc;
use entity::job;
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter, Statement,
};
use uuid::Uuid;

use crate::{
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, JobUpdated},
};

/// Job lifecycle states.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for `run_at` and a free worker.
    Queued,
    /// Leased by a worker.
    Running,
    /// Finished successfully.
    Succeeded,
    /// Gave up after its last attempt.
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

impl JobState {
    /// Storage form.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Parses the storage form.
    pub fn parse(s: &str) -> Option<JobState> {
        match s {
            "queued" => Some(JobState::Queued),
            "running" => Some(JobState::Running),
            "succeeded" => Some(JobState::Succeeded),
            "failed" => Some(JobState::Failed),
            "cancelled" => Some(JobState::Cancelled),
            _ => None,
        }
    }

    /// True when the job will not run again by itself.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Handler name.
    pub kind: String,
    /// Handler input.
    pub payload: serde_json::Value,
    /// Owning organization.
    pub org_id: Option<Uuid>,
    /// Creating user.
    pub created_by: Option<Uuid>,
    /// A second enqueue with the same key returns the existing job.
    pub idempotency_key: Option<String>,
    /// Attempts before the job fails for good.
    pub max_attempts: i32,
    /// Earliest start (epoch ms); `None` = now.
    pub run_at_ms: Option<i64>,
}

impl NewJob {
    /// A job of `kind` with `payload`, 5 attempts, runnable now.
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        NewJob {
            kind: kind.into(),
            payload,
            org_id: None,
            created_by: None,
            idempotency_key: None,
            max_attempts: 5,
            run_at_ms: None,
        }
    }
}

/// Current time in epoch milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn job_event(job: &job::Model) -> Option<EventEnvelope> {
    job.org_id.map(|org| {
        EventEnvelope::new(
            org,
            job.created_by,
            DomainEvent::JobUpdated(JobUpdated {
                job_id: job.id,
                kind: job.kind.clone(),
                state: job.state.clone(),
                progress: job.progress.clone(),
            }),
        )
    })
}

/// Records a `job.updated` event for the job's organization (no-op for system jobs).
pub async fn record_job_event(conn: &impl ConnectionTrait, job: &job::Model) -> AppResult<()> {
    if let Some(ev) = job_event(job) {
        outbox::record(conn, &ev).await?;
    }
    Ok(())
}

/// Enqueues a job using `conn` (pass the caller's transaction so the job commits with the change
/// that asked for it). With an idempotency key that already exists, returns the existing job.
pub async fn enqueue(conn: &impl ConnectionTrait, new: NewJob) -> AppResult<job::Model> {
    if let Some(key) = &new.idempotency_key {
        if let Some(existing) = job::Entity::find()
            .filter(job::Column::IdempotencyKey.eq(key.as_str()))
            .one(conn)
            .await?
        {
            return Ok(existing);
        }
    }
    if new.max_attempts < 1 {
        return Err(AppError::invalid("maxAttempts", "must be at least 1"));
    }
    let now = Utc::now();
    let model = job::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(new.org_id),
        kind: Set(new.kind),
        payload: Set(new.payload),
        state: Set(JobState::Queued.as_str().into()),
        attempts: Set(0),
        max_attempts: Set(new.max_attempts),
        run_at_ms: Set(new.run_at_ms.unwrap_or_else(|| now.timestamp_millis())),
        lease_until_ms: Set(None),
        locked_by: Set(None),
        idempotency_key: Set(new.idempotency_key),
        progress: Set(None),
        result: Set(None),
        last_error: Set(None),
        created_by: Set(new.created_by),
        created_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
    }
    .insert(conn)
    .await?;
    record_job_event(conn, &model).await?;
    Ok(model)
}

/// Leases the next runnable job (queued and due, or running with an expired lease) for
/// `worker_id`, of one of `kinds`. Atomic on both backends: Postgres uses
/// `FOR UPDATE SKIP LOCKED`, SQLite a single `UPDATE … RETURNING` (writes are serialized).
pub async fn lease(
    conn: &impl ConnectionTrait,
    worker_id: &str,
    kinds: &[String],
    lease_ms: i64,
) -> AppResult<Option<job::Model>> {
    if kinds.is_empty() {
        return Ok(None);
    }
    let backend = conn.get_database_backend();
    let now = now_ms();
    let lock = if backend == DatabaseBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    // Numbered placeholders ($n on Postgres, ?n on SQLite) so `now` can be used twice.
    let ph = |i: usize| crate::db::placeholder(backend, i);
    // 1 = lease_until, 2 = worker, 3 = updated_at, 4 = now (ms), 5.. = kinds.
    let kind_list: Vec<String> = (0..kinds.len()).map(|i| ph(5 + i)).collect();
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until_ms = {lease}, \
         locked_by = {worker}, updated_at = {ts} \
         WHERE id = (SELECT id FROM jobs WHERE kind IN ({kinds}) AND \
           ((state = 'queued' AND run_at_ms <= {now}) OR (state = 'running' AND lease_until_ms < {now})) \
           ORDER BY run_at_ms, id LIMIT 1{lock}) \
         RETURNING *",
        lease = ph(1),
        worker = ph(2),
        ts = ph(3),
        now = ph(4),
        kinds = kind_list.join(", "),
    );
    let mut values: Vec<sea_orm::Value> = vec![
        (now + lease_ms).into(),
        worker_id.to_string().into(),
        Utc::now().into(),
        now.into(),
    ];
    values.extend(kinds.iter().map(|k| sea_orm::Value::from(k.clone())));
    let stmt = Statement::from_sql_and_values(backend, sql, values);
    Ok(job::Model::find_by_statement(stmt).one(conn).await?)
}

/// Expires the leases of running jobs held by another incarnation of `instance` (a crashed
/// predecessor of this process: `locked_by` = `<instance>/<other incarnation>`), so they can be
/// leased again at once. `holder` is this process's own `locked_by`. Returns how many.
pub async fn reclaim_previous(
    conn: &impl ConnectionTrait,
    instance: &str,
    holder: &str,
) -> AppResult<u64> {
    let backend = conn.get_database_backend();
    let ph = |i: usize| crate::db::placeholder(backend, i);
    let prefix = format!("{instance}/");
    let sql = format!(
        "UPDATE jobs SET lease_until_ms = 0 WHERE state = 'running' \
         AND substr(locked_by, 1, {len}) = {prefix} AND locked_by <> {holder}",
        len = prefix.chars().count(),
        prefix = ph(1),
        holder = ph(2),
    );
    let stmt =
        Statement::from_sql_and_values(backend, sql, [prefix.into(), holder.to_string().into()]);
    Ok(conn.execute_raw(stmt).await?.rows_affected())
}

/// Gives back the lease of a job this holder stops running (shutdown): queued again at once,
/// this attempt not counted. False when the lease was already lost.
pub async fn release(
    conn: &impl ConnectionTrait,
    job: &job::Model,
    worker_id: &str,
) -> AppResult<bool> {
    let update = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(JobState::Queued.as_str()))
        .col_expr(job::Column::LeaseUntilMs, Expr::value(Option::<i64>::None))
        .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None))
        .col_expr(job::Column::RunAtMs, Expr::value(now_ms()))
        .col_expr(
            job::Column::Attempts,
            sea_orm::sea_query::ExprTrait::sub(Expr::col(job::Column::Attempts), 1),
        );
    Ok(fenced_update(conn, job.id, worker_id, job.attempts, update).await?)
}

/// Fenced update of a running job leased by `worker_id` on attempt `attempt`.
/// Returns false when the lease was lost (expired and taken, or the job was cancelled).
async fn fenced_update(
    conn: &impl ConnectionTrait,
    job_id: Uuid,
    worker_id: &str,
    attempt: i32,
    update: sea_orm::UpdateMany<job::Entity>,
) -> Result<bool, DbErr> {
    let res = update
        .col_expr(job::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(job::Column::Id.eq(job_id))
        .filter(job::Column::State.eq(JobState::Running.as_str()))
        .filter(job::Column::LockedBy.eq(worker_id))
        .filter(job::Column::Attempts.eq(attempt))
        .exec(conn)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Extends the lease; false when the lease is lost or the job cancelled.
pub async fn heartbeat(
    conn: &impl ConnectionTrait,
    job: &job::Model,
    worker_id: &str,
    lease_ms: i64,
    progress: Option<serde_json::Value>,
) -> AppResult<bool> {
    let mut update = job::Entity::update_many()
        .col_expr(job::Column::LeaseUntilMs, Expr::value(now_ms() + lease_ms));
    if let Some(p) = progress {
        update = update.col_expr(job::Column::Progress, Expr::value(p));
    }
    Ok(fenced_update(conn, job.id, worker_id, job.attempts, update).await?)
}

/// Marks the job succeeded. False when the lease was lost (someone else owns the job now).
pub async fn complete(
    conn: &impl ConnectionTrait,
    job: &job::Model,
    worker_id: &str,
    result: serde_json::Value,
) -> AppResult<bool> {
    complete_with_payload(conn, job, worker_id, result, None).await
}

/// [`complete`], replacing the payload with `payload` when given, in the same statement (a
/// handler's redacted payload: nothing secret outlives the job).
pub async fn complete_with_payload(
    conn: &impl ConnectionTrait,
    job: &job::Model,
    worker_id: &str,
    result: serde_json::Value,
    payload: Option<serde_json::Value>,
) -> AppResult<bool> {
    let mut update = job::Entity::update_many();
    if let Some(p) = payload {
        update = update.col_expr(job::Column::Payload, Expr::value(p));
    }
    let update = update
        .col_expr(
            job::Column::State,
            Expr::value(JobState::Succeeded.as_str()),
        )
        .col_expr(job::Column::Result, Expr::value(result))
        .col_expr(job::Column::LeaseUntilMs, Expr::value(Option::<i64>::None))
        .col_expr(job::Column::FinishedAt, Expr::value(Utc::now()));
    finish(conn, job, worker_id, update).await
}

/// Records a failed attempt: requeues with exponential backoff, or fails for good after the
/// last attempt. False when the lease was lost.
pub async fn fail(
    conn: &impl ConnectionTrait,
    job: &job::Model,
    worker_id: &str,
    error: &str,
    retryable: bool,
) -> AppResult<bool> {
    fail_with_payload(conn, job, worker_id, error, retryable, None).await
}

/// [`fail`], replacing the payload with `final_payload` in the same statement when this was the
/// last attempt (a retried job keeps the payload it needs).
pub async fn fail_with_payload(
    conn: &impl ConnectionTrait,
    job: &job::Model,
    worker_id: &str,
    error: &str,
    retryable: bool,
    final_payload: Option<serde_json::Value>,
) -> AppResult<bool> {
    let last = !retryable || job.attempts >= job.max_attempts;
    let mut update = job::Entity::update_many()
        .col_expr(job::Column::LastError, Expr::value(error.to_string()))
        .col_expr(job::Column::LeaseUntilMs, Expr::value(Option::<i64>::None));
    if last {
        if let Some(p) = final_payload {
            update = update.col_expr(job::Column::Payload, Expr::value(p));
        }
        update = update
            .col_expr(job::Column::State, Expr::value(JobState::Failed.as_str()))
            .col_expr(job::Column::FinishedAt, Expr::value(Utc::now()));
    } else {
        update = update
            .col_expr(job::Column::State, Expr::value(JobState::Queued.as_str()))
            .col_expr(
                job::Column::RunAtMs,
                Expr::value(now_ms() + backoff_ms(job.attempts)),
            );
    }
    finish(conn, job, worker_id, update).await
}

async fn finish(
    conn: &impl ConnectionTrait,
    job: &job::Model,
    worker_id: &str,
    update: sea_orm::UpdateMany<job::Entity>,
) -> AppResult<bool> {
    if !fenced_update(conn, job.id, worker_id, job.attempts, update).await? {
        return Ok(false);
    }
    if let Some(fresh) = job::Entity::find_by_id(job.id).one(conn).await? {
        record_job_event(conn, &fresh).await?;
    }
    Ok(true)
}

/// Backoff before attempt `attempt + 1`: 2^attempt seconds, capped at 10 minutes, with jitter.
pub fn backoff_ms(attempt: i32) -> i64 {
    let base = 1000_i64.saturating_mul(1_i64 << attempt.clamp(0, 20));
    let capped = base.min(600_000);
    let jitter = rand::random_range(0..=capped / 4);
    capped + jitter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert!(backoff_ms(1) >= 2000 && backoff_ms(1) <= 2500);
        assert!(backoff_ms(3) >= 8000);
        assert!(backoff_ms(30) <= 750_000);
        for s in ["queued", "running", "succeeded", "failed", "cancelled"] {
            assert_eq!(JobState::parse(s).map(JobState::as_str), Some(s));
        }
    }
}
