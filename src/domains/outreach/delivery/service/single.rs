//! One message outside a campaign run (a sequence step): the same deliverability gate as a
//! campaign recipient (the suppression list, an UNDELIVERABLE verdict on the address), the same
//! rendering and headers ([`super::message::compose`]: lead variables, tracked links, open pixel,
//! `List-Unsubscribe` + one-click, the unsubscribe footer) and the same transport
//! (`settings::Sender`: the organization's server or the mailer's pool).
//!
//! Exactly-once is the caller's: it claims its own row (committed) before calling [`send_single`]
//! and records the outcome after it, like `campaign.send` does with its recipients.

use chrono::{DateTime, Utc};
use entity::{email_suppression, email_template, lead, organization};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::message::{compose, mailbox_of, Parts};
use crate::{
    domains::{
        leads,
        outreach::{
            settings::Sender,
            templates::{content_of, lead_vars},
        },
    },
    state::AppState,
};

/// One message to one lead.
pub struct SingleMessage<'a> {
    /// The organization sending it (the template and the suppression list are its own).
    pub org_id: Uuid,
    /// The template to render.
    pub template_id: Uuid,
    /// The lead (its address receives the message).
    pub lead: &'a lead::Model,
    /// Our Message-ID (`<…@domain>`).
    pub message_id: &'a str,
    /// The id the tracking tokens are signed for.
    pub token: Uuid,
}

/// How a single send ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SingleOutcome {
    /// Accepted by the SMTP server.
    Sent,
    /// Not sent: the address is suppressed (`unsubscribe`, `hard_bounce`, `complaint`, …) or
    /// known undeliverable (`undeliverable: …`).
    Suppressed(String),
    /// Not sent and not worth retrying: no address, the template is gone or fails to render, or
    /// a 5xx answer.
    Failed(String),
    /// Not sent, try again later (unreachable server, 4xx).
    Transient(String),
}

/// Sends `m` through the campaign delivery path (gate, compose, transport). Database errors are
/// returned; everything about the message is in the outcome.
pub async fn send_single(state: &AppState, m: SingleMessage<'_>) -> Result<SingleOutcome, DbErr> {
    let Some(email) = m.lead.email.clone().filter(|e| !e.is_empty()) else {
        return Ok(SingleOutcome::Failed(
            "the lead has no email address".into(),
        ));
    };
    let suppressed = email_suppression::Entity::find()
        .filter(email_suppression::Column::OrgId.eq(m.org_id))
        .filter(email_suppression::Column::Email.eq(email.to_lowercase()))
        .one(&state.db)
        .await?;
    if let Some(s) = suppressed {
        return Ok(SingleOutcome::Suppressed(s.reason));
    }
    if let Some(reason) = leads::undeliverable_reason(m.lead) {
        return Ok(SingleOutcome::Suppressed(format!(
            "undeliverable: {reason}"
        )));
    }
    let Some(t) = email_template::Entity::find_by_id(m.template_id)
        .filter(email_template::Column::OrgId.eq(m.org_id))
        .one(&state.db)
        .await?
    else {
        return Ok(SingleOutcome::Failed("the template was deleted".into()));
    };
    let organization = organization::Entity::find_by_id(m.org_id)
        .one(&state.db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let to = match mailbox_of(&email, Some(m.lead)) {
        Ok(to) => to,
        Err(e) => return Ok(SingleOutcome::Failed(e)),
    };
    let content = content_of(&t);
    let parts = Parts {
        content: &content,
        vars: lead_vars(m.lead),
        from: state.mailer.default_from(),
        reply_to: None,
        organization: &organization,
        to,
        message_id: m.message_id,
        token: m.token,
    };
    let message = match compose(&state.config, parts) {
        Ok(message) => message,
        Err(e) => return Ok(SingleOutcome::Failed(e)),
    };
    let sender = match Sender::for_org(state, m.org_id).await {
        Ok(s) => s,
        Err(e) => return Ok(SingleOutcome::Transient(e)),
    };
    Ok(match sender.send(message, m.message_id).await {
        Ok(()) => SingleOutcome::Sent,
        Err(e) if e.is_transient() => SingleOutcome::Transient(e.to_string()),
        Err(e) => SingleOutcome::Failed(e.to_string()),
    })
}

/// Records a single message as sent on the lead: its `email_sent` timeline entry (`data`) and
/// `last_contacted_at`, in the caller's transaction.
pub async fn record_single_sent(
    conn: &impl ConnectionTrait,
    lead: &lead::Model,
    data: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    super::recipient::note_sent(conn, lead, data, now).await
}
