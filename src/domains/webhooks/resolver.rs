//! Outgoing-webhook queries and mutations: guard, parse, call the service, map; the domain's
//! roots merge them with the workflows' and integrations' roots.

use async_graphql::{Context, MergedObject, Object, ID};
use uuid::Uuid;

use super::{
    integrations::{IntegrationMutation, IntegrationQuery},
    service::{deliveries, endpoints, incoming, schedules},
    types::{
        CreateIncomingWebhookInput, CreateScheduleInput, CreateWebhookEndpointInput,
        IncomingWebhook, IncomingWebhookSecretPayload, Schedule, ScheduleRun, UpdateScheduleInput,
        UpdateWebhookEndpointInput, WebhookDelivery, WebhookDeliveryFilter, WebhookEndpoint,
        WebhookSecretPayload, WebhookStats, WebhookTestResult,
    },
    workflows::{WorkflowMutation as FlowMutation, WorkflowQuery as FlowQuery},
};
use crate::{
    domains::audit::note_ref as note,
    error::{AppError, AppResult},
    events::EventType,
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// A schedule id, or NOT_FOUND.
fn schedule_id(id: &ID) -> AppResult<Uuid> {
    parse_id(id).map_err(|_| AppError::NotFound("schedule"))
}

/// An endpoint id, or NOT_FOUND.
fn endpoint_id(id: &ID) -> AppResult<Uuid> {
    parse_id(id).map_err(|_| AppError::NotFound("webhook endpoint"))
}

/// The webhooks domain's queries: outgoing and incoming hooks, schedules, workflows,
/// integrations.
#[derive(MergedObject, Default)]
pub struct WebhookQuery(HookQuery, FlowQuery, IntegrationQuery);

/// The webhooks domain's mutations.
#[derive(MergedObject, Default)]
pub struct WebhookMutation(HookMutation, FlowMutation, IntegrationMutation);

/// Outgoing-webhook queries.
#[derive(Default)]
pub struct HookQuery;

#[Object]
impl HookQuery {
    /// The organization's webhook endpoints, newest first (ADMIN+).
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<WebhookEndpoint>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        endpoints::list(state, viewer, args).await
    }

    /// One endpoint (ADMIN+); null when it does not exist in the viewer's organization.
    async fn webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> AppResult<Option<WebhookEndpoint>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(crate::auth::Permission::ManageWebhooks)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match endpoints::find(state, viewer, id).await {
            Ok(m) => Ok(Some(WebhookEndpoint(m))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// An endpoint's deliveries, newest first, with every attempt (ADMIN+).
    #[allow(clippy::too_many_arguments)]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
        filter: Option<WebhookDeliveryFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<WebhookDelivery>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = self::endpoint_id(&endpoint_id)?;
        let args = PageArgs::new(first, after, last, before)?;
        deliveries::list(state, viewer, id, filter.unwrap_or_default(), args).await
    }

    /// An endpoint's delivery statistics (ADMIN+).
    async fn webhook_stats(&self, ctx: &Context<'_>, endpoint_id: ID) -> AppResult<WebhookStats> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = self::endpoint_id(&endpoint_id)?;
        deliveries::stats(state, viewer, id).await
    }

    /// The organization's schedules, newest first (ADMIN+).
    async fn schedules(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Schedule>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        schedules::list(state, viewer, args).await
    }

    /// One schedule (ADMIN+); null when it does not exist in the viewer's organization.
    async fn schedule(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Schedule>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(crate::auth::Permission::ManageSchedules)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match schedules::find(state, viewer, id).await {
            Ok(m) => Ok(Some(Schedule(m))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A schedule's fired occurrences, newest first (ADMIN+).
    async fn schedule_runs(
        &self,
        ctx: &Context<'_>,
        schedule_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<ScheduleRun>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = self::schedule_id(&schedule_id)?;
        let args = PageArgs::new(first, after, last, before)?;
        schedules::runs(state, viewer, id, args).await
    }

    /// The next `count` (1–50) occurrences of a cron expression in a time zone after `after`
    /// (default now), with the schedules' DST rule (ADMIN+). A malformed expression is
    /// BAD_USER_INPUT naming the field at fault.
    async fn next_runs(
        &self,
        ctx: &Context<'_>,
        cron: String,
        timezone: String,
        count: Option<i32>,
        after: Option<chrono::DateTime<chrono::Utc>>,
    ) -> AppResult<Vec<chrono::DateTime<chrono::Utc>>> {
        let (_, viewer) = ctx.state_and_viewer()?;
        schedules::preview(viewer, &cron, &timezone, count.unwrap_or(5), after)
    }

    /// The organization's incoming lead hooks, newest first (ADMIN+).
    async fn incoming_webhooks(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<IncomingWebhook>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        incoming::list(state, viewer, args).await
    }
}

/// Outgoing-webhook mutations.
#[derive(Default)]
pub struct HookMutation;

#[Object]
impl HookMutation {
    /// Adds an endpoint (ADMIN+) and returns its signing secret, shown only this once.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> AppResult<WebhookSecretPayload> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (endpoint, secret) = endpoints::create(state, viewer, input).await?;
        note(ctx, "webhook_endpoint", endpoint.id);
        Ok(WebhookSecretPayload {
            endpoint: WebhookEndpoint(endpoint),
            secret,
        })
    }

    /// Changes an endpoint (ADMIN+); enabling it clears its failure streak.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWebhookEndpointInput,
    ) -> AppResult<WebhookEndpoint> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = endpoints::update(state, viewer, endpoint_id(&id)?, input).await?;
        note(ctx, "webhook_endpoint", m.id);
        Ok(WebhookEndpoint(m))
    }

    /// Deletes an endpoint with its delivery history (ADMIN+).
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = endpoint_id(&id)?;
        let done = endpoints::delete(state, viewer, id).await?;
        note(ctx, "webhook_endpoint", id);
        Ok(done)
    }

    /// Replaces the signing secret (ADMIN+) and returns the new one, shown only this once; the
    /// old one keeps signing (a second signature) for 24 hours.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> AppResult<WebhookSecretPayload> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (endpoint, secret) = endpoints::rotate(state, viewer, endpoint_id(&id)?).await?;
        note(ctx, "webhook_endpoint", endpoint.id);
        Ok(WebhookSecretPayload {
            endpoint: WebhookEndpoint(endpoint),
            secret,
        })
    }

    /// Turns an endpoint on or off (ADMIN+).
    async fn toggle_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> AppResult<WebhookEndpoint> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = endpoints::toggle(state, viewer, endpoint_id(&id)?).await?;
        note(ctx, "webhook_endpoint", m.id);
        Ok(WebhookEndpoint(m))
    }

    /// Sends a settled delivery again now, with the same `webhook-id` (ADMIN+). CONFLICT while
    /// it is pending or its endpoint is disabled.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> AppResult<WebhookDelivery> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = parse_id(&delivery_id).map_err(|_| AppError::NotFound("webhook delivery"))?;
        let d = deliveries::redeliver(state, viewer, id).await?;
        note(ctx, "webhook_delivery", id);
        Ok(d)
    }

    /// Sends a sample event of `eventType` to the endpoint now and answers with its response
    /// (ADMIN+); recorded as a delivery, never retried.
    async fn test_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        event_type: EventType,
    ) -> AppResult<WebhookTestResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = endpoint_id(&id)?;
        let r = deliveries::test(state, viewer, id, event_type).await?;
        note(ctx, "webhook_endpoint", id);
        Ok(r)
    }

    /// Adds a schedule (ADMIN+); its first occurrence is the next match after now.
    async fn create_schedule(
        &self,
        ctx: &Context<'_>,
        input: CreateScheduleInput,
    ) -> AppResult<Schedule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = schedules::create(state, viewer, input).await?;
        note(ctx, "schedule", m.id);
        Ok(Schedule(m))
    }

    /// Changes a schedule (ADMIN+); a new expression or zone restarts from now.
    async fn update_schedule(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateScheduleInput,
    ) -> AppResult<Schedule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = schedules::update(state, viewer, schedule_id(&id)?, input).await?;
        note(ctx, "schedule", m.id);
        Ok(Schedule(m))
    }

    /// Deletes a schedule with its run history (ADMIN+).
    async fn delete_schedule(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = schedule_id(&id)?;
        let done = schedules::delete(state, viewer, id).await?;
        note(ctx, "schedule", id);
        Ok(done)
    }

    /// Stops a schedule from firing (ADMIN+).
    async fn pause_schedule(&self, ctx: &Context<'_>, id: ID) -> AppResult<Schedule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = schedules::set_paused(state, viewer, schedule_id(&id)?, true).await?;
        note(ctx, "schedule", m.id);
        Ok(Schedule(m))
    }

    /// Lets a paused schedule fire again from its next occurrence after now (ADMIN+).
    async fn resume_schedule(&self, ctx: &Context<'_>, id: ID) -> AppResult<Schedule> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = schedules::set_paused(state, viewer, schedule_id(&id)?, false).await?;
        note(ctx, "schedule", m.id);
        Ok(Schedule(m))
    }

    /// Adds an incoming lead hook (ADMIN+) and returns its URL and signing secret, shown only
    /// this once.
    async fn create_incoming_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateIncomingWebhookInput,
    ) -> AppResult<IncomingWebhookSecretPayload> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (hook, secret) = incoming::create(state, viewer, input).await?;
        note(ctx, "incoming_webhook", hook.id);
        Ok(IncomingWebhookSecretPayload {
            hook: incoming::object(state, hook),
            secret,
        })
    }

    /// Deletes an incoming lead hook (ADMIN+); its URL answers 404 from then on.
    async fn delete_incoming_webhook(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = parse_id(&id).map_err(|_| AppError::NotFound("incoming webhook"))?;
        let done = incoming::delete(state, viewer, id).await?;
        note(ctx, "incoming_webhook", id);
        Ok(done)
    }
}
