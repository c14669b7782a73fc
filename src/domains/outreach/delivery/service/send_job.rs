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
    collections::HashMap,
    sync::{atomic::AtomicBool, Arc},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use chrono::Utc;
use entity::{campaign, campaign_recipient, lead, organization};
use futures::StreamExt;
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    message::{self, Phase, Run},
    recipient::{Outcome, Pacer, Work},
};
use crate::{
    domains::outreach::{
        campaigns::{announce_status, suppressed, CampaignStatus, SendPayload},
        settings::Sender,
        types::RecipientStatus,
    },
    jobs::{JobContext, JobError, JobHandler},
    state::AppState,
};

/// Transient failures one recipient may cause before it is FAILED.
pub const MAX_RECIPIENT_ATTEMPTS: i32 = 5;
/// Recipients read per batch (the status is checked between batches).
const BATCH: u64 = 50;
/// At most one `campaign.status` progress event per this interval.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The `campaign.send` handler.
pub struct SendCampaign(pub AppState);

pub(super) fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::Retryable(e.to_string())
}

/// What this run did so far (the job's progress and result).
#[derive(Default)]
struct Tally {
    sent: u64,
    failed: u64,
    uncertain: u64,
}

impl Tally {
    fn json(&self) -> Value {
        json!({"sent": self.sent, "failed": self.failed, "uncertain": self.uncertain})
    }
}

impl SendCampaign {
    async fn load(&self, p: &SendPayload) -> Result<Option<campaign::Model>, JobError> {
        campaign::Entity::find_by_id(p.campaign_id)
            .filter(campaign::Column::OrgId.eq(p.org_id))
            .one(&self.0.db)
            .await
            .map_err(retry)
    }

    /// A SCHEDULED campaign whose time has come becomes RUNNING; `Err(result)` when the
    /// campaign is in no state to send.
    async fn start(&self, c: campaign::Model) -> Result<Result<campaign::Model, Value>, JobError> {
        match CampaignStatus::parse(&c.status) {
            Some(CampaignStatus::Running) => Ok(Ok(c)),
            Some(CampaignStatus::Scheduled) => {
                let mut a: campaign::ActiveModel = c.clone().into();
                a.status = Set(CampaignStatus::Running.as_str().into());
                if c.launched_at.is_none() {
                    a.launched_at = Set(Some(Utc::now()));
                }
                a.updated_at = Set(Utc::now());
                let c = a.update(&self.0.db).await.map_err(retry)?;
                self.event(&c, CampaignStatus::Running).await;
                Ok(Ok(c))
            }
            _ => Ok(Err(json!({"skipped": c.status}))),
        }
    }

    /// Rows a previous attempt left SENDING: delivery unknown, never resent.
    async fn mark_uncertain(&self, campaign_id: Uuid) -> Result<u64, JobError> {
        Ok(campaign_recipient::Entity::update_many()
            .col_expr(
                campaign_recipient::Column::Status,
                Expr::value(RecipientStatus::Uncertain.as_str()),
            )
            .col_expr(
                campaign_recipient::Column::Error,
                Expr::value("delivery uncertain: the sender stopped during the SMTP transaction; not resent to avoid a duplicate"),
            )
            .filter(campaign_recipient::Column::CampaignId.eq(campaign_id))
            .filter(campaign_recipient::Column::Status.eq(RecipientStatus::Sending.as_str()))
            .exec(&self.0.db)
            .await
            .map_err(retry)?
            .rows_affected)
    }

    /// The run's shared content and A/B phase; `Err(result)` when there is nothing to send now.
    async fn prepare(
        &self,
        ctx: &JobContext,
        c: &campaign::Model,
    ) -> Result<Result<Run, Value>, JobError> {
        let org = organization::Entity::find_by_id(c.org_id)
            .one(&self.0.db)
            .await
            .map_err(retry)?
            .map(|o| o.name)
            .unwrap_or_default();
        let mut run = message::prepare(c.clone(), org)?;
        run.phase = match self.phase(ctx, c).await? {
            Ok(p) => p,
            Err(done) => return Ok(Err(done)),
        };
        Ok(Ok(run))
    }

    /// Sends batch after batch until nothing is PENDING. `Some(result)` when the run ends
    /// before that: paused, stopped, superseded, deleted, or the A/B test group is sent.
    async fn send_all(
        &self,
        ctx: &JobContext,
        p: &SendPayload,
        run: &Arc<Run>,
        sender: &Sender,
        tally: &mut Tally,
    ) -> Result<Option<Value>, JobError> {
        let c = &run.campaign;
        let pacer = Pacer::new(c.send_rate_per_minute);
        let mut last_event = Instant::now();
        loop {
            if ctx.is_cancelled() {
                return Err(JobError::Cancelled);
            }
            // Pause, stop or a newer run end this one between batches.
            match self.load(p).await? {
                Some(n)
                    if n.job_id == Some(ctx.job.id)
                        && n.status == CampaignStatus::Running.as_str() => {}
                Some(n) => {
                    let mut out = tally.json();
                    out["stoppedAt"] = json!(n.status);
                    return Ok(Some(out));
                }
                None => return Ok(Some(json!({"skipped": "campaign deleted"}))),
            }
            let batch = self.next_batch(c.id, run.phase == Phase::Test).await?;
            if batch.is_empty() {
                if run.phase == Phase::Test {
                    return self.start_wait(ctx, c, tally.json()).await.map(Some);
                }
                return Ok(None);
            }
            let transient = self.send_batch(run, sender, &pacer, batch, tally).await?;
            ctx.set_progress(tally.json()).await;
            if last_event.elapsed() >= PROGRESS_EVERY {
                self.event(c, CampaignStatus::Running).await;
                last_event = Instant::now();
            }
            if let Some(e) = transient {
                let msg = format!("mail server: {e}");
                self.fail_campaign_if_last(ctx, c, &msg).await;
                return Err(JobError::Retryable(msg));
            }
        }
    }

