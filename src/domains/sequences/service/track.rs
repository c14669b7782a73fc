//! Opens, clicks and unsubscribes of sequence mail. A step's message is sent with tracking
//! tokens signed for its `sequence_sends` row (`send_single`'s `token`), so outreach's pixel,
//! click and unsubscribe endpoints reach it through the registered
//! [`TrackedMessages`] ([`SequenceTracking`]): outreach never names sequences.
//!
//! Only a row whose mail went out counts (SENDING: handed to SMTP, which may have accepted it
//! before the row says SENT, and a reader can open it at once; SENT; UNCERTAIN: maybe
//! delivered); any other id is not ours and the endpoint answers 404. In one transaction:
//! - an open sets the row's `opened_at` (the first one; the lead timeline gets `email_open`),
//!   which is what `onlyIfNotOpened` reads;
//! - a click sets `clicked_at` (and `opened_at`: a click proves the open) and writes
//!   `email_click` with the URL on the timeline;
//! - an unsubscribe or complaint suppresses the lead's address (outreach's suppression list, so
//!   no campaign or sequence mails it again) and stops every active enrollment of the lead
//!   (UNSUBSCRIBED, `sequence.enrollment_stopped`); a hard bounce does the same with BOUNCED;
//!   a reply stops with REPLIED.
//!
//! Each of these also records `sequence.activity` ([`announce`]: the first open, every click, an
//! unsubscribe, complaint or bounce; `run` records `sent`, and a reply that stops an enrollment
//! records `reply`), so subscriptions and outgoing webhooks see sequence mail as they see
//! campaign mail.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entity::{lead, lead_interaction, sequence_enrollment, sequence_send};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait,
    QueryFilter, TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::enroll::stop_lead;
use crate::{
    domains::{
        outreach::{
            settings::{insert_suppression, SuppressionReason},
            tracking::{Activity, TrackedMessages},
        },
        sequences::types::{SendStatus, StopReason},
    },
    error::AppResult,
    events::{outbox, DomainEvent, EventEnvelope, SequenceActivity},
    state::{AppState, Wakes},
};

/// Records `sequence.activity` `kind` for send row `s` of `lead`, in `conn`.
pub(super) async fn announce(
    conn: &impl ConnectionTrait,
    s: &sequence_send::Model,
    lead: Uuid,
    kind: &str,
) -> AppResult<()> {
    let event = DomainEvent::SequenceActivity(SequenceActivity {
        sequence_id: s.sequence_id,
        enrollment_id: s.enrollment_id,
        lead_id: lead,
        send_id: Some(s.id),
        step: Some(s.step),
        kind: kind.into(),
    });
    outbox::record(conn, &EventEnvelope::new(s.org_id, None, event)).await
}

/// Sequence mail in the tracking endpoints; registered by `sequences::register`.
pub struct SequenceTracking;

