//! The `conversation.send` job: one per reply queued by `sendMessage`, sending it exactly once.
//!
//! Like campaign sends: **claim** `QUEUED → SENDING` (a conditional UPDATE, committed before the
//! SMTP transaction, so two runners never both send), one SMTP transaction through the
//! organization's server or the server mailer (`outreach::settings::Sender`), then **record**
//! `SENT` with a `conversation.message` (`delivery`) event. A crash between claim and record
//! leaves the row SENDING; the next attempt marks it UNCERTAIN and never sends it again (plain
//! SMTP cannot say whether the message arrived). A 4xx or an unreachable server puts the row
//! back to QUEUED and the attempt fails as retryable; a 5xx makes it FAILED with the answer.

use async_trait::async_trait;
use chrono::Utc;
use entity::{conversation, conversation_message};
use lettre::{
    message::{
        header::{ContentType, HeaderName, HeaderValue},
        Mailbox, MultiPart, SinglePart,
    },
    Message,
};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::messages::announce_message;
use crate::{
    domains::{
        conversations::types::{MessageAuthorKind, MessageStatus},
        outreach::settings::Sender,
    },
    error::AppResult,
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    state::{AppState, Wakes},
};

/// Job kind.
pub const KIND: &str = "conversation.send";

/// Payload of a `conversation.send` job.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    org_id: Uuid,
    message_id: Uuid,
}

/// The Message-ID of message row `id` of `conv`: `<id.conv@our-domain>`.
pub fn message_id(state: &AppState, conv: &conversation::Model, id: Uuid) -> String {
    let domain = conv
        .mailbox
        .as_deref()
        .and_then(|m| m.rsplit_once('@'))
        .map(|(_, d)| d.to_string())
        .unwrap_or_else(|| state.mailer.default_from().email.domain().to_string());
    format!("<{}.conv@{domain}>", id.simple())
}

/// Enqueues the send of `m` in the caller's transaction (one job per message).
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    m: &conversation_message::Model,
) -> AppResult<()> {
    let payload = serde_json::to_value(Payload {
        org_id: m.org_id,
        message_id: m.id,
    })?;
    queue::enqueue(
        conn,
        NewJob {
            org_id: Some(m.org_id),
            created_by: m.author_id,
            idempotency_key: Some(format!("{KIND}:{}", m.id)),
            max_attempts: 10,
            ..NewJob::new(KIND, payload)
        },
    )
    .await?;
    Ok(())
}

fn retry(e: impl std::fmt::Display) -> JobError {
    JobError::Retryable(e.to_string())
}

/// The RFC 5322 message of `m`: from the conversation's mailbox (or MAIL_FROM) to its address,
/// with the stored Message-ID, In-Reply-To and References.
fn build(
    state: &AppState,
    conv: &conversation::Model,
    m: &conversation_message::Model,
) -> Result<Message, String> {
    let from = match &conv.mailbox {
        Some(addr) => Mailbox::new(
            conv.mailbox_name.clone(),
            addr.parse()
                .map_err(|_| format!("invalid mailbox {addr}"))?,
        ),
        None => state.mailer.default_from().clone(),
    };
    let to = Mailbox::new(
        None,
        conv.email
            .parse()
            .map_err(|_| format!("invalid address {}", conv.email))?,
    );
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject.clone())
        .message_id(m.message_id.clone());
    if let Some(r) = &m.in_reply_to {
        b = b.in_reply_to(r.clone());
    }
    if let Some(r) = &m.reference_ids {
        b = b.references(r.clone());
    }
    if m.author_kind == MessageAuthorKind::Automation.as_str() {
        // RFC 3834 §5: an automatic reply says so, so other responders do not answer it.
        b = b.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-replied".into(),
        ));
    }
    let text = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .body(m.body_text.clone());
    match &m.body_html {
        Some(html) => b.multipart(
            MultiPart::alternative().singlepart(text).singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(html.clone()),
            ),
        ),
        None => b.singlepart(text),
    }
    .map_err(|e| e.to_string())
}

/// Sends queued conversation replies.
pub struct SendConversationMessage(pub AppState);

