//! Inbound mail into conversations ([`ConversationInbox`], registered with outreach's inbound
//! endpoint as an `InboundMailSink`).
//!
//! The thread is found, in order, by: a Message-ID of In-Reply-To/References that one of the
//! organization's messages carries; the campaign recipient the reply matched (a new
//! conversation holding the campaign email, then the reply); the organization whose verified
//! sending domain (or a parent of it) receives the mail (a new conversation). Anything else is
//! not kept. A message whose Message-ID the organization already has is not stored again. A new
//! message reopens the conversation and counts as unread; it goes on the lead's timeline (a
//! campaign reply is already there as `email_reply`). An answerable message of an organization
//! with auto-responder rules enqueues the `conversation.auto_reply` job in the same transaction.

use async_trait::async_trait;
use chrono::Utc;
use entity::{
    campaign, campaign_recipient, conversation, conversation_message, lead, sending_domain,
};
use sea_orm::{
    sea_query::{Expr, ExprTrait},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    announce,
    auto::respond as auto,
    messages::{announce_message, insert, timeline, NewMessage},
};
use crate::{
    domains::{
        conversations::types::{
            ConversationChannel, ConversationStatus, MessageAuthorKind, MessageDirection,
            MessageStatus,
        },
        outreach::tracking::{InboundMail, InboundMailSink},
    },
    error::AppResult,
    state::{AppState, Wakes},
};

/// Keeps inbound mail in conversations.
pub struct ConversationInbox;

#[async_trait]
impl InboundMailSink for ConversationInbox {
    async fn receive(&self, state: &AppState, mail: &InboundMail) -> AppResult<bool> {
        receive(state, mail).await
    }
}

/// Where an inbound message goes.
enum Target {
    /// An existing conversation.
    Thread(conversation::Model),
    /// A new conversation from a campaign reply.
    Campaign(campaign_recipient::Model),
    /// A new conversation in `org`, received at `mailbox`.
    New { org: Uuid, mailbox: String },
}

impl Target {
    fn org(&self) -> Uuid {
        match self {
            Target::Thread(c) => c.org_id,
            Target::Campaign(r) => r.org_id,
            Target::New { org, .. } => *org,
        }
    }
}

/// The subject without its `Re:`/`Fwd:` prefixes.
fn base_subject(s: &str) -> String {
    let mut s = s.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let cut = ["re:", "aw:", "fw:", "fwd:"]
            .iter()
            .find(|p| lower.starts_with(**p))
            .map(|p| p.len());
        match cut {
            Some(n) => s = s[n..].trim_start(),
            None => return s.chars().take(300).collect(),
        }
    }
}

/// The organization whose verified sending domain (or a parent domain) receives `to`.
async fn org_of_address(
    conn: &impl ConnectionTrait,
    to: &[String],
) -> AppResult<Option<(Uuid, String)>> {
    for addr in to.iter().take(10) {
        let Some((_, domain)) = addr.rsplit_once('@') else {
            continue;
        };
        let labels: Vec<&str> = domain.split('.').collect();
        let candidates: Vec<String> = (0..labels.len().saturating_sub(1))
            .map(|i| labels[i..].join("."))
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let found = sending_domain::Entity::find()
            .filter(sending_domain::Column::Domain.is_in(candidates))
            .filter(sending_domain::Column::VerifiedAt.is_not_null())
            .order_by_asc(sending_domain::Column::CreatedAt)
            .one(conn)
            .await?;
        if let Some(d) = found {
            return Ok(Some((d.org_id, addr.clone())));
        }
    }
    Ok(None)
}

/// Finds where `mail` belongs; `None` when nothing claims it.
async fn target(txn: &DatabaseTransaction, mail: &InboundMail) -> AppResult<Option<Target>> {
    let recipient = match mail.recipient_id {
        Some(id) => campaign_recipient::Entity::find_by_id(id).one(txn).await?,
        None => None,
    };
    let mut ids: Vec<&String> = mail.in_reply_to.iter().chain(&mail.references).collect();
    ids.dedup();
    ids.truncate(50);
    if !ids.is_empty() {
        let mut q = conversation_message::Entity::find()
            .filter(conversation_message::Column::MessageId.is_in(ids.into_iter().cloned()))
            .order_by_desc(conversation_message::Column::Id);
        if let Some(r) = &recipient {
            q = q.filter(conversation_message::Column::OrgId.eq(r.org_id));
        }
        if let Some(m) = q.one(txn).await? {
            let conv = conversation::Entity::find_by_id(m.conversation_id)
                .filter(conversation::Column::OrgId.eq(m.org_id))
                .one(txn)
                .await?;
            if let Some(c) = conv {
                return Ok(Some(Target::Thread(c)));
            }
        }
    }
    if let Some(r) = recipient {
        return Ok(Some(Target::Campaign(r)));
    }
    Ok(org_of_address(txn, &mail.to)
        .await?
        .map(|(org, mailbox)| Target::New { org, mailbox }))
}

/// A new conversation row.
async fn open(
    txn: &DatabaseTransaction,
    org: Uuid,
    lead_id: Option<Uuid>,
    email: &str,
    subject: String,
    mailbox: Option<String>,
    mailbox_name: Option<String>,
) -> AppResult<conversation::Model> {
    let now = Utc::now();
    let conv = conversation::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org),
        lead_id: Set(lead_id),
        email: Set(email.to_lowercase()),
        subject: Set(if subject.is_empty() {
            "(no subject)".into()
        } else {
            subject
        }),
        status: Set(ConversationStatus::Open.as_str().into()),
        channel: Set(ConversationChannel::Email.as_str().into()),
        assignee_id: Set(None),
        labels: Set(json!([])),
        unread_count: Set(0),
        mailbox: Set(mailbox),
        mailbox_name: Set(mailbox_name),
        last_message_at: Set(None),
        created_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    announce(txn, &conv, "created", None).await?;
    Ok(conv)
}

