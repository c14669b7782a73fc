//! The `sequence.step` job: one step of one enrollment, sent exactly once.
//!
//! An enrollment stores its next step and when it is due (`next_step_at`); enrolling, each
//! recorded step and a resume enqueue the job for that step at that time. [`run_step`] (the
//! job's body; it takes `now`, so tests move time without sleeping) and [`run_due`] (every due
//! enrollment at `now`) do the same thing:
//!
//! 1. the enrollment must be ACTIVE, at this step, due, and its sequence ACTIVE;
//! 2. **claim**: insert the `sequence_sends` row (unique per enrollment and step), committed
//!    before anything leaves; a row already there means another attempt got this far: SENDING
//!    (cut off mid-send by a crash) becomes UNCERTAIN and the enrollment moves on, never resent;
//! 3. send through outreach's delivery path (`outreach::delivery::send_single`: suppression
//!    list, rendering, unsubscribe headers, the organization's SMTP server or the mailer pool);
//! 4. **record** in one transaction: the row SENT, the lead's timeline, the enrollment's next
//!    step and due time (or COMPLETED), and the next step's job. A suppressed address stops the
//!    enrollment (UNSUBSCRIBED, BOUNCED or SUPPRESSED), a permanent failure stops it (FAILED); a
//!    transient one gives the claim back and the job retries.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entity::{lead, sequence, sequence_enrollment, sequence_send};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::enroll::stop_enrollment;
use crate::{
    domains::{
        identity::org_timezone,
        outreach::delivery::{record_single_sent, send_single, SingleMessage, SingleOutcome},
        sequences::types::{
            steps_of, EnrollmentStatus, SendStatus, SequenceStatus, StepSpec, StopReason,
        },
    },
    error::{AppError, AppResult},
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    state::{AppState, Wakes},
};

/// Job kind.
pub const KIND: &str = "sequence.step";

/// Enrollments [`run_due`] takes per call.
const DUE_BATCH: u64 = 500;

/// Payload of a `sequence.step` job.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    org_id: Uuid,
    enrollment_id: Uuid,
    step: i32,
}

/// What one run of a step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step's message was accepted by the server.
    Sent,
    /// Nothing to do (`why`: not active, another step, paused, not due, already claimed…).
    Skipped(&'static str),
    /// A previous attempt was cut off mid-send: recorded UNCERTAIN, not resent.
    Uncertain,
    /// Not sent: `onlyIfNotOpened` and the previous message was opened.
    NotNeeded,
    /// The enrollment stopped at this step.
    Stopped(StopReason),
}

fn retry(e: impl std::fmt::Debug) -> JobError {
    JobError::Retryable(format!("{e:?}"))
}

/// Enqueues the job of `e`'s current step at its due time, in the caller's transaction.
/// `generation` makes a fresh key when a resume re-enqueues a step whose job already ran.
pub(super) async fn enqueue_step(
    conn: &impl ConnectionTrait,
    e: &sequence_enrollment::Model,
    generation: Option<i64>,
) -> AppResult<()> {
    let payload = serde_json::to_value(Payload {
        org_id: e.org_id,
        enrollment_id: e.id,
        step: e.current_step,
    })?;
    let mut key = format!("{KIND}:{}:{}", e.id, e.current_step);
    if let Some(g) = generation {
        key.push_str(&format!(":{g}"));
    }
    queue::enqueue(
        conn,
        NewJob {
            org_id: Some(e.org_id),
            idempotency_key: Some(key),
            max_attempts: 20,
            run_at_ms: e.next_step_at.map(|t| t.timestamp_millis()),
            ..NewJob::new(KIND, payload)
        },
    )
    .await?;
    Ok(())
}

/// Enqueues the current step of every ACTIVE enrollment of `s` again (on resume).
pub(super) async fn requeue_waiting(
    conn: &impl ConnectionTrait,
    s: &sequence::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let waiting = sequence_enrollment::Entity::find()
        .filter(sequence_enrollment::Column::SequenceId.eq(s.id))
        .filter(sequence_enrollment::Column::Status.eq(EnrollmentStatus::Active.as_str()))
        .all(conn)
        .await?;
    for e in &waiting {
        enqueue_step(conn, e, Some(now.timestamp_millis())).await?;
    }
    Ok(())
}

