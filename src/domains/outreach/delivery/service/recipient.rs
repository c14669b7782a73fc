//! One recipient of a `campaign.send` run: claim (`PENDING → SENDING`, committed before
//! anything leaves), build, send, record (`SENT` + the lead's timeline), and what a failed send
//! does to the row (see [`super::send_job`] for the exactly-once design).

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use entity::{campaign_recipient, lead, lead_interaction};
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::json;
use tokio::sync::Mutex;
use uuid::Uuid;

use super::{
    message::{self, Run},
    send_job::{retry, SendCampaign, MAX_RECIPIENT_ATTEMPTS},
};
use crate::{
    domains::{
        leads,
        outreach::{settings::Sender, types::RecipientStatus},
    },
    jobs::JobError,
    platform::mailer::MailError,
};

/// Spaces message starts `interval` apart (absolute schedule, so the rate does not drift).
pub(super) struct Pacer {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl Pacer {
    pub(super) fn new(per_minute: Option<i32>) -> Self {
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
pub(super) enum Outcome {
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

/// Claims `r` for this run (`PENDING → SENDING`, `attempts + 1`, the variant written), in its
/// own committed statement. False when another runner has it or it is no longer PENDING.
async fn claim(
    db: &DatabaseConnection,
    r: &campaign_recipient::Model,
    variant: Option<String>,
) -> Result<bool, JobError> {
    let claimed = campaign_recipient::Entity::update_many()
        .col_expr(
            campaign_recipient::Column::Status,
            Expr::value(RecipientStatus::Sending.as_str()),
        )
        .col_expr(
            campaign_recipient::Column::Attempts,
            Expr::col(campaign_recipient::Column::Attempts).add(1),
        )
        .col_expr(campaign_recipient::Column::Variant, Expr::value(variant))
        .col_expr(
            campaign_recipient::Column::UpdatedAt,
            Expr::value(Utc::now()),
        )
        .filter(campaign_recipient::Column::Id.eq(r.id))
        .filter(campaign_recipient::Column::Status.eq(RecipientStatus::Pending.as_str()))
        .exec(db)
        .await
        .map_err(retry)?;
    Ok(claimed.rows_affected == 1)
}

/// One recipient's inputs in a batch.
pub(super) struct Work {
    /// The row.
    pub(super) row: campaign_recipient::Model,
    /// Its lead, unless deleted.
    pub(super) lead: Option<lead::Model>,
    /// The address is on the suppression list.
    pub(super) blocked: bool,
}

impl SendCampaign {
    /// Claims, sends and records one recipient.
    pub(super) async fn one(
        &self,
        run: &Run,
        sender: &Sender,
        pacer: &Pacer,
        w: Work,
        stop: &AtomicBool,
    ) -> Result<Outcome, JobError> {
        let db = &self.0.db;
        let Work {
            row: r,
            lead,
            blocked,
        } = w;
        // After a transient failure nothing new is claimed; the job retries with backoff.
        if stop.load(Ordering::SeqCst) {
            return Ok(Outcome::Skipped);
        }
        let variant = run.variant_for(&r);
        // 1. Claim, committed before anything leaves.
        if !claim(db, &r, variant.map(|v| v.name.clone())).await? {
            return Ok(Outcome::Skipped);
        }
        let sending = &[RecipientStatus::Sending];
        if blocked {
            set_status(db, r.id, sending, RecipientStatus::Suppressed, None).await?;
            return Ok(Outcome::Failed);
        }
        // The deliverability gate: a verdict of UNDELIVERABLE on this very address (contact
        // validation) suppresses it, with the verdict's reasons; so does a missing verdict when
        // the campaign requires validated recipients.
        let require = run.campaign.require_validated_recipients;
        if let Some(reason) = leads::send_gate_reason(lead.as_ref(), &r.email, require) {
            set_status(db, r.id, sending, RecipientStatus::Suppressed, Some(reason)).await?;
            return Ok(Outcome::Failed);
        }
        let message = match message::build(&self.0.config, run, &r, lead.as_ref(), variant) {
            Ok(m) => m,
            Err(e) => {
                set_status(db, r.id, sending, RecipientStatus::Failed, Some(e)).await?;
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
            Err(e) => self.send_failed(&r, e, stop).await,
        }
    }

    /// What a failed send does to the claimed row.
    async fn send_failed(
        &self,
        r: &campaign_recipient::Model,
        e: MailError,
        stop: &AtomicBool,
    ) -> Result<Outcome, JobError> {
        let db = &self.0.db;
        let attempts = r.attempts + 1;
        let sending = &[RecipientStatus::Sending];
        match e {
            // Nobody to blame but the connection: back in line, the attempt does not count.
            e @ (MailError::Unreachable(_) | MailError::Io(_)) => {
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
            e @ MailError::Smtp(_) if attempts < MAX_RECIPIENT_ATTEMPTS => {
                stop.store(true, Ordering::SeqCst);
                let error = Some(e.to_string());
                set_status(db, r.id, sending, RecipientStatus::Pending, error).await?;
                Ok(Outcome::Transient(e.to_string()))
            }
            e => {
                let reason = if e.is_transient() {
                    format!("gave up after {attempts} attempts: {e}")
                } else {
                    e.to_string()
                };
                set_status(db, r.id, sending, RecipientStatus::Failed, Some(reason)).await?;
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
            let data = json!({"campaignId": r.campaign_id, "messageId": r.message_id});
            note_sent(&txn, l, data, now).await.map_err(retry)?;
        }
        txn.commit().await.map_err(retry)
    }
}

/// The lead's `email_sent` timeline entry (`data`) and its `last_contacted_at`, in `conn`.
pub(super) async fn note_sent(
    conn: &impl ConnectionTrait,
    l: &lead::Model,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    lead_interaction::ActiveModel {
        id: Set(Uuid::now_v7()),
        lead_id: Set(l.id),
        org_id: Set(l.org_id),
        kind: Set("email_sent".into()),
        actor_id: Set(None),
        data: Set(data),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    lead::Entity::update_many()
        .col_expr(lead::Column::LastContactedAt, Expr::value(now))
        .filter(lead::Column::Id.eq(l.id))
        .exec(conn)
        .await?;
    Ok(())
}
