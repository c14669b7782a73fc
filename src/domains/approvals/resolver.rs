//! Approval queries, mutations and the `approvalEvents` subscription: guard, parse, call the
//! service, map.

use async_graphql::{Context, Json, Object, Subscription, ID};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use super::{
    rules, service,
    types::{
        ApprovalAction, ApprovalEventKind, ApprovalPreview, ApprovalRequest, ApprovalRequestFilter,
        ApprovalResourceType, ApprovalRule, ApprovalRuleInput, ApprovalRuleTest, ApprovalStats,
        ApprovalStatus, CreateApprovalRequestInput, UpdateApprovalRequestInput,
        UpdateApprovalRuleInput,
    },
};
use crate::{
    auth::Permission,
    domains::realtime,
    error::{AppError, AppResult},
    events::{ApprovalChanged, DomainEvent, EventEnvelope, EventType},
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

use crate::domains::audit::note_ref as note;

/// Approval queries.
#[derive(Default)]
pub struct ApprovalQuery;

#[Object]
impl ApprovalQuery {
    /// Approval requests of the organization, newest first.
    async fn approval_requests(
        &self,
        ctx: &Context<'_>,
        filter: Option<ApprovalRequestFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<ApprovalRequest>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        service::list(state, viewer, &filter.unwrap_or_default(), args).await
    }

    /// One request; null when it does not exist in the viewer's organization.
    async fn approval_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> AppResult<Option<ApprovalRequest>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadApprovals)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match service::get(&state.db, viewer, id).await {
            Ok(r) => Ok(Some(r.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What awaits approval: the facts, and for a campaign the recipient count, schedule and
    /// the email rendered for a sample recipient.
    async fn approval_preview(&self, ctx: &Context<'_>, id: ID) -> AppResult<ApprovalPreview> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::preview(state, viewer, parse_id(&id)?).await
    }

    /// Pending requests the viewer may decide on (named, or by role; not their own), newest
    /// first.
    async fn pending_approvals(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<ApprovalRequest>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        let filter = ApprovalRequestFilter {
            status: Some(vec![ApprovalStatus::Pending]),
            assigned_to_me: Some(true),
            ..Default::default()
        };
        service::list(state, viewer, &filter, args).await
    }

    /// Pending requests past their due time, newest first.
    async fn urgent_approvals(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<ApprovalRequest>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        let filter = ApprovalRequestFilter {
            status: Some(vec![ApprovalStatus::Pending]),
            urgent: Some(true),
            ..Default::default()
        };
        service::list(state, viewer, &filter, args).await
    }

    /// Every action on the organization's requests (or on one, `requestId`), newest first.
    async fn approval_history(
        &self,
        ctx: &Context<'_>,
        request_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<ApprovalAction>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        let id = request_id.as_ref().map(parse_id).transpose()?;
        service::history(state, viewer, id, args).await
    }

    /// Counts by status, median time to a decision, decisions per approver.
    async fn approval_stats(&self, ctx: &Context<'_>) -> AppResult<ApprovalStats> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::stats(state, viewer).await
    }

    /// Approval rules, newest first.
    async fn approval_rules(
        &self,
        ctx: &Context<'_>,
        resource_type: Option<ApprovalResourceType>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<ApprovalRule>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        rules::list(state, viewer, resource_type, args).await
    }

    /// One rule; null when it does not exist in the viewer's organization.
    async fn approval_rule(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<ApprovalRule>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadApprovals)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match rules::get(&state.db, viewer, id).await {
            Ok(r) => Ok(Some(r.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Evaluates a stored rule (`id`) or an unsaved one (`input`) against `sample` facts, e.g.
    /// `{recipientCount: 600}`: whether it matches and, per comparison, why.
    async fn test_approval_rule(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        input: Option<ApprovalRuleInput>,
        sample: Json<serde_json::Value>,
    ) -> AppResult<ApprovalRuleTest> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = id.as_ref().map(parse_id).transpose()?;
        rules::test(state, viewer, id, input, &sample.0).await
    }
}

/// Approval mutations.
#[derive(Default)]
pub struct ApprovalMutation;

#[Object]
impl ApprovalMutation {
    /// Asks for an approval by hand (MEMBER+). Deciding it changes nothing else (only gate
    /// requests resume an action).
    async fn create_approval_request(
        &self,
        ctx: &Context<'_>,
        input: CreateApprovalRequestInput,
    ) -> AppResult<ApprovalRequest> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = service::create(state, viewer, input).await?;
        note(ctx, "approval_request", r.id);
        Ok(r.into())
    }

    /// Changes a pending request (its requester or ADMIN+).
    async fn update_approval_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateApprovalRequestInput,
    ) -> AppResult<ApprovalRequest> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = service::update(state, viewer, parse_id(&id)?, input).await?;
        note(ctx, "approval_request", r.id);
        Ok(r.into())
    }

    /// Withdraws a pending request (its requester or ADMIN+): it stays, CANCELLED, with its
    /// history; a gated campaign returns to DRAFT. Returns the id.
    async fn delete_approval_request(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = service::cancel(state, viewer, parse_id(&id)?).await?;
        note(ctx, "approval_request", r.id);
        Ok(id)
    }

    /// Approves (assignees or ADMIN+, never the requester; once per person). The last approval
    /// needed approves the request and resumes a gated action (the campaign launches).
    async fn approve_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
        comment: Option<String>,
    ) -> AppResult<ApprovalRequest> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = service::approve(state, viewer, parse_id(&id)?, comment).await?;
        note(ctx, "approval_request", r.id);
        Ok(r.into())
    }

    /// Rejects (final); a gated campaign returns to DRAFT with the reason.
    async fn reject_request(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> AppResult<ApprovalRequest> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = service::reject(state, viewer, parse_id(&id)?, reason).await?;
        note(ctx, "approval_request", r.id);
        Ok(r.into())
    }

    /// Asks for changes (final for this request); a gated campaign returns to DRAFT with the
    /// comment.
    async fn request_changes(
        &self,
        ctx: &Context<'_>,
        id: ID,
        comment: String,
    ) -> AppResult<ApprovalRequest> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = service::request_changes(state, viewer, parse_id(&id)?, comment).await?;
        note(ctx, "approval_request", r.id);
        Ok(r.into())
    }

    /// Hands the viewer's part of a request to another member (MEMBER+, not the requester); the
    /// delegate is notified.
    async fn delegate_approval(
        &self,
        ctx: &Context<'_>,
        id: ID,
        to_user_id: ID,
        comment: Option<String>,
    ) -> AppResult<ApprovalRequest> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = service::delegate(state, viewer, parse_id(&id)?, &to_user_id, comment).await?;
        note(ctx, "approval_request", r.id);
        Ok(r.into())
    }

    /// Creates a rule (ADMIN+).
    async fn create_approval_rule(
        &self,
        ctx: &Context<'_>,
        input: ApprovalRuleInput,
    ) -> AppResult<ApprovalRule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = rules::create(state, viewer, input).await?;
        note(ctx, "approval_rule", r.id);
        Ok(r.into())
    }

    /// Changes a rule (ADMIN+); existing requests keep what they were created with.
    async fn update_approval_rule(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateApprovalRuleInput,
    ) -> AppResult<ApprovalRule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = rules::update(state, viewer, parse_id(&id)?, input).await?;
        note(ctx, "approval_rule", r.id);
        Ok(r.into())
    }

    /// Deletes a rule (ADMIN+); its requests stay. Returns the id.
    async fn delete_approval_rule(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let uuid = parse_id(&id)?;
        rules::delete(state, viewer, uuid).await?;
        note(ctx, "approval_rule", uuid);
        Ok(id)
    }

    /// Enables a disabled rule or disables an enabled one (ADMIN+).
    async fn toggle_approval_rule(&self, ctx: &Context<'_>, id: ID) -> AppResult<ApprovalRule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = rules::toggle(state, viewer, parse_id(&id)?).await?;
        note(ctx, "approval_rule", r.id);
        Ok(r.into())
    }
}

