//! Messages of a conversation: the list, `sendMessage` (a private note is stored; anything else
//! is stored QUEUED with its thread headers and handed to the `conversation.send` job in the
//! same transaction), note edits with history, deletes, reactions, and the row every writer
//! (also inbound mail) inserts.

use chrono::{DateTime, Utc};
use entity::{conversation, conversation_message, lead, lead_interaction};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, Select, TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{get as get_conversation, send};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        conversations::types::{
            ConversationMessage, EditMessageInput, MessageAuthorKind, MessageDirection,
            MessageStatus, SendMessageInput,
        },
        leads::Check,
    },
    error::{AppError, AppResult},
    events::{outbox, ConversationMessageChanged, DomainEvent, EventEnvelope},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::{AppState, Wakes},
};

/// Longest body part accepted from a member (characters).
pub const MAX_BODY: usize = 100_000;
/// Message-IDs kept in a References header.
const MAX_REFERENCES: usize = 20;

/// Every message query starts here.
pub fn scoped(viewer: &Viewer) -> Select<conversation_message::Entity> {
    conversation_message::Entity::find()
        .filter(conversation_message::Column::OrgId.eq(viewer.org_id))
}

/// A message of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<conversation_message::Model> {
    scoped(viewer)
        .filter(conversation_message::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("message"))
}

/// Records `conversation.message` (`kind`) for `m` as it is now.
pub(crate) async fn announce_message(
    conn: &impl ConnectionTrait,
    m: &conversation_message::Model,
    kind: &str,
    user: Option<Uuid>,
) -> AppResult<()> {
    let event = DomainEvent::ConversationMessage(ConversationMessageChanged {
        conversation_id: m.conversation_id,
        message_id: m.id,
        kind: kind.into(),
        direction: m.direction.clone(),
        status: m.status.clone(),
    });
    outbox::record(conn, &EventEnvelope::new(m.org_id, user, event)).await
}

/// What a new message row holds (the rest starts empty).
pub(crate) struct NewMessage {
    pub(crate) direction: MessageDirection,
    pub(crate) author_kind: MessageAuthorKind,
    pub(crate) author_id: Option<Uuid>,
    pub(crate) private: bool,
    pub(crate) subject: String,
    pub(crate) body_text: String,
    pub(crate) body_html: Option<String>,
    pub(crate) attachments: Value,
    pub(crate) message_id: Option<String>,
    pub(crate) in_reply_to: Option<String>,
    pub(crate) references: Option<String>,
    pub(crate) campaign_id: Option<Uuid>,
    pub(crate) status: MessageStatus,
    pub(crate) at: DateTime<Utc>,
    pub(crate) sent_at: Option<DateTime<Utc>>,
}