/// A conversation for a reply to campaign recipient `r`, starting with the campaign email.
async fn from_campaign(
    txn: &DatabaseTransaction,
    r: &campaign_recipient::Model,
    mail: &InboundMail,
) -> AppResult<conversation::Model> {
    let c = campaign::Entity::find_by_id(r.campaign_id).one(txn).await?;
    let subject = mail
        .subject
        .as_deref()
        .map(base_subject)
        .filter(|s| !s.is_empty())
        .or_else(|| c.as_ref().map(|c| c.name.clone()))
        .unwrap_or_default();
    let (mailbox, name) = match &c {
        Some(c) => (Some(c.from_email.clone()), Some(c.from_name.clone())),
        None => (None, None),
    };
    let conv = open(txn, r.org_id, r.lead_id, &r.email, subject, mailbox, name).await?;
    let at = r.sent_at.unwrap_or_else(Utc::now);
    let first = NewMessage {
        direction: MessageDirection::Outbound,
        author_kind: MessageAuthorKind::Automation,
        author_id: Some(r.campaign_id),
        private: false,
        subject: conv.subject.clone(),
        body_text: String::new(),
        body_html: None,
        attachments: json!([]),
        message_id: Some(r.message_id.clone()),
        in_reply_to: None,
        references: None,
        campaign_id: Some(r.campaign_id),
        status: MessageStatus::Sent,
        at,
        sent_at: r.sent_at,
    };
    let m = insert(txn, &conv, Uuid::now_v7(), first).await?;
    announce_message(txn, &m, "created", None).await?;
    Ok(conv)
}

/// A conversation for a new mail from `from` to the organization's `mailbox`.
async fn from_new_mail(
    txn: &DatabaseTransaction,
    org: Uuid,
    mailbox: String,
    from: &str,
    mail: &InboundMail,
) -> AppResult<conversation::Model> {
    let lead = lead::Entity::find()
        .filter(lead::Column::OrgId.eq(org))
        .filter(lead::Column::Email.eq(from))
        .one(txn)
        .await?;
    let subject = base_subject(mail.subject.as_deref().unwrap_or(""));
    open(
        txn,
        org,
        lead.map(|l| l.id),
        from,
        subject,
        Some(mailbox),
        None,
    )
    .await
}

/// Keeps `mail` in its conversation; false when no organization claims it.
pub async fn receive(state: &AppState, mail: &InboundMail) -> AppResult<bool> {
    let Some(from) = mail.from.as_deref().filter(|f| f.contains('@')) else {
        return Ok(false);
    };
    let txn = state.db.begin().await?;
    let Some(target) = target(&txn, mail).await? else {
        return Ok(false);
    };
    if let Some(mid) = &mail.message_id {
        let seen = conversation_message::Entity::find()
            .filter(conversation_message::Column::OrgId.eq(target.org()))
            .filter(conversation_message::Column::MessageId.eq(mid.as_str()))
            .count(&txn)
            .await?;
        if seen > 0 {
            return Ok(true);
        }
    }
    let from_campaign_reply = mail.recipient_id.is_some();
    let conv = match target {
        Target::Thread(c) => c,
        Target::Campaign(r) => from_campaign(&txn, &r, mail).await?,
        Target::New { org, mailbox } => from_new_mail(&txn, org, mailbox, from, mail).await?,
    };
    let now = Utc::now();
    let references = (!mail.references.is_empty()).then(|| mail.references.join(" "));
    let m = NewMessage {
        direction: MessageDirection::Inbound,
        author_kind: MessageAuthorKind::Lead,
        author_id: conv.lead_id,
        private: false,
        subject: mail.subject.clone().unwrap_or_else(|| conv.subject.clone()),
        body_text: mail.text.clone(),
        body_html: mail.html.clone(),
        attachments: Value::Array(mail.attachments.clone()),
        message_id: mail.message_id.clone(),
        in_reply_to: mail.in_reply_to.first().cloned(),
        references,
        campaign_id: None,
        status: MessageStatus::Received,
        at: now,
        sent_at: None,
    };
    let m = insert(&txn, &conv, Uuid::now_v7(), m).await?;
    let reopened = conv.status != ConversationStatus::Open.as_str();
    // One statement, so concurrent replies each count.
    conversation::Entity::update_many()
        .col_expr(
            conversation::Column::UnreadCount,
            Expr::col(conversation::Column::UnreadCount).add(1),
        )
        .col_expr(
            conversation::Column::Status,
            Expr::value(ConversationStatus::Open.as_str()),
        )
        .col_expr(conversation::Column::LastMessageAt, Expr::value(Some(now)))
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
        .filter(conversation::Column::Id.eq(conv.id))
        .exec(&txn)
        .await?;
    let conv = conversation::Entity::find_by_id(conv.id)
        .one(&txn)
        .await?
        .ok_or(crate::error::AppError::NotFound("conversation"))?;
    announce_message(&txn, &m, "created", None).await?;
    if reopened {
        announce(&txn, &conv, "status", None).await?;
    }
    if !from_campaign_reply {
        timeline(&txn, &conv, &m, None).await?;
    }
    let wakes = if !auto::never_answer(state, &conv, mail, from) && auto::enqueue(&txn, &m).await? {
        Wakes::Jobs
    } else {
        Wakes::Events
    };
    state.commit(txn, wakes).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_lose_their_reply_prefixes() {
        assert_eq!(base_subject("Re: RE: Fwd: Pricing"), "Pricing");
        assert_eq!(base_subject("  Hello "), "Hello");
        assert_eq!(base_subject("Re:"), "");
    }
}