/// A live approval event.
pub struct ApprovalEvent {
    env: EventEnvelope,
    kind: ApprovalEventKind,
    data: ApprovalChanged,
}

#[Object]
impl ApprovalEvent {
    /// Event id; pass it as `after` to resume after this event.
    async fn id(&self) -> ID {
        ID(self.env.id.to_string())
    }
    /// Pending or resolved.
    async fn kind(&self) -> ApprovalEventKind {
        self.kind
    }
    /// `created`, `delegated`, `escalated` (PENDING); `approved`, `rejected`,
    /// `changes_requested`, `cancelled`, `expired` (RESOLVED).
    async fn reason(&self) -> &str {
        &self.data.reason
    }
    /// The request's id.
    async fn request_id(&self) -> ID {
        ID(self.data.request_id.to_string())
    }
    /// Its status at the time of the event.
    async fn status(&self) -> Option<ApprovalStatus> {
        ApprovalStatus::parse(&self.data.status)
    }
    /// Whether it was urgent at the time of the event.
    async fn urgent(&self) -> bool {
        self.data.urgent
    }
    /// Distinct approvals so far.
    async fn approval_count(&self) -> i32 {
        self.data.approval_count
    }
    /// Distinct approvals needed.
    async fn required_approvals(&self) -> i32 {
        self.data.required_approvals
    }
    /// What it is about.
    async fn resource_type(&self) -> Option<ApprovalResourceType> {
        ApprovalResourceType::parse(&self.data.resource_type)
    }
    /// The resource's id.
    async fn resource_id(&self) -> &str {
        &self.data.resource_id
    }
    /// The acting user (null for the SLA sweep).
    async fn user_id(&self) -> Option<ID> {
        self.env.user_id.map(|u| ID(u.to_string()))
    }
    /// The request as it is now.
    async fn request(&self, ctx: &Context<'_>) -> AppResult<Option<ApprovalRequest>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        match service::get(&state.db, viewer, self.data.request_id).await {
            Ok(r) => Ok(Some(r.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.env.occurred_at
    }
}

impl ApprovalEvent {
    fn from_envelope(env: EventEnvelope) -> Option<Self> {
        let (kind, data) = match &env.event {
            DomainEvent::ApprovalPending(a) => (ApprovalEventKind::Pending, a.clone()),
            DomainEvent::ApprovalResolved(a) => (ApprovalEventKind::Resolved, a.clone()),
            _ => return None,
        };
        Some(ApprovalEvent { env, kind, data })
    }
}

/// Approval subscriptions.
#[derive(Default)]
pub struct ApprovalSubscription;

#[Subscription]
impl ApprovalSubscription {
    /// Requests created, delegated, escalated (PENDING) and decided, withdrawn or expired
    /// (RESOLVED) in the organization; replayed after event `after` first.
    async fn approval_events(
        &self,
        ctx: &Context<'_>,
        after: Option<ID>,
    ) -> Result<impl Stream<Item = ApprovalEvent>, AppError> {
        ctx.viewer()?.require(Permission::ReadApprovals)?;
        let s = realtime::live(
            ctx,
            &[EventType::ApprovalPending, EventType::ApprovalResolved],
            after,
        )
        .await?;
        Ok(s.filter_map(|env| futures::future::ready(ApprovalEvent::from_envelope(env))))
    }
}
