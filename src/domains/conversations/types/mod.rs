//! GraphQL types of conversations: `Conversation`, `ConversationMessage` (with reactions and
//! note edit history), their inputs and filters, the live `ConversationEvent`, and the
//! auto-responder's rules (`auto.rs`).

use async_graphql::{Enum, InputObject, Json, MaybeUndefined, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{conversation, conversation_message};
use uuid::Uuid;

use crate::events::{DomainEvent, EventEnvelope};

mod auto;

pub use auto::{
    AutoReplyStatus, AutoResponderAction, AutoResponderRule, CreateAutoResponderRuleInput,
    UpdateAutoResponderRuleInput,
};

/// Where a conversation stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationStatus {
    /// Waiting for the team.
    Open,
    /// Waiting for the lead.
    Pending,
    /// Put aside for later.
    Snoozed,
    /// Done; a new inbound message opens it again.
    Resolved,
}
crate::wire_enum!(ConversationStatus { Open => "OPEN", Pending => "PENDING", Snoozed => "SNOOZED", Resolved => "RESOLVED" });

/// The channel a conversation runs on.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationChannel {
    /// Email.
    Email,
}
crate::wire_enum!(ConversationChannel { Email => "EMAIL" });

/// Which way a message went.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageDirection {
    /// From the lead.
    Inbound,
    /// From the organization (replies, the campaign email, private notes).
    Outbound,
}
crate::wire_enum!(MessageDirection { Inbound => "INBOUND", Outbound => "OUTBOUND" });

/// Who wrote a message.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageAuthorKind {
    /// The lead.
    Lead,
    /// A member of the organization.
    User,
    /// A campaign or rule.
    Automation,
}
crate::wire_enum!(MessageAuthorKind { Lead => "LEAD", User => "USER", Automation => "AUTOMATION" });

/// Delivery status of a message.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    /// An inbound message.
    Received,
    /// A private note (never sent).
    Note,
    /// Waiting for the send job.
    Queued,
    /// Being handed to the mail server.
    Sending,
    /// Accepted by the mail server.
    Sent,
    /// Refused by the mail server.
    Failed,
    /// The sender stopped during the SMTP transaction: maybe delivered, never resent.
    Uncertain,
}
crate::wire_enum!(MessageStatus { Received => "RECEIVED", Note => "NOTE", Queued => "QUEUED", Sending => "SENDING", Sent => "SENT", Failed => "FAILED", Uncertain => "UNCERTAIN" });

/// A thread with one lead's address.
pub struct Conversation(pub conversation::Model);

impl From<conversation::Model> for Conversation {
    fn from(m: conversation::Model) -> Self {
        Conversation(m)
    }
}

