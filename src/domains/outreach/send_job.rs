//! The `campaign.send` job: one per campaign run, sending to PENDING recipients at
//! `sendRatePerMinute` over the mailer (pooled SMTP, or `.eml` files in embedded mode).
//!
//! Exactly once, per recipient:
//! 1. claim — `PENDING → SENDING`, `attempts + 1`, committed *before* the SMTP transaction (a
//!    conditional UPDATE, so two runners can never claim the same row);
//! 2. send — one SMTP transaction, Message-ID derived from campaign + recipient;
//! 3. record — `SENDING → SENT` committed right after the server's `250`.
//!
//! A crash between 1 and 3 leaves the row SENDING. The next attempt of the job marks such rows
//! UNCERTAIN and never sends them again: plain SMTP has no way to ask whether the message got
//! through, so resending could deliver it twice. This is at-most-once for the (at most
//! `CAMPAIGN_SEND_CONCURRENCY`) messages in flight at the moment of the crash, exactly-once for
//! everyone else; the stable Message-ID lets a receiving system dedupe if an operator resends.
//! A late `SENT` from a runner that lost its lease still wins over UNCERTAIN.
//!
//! A 4xx reply or an unreachable server puts the recipient back to PENDING and fails the job
//! attempt as retryable (the queue backs off and runs it again); after
//! [`MAX_RECIPIENT_ATTEMPTS`] the recipient is FAILED. A 5xx reply fails the recipient with the
//! server's answer. The campaign's status is read between batches: PAUSED or STOPPED ends the run
//! after the messages in flight, and a newer run (another job id on the campaign) makes this one
//! stop.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entity::{campaign, campaign_recipient, job, lead, lead_interaction, organization};
use futures::StreamExt;
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use uuid::Uuid;

use super::{
    campaigns::record_status,
    message::{self, Phase, Run},
    recipients::suppressed,
    smtp::Sender,
    types::{CampaignStatus, RecipientStatus},
};
use crate::{
    error::AppResult,
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    platform::mailer::MailError,
    state::AppState,
};

/// Job kind.
pub const KIND: &str = "campaign.send";
/// Transient failures one recipient may cause before it is FAILED.
pub const MAX_RECIPIENT_ATTEMPTS: i32 = 5;
/// Recipients read per batch (the status is checked between batches).
const BATCH: u64 = 50;
/// At most one `campaign.status` progress event per this interval.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    campaign_id: Uuid,
    org_id: Uuid,
}

/// Enqueues a run of `c` in `conn` (the caller's transaction), at `at` or now.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    c: &campaign::Model,
    actor: Option<Uuid>,
    at: Option<DateTime<Utc>>,
) -> AppResult<job::Model> {
    queue::enqueue(
        conn,
        NewJob {
            org_id: Some(c.org_id),
            created_by: actor,
            max_attempts: 20,
            run_at_ms: at.map(|t| t.timestamp_millis()),
            ..NewJob::new(
                KIND,
                serde_json::to_value(Payload {
                    campaign_id: c.id,
                    org_id: c.org_id,
                })?,
            )
        },
    )
    .await
}

/// The `campaign.send` handler.
pub struct SendCampaign(pub AppState);

pub(super) fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::Retryable(e.to_string())
}

