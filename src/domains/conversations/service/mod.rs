//! Conversation rules: the organization filter, the list and its filters, create, update
//! (status, assignee, labels), delete, read markers and the live events of each change.

pub mod auto;
pub mod inbound;
pub mod messages;
pub mod send;

use chrono::Utc;
use entity::{conversation, conversation_message, membership};
use sea_orm::{
    sea_query::{Expr, ExprTrait, Query},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Select,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::types::{
    labels_of, Conversation, ConversationChannel, ConversationFilter, ConversationStatus,
    CreateConversationInput, SendMessageInput, UpdateConversationInput,
};
use crate::{
    auth::{Permission, Viewer},
    db::{contains_pattern, lower_contains, search_text},
    domains::leads::{self, Check},
    error::{AppError, AppResult},
    events::{outbox, ConversationChanged, DomainEvent, EventEnvelope},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    ids::parse_id,
    state::{AppState, Wakes},
};

/// Labels a conversation may carry.
const MAX_LABELS: usize = 20;

/// Every conversation query starts here.
pub fn scoped(viewer: &Viewer) -> Select<conversation::Entity> {
    conversation::Entity::find().filter(conversation::Column::OrgId.eq(viewer.org_id))
}

/// A conversation of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<conversation::Model> {
    scoped(viewer)
        .filter(conversation::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("conversation"))
}

/// Records `conversation.updated` (`kind`) for `c` as it is now.
pub(crate) async fn announce(
    conn: &impl ConnectionTrait,
    c: &conversation::Model,
    kind: &str,
    user: Option<Uuid>,
) -> AppResult<()> {
    let event = DomainEvent::ConversationUpdated(ConversationChanged {
        conversation_id: c.id,
        kind: kind.into(),
        status: c.status.clone(),
        unread_count: c.unread_count,
    });
    outbox::record(conn, &EventEnvelope::new(c.org_id, user, event)).await
}

/// An optional id argument: a malformed id matches nothing (like another organization's).
fn id_filter(v: Option<&async_graphql::ID>) -> Option<Uuid> {
    v.map(|id| parse_id(id).unwrap_or(Uuid::nil()))
}

/// A page of conversations, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: &ConversationFilter,
    args: PageArgs,
) -> AppResult<IdConnection<Conversation>> {
    viewer.require(Permission::ReadConversations)?;
    let mut q = scoped(viewer);
    if let Some(s) = filter.status {
        q = q.filter(conversation::Column::Status.eq(s.as_str()));
    }
    if let Some(a) = id_filter(filter.assignee_id.as_ref()) {
        q = q.filter(conversation::Column::AssigneeId.eq(a));
    }
    if let Some(l) = id_filter(filter.lead_id.as_ref()) {
        q = q.filter(conversation::Column::LeadId.eq(l));
    }
    match filter.unread {
        Some(true) => q = q.filter(conversation::Column::UnreadCount.gt(0)),
        Some(false) => q = q.filter(conversation::Column::UnreadCount.eq(0)),
        None => {}
    }
    if let Some(s) = search_text(filter.search.as_deref(), 200)? {
        // The subject, the address, or any message body of the organization's threads.
        let bodies = Query::select()
            .column(conversation_message::Column::ConversationId)
            .from(conversation_message::Entity)
            .and_where(conversation_message::Column::OrgId.eq(viewer.org_id))
            .and_where(
                Expr::expr(sea_orm::sea_query::Func::lower(Expr::col(
                    conversation_message::Column::BodyText,
                )))
                .like(contains_pattern(s)),
            )
            .to_owned();
        q = q.filter(
            lower_contains(conversation::Column::Subject, s)
                .or(lower_contains(conversation::Column::Email, s))
                .or(conversation::Column::Id.in_subquery(bodies)),
        );
    }
    page_by_id_desc(
        &state.db,
        q,
        conversation::Column::Id,
        &args,
        |m| m.id,
        Conversation::from,
    )
    .await
}

/// Checks a subject: 1–300 characters.
fn subject(c: &mut Check, v: &str) -> String {
    let s = c.text("subject", Some(v), 300).unwrap_or_default();
    if s.is_empty() && c.errors.is_empty() {
        c.errors.push(crate::error::FieldError {
            field: "input.subject".into(),
            message: "is required".into(),
        });
    }
    s
}

