//! Conversations: the shared inbox. A **conversation** is a thread with one lead's address in
//! the organization (status OPEN/PENDING/SNOOZED/RESOLVED, assignee, labels, unread count,
//! channel EMAIL, our address in the thread); its **messages** are inbound mail, replies sent
//! from the inbox, the campaign email a reply thread started from, and private notes (never
//! sent; editable with history by their author or a manager). Messages carry direction,
//! author, bodies, attachments' metadata, Message-ID/In-Reply-To/References, delivery status
//! and reactions (emoji → users).
//!
//! - **Inbound** ([`service::inbound`]): outreach's `/webhooks/inbound-email` hands every
//!   non-DSN message to [`ConversationInbox`] (an `outreach::tracking::InboundMailSink`
//!   registered by [`register`]) before it records the campaign reply (the recipient is still
//!   marked REPLIED there). Threads are matched by Message-ID, then by the campaign recipient,
//!   then by the receiving verified sending domain; a Message-ID is stored once per
//!   organization.
//! - **Outbound** ([`service::send`]): `sendMessage` stores the reply QUEUED with its thread
//!   headers and `Re:` subject and enqueues `conversation.send` in the same transaction; the job
//!   claims the row before the SMTP transaction (exactly once; a crash leaves it UNCERTAIN,
//!   never resent) and sends through the organization's SMTP settings or the server mailer.
//! - **Events**: `conversation.message` and `conversation.updated` (visible with
//!   `ReadConversations`), on `events` and `conversationEvents(conversationId)`. Messages go on
//!   the lead's timeline as `conversation_message`.
//! - **Auto-responder** ([`service::auto`]): rules per organization (keywords or phrases
//!   matched case-insensitively over subject + text, an action REPLY_WITH_TEMPLATE or
//!   AI_REPLY, a cooldown per conversation, 24 h by default, enabled, priority); CRUD with
//!   `ManageAutoResponder` (MANAGER), events `auto_responder.rule` and audit entries. An
//!   answerable inbound message enqueues `conversation.auto_reply` ([`AutoReply`]); the first
//!   matching rule acts at most once per conversation per cooldown (a conditional upsert claims
//!   the window); never on `Auto-Submitted` other than `no`, bulk mail, bounces or our own
//!   address; our replies carry `Auto-Submitted: auto-replied`. A template reply is queued on
//!   `conversation.send`; an AI draft waits in an AI_REPLY approval request (this domain
//!   registers the subject) and is queued only when approved. Event: `conversation.auto_reply`.
//! - Tables `conversations`, `conversation_messages`, `auto_responder_rules`, `auto_replies`,
//!   `auto_reply_cooldowns`. Roles: `ReadConversations` (VIEWER; also read markers and rules),
//!   `WriteConversations` (MEMBER), `DeleteConversations` and `ManageAutoResponder` (MANAGER).
//!   Another organization's conversation, message or rule reads as missing.
//!
//! Place in the domain order: above `ai` (it reads leads, outreach's inbound endpoint, sender
//! and templates, ai's reply drafts and approvals' gate); nothing imports it.

mod resolver;
pub mod service;
pub mod types;

pub use resolver::{ConversationMutation, ConversationQuery, ConversationSubscription};
pub use service::{
    auto::respond::{AutoReply, KIND as AUTO_REPLY_KIND},
    inbound::ConversationInbox,
    send::{SendConversationMessage, KIND as SEND_KIND},
};

/// Registers the inbound mail sink with outreach's inbound endpoint and the AI_REPLY approval
/// subject; called once per start-up.
pub fn register() {
    crate::domains::outreach::tracking::register_inbound_sink("conversations", ConversationInbox);
    service::auto::subject::register();
}
