//! Approval-request queries, mutations and the `approvalEvents` subscription: guard, parse, call
//! the service, map.

use async_graphql::{Context, Object, Subscription, ID};
use entity::approval_request;
use futures::Stream;

use super::{
    service,
    types::{
        ApprovalAction, ApprovalEvent, ApprovalPreview, ApprovalRequest, ApprovalRequestFilter,
        ApprovalStats, ApprovalStatus, CreateApprovalRequestInput, UpdateApprovalRequestInput,
    },
};
use crate::{
    auth::Permission,
    domains::{approvals::types::found, audit::note_ref as note, realtime},
    error::{AppError, AppResult},
    events::EventType,
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// Approval-request queries.
#[derive(Default)]
pub struct RequestQuery;

/// A page of requests matching `filter`.
async fn page(
    ctx: &Context<'_>,
    filter: ApprovalRequestFilter,
    args: (Option<i32>, Option<String>, Option<i32>, Option<String>),
) -> AppResult<IdConnection<ApprovalRequest>> {
    let (state, viewer) = ctx.state_and_viewer()?;
    let args = PageArgs::new(args.0, args.1, args.2, args.3)?;
    service::list(state, viewer, &filter, args).await
}

#[Object]
impl RequestQuery {
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
        page(
            ctx,
            filter.unwrap_or_default(),
            (first, after, last, before),
        )
        .await
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
        found(service::get(&state.db, viewer, id).await)
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
        let filter = ApprovalRequestFilter {
            status: Some(vec![ApprovalStatus::Pending]),
            assigned_to_me: Some(true),
            ..Default::default()
        };
        page(ctx, filter, (first, after, last, before)).await
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
        let filter = ApprovalRequestFilter {
            status: Some(vec![ApprovalStatus::Pending]),
            urgent: Some(true),
            ..Default::default()
        };
        page(ctx, filter, (first, after, last, before)).await
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
}

/// Approval-request mutations.
#[derive(Default)]
pub struct RequestMutation;

/// Notes the changed request for the audit log and maps it.
fn noted(ctx: &Context<'_>, r: approval_request::Model) -> ApprovalRequest {
    note(ctx, "approval_request", r.id);
    r.into()
}

#[Object]
impl RequestMutation {
    /// Asks for an approval by hand (MEMBER+). Deciding it changes nothing else (only gate
    /// requests resume an action).
    async fn create_approval_request(
        &self,
        ctx: &Context<'_>,
        input: CreateApprovalRequestInput,
    ) -> AppResult<ApprovalRequest> {
        let (state, viewer) = ctx.state_and_viewer()?;
        Ok(noted(ctx, service::create(state, viewer, input).await?))
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
        Ok(noted(ctx, r))
    }

    /// Withdraws a pending request (its requester or ADMIN+): it stays, CANCELLED, with its
    /// history; a gated campaign returns to DRAFT. Returns the id.
    async fn delete_approval_request(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        noted(ctx, service::cancel(state, viewer, parse_id(&id)?).await?);
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
        Ok(noted(ctx, r))
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
        Ok(noted(ctx, r))
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
        Ok(noted(ctx, r))
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
        Ok(noted(ctx, r))
    }
}

/// Approval-request subscriptions.
#[derive(Default)]
pub struct RequestSubscription;

#[Subscription]
impl RequestSubscription {
    /// Requests created, delegated, escalated (PENDING) and decided, withdrawn or expired
    /// (RESOLVED) in the organization; replayed after event `after` first.
    async fn approval_events(
        &self,
        ctx: &Context<'_>,
        after: Option<ID>,
    ) -> Result<impl Stream<Item = Result<ApprovalEvent, AppError>>, AppError> {
        ctx.viewer()?.require(Permission::ReadApprovals)?;
        let s = realtime::live(
            ctx,
            &[EventType::ApprovalPending, EventType::ApprovalResolved],
            after,
        )
        .await?;
        Ok(realtime::filter_live(s, |env| {
            futures::future::ready(ApprovalEvent::from_envelope(env))
        }))
    }
}