/// When the step after `step` is due, counted from `now` (business days in the time zone of
/// organization `org`); `None` after the last step.
async fn next_due(
    conn: &impl ConnectionTrait,
    org: Uuid,
    steps: &[StepSpec],
    step: i32,
    now: DateTime<Utc>,
) -> AppResult<Option<DateTime<Utc>>> {
    let Some(next) = usize::try_from(step + 1).ok().and_then(|i| steps.get(i)) else {
        return Ok(None);
    };
    Ok(Some(
        next.due_after(now, step_timezone(conn, org, next).await?),
    ))
}

/// The time zone `spec`'s wait is counted in: the organization's for business days (read only
/// then), UTC otherwise.
pub(super) async fn step_timezone(
    conn: &impl ConnectionTrait,
    org: Uuid,
    spec: &StepSpec,
) -> AppResult<chrono_tz::Tz> {
    if spec.business_days {
        org_timezone(conn, org).await
    } else {
        Ok(chrono_tz::UTC)
    }
}

/// Moves `e` past `step` (to the next step and its due time, or COMPLETED) and enqueues the
/// next step's job, in `conn`.
async fn advance(
    conn: &impl ConnectionTrait,
    e: &sequence_enrollment::Model,
    steps: &[StepSpec],
    now: DateTime<Utc>,
) -> AppResult<()> {
    let due = next_due(conn, e.org_id, steps, e.current_step, now).await?;
    let status = match due {
        Some(_) => EnrollmentStatus::Active,
        None => EnrollmentStatus::Completed,
    };
    let next = sequence_enrollment::ActiveModel {
        id: Set(e.id),
        status: Set(status.as_str().into()),
        current_step: Set(e.current_step + 1),
        next_step_at: Set(due),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(conn)
    .await?;
    if due.is_some() {
        enqueue_step(conn, &next, None).await?;
    }
    Ok(())
}

/// Sets the status (and error) of send row `id`, and `sent_at` when it is SENT.
async fn mark_send(
    conn: &impl ConnectionTrait,
    id: Uuid,
    to: SendStatus,
    error: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let mut q = sequence_send::Entity::update_many()
        .col_expr(sequence_send::Column::Status, Expr::value(to.as_str()))
        .col_expr(sequence_send::Column::Error, Expr::value(error));
    if to == SendStatus::Sent {
        q = q.col_expr(sequence_send::Column::SentAt, Expr::value(Some(now)));
    }
    q.filter(sequence_send::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The enrollment, its sequence and steps, when step `step` should run at `now`.
async fn due_step(
    state: &AppState,
    enrollment_id: Uuid,
    step: i32,
    now: DateTime<Utc>,
) -> Result<Result<(sequence_enrollment::Model, Vec<StepSpec>), &'static str>, JobError> {
    let db = &state.db;
    let Some(e) = sequence_enrollment::Entity::find_by_id(enrollment_id)
        .one(db)
        .await
        .map_err(retry)?
    else {
        return Ok(Err("gone"));
    };
    if e.status != EnrollmentStatus::Active.as_str() {
        return Ok(Err("not active"));
    }
    if e.current_step != step {
        return Ok(Err("another step"));
    }
    if e.next_step_at.is_some_and(|t| t > now) {
        return Ok(Err("not due"));
    }
    let Some(s) = sequence::Entity::find_by_id(e.sequence_id)
        .filter(sequence::Column::OrgId.eq(e.org_id))
        .one(db)
        .await
        .map_err(retry)?
    else {
        return Ok(Err("gone"));
    };
    if s.status != SequenceStatus::Active.as_str() {
        return Ok(Err("paused"));
    }
    Ok(Ok((e, steps_of(&s))))
}

/// Runs step `step` of enrollment `enrollment_id` as of `now` (see the module doc). The job
/// calls it with the clock; tests call it with any `now`.
pub async fn run_step(
    state: &AppState,
    enrollment_id: Uuid,
    step: i32,
    now: DateTime<Utc>,
) -> Result<StepOutcome, JobError> {
    let (e, steps) = match due_step(state, enrollment_id, step, now).await? {
        Ok(found) => found,
        Err(why) => return Ok(StepOutcome::Skipped(why)),
    };
    let Some(spec) = usize::try_from(step)
        .ok()
        .and_then(|i| steps.get(i))
        .cloned()
    else {
        // The steps were shortened below this one: the enrollment is done.
        let txn = state.db.begin().await.map_err(retry)?;
        advance(&txn, &e, &[], now).await.map_err(retry)?;
        txn.commit().await.map_err(retry)?;
        return Ok(StepOutcome::Skipped("no such step"));
    };
    if let Some(outcome) = earlier_claim(state, &e, &steps, now).await? {
        return Ok(outcome);
    }
    if spec.only_if_not_opened && opened_before(state, &e).await? {
        let txn = state.db.begin().await.map_err(retry)?;
        claim_row(&txn, &e, SendStatus::Skipped, Uuid::now_v7(), state, now)
            .await
            .map_err(retry)?;
        advance(&txn, &e, &steps, now).await.map_err(retry)?;
        state.commit(txn, Wakes::Jobs).await.map_err(retry)?;
        return Ok(StepOutcome::NotNeeded);
    }
    // 1. Claim, committed before anything leaves (a concurrent claim loses on the unique key).
    let send_id = Uuid::now_v7();
    let claimed = match claim_row(&state.db, &e, SendStatus::Sending, send_id, state, now).await {
        Ok(row) => row,
        Err(AppError::Conflict(_)) => return Ok(StepOutcome::Skipped("claimed elsewhere")),
        Err(err) => return Err(retry(err)),
    };
    send_claimed(state, &e, &steps, &spec, claimed, now).await
}

/// Inserts the send row of `e`'s current step with `status`.
async fn claim_row(
    conn: &impl ConnectionTrait,
    e: &sequence_enrollment::Model,
    status: SendStatus,
    id: Uuid,
    state: &AppState,
    now: DateTime<Utc>,
) -> AppResult<sequence_send::Model> {
    let domain = state.mailer.default_from().email.domain().to_string();
    Ok(sequence_send::ActiveModel {
        id: Set(id),
        org_id: Set(e.org_id),
        sequence_id: Set(e.sequence_id),
        enrollment_id: Set(e.id),
        step: Set(e.current_step),
        status: Set(status.as_str().into()),
        message_id: Set(format!("<{}.seq@{domain}>", id.simple())),
        error: Set(None),
        sent_at: Set(None),
        opened_at: Set(None),
        clicked_at: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await?)
}

/// A send row already there for this step: an earlier attempt claimed it and did not record
/// the outcome (a crash). SENDING becomes UNCERTAIN (never resent); either way the enrollment
/// moves on.
async fn earlier_claim(
    state: &AppState,
    e: &sequence_enrollment::Model,
    steps: &[StepSpec],
    now: DateTime<Utc>,
) -> Result<Option<StepOutcome>, JobError> {
    let Some(prev) = sequence_send::Entity::find()
        .filter(sequence_send::Column::EnrollmentId.eq(e.id))
        .filter(sequence_send::Column::Step.eq(e.current_step))
        .one(&state.db)
        .await
        .map_err(retry)?
    else {
        return Ok(None);
    };
    let txn = state.db.begin().await.map_err(retry)?;
    let outcome = if prev.status == SendStatus::Sending.as_str() {
        let note = "delivery uncertain: the sender stopped during the SMTP transaction; not resent to avoid a duplicate";
        mark_send(&txn, prev.id, SendStatus::Uncertain, Some(note.into()), now)
            .await
            .map_err(retry)?;
        StepOutcome::Uncertain
    } else {
        StepOutcome::Skipped("already recorded")
    };
    advance(&txn, e, steps, now).await.map_err(retry)?;
    state.commit(txn, Wakes::Jobs).await.map_err(retry)?;
    Ok(Some(outcome))
}

/// Whether the previous step's message to `e` was opened.
async fn opened_before(state: &AppState, e: &sequence_enrollment::Model) -> Result<bool, JobError> {
    let opened = sequence_send::Entity::find()
        .select_only()
        .column(sequence_send::Column::OpenedAt)
        .filter(sequence_send::Column::EnrollmentId.eq(e.id))
        .filter(sequence_send::Column::Step.eq(e.current_step - 1))
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(&state.db)
        .await
        .map_err(retry)?;
    Ok(opened.flatten().is_some())
}

/// Sends the claimed row and records the outcome.
async fn send_claimed(
    state: &AppState,
    e: &sequence_enrollment::Model,
    steps: &[StepSpec],
    spec: &StepSpec,
    row: sequence_send::Model,
    now: DateTime<Utc>,
) -> Result<StepOutcome, JobError> {
    let lead = lead::Entity::find_by_id(e.lead_id)
        .filter(lead::Column::OrgId.eq(e.org_id))
        .one(&state.db)
        .await
        .map_err(retry)?;
    // 2. Send.
    let outcome = match &lead {
        Some(l) => send_single(
            state,
            SingleMessage {
                org_id: e.org_id,
                template_id: spec.template_id,
                lead: l,
                message_id: &row.message_id,
                token: row.id,
            },
        )
        .await
        .map_err(retry)?,
        None => SingleOutcome::Failed("the lead was deleted".into()),
    };
    // 3. Record.
    let (status, error, stop) = match outcome {
        SingleOutcome::Sent => (SendStatus::Sent, None, None),
        SingleOutcome::Suppressed(r) => (
            SendStatus::Suppressed,
            Some(r.clone()),
            Some(suppressed(&r)),
        ),
        SingleOutcome::Failed(r) => (SendStatus::Failed, Some(r), Some(StopReason::Failed)),
        SingleOutcome::Transient(r) => {
            // Nothing left: give the claim back, the job retries with backoff.
            sequence_send::Entity::delete_by_id(row.id)
                .exec(&state.db)
                .await
                .map_err(retry)?;
            return Err(JobError::Retryable(r));
        }
    };
    let txn = state.db.begin().await.map_err(retry)?;
    mark_send(&txn, row.id, status, error, now)
        .await
        .map_err(retry)?;
    let result = match (stop, &lead) {
        (Some(reason), _) => {
            stop_enrollment(&txn, e, reason, now).await.map_err(retry)?;
            StepOutcome::Stopped(reason)
        }
        (None, Some(l)) => {
            let data = json!({"sequenceId": e.sequence_id, "step": e.current_step, "messageId": row.message_id});
            record_single_sent(&txn, l, data, now)
                .await
                .map_err(retry)?;
            super::track::announce(&txn, &row, l.id, "sent")
                .await
                .map_err(retry)?;
            advance(&txn, e, steps, now).await.map_err(retry)?;
            StepOutcome::Sent
        }
        (None, None) => StepOutcome::Skipped("gone"),
    };
    state.commit(txn, Wakes::Jobs).await.map_err(retry)?;
    Ok(result)
}

/// The stop reason for a suppression reason (`unsubscribe`, `hard_bounce`, `complaint`, …).
fn suppressed(reason: &str) -> StopReason {
    match reason {
        "unsubscribe" | "complaint" => StopReason::Unsubscribed,
        "hard_bounce" | "bounce" => StopReason::Bounced,
        _ => StopReason::Suppressed,
    }
}

/// Runs every step due at `now` (up to 500 enrollments, oldest due first); the number of
/// messages sent.
pub async fn run_due(state: &AppState, now: DateTime<Utc>) -> Result<usize, JobError> {
    let due = sequence_enrollment::Entity::find()
        .filter(sequence_enrollment::Column::Status.eq(EnrollmentStatus::Active.as_str()))
        .filter(sequence_enrollment::Column::NextStepAt.lte(now))
        .order_by_asc(sequence_enrollment::Column::NextStepAt)
        .limit(DUE_BATCH)
        .all(&state.db)
        .await
        .map_err(retry)?;
    let mut sent = 0;
    for e in due {
        if run_step(state, e.id, e.current_step, now).await? == StepOutcome::Sent {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Runs `sequence.step` jobs.
pub struct RunSequenceStep(pub AppState);

#[async_trait]
impl JobHandler for RunSequenceStep {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p: Payload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let outcome = run_step(&self.0, p.enrollment_id, p.step, Utc::now()).await?;
        Ok(
            json!({"enrollmentId": p.enrollment_id, "step": p.step, "outcome": format!("{outcome:?}")}),
        )
    }
}