    /// The next PENDING recipients (in the test phase: only the test group's).
    async fn next_batch(
        &self,
        campaign_id: Uuid,
        test_only: bool,
    ) -> Result<Vec<campaign_recipient::Model>, JobError> {
        let mut q = campaign_recipient::Entity::find()
            .filter(campaign_recipient::Column::CampaignId.eq(campaign_id))
            .filter(campaign_recipient::Column::Status.eq(RecipientStatus::Pending.as_str()));
        if test_only {
            q = q.filter(campaign_recipient::Column::Variant.is_not_null());
        }
        q.order_by_asc(campaign_recipient::Column::Id)
            .limit(BATCH)
            .all(&self.0.db)
            .await
            .map_err(retry)
    }

    /// Sends one batch, `CAMPAIGN_SEND_CONCURRENCY` at a time (its leads and suppressions read
    /// once); the transient failure that ends the run, if any.
    async fn send_batch(
        &self,
        run: &Arc<Run>,
        sender: &Sender,
        pacer: &Pacer,
        batch: Vec<campaign_recipient::Model>,
        tally: &mut Tally,
    ) -> Result<Option<String>, JobError> {
        let db = &self.0.db;
        let org_id = run.campaign.org_id;
        let lead_ids: Vec<Uuid> = batch.iter().filter_map(|r| r.lead_id).collect();
        let mut leads: HashMap<Uuid, lead::Model> = lead::Entity::find()
            .filter(lead::Column::Id.is_in(lead_ids))
            .all(db)
            .await
            .map_err(retry)?
            .into_iter()
            .map(|l| (l.id, l))
            .collect();
        let emails: Vec<String> = batch.iter().map(|r| r.email.clone()).collect();
        let blocked = suppressed(db, org_id, &emails)
            .await
            .map_err(|e| JobError::Retryable(e.public_message()))?;
        let work: Vec<Work> = batch
            .into_iter()
            .map(|row| Work {
                lead: row.lead_id.and_then(|id| leads.remove(&id)),
                blocked: blocked.contains(&row.email),
                row,
            })
            .collect();
        let stop = AtomicBool::new(false);
        let concurrency = self.0.config.campaign_send_concurrency.max(1);
        let outcomes: Vec<Result<Outcome, JobError>> = futures::stream::iter(work)
            .map(|w| {
                let run = run.clone();
                let stop = &stop;
                async move { self.one(&run, sender, pacer, w, stop).await }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let mut transient = None;
        for o in outcomes {
            match o? {
                Outcome::Sent => tally.sent += 1,
                Outcome::Failed => tally.failed += 1,
                Outcome::Skipped => {}
                Outcome::Transient(e) => transient = Some(e),
            }
        }
        Ok(transient)
    }

    /// RUNNING → COMPLETED, while this run is still the responsible one.
    async fn complete(&self, ctx: &JobContext, c: &campaign::Model) -> Result<(), JobError> {
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
            .exec(&self.0.db)
            .await
            .map_err(retry)?;
        if done.rows_affected == 1 {
            self.event(c, CampaignStatus::Completed).await;
        }
        Ok(())
    }

    /// Records `campaign.status` (progress or a status change); a failure is only logged.
    async fn event(&self, c: &campaign::Model, status: CampaignStatus) {
        if let Err(e) = announce_status(&self.0, c.org_id, None, c.id, status).await {
            tracing::warn!(error = ?e, "campaign progress event failed");
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
        let p: SendPayload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let Some(c) = self.load(&p).await? else {
            return Ok(json!({"skipped": "campaign deleted"}));
        };
        if c.job_id != Some(ctx.job.id) {
            return Ok(json!({"skipped": "superseded by a newer run"}));
        }
        let c = match self.start(c).await? {
            Ok(c) => c,
            Err(skipped) => return Ok(skipped),
        };
        let mut tally = Tally {
            uncertain: self.mark_uncertain(c.id).await?,
            ..Tally::default()
        };
        let run = match self.prepare(ctx, &c).await? {
            Ok(run) => Arc::new(run),
            Err(done) => return Ok(done),
        };
        let sender = match Sender::for_org(&self.0, c.org_id).await {
            Ok(s) => s,
            Err(e) => {
                let msg = format!("the organization's SMTP settings: {e}");
                self.fail_campaign_if_last(ctx, &c, &msg).await;
                return Err(JobError::Retryable(msg));
            }
        };
        if let Some(out) = self.send_all(ctx, &p, &run, &sender, &mut tally).await? {
            return Ok(out);
        }
        self.complete(ctx, &c).await?;
        Ok(tally.json())
    }
}