/// Send row `id` when its message went out (or may have).
async fn sent(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<Option<sequence_send::Model>> {
    Ok(sequence_send::Entity::find_by_id(id)
        .filter(sequence_send::Column::Status.is_in([
            SendStatus::Sending.as_str(),
            SendStatus::Sent.as_str(),
            SendStatus::Uncertain.as_str(),
        ]))
        .one(conn)
        .await?)
}

/// Writes `email_<kind>` on the lead's timeline.
async fn timeline(
    conn: &impl ConnectionTrait,
    s: &sequence_send::Model,
    lead_id: Uuid,
    kind: &str,
    mut data: Value,
    now: DateTime<Utc>,
) -> AppResult<()> {
    data["sequenceId"] = json!(s.sequence_id);
    data["step"] = json!(s.step);
    lead_interaction::ActiveModel {
        id: Set(Uuid::now_v7()),
        lead_id: Set(lead_id),
        org_id: Set(s.org_id),
        kind: Set(format!("email_{kind}")),
        actor_id: Set(None),
        data: Set(data),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Sets `opened_at` (and `clicked_at` for a click) where still empty; whether the open is new.
async fn mark_seen(
    conn: &impl ConnectionTrait,
    s: &sequence_send::Model,
    click: bool,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let mut q = sequence_send::Entity::update_many().filter(sequence_send::Column::Id.eq(s.id));
    if s.opened_at.is_none() {
        q = q.col_expr(sequence_send::Column::OpenedAt, Expr::value(Some(now)));
    }
    if click && s.clicked_at.is_none() {
        q = q.col_expr(sequence_send::Column::ClickedAt, Expr::value(Some(now)));
    }
    if s.opened_at.is_none() || (click && s.clicked_at.is_none()) {
        q.exec(conn).await?;
    }
    Ok(s.opened_at.is_none())
}

/// Suppresses the lead's address for `reason` and stops the lead's enrollments (`stop`).
async fn suppress_and_stop(
    conn: &impl ConnectionTrait,
    s: &sequence_send::Model,
    lead: &lead::Model,
    reason: SuppressionReason,
    stop: StopReason,
) -> AppResult<()> {
    if let Some(email) = lead.email.as_deref().filter(|e| !e.is_empty()) {
        let data = json!({"sequenceId": s.sequence_id, "sendId": s.id});
        insert_suppression(conn, s.org_id, &email.to_lowercase(), reason, data).await?;
    }
    stop_lead(conn, s.org_id, lead.id, stop).await
}

/// Applies `activity` to sent row `s` of `lead`, in `conn`.
async fn apply(
    conn: &impl ConnectionTrait,
    s: &sequence_send::Model,
    lead: &lead::Model,
    activity: &Activity,
    now: DateTime<Utc>,
) -> AppResult<()> {
    match activity {
        Activity::Open => {
            if mark_seen(conn, s, false, now).await? {
                timeline(conn, s, lead.id, "open", json!({}), now).await?;
                announce(conn, s, lead.id, "open").await?;
            }
        }
        Activity::Click(url) => {
            mark_seen(conn, s, true, now).await?;
            timeline(conn, s, lead.id, "click", json!({"url": url}), now).await?;
            announce(conn, s, lead.id, "click").await?;
        }
        Activity::Unsubscribe(source) | Activity::Complaint(source) => {
            let (reason, kind) = match activity {
                Activity::Complaint(_) => (SuppressionReason::Complaint, "complaint"),
                _ => (SuppressionReason::Unsubscribe, "unsubscribe"),
            };
            announce(conn, s, lead.id, kind).await?;
            suppress_and_stop(conn, s, lead, reason, StopReason::Unsubscribed).await?;
            let data = json!({"source": source});
            timeline(conn, s, lead.id, "unsubscribe", data, now).await?;
        }
        Activity::Bounce { hard, .. } => {
            announce(conn, s, lead.id, "bounce").await?;
            if *hard {
                let reason = SuppressionReason::HardBounce;
                suppress_and_stop(conn, s, lead, reason, StopReason::Bounced).await?;
            }
        }
        Activity::Reply { .. } => stop_lead(conn, s.org_id, lead.id, StopReason::Replied).await?,
    }
    Ok(())
}

#[async_trait]
impl TrackedMessages for SequenceTracking {
    async fn org_of(&self, state: &AppState, id: Uuid) -> AppResult<Option<Uuid>> {
        Ok(sent(&state.db, id).await?.map(|s| s.org_id))
    }

    async fn record(&self, state: &AppState, id: Uuid, activity: &Activity) -> AppResult<bool> {
        let txn = state.db.begin().await?;
        let Some(s) = sent(&txn, id).await? else {
            return Ok(false);
        };
        let enrollment = sequence_enrollment::Entity::find_by_id(s.enrollment_id)
            .filter(sequence_enrollment::Column::OrgId.eq(s.org_id))
            .one(&txn)
            .await?;
        let lead = match enrollment {
            Some(e) => {
                lead::Entity::find_by_id(e.lead_id)
                    .filter(lead::Column::OrgId.eq(s.org_id))
                    .one(&txn)
                    .await?
            }
            None => None,
        };
        // The lead (or the sequence) was deleted since: nothing left to track.
        let Some(lead) = lead else {
            return Ok(false);
        };
        apply(&txn, &s, &lead, activity, Utc::now()).await?;
        state.commit(txn, Wakes::Events).await?;
        Ok(true)
    }
}
