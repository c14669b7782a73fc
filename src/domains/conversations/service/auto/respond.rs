//! The auto-responder at work: inbound mail → the `conversation.auto_reply` job → at most one
//! automatic reply per conversation per cooldown.
//!
//! - **Loop safety** ([`never_answer`], decided when the message arrives): nothing is answered
//!   that carries `Auto-Submitted` other than `no` (RFC 3834 §2), `Precedence: bulk/list/junk`,
//!   comes from `mailer-daemon`/`postmaster` (bounces; DSNs never reach conversations at all)
//!   or from our own address (the conversation's mailbox, its domain, or the server's sender).
//!   Our own automatic replies carry `Auto-Submitted: auto-replied` (`send.rs`).
//! - **Enqueue**: an answerable inbound message of an organization with an enabled rule enqueues
//!   one `conversation.auto_reply` job (idempotency key = the message row) in the inbound
//!   transaction, so a stored message is never left unevaluated, and the AI provider is never
//!   called inside the inbound transaction.
//! - **The job**: the first enabled rule by priority (then age) whose keyword occurs in the
//!   lowercase subject + text acts. Its action runs in one transaction that first **claims the
//!   cooldown**: one conditional upsert on `auto_reply_cooldowns` (`ON CONFLICT (conversation)
//!   DO UPDATE … WHERE replied_at <= now - cooldown`), so of three replies arriving together
//!   exactly one claims the window and the others see zero rows changed — no read-then-write.
//!   REPLY_WITH_TEMPLATE renders the rule's outreach template for the lead and queues the reply
//!   (`conversation.send`, threaded on the triggering message) in that transaction. AI_REPLY
//!   asks the ai domain's provider for a draft first (as the rule's author), then claims and
//!   stores the draft with an AI_REPLY approval request (`approvals::require_approval`); the
//!   approval subject ([`super::subject`]) queues it once approved.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use entity::{
    auto_reply, auto_reply_cooldown, auto_responder_rule, conversation, conversation_message,
};
use sea_orm::{
    sea_query::{Expr, ExprTrait, OnConflict},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    auth::{Role, Viewer, ViewerVia},
    domains::{
        ai::{generate_reply, types::GenerateReplyInput},
        approvals::{require_approval, types::ApprovalResourceType, GatedResource},
        conversations::{
            service::{
                messages::{
                    announce_message, insert, reply_subject, thread_headers, timeline, NewMessage,
                },
                send,
            },
            types::{
                AutoReplyStatus, AutoResponderAction, MessageAuthorKind, MessageDirection,
                MessageStatus,
            },
        },
        outreach::{templates, tracking::InboundMail},
    },
    error::{AppError, AppResult},
    events::{outbox, AutoReplyChanged, DomainEvent, EventEnvelope},
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    state::{AppState, Wakes},
};

/// Job kind.
pub const KIND: &str = "conversation.auto_reply";

/// Longest part of the inbound message handed to the AI provider (characters).
const AI_CONTEXT_CHARS: usize = 4_000;

/// Payload of a `conversation.auto_reply` job.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    org_id: Uuid,
    message_id: Uuid,
}

/// Whether `mail` (from `from`, into `conv`) must never get an automatic reply.
pub fn never_answer(
    state: &AppState,
    conv: &conversation::Model,
    mail: &InboundMail,
    from: &str,
) -> bool {
    if mail.auto_submitted.as_deref().is_some_and(|v| v != "no") {
        return true;
    }
    if mail
        .precedence
        .as_deref()
        .is_some_and(|p| matches!(p, "bulk" | "list" | "junk"))
    {
        return true;
    }
    let from = from.trim().to_ascii_lowercase();
    let (local, domain) = from.rsplit_once('@').unwrap_or((from.as_str(), ""));
    if matches!(local, "mailer-daemon" | "postmaster") {
        return true;
    }
    let server = state
        .mailer
        .default_from()
        .email
        .to_string()
        .to_ascii_lowercase();
    let mailbox = conv.mailbox.as_deref().unwrap_or("").to_ascii_lowercase();
    let mailbox_domain = mailbox.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    from == server || from == mailbox || (!domain.is_empty() && domain == mailbox_domain)
}