/// Spaces message starts `interval` apart (absolute schedule, so the rate does not drift).
struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Pacer {
    fn new(per_minute: Option<i32>) -> Self {
        Pacer {
            interval: per_minute
                .filter(|r| *r > 0)
                .map(|r| Duration::from_secs_f64(60.0 / f64::from(r))),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let Some(step) = self.interval else { return };
        let slot = {
            let mut next = self.next.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + step;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
}

/// How one recipient ended in this run.
enum Outcome {
    Sent,
    Failed,
    Skipped,
    Transient(String),
}

async fn set_status(
    db: &DatabaseConnection,
    id: Uuid,
    from: &[RecipientStatus],
    to: RecipientStatus,
    error: Option<String>,
) -> Result<u64, JobError> {
    let res = campaign_recipient::Entity::update_many()
        .col_expr(campaign_recipient::Column::Status, Expr::value(to.as_str()))
        .col_expr(campaign_recipient::Column::Error, Expr::value(error))
        .col_expr(
            campaign_recipient::Column::UpdatedAt,
            Expr::value(Utc::now()),
        )
        .filter(campaign_recipient::Column::Id.eq(id))
        .filter(campaign_recipient::Column::Status.is_in(from.iter().map(|s| s.as_str())))
        .exec(db)
        .await
        .map_err(retry)?;
    Ok(res.rows_affected)
}

impl SendCampaign {
    /// Claims, sends and records one recipient.
    #[allow(clippy::too_many_arguments)]
    async fn one(
        &self,
        run: &Run,
        sender: &Sender,
        pacer: &Pacer,
        r: campaign_recipient::Model,
        lead: Option<lead::Model>,
        blocked: bool,
        stop: &AtomicBool,
    ) -> Result<Outcome, JobError> {
        let db = &self.0.db;
        // After a transient failure nothing new is claimed; the job retries with backoff.
        if stop.load(Ordering::SeqCst) {
            return Ok(Outcome::Skipped);
        }
        let variant = run.variant_for(&r);
        // 1. Claim, committed before anything leaves.
        let claimed = campaign_recipient::Entity::update_many()
            .col_expr(
                campaign_recipient::Column::Status,
                Expr::value(RecipientStatus::Sending.as_str()),
            )
            .col_expr(
                campaign_recipient::Column::Attempts,
                Expr::col(campaign_recipient::Column::Attempts).add(1),
            )
            .col_expr(
                campaign_recipient::Column::Variant,
                Expr::value(variant.map(|v| v.name.clone())),
            )
            .col_expr(
                campaign_recipient::Column::UpdatedAt,
                Expr::value(Utc::now()),
            )
            .filter(campaign_recipient::Column::Id.eq(r.id))
            .filter(campaign_recipient::Column::Status.eq(RecipientStatus::Pending.as_str()))
            .exec(db)
            .await
            .map_err(retry)?;
        if claimed.rows_affected != 1 {
            return Ok(Outcome::Skipped);
        }
        let attempts = r.attempts + 1;
        if blocked {
            set_status(
                db,
                r.id,
                &[RecipientStatus::Sending],
                RecipientStatus::Suppressed,
                None,
            )
            .await?;
            return Ok(Outcome::Failed);
        }
        let message = match message::build(&self.0.config, run, &r, lead.as_ref(), variant) {
            Ok(m) => m,
            Err(e) => {
                set_status(
                    db,
                    r.id,
                    &[RecipientStatus::Sending],
                    RecipientStatus::Failed,
                    Some(e),
                )
                .await?;
                return Ok(Outcome::Failed);
            }
        };
        pacer.wait().await;
        // 2. Send.
        match sender.send(message, &r.message_id).await {
            // 3. Record.
            Ok(()) => {
                self.mark_sent(&r, lead.as_ref()).await?;
                Ok(Outcome::Sent)
            }
            // Nobody to blame but the connection: back in line, the attempt does not count.
            Err(e @ MailError::Unreachable(_)) | Err(e @ MailError::Io(_)) => {
                stop.store(true, Ordering::SeqCst);
                campaign_recipient::Entity::update_many()
                    .col_expr(
                        campaign_recipient::Column::Status,
                        Expr::value(RecipientStatus::Pending.as_str()),
                    )
                    .col_expr(
                        campaign_recipient::Column::Attempts,
                        Expr::value(r.attempts),
                    )
                    .col_expr(
                        campaign_recipient::Column::Error,
                        Expr::value(Some(e.to_string())),
                    )
                    .filter(campaign_recipient::Column::Id.eq(r.id))
                    .filter(
                        campaign_recipient::Column::Status.eq(RecipientStatus::Sending.as_str()),
                    )
                    .exec(db)
                    .await
                    .map_err(retry)?;
                Ok(Outcome::Transient(e.to_string()))
            }
            // A 4xx reply about this message: try again later, at most MAX_RECIPIENT_ATTEMPTS.
            Err(e @ MailError::Smtp(_)) if attempts < MAX_RECIPIENT_ATTEMPTS => {
                stop.store(true, Ordering::SeqCst);
                set_status(
                    db,
                    r.id,
                    &[RecipientStatus::Sending],
                    RecipientStatus::Pending,
                    Some(e.to_string()),
                )
                .await?;
                Ok(Outcome::Transient(e.to_string()))
            }
            Err(e) => {
                let reason = if e.is_transient() {
                    format!("gave up after {attempts} attempts: {e}")
                } else {
                    e.to_string()
                };
                set_status(
                    db,
                    r.id,
                    &[RecipientStatus::Sending],
                    RecipientStatus::Failed,
                    Some(reason),
                )
                .await?;
                Ok(Outcome::Failed)
            }
        }
    }

    async fn mark_sent(
        &self,
        r: &campaign_recipient::Model,
        lead: Option<&lead::Model>,
    ) -> Result<(), JobError> {
        let now = Utc::now();
        let txn = self.0.db.begin().await.map_err(retry)?;
        campaign_recipient::Entity::update_many()
            .col_expr(
                campaign_recipient::Column::Status,
                Expr::value(RecipientStatus::Sent.as_str()),
            )
            .col_expr(campaign_recipient::Column::SentAt, Expr::value(now))
            .col_expr(
                campaign_recipient::Column::Error,
                Expr::value(Option::<String>::None),
            )
            .col_expr(campaign_recipient::Column::UpdatedAt, Expr::value(now))
            .filter(campaign_recipient::Column::Id.eq(r.id))
            .filter(campaign_recipient::Column::Status.is_in([
                RecipientStatus::Sending.as_str(),
                RecipientStatus::Uncertain.as_str(),
            ]))
            .exec(&txn)
            .await
            .map_err(retry)?;
        if let Some(l) = lead {
            lead_interaction::ActiveModel {
                id: Set(Uuid::now_v7()),
                lead_id: Set(l.id),
                org_id: Set(l.org_id),
                kind: Set("email_sent".into()),
                actor_id: Set(None),
                data: Set(json!({"campaignId": r.campaign_id, "messageId": r.message_id})),
                created_at: Set(now),
            }
            .insert(&txn)
            .await
            .map_err(retry)?;
            lead::Entity::update_many()
                .col_expr(lead::Column::LastContactedAt, Expr::value(now))
                .filter(lead::Column::Id.eq(l.id))
                .exec(&txn)
                .await
                .map_err(retry)?;
        }
        txn.commit().await.map_err(retry)
    }

    async fn event(&self, c: &campaign::Model, status: CampaignStatus) {
        match record_status(&self.0.db, c.org_id, None, c.id, status).await {
            Ok(()) => self.0.events_committed(),
            Err(e) => tracing::warn!(error = ?e, "campaign progress event failed"),
        }
    }

    /// Moves the campaign to FAILED when this was the job's last attempt.
    async fn fail_campaign_if_last(&self, ctx: &JobContext, c: &campaign::Model, error: &str) {
        if ctx.job.attempts < ctx.job.max_attempts {
            return;
        }
        let res = campaign::Entity::update_many()
            .col_expr(
                campaign::Column::Status,
                Expr::value(CampaignStatus::Failed.as_str()),
            )
            .col_expr(campaign::Column::LastError, Expr::value(error.to_string()))
            .col_expr(campaign::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(campaign::Column::Id.eq(c.id))
            .filter(campaign::Column::JobId.eq(ctx.job.id))
            .filter(campaign::Column::Status.eq(CampaignStatus::Running.as_str()))
            .exec(&self.0.db)
            .await;
        if matches!(res, Ok(r) if r.rows_affected == 1) {
            self.event(c, CampaignStatus::Failed).await;
        }
    }
}

#[async_trait]
impl JobHandler for SendCampaign {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p: Payload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let db = &self.0.db;
        let load = || {
            campaign::Entity::find_by_id(p.campaign_id)
                .filter(campaign::Column::OrgId.eq(p.org_id))
                .one(db)
        };
        let Some(mut c) = load().await.map_err(retry)? else {
            return Ok(json!({"skipped": "campaign deleted"}));
        };
        if c.job_id != Some(ctx.job.id) {
            return Ok(json!({"skipped": "superseded by a newer run"}));
        }
        match CampaignStatus::parse(&c.status) {
            Some(CampaignStatus::Running) => {}
            Some(CampaignStatus::Scheduled) => {
                let mut a: campaign::ActiveModel = c.clone().into();
                a.status = Set(CampaignStatus::Running.as_str().into());
                if c.launched_at.is_none() {
                    a.launched_at = Set(Some(Utc::now()));
                }
                a.updated_at = Set(Utc::now());
                c = a.update(db).await.map_err(retry)?;
                self.event(&c, CampaignStatus::Running).await;
            }
            _ => return Ok(json!({"skipped": c.status})),
        }
        // Rows a previous attempt left SENDING: delivery unknown, never resent.
        let uncertain = campaign_recipient::Entity::update_many()
            .col_expr(
                campaign_recipient::Column::Status,
                Expr::value(RecipientStatus::Uncertain.as_str()),
            )
            .col_expr(
                campaign_recipient::Column::Error,
                Expr::value("delivery uncertain: the sender stopped during the SMTP transaction; not resent to avoid a duplicate"),
            )
            .filter(campaign_recipient::Column::CampaignId.eq(c.id))
            .filter(campaign_recipient::Column::Status.eq(RecipientStatus::Sending.as_str()))
            .exec(db)
            .await
            .map_err(retry)?
            .rows_affected;
        let org = organization::Entity::find_by_id(c.org_id)
            .one(db)
            .await
            .map_err(retry)?
            .map(|o| o.name)
            .unwrap_or_default();
        let mut run = message::prepare(c.clone(), org)?;
        run.phase = match self.phase(ctx, &c).await? {
            Ok(p) => p,
            Err(done) => return Ok(done),
        };
        let run = Arc::new(run);
        let sender = match Sender::for_org(&self.0, c.org_id).await {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("the organization's SMTP settings: {e}");
                self.fail_campaign_if_last(ctx, &c, &msg).await;
                return Err(JobError::Retryable(msg));
            }
        };
        let pacer = Pacer::new(c.send_rate_per_minute);
        let concurrency = self.0.config.campaign_send_concurrency.max(1);
        let (mut sent, mut failed) = (0u64, 0u64);
        let mut last_event = Instant::now();
        loop {
            if ctx.is_cancelled() {
                return Err(JobError::Cancelled);
            }
            // Pause, stop or a newer run end this one between batches.
            let now = load().await.map_err(retry)?;
            match now {
                Some(n)
                    if n.job_id == Some(ctx.job.id)
                        && n.status == CampaignStatus::Running.as_str() => {}
                Some(n) => {
                    return Ok(
                        json!({"sent": sent, "failed": failed, "uncertain": uncertain, "stoppedAt": n.status}),
                    )
                }
                None => return Ok(json!({"skipped": "campaign deleted"})),
            }
            let mut q = campaign_recipient::Entity::find()
                .filter(campaign_recipient::Column::CampaignId.eq(c.id))
                .filter(campaign_recipient::Column::Status.eq(RecipientStatus::Pending.as_str()));
            if run.phase == Phase::Test {
                q = q.filter(campaign_recipient::Column::Variant.is_not_null());
            }
            let batch = q
                .order_by_asc(campaign_recipient::Column::Id)
                .limit(BATCH)
                .all(db)
                .await
                .map_err(retry)?;
            if batch.is_empty() {
                if run.phase == Phase::Test {
                    let out = json!({"sent": sent, "failed": failed, "uncertain": uncertain});
                    return self.start_wait(ctx, &c, out).await;
                }
                break;
            }
            let lead_ids: Vec<Uuid> = batch.iter().filter_map(|r| r.lead_id).collect();
            let mut leads: std::collections::HashMap<Uuid, lead::Model> = lead::Entity::find()
                .filter(lead::Column::Id.is_in(lead_ids))
                .all(db)
                .await
                .map_err(retry)?
                .into_iter()
                .map(|l| (l.id, l))
                .collect();
            let emails: Vec<String> = batch.iter().map(|r| r.email.clone()).collect();
            let blocked = suppressed(db, c.org_id, &emails)
                .await
                .map_err(|e| JobError::Retryable(e.public_message()))?;
            let work: Vec<_> = batch
                .into_iter()
                .map(|r| {
                    let lead = r.lead_id.and_then(|id| leads.remove(&id));
                    let is_blocked = blocked.contains(&r.email);
                    (r, lead, is_blocked)
                })
                .collect();
            let stop = AtomicBool::new(false);
            let outcomes: Vec<Result<Outcome, JobError>> = futures::stream::iter(work)
                .map(|(r, lead, b)| {
                    let run = run.clone();
                    let (pacer, stop, sender) = (&pacer, &stop, &sender);
                    async move { self.one(&run, sender, pacer, r, lead, b, stop).await }
                })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            let mut transient = None;
            for o in outcomes {
                match o? {
                    Outcome::Sent => sent += 1,
                    Outcome::Failed => failed += 1,
                    Outcome::Skipped => {}
                    Outcome::Transient(e) => transient = Some(e),
                }
            }
            ctx.set_progress(json!({"sent": sent, "failed": failed, "uncertain": uncertain}))
                .await;
            if last_event.elapsed() >= PROGRESS_EVERY {
                self.event(&c, CampaignStatus::Running).await;
                last_event = Instant::now();
            }
            if let Some(e) = transient {
                let msg = format!("mail server: {e}");
                self.fail_campaign_if_last(ctx, &c, &msg).await;
                return Err(JobError::Retryable(msg));
            }
        }
        let done = campaign::Entity::update_many()
            .col_expr(
                campaign::Column::Status,
                Expr::value(CampaignStatus::Completed.as_str()),
            )
            .col_expr(campaign::Column::CompletedAt, Expr::value(Utc::now()))
            .col_expr(campaign::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(campaign::Column::Id.eq(c.id))
            .filter(campaign::Column::JobId.eq(ctx.job.id))
            .filter(campaign::Column::Status.eq(CampaignStatus::Running.as_str()))
            .exec(db)
            .await
            .map_err(retry)?;
        if done.rows_affected == 1 {
            self.event(&c, CampaignStatus::Completed).await;
        }
        Ok(json!({"sent": sent, "failed": failed, "uncertain": uncertain}))
    }
}
