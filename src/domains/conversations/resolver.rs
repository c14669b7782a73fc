//! Conversation queries, mutations and the `conversationEvents` subscription: guard, parse,
//! call the service, map.

use async_graphql::{Context, Object, Subscription, ID};
use futures::Stream;

use super::{
    service::{self as conversations, messages},
    types::{
        conversation_of, Conversation, ConversationEvent, ConversationFilter, ConversationMessage,
        CreateConversationInput, EditMessageInput, SendMessageInput, UpdateConversationInput,
    },
};
use crate::{
    auth::Permission,
    domains::{audit::note_ref as note, realtime},
    error::{AppError, AppResult},
    events::EventType,
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// Conversation queries.
#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// Conversations of the organization (the inbox), newest first.
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        filter: Option<ConversationFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Conversation>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        conversations::list(state, viewer, &filter.unwrap_or_default(), args).await
    }

    /// One conversation; null when it does not exist in the viewer's organization.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Conversation>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadConversations)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match conversations::get(&state.db, viewer, id).await {
            Ok(c) => Ok(Some(c.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Messages of a conversation (notes included), newest first.
    async fn messages(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<ConversationMessage>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadConversations)?;
        let args = PageArgs::new(first, after, last, before)?;
        messages::list(state, viewer, parse_id(&conversation_id)?, args).await
    }
}

/// Conversation mutations.
#[derive(Default)]
pub struct ConversationMutation;

#[Object]
impl ConversationMutation {
    /// Starts a conversation with a lead; with `body`, sends its first message.
    async fn create_conversation(
        &self,
        ctx: &Context<'_>,
        input: CreateConversationInput,
    ) -> AppResult<Conversation> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let c = conversations::create(state, viewer, input).await?;
        note(ctx, "conversation", c.id);
        Ok(c.into())
    }

    /// Changes status, assignee or labels.
    async fn update_conversation(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateConversationInput,
    ) -> AppResult<Conversation> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::WriteConversations)?;
        let c = conversations::update(state, viewer, parse_id(&id)?, input).await?;
        note(ctx, "conversation", c.id);
        Ok(c.into())
    }

    /// Deletes a conversation and its messages (MANAGER).
    async fn delete_conversation(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::DeleteConversations)?;
        let uuid = parse_id(&id)?;
        conversations::delete(state, viewer, uuid).await?;
        note(ctx, "conversation", uuid);
        Ok(true)
    }

    /// Sends a reply in the thread (In-Reply-To/References, `Re:` subject), or stores a
    /// private note (`private: true`, never sent).
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        input: SendMessageInput,
    ) -> AppResult<ConversationMessage> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::WriteConversations)?;
        let id = parse_id(&conversation_id)?;
        let m = messages::send_message(state, viewer, id, input).await?;
        note(ctx, "conversation_message", m.id);
        Ok(m.into())
    }

    /// Edits a private note (its author, or a manager); the previous text is kept in `edits`.
    async fn edit_message(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: EditMessageInput,
    ) -> AppResult<ConversationMessage> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::WriteConversations)?;
        let m = messages::edit(state, viewer, parse_id(&id)?, input).await?;
        note(ctx, "conversation_message", m.id);
        Ok(m.into())
    }

    /// Deletes one's own note, or (MANAGER) any message.
    async fn delete_message(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::WriteConversations)?;
        let uuid = parse_id(&id)?;
        messages::delete(state, viewer, uuid).await?;
        note(ctx, "conversation_message", uuid);
        Ok(true)
    }

    /// Adds the viewer's reaction with `emoji`, or takes it back when it is there.
    async fn react_to_message(
        &self,
        ctx: &Context<'_>,
        id: ID,
        emoji: String,
    ) -> AppResult<ConversationMessage> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::WriteConversations)?;
        Ok(messages::react(state, viewer, parse_id(&id)?, &emoji)
            .await?
            .into())
    }

    /// Marks every message of the conversation read.
    async fn mark_conversation_read(&self, ctx: &Context<'_>, id: ID) -> AppResult<Conversation> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadConversations)?;
        Ok(conversations::mark_read(state, viewer, parse_id(&id)?)
            .await?
            .into())
    }
}

/// Conversation subscriptions.
#[derive(Default)]
pub struct ConversationSubscription;

#[Subscription]
impl ConversationSubscription {
    /// New messages, edits, reactions, delivery status, status changes and read markers of one
    /// conversation.
    async fn conversation_events(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
    ) -> Result<impl Stream<Item = Result<ConversationEvent, AppError>>, AppError> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadConversations)?;
        let id = parse_id(&conversation_id)?;
        conversations::get(&state.db, viewer, id).await?;
        let types = [
            EventType::ConversationMessage,
            EventType::ConversationUpdated,
        ];
        let s = realtime::live(ctx, &types, None).await?;
        Ok(realtime::filter_live(s, move |env| {
            futures::future::ready(
                (conversation_of(&env) == Some(id)).then_some(ConversationEvent(env)),
            )
        }))
    }
}