/// Enqueues the auto-responder's look at inbound message `m` (in the inbound transaction) when
/// its organization has an enabled rule; true when it did.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    m: &conversation_message::Model,
) -> AppResult<bool> {
    let rules = auto_responder_rule::Entity::find()
        .filter(auto_responder_rule::Column::OrgId.eq(m.org_id))
        .filter(auto_responder_rule::Column::Enabled.eq(true))
        .count(conn)
        .await?;
    if rules == 0 {
        return Ok(false);
    }
    let payload = serde_json::to_value(Payload {
        org_id: m.org_id,
        message_id: m.id,
    })?;
    queue::enqueue(
        conn,
        NewJob {
            org_id: Some(m.org_id),
            idempotency_key: Some(format!("{KIND}:{}", m.id)),
            max_attempts: 5,
            ..NewJob::new(KIND, payload)
        },
    )
    .await?;
    Ok(true)
}

/// Whether `rule` matches: one of its keywords occurs in `text` (lowercase).
fn matches(rule: &auto_responder_rule::Model, text: &str) -> bool {
    rule.keywords
        .as_array()
        .is_some_and(|k| k.iter().filter_map(Value::as_str).any(|k| text.contains(k)))
}

/// Claims the conversation's cooldown window in `conn` (the action's transaction): true when
/// no automatic reply went out within `minutes` before `now`, and moves the window to `now`.
pub(crate) async fn claim(
    conn: &impl ConnectionTrait,
    conv: &conversation::Model,
    minutes: i32,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let since = now - Duration::minutes(i64::from(minutes));
    let row = auto_reply_cooldown::ActiveModel {
        conversation_id: Set(conv.id),
        org_id: Set(conv.org_id),
        replied_at: Set(now),
    };
    let changed = auto_reply_cooldown::Entity::insert(row)
        .on_conflict(
            OnConflict::column(auto_reply_cooldown::Column::ConversationId)
                .update_column(auto_reply_cooldown::Column::RepliedAt)
                .action_and_where(
                    Expr::col((
                        auto_reply_cooldown::Entity,
                        auto_reply_cooldown::Column::RepliedAt,
                    ))
                    .lte(since),
                )
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(changed > 0)
}

/// A reply to write: subject, bodies, and its planned row id and Message-ID.
pub(crate) struct Reply {
    pub(crate) id: Uuid,
    pub(crate) mid: String,
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: Option<String>,
}

/// Stores `reply` QUEUED in `conv`, threaded on `trigger`, written by `rule`, and enqueues its
/// `conversation.send` job, in the caller's transaction.
pub(crate) async fn queue_reply(
    conn: &impl ConnectionTrait,
    conv: &conversation::Model,
    trigger: &conversation_message::Model,
    rule: Option<Uuid>,
    reply: Reply,
) -> AppResult<conversation_message::Model> {
    let now = Utc::now();
    let (in_reply_to, references) = thread_headers(Some(trigger));
    let m = NewMessage {
        direction: MessageDirection::Outbound,
        author_kind: MessageAuthorKind::Automation,
        author_id: rule,
        private: false,
        subject: reply.subject,
        body_text: reply.text,
        body_html: reply.html,
        attachments: json!([]),
        message_id: Some(reply.mid),
        in_reply_to,
        references,
        campaign_id: None,
        status: MessageStatus::Queued,
        at: now,
        sent_at: None,
    };
    let m = insert(conn, conv, reply.id, m).await?;
    send::enqueue(conn, &m).await?;
    timeline(conn, conv, &m, None).await?;
    conversation::Entity::update_many()
        .col_expr(conversation::Column::LastMessageAt, Expr::value(Some(now)))
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
        .filter(conversation::Column::Id.eq(conv.id))
        .exec(conn)
        .await?;
    announce_message(conn, &m, "created", None).await?;
    Ok(m)
}

/// Records `conversation.auto_reply` for `a` as it is now.
pub(crate) async fn announce(
    conn: &impl ConnectionTrait,
    a: &auto_reply::Model,
    user: Option<Uuid>,
) -> AppResult<()> {
    let event = DomainEvent::ConversationAutoReply(AutoReplyChanged {
        conversation_id: a.conversation_id,
        auto_reply_id: a.id,
        rule_id: a.rule_id,
        action: a.action.clone(),
        status: a.status.clone(),
    });
    outbox::record(conn, &EventEnvelope::new(a.org_id, user, event)).await
}

/// The auto reply row of `trigger` by `rule`.
fn auto_reply_row(
    rule: &auto_responder_rule::Model,
    trigger: &conversation_message::Model,
    status: AutoReplyStatus,
    reply: &Reply,
) -> auto_reply::ActiveModel {
    let now = Utc::now();
    auto_reply::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(rule.org_id),
        rule_id: Set(Some(rule.id)),
        conversation_id: Set(trigger.conversation_id),
        trigger_message_id: Set(trigger.id),
        action: Set(rule.action.clone()),
        status: Set(status.as_str().into()),
        subject: Set(reply.subject.clone()),
        body_text: Set(reply.text.clone()),
        approval_request_id: Set(None),
        reply_message_id: Set(Some(reply.id)),
        reply_mid: Set(reply.mid.clone()),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

fn retry(e: impl std::fmt::Debug) -> JobError {
    JobError::Retryable(format!("{e:?}"))
}

/// Runs the auto-responder on inbound messages.
pub struct AutoReply(pub AppState);

/// What one job looks at.
struct Work<'a> {
    state: &'a AppState,
    rule: auto_responder_rule::Model,
    conv: conversation::Model,
    trigger: conversation_message::Model,
    /// The rule's author, acting for the rule (renders and AI calls are scoped by it).
    viewer: Viewer,
}

impl Work<'_> {
    fn planned(&self, text: String, html: Option<String>) -> Reply {
        let id = Uuid::now_v7();
        Reply {
            id,
            mid: send::message_id(self.state, &self.conv, id),
            subject: reply_subject(&self.conv.subject),
            text,
            html,
        }
    }

    /// REPLY_WITH_TEMPLATE: render, then claim + queue in one transaction.
    async fn template_reply(&self) -> Result<Value, JobError> {
        let Some(tid) = self.rule.template_id else {
            return Ok(json!({"skipped": "no template"}));
        };
        let t = match templates::get(&self.state.db, &self.viewer, tid).await {
            Ok(t) => t,
            Err(AppError::NotFound(_)) => return Ok(json!({"skipped": "template gone"})),
            Err(e) => return Err(retry(e)),
        };
        let lead = self.conv.lead_id;
        let mut ctx = templates::preview_context(self.state, &self.viewer, lead, None)
            .await
            .map_err(retry)?;
        if lead.is_none() {
            ctx["lead"] = json!({});
        }
        let r = match templates::render_or_invalid(&templates::content_of(&t), &ctx).await {
            Ok(r) => r,
            Err(e) => return Ok(json!({"failed": e.public_message()})),
        };
        let html = (!r.html.trim().is_empty()).then_some(r.html);
        let reply = self.planned(r.text, html);
        let txn = self.state.db.begin().await.map_err(retry)?;
        if !claim(&txn, &self.conv, self.rule.cooldown_minutes, Utc::now())
            .await
            .map_err(retry)?
        {
            return Ok(json!({"skipped": "cooldown"}));
        }
        let row = auto_reply_row(&self.rule, &self.trigger, AutoReplyStatus::Queued, &reply);
        let a = row.insert(&txn).await.map_err(retry)?;
        let m = queue_reply(&txn, &self.conv, &self.trigger, Some(self.rule.id), reply)
            .await
            .map_err(retry)?;
        announce(&txn, &a, None).await.map_err(retry)?;
        self.state.commit(txn, Wakes::Jobs).await.map_err(retry)?;
        Ok(json!({"queued": m.id}))
    }

    /// AI_REPLY: a draft from the provider, then claim + draft + approval request in one
    /// transaction. Threads without a lead are not drafted (the provider writes for a lead).
    async fn ai_draft(&self) -> Result<Value, JobError> {
        let Some(lead) = self.conv.lead_id else {
            return Ok(json!({"skipped": "no lead"}));
        };
        let context: String = format!("{}\n\n{}", self.trigger.subject, self.trigger.body_text)
            .chars()
            .take(AI_CONTEXT_CHARS)
            .collect();
        let input = GenerateReplyInput {
            lead_id: async_graphql::ID(lead.to_string()),
            conversation_context: Some(context),
            tone: None,
            template_id: None,
        };
        let draft = match generate_reply(self.state, &self.viewer, input).await {
            Ok((d, _)) => d,
            Err(e @ (AppError::Unavailable(_) | AppError::Internal(_))) => return Err(retry(e)),
            Err(e) => return Ok(json!({"failed": e.public_message()})),
        };
        let reply = self.planned(draft.body, None);
        let txn = self.state.db.begin().await.map_err(retry)?;
        if !claim(&txn, &self.conv, self.rule.cooldown_minutes, Utc::now())
            .await
            .map_err(retry)?
        {
            return Ok(json!({"skipped": "cooldown"}));
        }
        let row = auto_reply_row(
            &self.rule,
            &self.trigger,
            AutoReplyStatus::PendingApproval,
            &reply,
        );
        let a = row.insert(&txn).await.map_err(retry)?;
        let gated = GatedResource {
            resource_type: ApprovalResourceType::AiReply,
            resource_id: a.id.to_string(),
            title: format!("AI reply to {}", self.conv.email),
            description: Some(reply.text.clone()),
            facts: json!({
                "ruleId": self.rule.id,
                "ruleName": self.rule.name,
                "conversationId": self.conv.id,
                "to": self.conv.email,
                "subject": reply.subject,
                "draft": reply.text,
            }),
            snapshot: None,
        };
        let request = require_approval(&txn, self.conv.org_id, None, gated, Role::Manager)
            .await
            .map_err(retry)?;
        let mut am: auto_reply::ActiveModel = a.into();
        am.approval_request_id = Set(Some(request));
        let a = am.update(&txn).await.map_err(retry)?;
        announce(&txn, &a, None).await.map_err(retry)?;
        self.state.commit(txn, Wakes::Jobs).await.map_err(retry)?;
        Ok(json!({"approvalRequest": request}))
    }
}

