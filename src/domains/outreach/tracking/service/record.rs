//! [`record`]: applies any email event (opens and clicks from the tracking endpoints, provider
//! webhooks, inbound replies and bounces) in one transaction: the `email_events` row, the
//! recipient (status only moves forward SENT < OPENED < CLICKED < REPLIED; UNSUBSCRIBED/BOUNCED
//! override; a click also counts as an open; a soft bounce never downgrades a hard one), the
//! suppression list (unsubscribe, hard bounce, complaint), the lead timeline (`email_open` on the
//! first open, every click, reply, bounce, unsubscribe) and a `campaign.activity` event.

use chrono::Utc;
use entity::{campaign_recipient, email_event, lead, lead_interaction};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    domains::outreach::{
        settings::{insert_suppression, SuppressionReason},
        types::RecipientStatus,
    },
    error::AppResult,
    events::{outbox, CampaignActivity, DomainEvent, EventEnvelope},
    state::{AppState, Wakes},
};

/// Something that happened to a sent email.
#[derive(Debug, Clone)]
pub enum Activity {
    /// The pixel loaded.
    Open,
    /// A link was followed.
    Click(String),
    /// The lead unsubscribed (`source`: `link`, `one-click`, a provider).
    Unsubscribe(String),
    /// The message bounced.
    Bounce {
        /// Permanent (hard) or temporary (soft).
        hard: bool,
        /// The server's reason.
        reason: String,
        /// Where we learned it (`sendgrid`, `mailgun`, `dsn`).
        source: String,
    },
    /// The lead replied.
    Reply {
        /// From address of the reply.
        from: Option<String>,
        /// Its subject.
        subject: Option<String>,
    },
    /// The lead marked it as spam (provider feedback).
    Complaint(String),
}

impl Activity {
    fn kind(&self) -> &'static str {
        match self {
            Activity::Open => "open",
            Activity::Click(_) => "click",
            Activity::Unsubscribe(_) => "unsubscribe",
            Activity::Bounce { .. } => "bounce",
            Activity::Reply { .. } => "reply",
            Activity::Complaint(_) => "complaint",
        }
    }

    fn data(&self) -> Value {
        match self {
            Activity::Open => json!({}),
            Activity::Click(url) => json!({"url": url}),
            Activity::Unsubscribe(source) => json!({"source": source}),
            Activity::Bounce {
                hard,
                reason,
                source,
            } => {
                json!({"bounce": if *hard { "hard" } else { "soft" }, "reason": reason, "source": source})
            }
            Activity::Reply { from, subject } => json!({"from": from, "subject": subject}),
            Activity::Complaint(source) => json!({"source": source}),
        }
    }
}

/// What one activity changes on its recipient row.
struct Change {
    /// The updated row.
    row: campaign_recipient::ActiveModel,
    /// Whether the lead timeline gets an entry (e.g. only the first open).
    timeline: bool,
    /// The suppression reason to add, if any.
    suppress: Option<SuppressionReason>,
}

/// The recipient row after `activity`: counters, first-event times and the status (only moved
/// forward, except that UNSUBSCRIBED and BOUNCED override).
fn apply(
    activity: &Activity,
    r: &campaign_recipient::Model,
    status: RecipientStatus,
    now: chrono::DateTime<Utc>,
) -> Change {
    let advance = |to: RecipientStatus| -> Option<RecipientStatus> {
        (to.rank() > status.rank() && status.rank() > 0).then_some(to)
    };
    let mut a: campaign_recipient::ActiveModel = r.clone().into();
    let mut timeline = true;
    let mut suppress: Option<SuppressionReason> = None;
    match activity {
        Activity::Open => {
            a.open_count = Set(r.open_count + 1);
            timeline = r.opened_at.is_none();
            if r.opened_at.is_none() {
                a.opened_at = Set(Some(now));
            }
            if let Some(s) = advance(RecipientStatus::Opened) {
                a.status = Set(s.as_str().into());
            }
        }
        Activity::Click(_) => {
            a.click_count = Set(r.click_count + 1);
            if r.clicked_at.is_none() {
                a.clicked_at = Set(Some(now));
            }
            // A click proves the email was opened, even with images blocked.
            if r.opened_at.is_none() {
                a.opened_at = Set(Some(now));
            }
            if let Some(s) = advance(RecipientStatus::Clicked) {
                a.status = Set(s.as_str().into());
            }
        }
        Activity::Reply { .. } => {
            if r.replied_at.is_none() {
                a.replied_at = Set(Some(now));
            }
            if let Some(s) = advance(RecipientStatus::Replied) {
                a.status = Set(s.as_str().into());
            }
        }
        Activity::Unsubscribe(_) | Activity::Complaint(_) => {
            timeline = r.unsubscribed_at.is_none();
            if r.unsubscribed_at.is_none() {
                a.unsubscribed_at = Set(Some(now));
            }
            if status != RecipientStatus::Bounced {
                a.status = Set(RecipientStatus::Unsubscribed.as_str().into());
            }
            suppress = Some(if matches!(activity, Activity::Complaint(_)) {
                SuppressionReason::Complaint
            } else {
                SuppressionReason::Unsubscribe
            });
        }
        Activity::Bounce { hard, .. } => {
            a.bounced_at = Set(Some(now));
            // A soft bounce never overrides a hard one.
            if *hard || r.bounce_kind.as_deref() != Some("hard") {
                a.bounce_kind = Set(Some(if *hard { "hard" } else { "soft" }.into()));
            }
            if *hard {
                a.status = Set(RecipientStatus::Bounced.as_str().into());
                suppress = Some(SuppressionReason::HardBounce);
            }
        }
    }
    a.last_event_at = Set(Some(now));
    a.updated_at = Set(now);
    Change {
        row: a,
        timeline,
        suppress,
    }
}

