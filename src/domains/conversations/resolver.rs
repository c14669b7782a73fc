//! Conversation queries, mutations and the `conversationEvents` subscription: guard, parse,
//! call the service, map.

use async_graphql::{Context, MergedObject, Object, Subscription, ID};
use futures::Stream;

use super::{
    service::{self as conversations, auto, messages},
    types::{
        conversation_of, AutoResponderRule, Conversation, ConversationEvent, ConversationFilter,
        ConversationMessage, CreateAutoResponderRuleInput, CreateConversationInput,
        EditMessageInput, SendMessageInput, UpdateAutoResponderRuleInput, UpdateConversationInput,
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

/// Conversation queries: the inbox and the auto-responder rules.
#[derive(MergedObject, Default)]
pub struct ConversationQuery(InboxQuery, AutoResponderQuery);

/// Conversation mutations: the inbox and the auto-responder rules.
#[derive(MergedObject, Default)]
pub struct ConversationMutation(InboxMutation, AutoResponderMutation);

/// Inbox queries.
#[derive(Default)]
pub struct InboxQuery;

#[Object]
impl InboxQuery {
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

/// Inbox mutations.
#[derive(Default)]
pub struct InboxMutation;

#[Object]
impl InboxMutation {
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

/// Auto-responder rule queries.
#[derive(Default)]
pub struct AutoResponderQuery;

#[Object]
impl AutoResponderQuery {
    /// The organization's auto-responder rules, newest first.
    async fn auto_responder_rules(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<AutoResponderRule>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        auto::list(state, viewer, args).await
    }

    /// One rule; null when it does not exist in the viewer's organization.
    async fn auto_responder_rule(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> AppResult<Option<AutoResponderRule>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadConversations)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match auto::get(&state.db, viewer, id).await {
            Ok(r) => Ok(Some(r.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Auto-responder rule mutations (MANAGER).
#[derive(Default)]
pub struct AutoResponderMutation;

#[Object]
impl AutoResponderMutation {
    /// Creates a rule: keywords, an action (a template reply, or an AI draft for approval), a
    /// cooldown per conversation (24 h by default) and a priority.
    async fn create_auto_responder_rule(
        &self,
        ctx: &Context<'_>,
        input: CreateAutoResponderRuleInput,
    ) -> AppResult<AutoResponderRule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = auto::create(state, viewer, input).await?;
        note(ctx, "auto_responder_rule", r.id);
        Ok(r.into())
    }

    /// Changes the fields given.
    async fn update_auto_responder_rule(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateAutoResponderRuleInput,
    ) -> AppResult<AutoResponderRule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ManageAutoResponder)?;
        let r = auto::update(state, viewer, parse_id(&id)?, input).await?;
        note(ctx, "auto_responder_rule", r.id);
        Ok(r.into())
    }

    /// Deletes a rule (replies it already queued or drafted stay).
    async fn delete_auto_responder_rule(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ManageAutoResponder)?;
        let uuid = parse_id(&id)?;
        auto::delete(state, viewer, uuid).await?;
        note(ctx, "auto_responder_rule", uuid);
        Ok(true)
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