impl AutoReply {
    /// The inbound message, its conversation and the rule that acts on it, if any.
    async fn work(&self, p: &Payload) -> Result<Option<Work<'_>>, JobError> {
        let db = &self.0.db;
        let Some(trigger) = conversation_message::Entity::find_by_id(p.message_id)
            .filter(conversation_message::Column::OrgId.eq(p.org_id))
            .one(db)
            .await
            .map_err(retry)?
        else {
            return Ok(None);
        };
        let Some(conv) = conversation::Entity::find_by_id(trigger.conversation_id)
            .filter(conversation::Column::OrgId.eq(p.org_id))
            .one(db)
            .await
            .map_err(retry)?
        else {
            return Ok(None);
        };
        let text = format!("{}\n{}", trigger.subject, trigger.body_text).to_lowercase();
        let rule = auto_responder_rule::Entity::find()
            .filter(auto_responder_rule::Column::OrgId.eq(p.org_id))
            .filter(auto_responder_rule::Column::Enabled.eq(true))
            .order_by_asc(auto_responder_rule::Column::Priority)
            .order_by_asc(auto_responder_rule::Column::Id)
            .all(db)
            .await
            .map_err(retry)?
            .into_iter()
            .find(|r| matches(r, &text));
        let Some(rule) = rule else {
            return Ok(None);
        };
        let viewer = Viewer {
            user_id: rule.created_by.unwrap_or(Uuid::nil()),
            org_id: p.org_id,
            role: Role::Manager,
            via: ViewerVia::Jwt,
            session_id: None,
        };
        Ok(Some(Work {
            state: &self.0,
            rule,
            conv,
            trigger,
            viewer,
        }))
    }
}

#[async_trait]
impl JobHandler for AutoReply {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p: Payload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let Some(w) = self.work(&p).await? else {
            return Ok(json!({"matched": false}));
        };
        match AutoResponderAction::parse(&w.rule.action) {
            Some(AutoResponderAction::ReplyWithTemplate) => w.template_reply().await,
            Some(AutoResponderAction::AiReply) => w.ai_draft().await,
            None => Ok(json!({"skipped": w.rule.action})),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_match_anywhere_in_the_lowercase_text() {
        let now = Utc::now();
        let rule = auto_responder_rule::Model {
            id: Uuid::nil(),
            org_id: Uuid::nil(),
            name: "r".into(),
            keywords: json!(["pricing", "how much"]),
            action: "AI_REPLY".into(),
            template_id: None,
            cooldown_minutes: 1,
            enabled: true,
            priority: 0,
            created_by: None,
            created_at: now,
            updated_at: now,
        };
        assert!(matches(&rule, "re: hi\nwhat is your pricing?"));
        assert!(matches(&rule, "so how much is it"));
        assert!(!matches(&rule, "thanks, not interested"));
    }
}