/// Starts a conversation with a lead (it needs an address); with `body`, its first message is
/// sent like `sendMessage`.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateConversationInput,
) -> AppResult<conversation::Model> {
    viewer.require(Permission::WriteConversations)?;
    let mut c = Check::new("input.");
    let subject = subject(&mut c, &input.subject);
    let body = c.text("body", input.body.as_deref(), messages::MAX_BODY);
    c.finish()?;
    let lead_id =
        parse_id(&input.lead_id).map_err(|_| AppError::invalid("input.leadId", "unknown lead"))?;
    let lead = leads::get(&state.db, viewer, lead_id).await?;
    let Some(email) = lead.email.clone().filter(|e| !e.is_empty()) else {
        return Err(AppError::invalid(
            "input.leadId",
            "the lead has no email address",
        ));
    };
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let conv = conversation::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        lead_id: Set(Some(lead.id)),
        email: Set(email.to_lowercase()),
        subject: Set(subject),
        status: Set(ConversationStatus::Open.as_str().into()),
        channel: Set(ConversationChannel::Email.as_str().into()),
        assignee_id: Set(Some(viewer.user_id)),
        labels: Set(json!([])),
        unread_count: Set(0),
        mailbox: Set(None),
        mailbox_name: Set(None),
        last_message_at: Set(None),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    announce(&txn, &conv, "created", Some(viewer.user_id)).await?;
    let conv = match body {
        Some(text) => {
            let input = SendMessageInput {
                body_text: Some(text),
                body_html: None,
                private: false,
            };
            messages::send_in(state, &txn, viewer, conv, input).await?.0
        }
        None => conv,
    };
    state.commit(txn, Wakes::Jobs).await?;
    Ok(conv)
}

/// The assignee: a member of the viewer's organization.
async fn assignee(state: &AppState, viewer: &Viewer, id: &async_graphql::ID) -> AppResult<Uuid> {
    let bad = || AppError::invalid("input.assigneeId", "is not a member of the organization");
    let user = parse_id(id).map_err(|_| bad())?;
    let n = membership::Entity::find()
        .filter(membership::Column::OrgId.eq(viewer.org_id))
        .filter(membership::Column::UserId.eq(user))
        .count(&state.db)
        .await?;
    if n == 0 {
        return Err(bad());
    }
    Ok(user)
}

/// Trimmed, distinct labels (at most 20, each 1–50 characters).
fn labels(c: &mut Check, v: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if v.len() > MAX_LABELS {
        c.errors.push(crate::error::FieldError {
            field: "input.labels".into(),
            message: format!("at most {MAX_LABELS} labels"),
        });
        return out;
    }
    for l in v {
        let l = l.trim();
        if l.is_empty() || l.chars().count() > 50 {
            c.errors.push(crate::error::FieldError {
                field: "input.labels".into(),
                message: "each label has 1 to 50 characters".into(),
            });
            return out;
        }
        if !out.iter().any(|o| o == l) {
            out.push(l.to_string());
        }
    }
    out
}

/// Changes status, assignee and labels (those present in `input`).
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateConversationInput,
) -> AppResult<conversation::Model> {
    viewer.require(Permission::WriteConversations)?;
    let conv = get(&state.db, viewer, id).await?;
    let mut c = Check::new("input.");
    let new_labels = input.labels.as_deref().map(|l| labels(&mut c, l));
    c.finish()?;
    let mut a: conversation::ActiveModel = conv.clone().into();
    let mut kinds = Vec::new();
    if let Some(s) = input.status {
        if s.as_str() != conv.status {
            a.status = Set(s.as_str().into());
            kinds.push("status");
        }
    }
    match &input.assignee_id {
        async_graphql::MaybeUndefined::Value(u) => {
            a.assignee_id = Set(Some(assignee(state, viewer, u).await?));
            kinds.push("assigned");
        }
        async_graphql::MaybeUndefined::Null => {
            a.assignee_id = Set(None);
            kinds.push("assigned");
        }
        async_graphql::MaybeUndefined::Undefined => {}
    }
    if let Some(l) = new_labels {
        if l != labels_of(&conv.labels) {
            a.labels = Set(json!(l));
            kinds.push("labels");
        }
    }
    if kinds.is_empty() {
        return Ok(conv);
    }
    a.updated_at = Set(Utc::now());
    let txn = state.db.begin().await?;
    let conv = a.update(&txn).await?;
    for k in kinds {
        announce(&txn, &conv, k, Some(viewer.user_id)).await?;
    }
    state.commit(txn, Wakes::Events).await?;
    Ok(conv)
}

/// Deletes a conversation and its messages (MANAGER).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    viewer.require(Permission::DeleteConversations)?;
    let conv = get(&state.db, viewer, id).await?;
    let txn = state.db.begin().await?;
    conversation_message::Entity::delete_many()
        .filter(conversation_message::Column::OrgId.eq(viewer.org_id))
        .filter(conversation_message::Column::ConversationId.eq(conv.id))
        .exec(&txn)
        .await?;
    conversation::Entity::delete_by_id(conv.id)
        .exec(&txn)
        .await?;
    announce(&txn, &conv, "deleted", Some(viewer.user_id)).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(())
}

/// Marks every message read (unread count 0) and records the read marker.
pub async fn mark_read(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<conversation::Model> {
    viewer.require(Permission::ReadConversations)?;
    let conv = get(&state.db, viewer, id).await?;
    let txn = state.db.begin().await?;
    conversation::Entity::update_many()
        .col_expr(conversation::Column::UnreadCount, Expr::value(0))
        .filter(conversation::Column::Id.eq(conv.id))
        .exec(&txn)
        .await?;
    let conv = conversation::Model {
        unread_count: 0,
        ..conv
    };
    announce(&txn, &conv, "read", Some(viewer.user_id)).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(conv)
}