/// Inserts `m` into `conv` (with the row id `id`).
pub(crate) async fn insert(
    conn: &impl ConnectionTrait,
    conv: &conversation::Model,
    id: Uuid,
    m: NewMessage,
) -> AppResult<conversation_message::Model> {
    let now = Utc::now();
    Ok(conversation_message::ActiveModel {
        id: Set(id),
        conversation_id: Set(conv.id),
        org_id: Set(conv.org_id),
        direction: Set(m.direction.as_str().into()),
        author_kind: Set(m.author_kind.as_str().into()),
        author_id: Set(m.author_id),
        private: Set(m.private),
        subject: Set(m.subject),
        body_text: Set(m.body_text),
        body_html: Set(m.body_html),
        attachments: Set(m.attachments),
        message_id: Set(m.message_id),
        in_reply_to: Set(m.in_reply_to),
        reference_ids: Set(m.references),
        campaign_id: Set(m.campaign_id),
        status: Set(m.status.as_str().into()),
        error: Set(None),
        reactions: Set(json!({})),
        edits: Set(json!([])),
        edited_at: Set(None),
        sent_at: Set(m.sent_at),
        created_at: Set(m.at),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?)
}

/// Writes `conversation_message` on the lead's timeline (when the lead still exists).
pub(crate) async fn timeline(
    conn: &impl ConnectionTrait,
    conv: &conversation::Model,
    m: &conversation_message::Model,
    actor: Option<Uuid>,
) -> AppResult<()> {
    let Some(lead_id) = conv.lead_id else {
        return Ok(());
    };
    let exists = lead::Entity::find_by_id(lead_id)
        .filter(lead::Column::OrgId.eq(conv.org_id))
        .one(conn)
        .await?
        .is_some();
    if exists {
        lead_interaction::ActiveModel {
            id: Set(Uuid::now_v7()),
            lead_id: Set(lead_id),
            org_id: Set(conv.org_id),
            kind: Set("conversation_message".into()),
            actor_id: Set(actor),
            data: Set(json!({
                "conversationId": conv.id,
                "messageId": m.id,
                "direction": m.direction,
                "subject": m.subject,
            })),
            created_at: Set(m.created_at),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// A page of a conversation's messages, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    conversation_id: Uuid,
    args: PageArgs,
) -> AppResult<IdConnection<ConversationMessage>> {
    viewer.require(Permission::ReadConversations)?;
    let conv = get_conversation(&state.db, viewer, conversation_id).await?;
    let q = scoped(viewer).filter(conversation_message::Column::ConversationId.eq(conv.id));
    page_by_id_desc(
        &state.db,
        q,
        conversation_message::Column::Id,
        &args,
        |m| m.id,
        ConversationMessage::from,
    )
    .await
}

/// Checked bodies: at most [`MAX_BODY`] characters each, at least one of them.
fn bodies(text: Option<&str>, html: Option<&str>) -> AppResult<(String, Option<String>)> {
    let mut c = Check::new("input.");
    let text = c.text("bodyText", text, MAX_BODY);
    let html = c.text("bodyHtml", html, MAX_BODY);
    c.finish()?;
    if text.is_none() && html.is_none() {
        return Err(AppError::invalid(
            "input.bodyText",
            "a message needs a text or an HTML body",
        ));
    }
    Ok((text.unwrap_or_default(), html))
}

/// `Re: <subject>`, unless it already starts with `Re:`.
pub fn reply_subject(subject: &str) -> String {
    let s = subject.trim();
    if s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("re:")) {
        s.to_string()
    } else {
        format!("Re: {s}")
    }
}

/// The message a reply answers: the newest sent or received one with a Message-ID.
async fn parent(
    conn: &impl ConnectionTrait,
    conv: &conversation::Model,
) -> AppResult<Option<conversation_message::Model>> {
    Ok(conversation_message::Entity::find()
        .filter(conversation_message::Column::OrgId.eq(conv.org_id))
        .filter(conversation_message::Column::ConversationId.eq(conv.id))
        .filter(conversation_message::Column::Private.eq(false))
        .filter(conversation_message::Column::MessageId.is_not_null())
        .order_by_desc(conversation_message::Column::Id)
        .one(conn)
        .await?)
}

/// In-Reply-To and References of a reply to `parent` (RFC 5322 §3.6.4): the parent's
/// References (or In-Reply-To) followed by its Message-ID, the newest [`MAX_REFERENCES`].
pub fn thread_headers(
    parent: Option<&conversation_message::Model>,
) -> (Option<String>, Option<String>) {
    let Some(p) = parent else {
        return (None, None);
    };
    let Some(id) = p.message_id.clone() else {
        return (None, None);
    };
    let mut refs: Vec<String> = p
        .reference_ids
        .as_deref()
        .or(p.in_reply_to.as_deref())
        .unwrap_or("")
        .split_whitespace()
        .map(String::from)
        .collect();
    refs.retain(|r| *r != id);
    refs.push(id.clone());
    let skip = refs.len().saturating_sub(MAX_REFERENCES);
    (Some(id), Some(refs[skip..].join(" ")))
}

/// `sendMessage`: stores a note, or queues a reply to the thread.
pub async fn send_message(
    state: &AppState,
    viewer: &Viewer,
    conversation_id: Uuid,
    input: SendMessageInput,
) -> AppResult<conversation_message::Model> {
    viewer.require(Permission::WriteConversations)?;
    let conv = get_conversation(&state.db, viewer, conversation_id).await?;
    let txn = state.db.begin().await?;
    let (_, m) = send_in(state, &txn, viewer, conv, input).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(m)
}

/// [`send_message`] in the caller's transaction; returns the conversation and the message.
pub(crate) async fn send_in(
    state: &AppState,
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    conv: conversation::Model,
    input: SendMessageInput,
) -> AppResult<(conversation::Model, conversation_message::Model)> {
    let (text, html) = bodies(input.body_text.as_deref(), input.body_html.as_deref())?;
    let id = Uuid::now_v7();
    let now = Utc::now();
    let mut m = NewMessage {
        direction: MessageDirection::Outbound,
        author_kind: MessageAuthorKind::User,
        author_id: Some(viewer.user_id),
        private: input.private,
        subject: reply_subject(&conv.subject),
        body_text: text,
        body_html: html,
        attachments: json!([]),
        message_id: None,
        in_reply_to: None,
        references: None,
        campaign_id: None,
        status: MessageStatus::Note,
        at: now,
        sent_at: None,
    };
    if !input.private {
        let p = parent(txn, &conv).await?;
        if p.is_none() {
            m.subject = conv.subject.clone();
        }
        (m.in_reply_to, m.references) = thread_headers(p.as_ref());
        m.message_id = Some(send::message_id(state, &conv, id));
        m.status = MessageStatus::Queued;
    }
    let m = insert(txn, &conv, id, m).await?;
    if !m.private {
        send::enqueue(txn, &m).await?;
        timeline(txn, &conv, &m, Some(viewer.user_id)).await?;
    }
    let mut a: conversation::ActiveModel = conv.into();
    a.last_message_at = Set(Some(now));
    a.updated_at = Set(now);
    let conv = a.update(txn).await?;
    announce_message(txn, &m, "created", Some(viewer.user_id)).await?;
    Ok((conv, m))
}

/// Who may change a note or a message: a note's author, or a MANAGER+ (anything).
fn may_change(viewer: &Viewer, m: &conversation_message::Model) -> AppResult<()> {
    if viewer.require(Permission::DeleteConversations).is_ok() {
        return Ok(());
    }
    viewer.require(Permission::WriteConversations)?;
    if m.private && m.author_id == Some(viewer.user_id) {
        return Ok(());
    }
    Err(AppError::Forbidden {
        message: "only the note's author or a manager may change it".into(),
        reason: None,
    })
}

/// Edits a private note, keeping the previous version in its history.
pub async fn edit(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: EditMessageInput,
) -> AppResult<conversation_message::Model> {
    viewer.require(Permission::WriteConversations)?;
    let m = get(&state.db, viewer, id).await?;
    if !m.private {
        return Err(AppError::invalid("id", "only private notes can be edited"));
    }
    may_change(viewer, &m)?;
    let (text, html) = bodies(input.body_text.as_deref(), input.body_html.as_deref())?;
    let now = Utc::now();
    let mut history = m.edits.as_array().cloned().unwrap_or_default();
    history.push(json!({
        "bodyText": m.body_text,
        "bodyHtml": m.body_html,
        "editedAt": now.to_rfc3339(),
        "editorId": viewer.user_id,
    }));
    let mut a: conversation_message::ActiveModel = m.into();
    a.body_text = Set(text);
    a.body_html = Set(html);
    a.edits = Set(Value::Array(history));
    a.edited_at = Set(Some(now));
    a.updated_at = Set(now);
    let txn = state.db.begin().await?;
    let m = a.update(&txn).await?;
    announce_message(&txn, &m, "edited", Some(viewer.user_id)).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(m)
}

/// Deletes a message: one's own note (MEMBER), anything (MANAGER).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    viewer.require(Permission::WriteConversations)?;
    let m = get(&state.db, viewer, id).await?;
    may_change(viewer, &m)?;
    let txn = state.db.begin().await?;
    conversation_message::Entity::delete_by_id(m.id)
        .exec(&txn)
        .await?;
    announce_message(&txn, &m, "deleted", Some(viewer.user_id)).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(())
}

/// Adds the viewer's `emoji` reaction, or takes it back when it is there.
pub async fn react(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    emoji: &str,
) -> AppResult<conversation_message::Model> {
    viewer.require(Permission::WriteConversations)?;
    let emoji = emoji.trim();
    if emoji.is_empty() || emoji.chars().count() > 16 || emoji.contains(char::is_whitespace) {
        return Err(AppError::invalid(
            "emoji",
            "one emoji (at most 16 characters)",
        ));
    }
    let txn = state.db.begin().await?;
    let m = get(&txn, viewer, id).await?;
    let mut map = m.reactions.as_object().cloned().unwrap_or_default();
    let me = Value::String(viewer.user_id.to_string());
    let mut users = map
        .get(emoji)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if users.contains(&me) {
        users.retain(|u| *u != me);
    } else {
        if map.len() >= 50 && !map.contains_key(emoji) {
            return Err(AppError::invalid("emoji", "too many different reactions"));
        }
        users.push(me);
    }
    if users.is_empty() {
        map.remove(emoji);
    } else {
        map.insert(emoji.to_string(), Value::Array(users));
    }
    let mut a: conversation_message::ActiveModel = m.into();
    a.reactions = Set(Value::Object(map));
    a.updated_at = Set(Utc::now());
    let m = a.update(&txn).await?;
    announce_message(&txn, &m, "reacted", Some(viewer.user_id)).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, in_reply_to: Option<&str>, refs: Option<&str>) -> conversation_message::Model {
        conversation_message::Model {
            id: Uuid::now_v7(),
            conversation_id: Uuid::nil(),
            org_id: Uuid::nil(),
            direction: "INBOUND".into(),
            author_kind: "LEAD".into(),
            author_id: None,
            private: false,
            subject: String::new(),
            body_text: String::new(),
            body_html: None,
            attachments: json!([]),
            message_id: Some(id.into()),
            in_reply_to: in_reply_to.map(String::from),
            reference_ids: refs.map(String::from),
            campaign_id: None,
            status: "RECEIVED".into(),
            error: None,
            reactions: json!({}),
            edits: json!([]),
            edited_at: None,
            sent_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn replies_thread_on_their_parent() {
        assert_eq!(thread_headers(None), (None, None));
        let p = msg("<b@x>", Some("<a@x>"), None);
        assert_eq!(
            thread_headers(Some(&p)),
            (Some("<b@x>".into()), Some("<a@x> <b@x>".into()))
        );
        let p = msg("<c@x>", Some("<b@x>"), Some("<a@x> <b@x>"));
        assert_eq!(
            thread_headers(Some(&p)).1.as_deref(),
            Some("<a@x> <b@x> <c@x>")
        );
        let many: Vec<String> = (0..30).map(|i| format!("<{i}@x>")).collect();
        let p = msg("<z@x>", None, Some(&many.join(" ")));
        let refs = thread_headers(Some(&p)).1.unwrap_or_default();
        assert_eq!(refs.split(' ').count(), MAX_REFERENCES);
        assert!(refs.ends_with("<z@x>"));
    }

    #[test]
    fn reply_subjects_get_one_prefix() {
        assert_eq!(reply_subject("Hello"), "Re: Hello");
        assert_eq!(reply_subject("RE: Hello"), "RE: Hello");
    }
}