impl SendConversationMessage {
    /// Moves `id` from one of `from` to `to` (with `error`) and announces the delivery status;
    /// false when the row was in none of `from`.
    async fn finish(
        &self,
        id: Uuid,
        from: &[MessageStatus],
        to: MessageStatus,
        error: Option<String>,
    ) -> Result<bool, JobError> {
        let now = Utc::now();
        let txn = self.0.db.begin().await.map_err(retry)?;
        let mut q = conversation_message::Entity::update_many()
            .col_expr(
                conversation_message::Column::Status,
                Expr::value(to.as_str()),
            )
            .col_expr(conversation_message::Column::Error, Expr::value(error))
            .col_expr(conversation_message::Column::UpdatedAt, Expr::value(now));
        if to == MessageStatus::Sent {
            q = q.col_expr(conversation_message::Column::SentAt, Expr::value(Some(now)));
        }
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let n = q
            .filter(conversation_message::Column::Id.eq(id))
            .filter(conversation_message::Column::Status.is_in(from))
            .exec(&txn)
            .await
            .map_err(retry)?
            .rows_affected;
        if n == 0 {
            return Ok(false);
        }
        let m = conversation_message::Entity::find_by_id(id)
            .one(&txn)
            .await
            .map_err(retry)?;
        if let (Some(m), true) = (m, to != MessageStatus::Queued) {
            announce_message(&txn, &m, "delivery", None)
                .await
                .map_err(|e| retry(format!("{e:?}")))?;
        }
        self.0
            .commit(txn, Wakes::Events)
            .await
            .map_err(|e| retry(format!("{e:?}")))?;
        Ok(true)
    }

    /// One SMTP transaction for the claimed row `m`.
    async fn deliver(
        &self,
        conv: &conversation::Model,
        m: &conversation_message::Model,
    ) -> Result<Value, JobError> {
        let sending = [MessageStatus::Sending];
        let message = match build(&self.0, conv, m) {
            Ok(message) => message,
            Err(e) => {
                self.finish(m.id, &sending, MessageStatus::Failed, Some(e.clone()))
                    .await?;
                return Ok(json!({"failed": e}));
            }
        };
        let sender = match Sender::for_org(&self.0, m.org_id).await {
            Ok(s) => s,
            Err(e) => {
                self.finish(m.id, &sending, MessageStatus::Queued, None)
                    .await?;
                return Err(JobError::Retryable(e));
            }
        };
        let mid = m.message_id.clone().unwrap_or_default();
        match sender.send(message, &mid).await {
            Ok(()) => {
                let done = [MessageStatus::Sending, MessageStatus::Uncertain];
                self.finish(m.id, &done, MessageStatus::Sent, None).await?;
                Ok(json!({"sent": mid}))
            }
            Err(e) if e.is_transient() => {
                self.finish(m.id, &sending, MessageStatus::Queued, None)
                    .await?;
                Err(retry(e))
            }
            Err(e) => {
                let error = e.to_string();
                self.finish(m.id, &sending, MessageStatus::Failed, Some(error.clone()))
                    .await?;
                Ok(json!({"failed": error}))
            }
        }
    }
}

#[async_trait]
impl JobHandler for SendConversationMessage {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p: Payload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let db = &self.0.db;
        let Some(m) = conversation_message::Entity::find_by_id(p.message_id)
            .filter(conversation_message::Column::OrgId.eq(p.org_id))
            .one(db)
            .await
            .map_err(retry)?
        else {
            return Ok(json!({"skipped": "gone"}));
        };
        match MessageStatus::parse(&m.status) {
            Some(MessageStatus::Queued) => {}
            Some(MessageStatus::Sending) => {
                let note = "delivery uncertain: the sender stopped during the SMTP transaction; not resent to avoid a duplicate";
                let sending = [MessageStatus::Sending];
                self.finish(m.id, &sending, MessageStatus::Uncertain, Some(note.into()))
                    .await?;
                return Ok(json!({"uncertain": m.id}));
            }
            _ => return Ok(json!({"skipped": m.status})),
        }
        let Some(conv) = conversation::Entity::find_by_id(m.conversation_id)
            .filter(conversation::Column::OrgId.eq(p.org_id))
            .one(db)
            .await
            .map_err(retry)?
        else {
            return Ok(json!({"skipped": "gone"}));
        };
        // Claim: committed before the SMTP transaction.
        let claimed = conversation_message::Entity::update_many()
            .col_expr(
                conversation_message::Column::Status,
                Expr::value(MessageStatus::Sending.as_str()),
            )
            .filter(conversation_message::Column::Id.eq(m.id))
            .filter(conversation_message::Column::Status.eq(MessageStatus::Queued.as_str()))
            .exec(db)
            .await
            .map_err(retry)?
            .rows_affected;
        if claimed == 0 {
            return Ok(json!({"skipped": "claimed elsewhere"}));
        }
        self.deliver(&conv, &m).await
    }
}