/// Writes `email_<kind>` on the lead's timeline, when the lead still exists in the recipient's
/// organization.
async fn timeline(
    txn: &DatabaseTransaction,
    r: &campaign_recipient::Model,
    lead_id: Uuid,
    kind: &str,
    mut data: Value,
    now: chrono::DateTime<Utc>,
) -> AppResult<()> {
    let exists = lead::Entity::find_by_id(lead_id)
        .filter(lead::Column::OrgId.eq(r.org_id))
        .one(txn)
        .await?
        .is_some();
    if exists {
        data["campaignId"] = json!(r.campaign_id);
        lead_interaction::ActiveModel {
            id: Set(Uuid::now_v7()),
            lead_id: Set(lead_id),
            org_id: Set(r.org_id),
            kind: Set(format!("email_{kind}")),
            actor_id: Set(None),
            data: Set(data),
            created_at: Set(now),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// Applies `activity` to recipient `recipient_id`: stores the event, moves the recipient
/// forward, adds suppressions (unsubscribe, hard bounce, complaint), writes the lead timeline and
/// records `campaign.activity`, all in one transaction. An id that names no recipient goes to the
/// registered [`super::others`] senders. Returns false when nobody sent a message with that id
/// (nothing is recorded then).
pub async fn record(state: &AppState, recipient_id: Uuid, activity: Activity) -> AppResult<bool> {
    let txn = state.db.begin().await?;
    let Some(r) = campaign_recipient::Entity::find_by_id(recipient_id)
        .one(&txn)
        .await?
    else {
        drop(txn);
        // Not a campaign recipient: perhaps another sender's message (a sequence step).
        return super::others::record(state, recipient_id, &activity).await;
    };
    let status = RecipientStatus::parse(&r.status).unwrap_or(RecipientStatus::Pending);
    if r.sent_at.is_none() && status != RecipientStatus::Uncertain {
        return Ok(false);
    }
    let now = Utc::now();
    let kind = activity.kind();
    let data = activity.data();
    email_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        recipient_id: Set(r.id),
        campaign_id: Set(r.campaign_id),
        org_id: Set(r.org_id),
        lead_id: Set(r.lead_id),
        kind: Set(kind.into()),
        data: Set(data.clone()),
        at: Set(now),
    }
    .insert(&txn)
    .await?;
    let change = apply(&activity, &r, status, now);
    change.row.update(&txn).await?;
    if let Some(reason) = change.suppress {
        let data = json!({"campaignId": r.campaign_id, "recipientId": r.id});
        insert_suppression(&txn, r.org_id, &r.email.to_lowercase(), reason, data).await?;
    }
    if let (true, Some(lead_id)) = (change.timeline, r.lead_id) {
        timeline(&txn, &r, lead_id, kind, data, now).await?;
    }
    let activity = CampaignActivity {
        campaign_id: r.campaign_id,
        recipient_id: r.id,
        lead_id: r.lead_id,
        kind: kind.into(),
    };
    let env = EventEnvelope::new(r.org_id, None, DomainEvent::CampaignActivity(activity));
    outbox::record(&txn, &env).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(true)
}

/// The recipient with Message-ID `id` (with or without angle brackets).
pub async fn recipient_by_message_id(state: &AppState, id: &str) -> AppResult<Option<Uuid>> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    if id.is_empty() || id.len() > 250 {
        return Ok(None);
    }
    Ok(campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::MessageId.eq(format!("<{id}>")))
        .one(&state.db)
        .await?
        .map(|r| r.id))
}