#[Object]
impl Conversation {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The lead, when the address belongs to one.
    async fn lead_id(&self) -> Option<ID> {
        self.0.lead_id.map(|l| ID(l.to_string()))
    }
    /// The lead's address in this thread.
    async fn email(&self) -> &str {
        &self.0.email
    }
    /// Subject of the thread.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// Status.
    async fn status(&self) -> Option<ConversationStatus> {
        ConversationStatus::parse(&self.0.status)
    }
    /// Channel.
    async fn channel(&self) -> Option<ConversationChannel> {
        ConversationChannel::parse(&self.0.channel)
    }
    /// The member it is assigned to.
    async fn assignee_id(&self) -> Option<ID> {
        self.0.assignee_id.map(|a| ID(a.to_string()))
    }
    /// Labels.
    async fn labels(&self) -> Vec<String> {
        labels_of(&self.0.labels)
    }
    /// Inbound messages not read yet.
    async fn unread_count(&self) -> i32 {
        self.0.unread_count
    }
    /// Our address in the thread (replies are sent from it); null = the server's sender.
    async fn mailbox(&self) -> Option<&str> {
        self.0.mailbox.as_deref()
    }
    /// When the last message was added.
    async fn last_message_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_message_at
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// The labels stored as a JSON array.
pub fn labels_of(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// One emoji and who reacted with it.
#[derive(SimpleObject, Debug, Clone)]
pub struct MessageReaction {
    /// The emoji.
    pub emoji: String,
    /// Members who reacted with it.
    pub user_ids: Vec<ID>,
    /// How many.
    pub count: i32,
}

/// An earlier version of an edited note.
#[derive(SimpleObject, Debug, Clone)]
pub struct MessageEdit {
    /// The text before the edit.
    pub body_text: String,
    /// The HTML before the edit.
    pub body_html: Option<String>,
    /// When it was replaced.
    pub edited_at: Option<DateTime<Utc>>,
    /// Who replaced it.
    pub editor_id: Option<ID>,
}

/// One message of a conversation.
pub struct ConversationMessage(pub conversation_message::Model);

impl From<conversation_message::Model> for ConversationMessage {
    fn from(m: conversation_message::Model) -> Self {
        ConversationMessage(m)
    }
}

#[Object]
impl ConversationMessage {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The conversation.
    async fn conversation_id(&self) -> ID {
        ID(self.0.conversation_id.to_string())
    }
    /// Inbound or outbound.
    async fn direction(&self) -> Option<MessageDirection> {
        MessageDirection::parse(&self.0.direction)
    }
    /// Lead, user or automation.
    async fn author_kind(&self) -> Option<MessageAuthorKind> {
        MessageAuthorKind::parse(&self.0.author_kind)
    }
    /// The user, lead or campaign that wrote it.
    async fn author_id(&self) -> Option<ID> {
        self.0.author_id.map(|a| ID(a.to_string()))
    }
    /// A private note: never sent.
    async fn private(&self) -> bool {
        self.0.private
    }
    /// Subject.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// Plain-text body.
    async fn body_text(&self) -> &str {
        &self.0.body_text
    }
    /// HTML body.
    async fn body_html(&self) -> Option<&str> {
        self.0.body_html.as_deref()
    }
    /// Attachments' metadata (`[{name, contentType, size}]`).
    async fn attachments(&self) -> Json<serde_json::Value> {
        Json(self.0.attachments.clone())
    }
    /// RFC 5322 Message-ID (`<…>`).
    async fn message_id(&self) -> Option<&str> {
        self.0.message_id.as_deref()
    }
    /// The Message-ID it answers.
    async fn in_reply_to(&self) -> Option<&str> {
        self.0.in_reply_to.as_deref()
    }
    /// The thread's Message-IDs (References).
    async fn references(&self) -> Vec<String> {
        self.0
            .reference_ids
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(String::from)
            .collect()
    }
    /// The campaign whose email this is.
    async fn campaign_id(&self) -> Option<ID> {
        self.0.campaign_id.map(|c| ID(c.to_string()))
    }
    /// Delivery status.
    async fn status(&self) -> Option<MessageStatus> {
        MessageStatus::parse(&self.0.status)
    }
    /// Why it failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// Reactions, one entry per emoji.
    async fn reactions(&self) -> Vec<MessageReaction> {
        let Some(map) = self.0.reactions.as_object() else {
            return Vec::new();
        };
        map.iter()
            .map(|(emoji, users)| {
                let user_ids: Vec<ID> = users
                    .as_array()
                    .map(|a| a.iter().filter_map(|u| u.as_str()).map(ID::from).collect())
                    .unwrap_or_default();
                MessageReaction {
                    emoji: emoji.clone(),
                    count: i32::try_from(user_ids.len()).unwrap_or(i32::MAX),
                    user_ids,
                }
            })
            .collect()
    }
    /// Earlier versions of an edited note, oldest first.
    async fn edits(&self) -> Vec<MessageEdit> {
        let Some(list) = self.0.edits.as_array() else {
            return Vec::new();
        };
        list.iter()
            .map(|e| MessageEdit {
                body_text: e["bodyText"].as_str().unwrap_or_default().to_string(),
                body_html: e["bodyHtml"].as_str().map(String::from),
                edited_at: e["editedAt"]
                    .as_str()
                    .and_then(|t| t.parse::<DateTime<Utc>>().ok()),
                editor_id: e["editorId"].as_str().map(ID::from),
            })
            .collect()
    }
    /// Last edited (notes).
    async fn edited_at(&self) -> Option<DateTime<Utc>> {
        self.0.edited_at
    }
    /// When the mail server accepted it.
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.0.sent_at
    }
    /// Created (for the campaign email: when it was sent).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Filter of `conversations`.
#[derive(InputObject, Default, Debug)]
pub struct ConversationFilter {
    /// Only this status.
    pub status: Option<ConversationStatus>,
    /// Only those assigned to this member.
    pub assignee_id: Option<ID>,
    /// Only this lead's.
    pub lead_id: Option<ID>,
    /// Only with (true) or without (false) unread messages.
    pub unread: Option<bool>,
    /// Text in the subject, the address or any message body.
    pub search: Option<String>,
}

/// Input of `createConversation`.
#[derive(InputObject, Debug)]
pub struct CreateConversationInput {
    /// The lead (it needs an email address).
    pub lead_id: ID,
    /// Subject (1–300 characters).
    pub subject: String,
    /// A first message to send, if any.
    pub body: Option<String>,
}

/// Input of `updateConversation`: fields left out stay as they are.
#[derive(InputObject, Debug, Default)]
pub struct UpdateConversationInput {
    /// New status.
    pub status: Option<ConversationStatus>,
    /// A member of the organization, or null to unassign.
    pub assignee_id: MaybeUndefined<ID>,
    /// The labels (at most 20, each 1–50 characters).
    pub labels: Option<Vec<String>>,
}

/// Input of `sendMessage`.
#[derive(InputObject, Debug, Default)]
pub struct SendMessageInput {
    /// Plain-text body.
    pub body_text: Option<String>,
    /// HTML body.
    pub body_html: Option<String>,
    /// A private note: stored, never sent.
    #[graphql(default)]
    pub private: bool,
}

/// Input of `editMessage` (private notes only).
#[derive(InputObject, Debug, Default)]
pub struct EditMessageInput {
    /// New plain-text body.
    pub body_text: Option<String>,
    /// New HTML body.
    pub body_html: Option<String>,
}

/// Kind of a live conversation event.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationEventKind {
    /// A message was added, edited, reacted to, deleted or changed delivery status.
    Message,
    /// The conversation changed (status, assignee, labels), was read or deleted.
    Conversation,
}

/// A live event of `conversationEvents`.
pub struct ConversationEvent(pub EventEnvelope);

#[Object]
impl ConversationEvent {
    /// Event id; pass it as `after` to `events` to resume.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Message or conversation.
    async fn kind(&self) -> ConversationEventKind {
        match &self.0.event {
            DomainEvent::ConversationMessage(_) => ConversationEventKind::Message,
            _ => ConversationEventKind::Conversation,
        }
    }
    /// What happened: `created`, `edited`, `reacted`, `deleted`, `delivery` (messages);
    /// `created`, `status`, `assigned`, `labels`, `read`, `deleted` (conversations).
    async fn change(&self) -> Option<&str> {
        match &self.0.event {
            DomainEvent::ConversationMessage(m) => Some(m.kind.as_str()),
            DomainEvent::ConversationUpdated(c) => Some(c.kind.as_str()),
            _ => None,
        }
    }
    /// The conversation.
    async fn conversation_id(&self) -> Option<ID> {
        conversation_of(&self.0).map(|u| ID(u.to_string()))
    }
    /// The message (MESSAGE events).
    async fn message_id(&self) -> Option<ID> {
        match &self.0.event {
            DomainEvent::ConversationMessage(m) => Some(ID(m.message_id.to_string())),
            _ => None,
        }
    }
    /// The message's direction (MESSAGE events).
    async fn direction(&self) -> Option<MessageDirection> {
        match &self.0.event {
            DomainEvent::ConversationMessage(m) => MessageDirection::parse(&m.direction),
            _ => None,
        }
    }
    /// The message's delivery status (MESSAGE events).
    async fn message_status(&self) -> Option<MessageStatus> {
        match &self.0.event {
            DomainEvent::ConversationMessage(m) => MessageStatus::parse(&m.status),
            _ => None,
        }
    }
    /// The conversation's status (CONVERSATION events).
    async fn status(&self) -> Option<ConversationStatus> {
        match &self.0.event {
            DomainEvent::ConversationUpdated(c) => ConversationStatus::parse(&c.status),
            _ => None,
        }
    }
    /// Unread messages after the change (CONVERSATION events).
    async fn unread_count(&self) -> Option<i32> {
        match &self.0.event {
            DomainEvent::ConversationUpdated(c) => Some(c.unread_count),
            _ => None,
        }
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
}

/// The conversation an event is about.
pub fn conversation_of(env: &EventEnvelope) -> Option<Uuid> {
    match &env.event {
        DomainEvent::ConversationMessage(m) => Some(m.conversation_id),
        DomainEvent::ConversationUpdated(c) => Some(c.conversation_id),
        _ => None,
    }
}
