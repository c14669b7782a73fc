//! Insight's root objects: deals, pipelines, the dashboard and analytics (guard, parse, call
//! the service).

use async_graphql::{Context, Object, ID};

use super::{
    service::{analytics, dashboard, deals, pipelines, range},
    types::{
        CreateDealInput, CreatePipelineInput, Dashboard, DateRangeInput, Deal, DealFilter,
        DealStatus, EmailGroupBy, EmailPerformance, LeadAnalytics, LeadGroupBy, Pipeline,
        RangePreset, UpdateDealInput, UpdatePipelineInput,
    },
};
use crate::{
    auth::Permission,
    domains::audit::note_ref as note,
    error::{AppError, AppResult},
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// Insight queries.
#[derive(Default)]
pub struct InsightQuery;

#[Object]
impl InsightQuery {
    /// Deals, newest first.
    async fn deals(
        &self,
        ctx: &Context<'_>,
        filter: Option<DealFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Deal>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        deals::list(state, viewer, filter.unwrap_or_default(), args).await
    }

    /// One deal; null when it does not exist in the viewer's organization.
    async fn deal(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Deal>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadDeals)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match deals::get(&state.db, viewer, id).await {
            Ok(m) => Ok(Some(deals::node(&state.db, viewer, m).await?)),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pipelines with their stages, newest first.
    async fn pipelines(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Pipeline>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        pipelines::list(state, viewer, args).await
    }

    /// KPIs over `range` or `preset` (exactly one), each with the previous period's value.
    async fn dashboard(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRangeInput>,
        preset: Option<RangePreset>,
    ) -> AppResult<Dashboard> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadDeals)?;
        let r = range::resolve(range, preset, None, chrono::Utc::now())?;
        dashboard::dashboard(state, viewer, r).await
    }

    /// Leads created in `range` (all time without one; DAY / WEEK / MONTH default to the last
    /// 30 days), grouped; time buckets zero-filled in the organization's time zone.
    async fn lead_analytics(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRangeInput>,
        group_by: LeadGroupBy,
    ) -> AppResult<LeadAnalytics> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadDeals)?;
        let timed = matches!(
            group_by,
            LeadGroupBy::Day | LeadGroupBy::Week | LeadGroupBy::Month
        );
        let r = match (range, timed) {
            (Some(r), _) => Some(range::check(r, "range")?),
            (None, true) => Some(range::resolve(
                None,
                Some(RangePreset::Last30Days),
                None,
                chrono::Utc::now(),
            )?),
            (None, false) => None,
        };
        analytics::leads(state, viewer, r, group_by).await
    }

    /// Campaign emails sent in `range` or `preset` (exactly one), grouped, with rates.
    async fn email_performance(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRangeInput>,
        preset: Option<RangePreset>,
        group_by: EmailGroupBy,
    ) -> AppResult<EmailPerformance> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadDeals)?;
        let r = range::resolve(range, preset, None, chrono::Utc::now())?;
        analytics::emails(state, viewer, r, group_by).await
    }
}

/// Insight mutations.
#[derive(Default)]
pub struct InsightMutation;

#[Object]
impl InsightMutation {
    /// Creates a pipeline with its stages (MANAGER+).
    async fn create_pipeline(
        &self,
        ctx: &Context<'_>,
        input: CreatePipelineInput,
    ) -> AppResult<Pipeline> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let p = pipelines::create(state, viewer, input).await?;
        note(ctx, "pipeline", p.id.as_str());
        Ok(p)
    }

    /// Renames a pipeline and/or replaces its list of stages (MANAGER+).
    async fn update_pipeline(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdatePipelineInput,
    ) -> AppResult<Pipeline> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let uuid = parse_id(&id)?;
        let p = pipelines::update(state, viewer, uuid, input).await?;
        note(ctx, "pipeline", uuid);
        Ok(p)
    }

    /// Creates a deal for a lead (MEMBER+).
    async fn create_deal(&self, ctx: &Context<'_>, input: CreateDealInput) -> AppResult<Deal> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let d = deals::create(state, viewer, input).await?;
        note(ctx, "deal", d.id.as_str());
        Ok(d)
    }

    /// Changes a deal's title, value, owner or expected close date (MEMBER+).
    async fn update_deal(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateDealInput,
    ) -> AppResult<Deal> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let uuid = parse_id(&id)?;
        let d = deals::update(state, viewer, uuid, input).await?;
        note(ctx, "deal", uuid);
        Ok(d)
    }

    /// Moves an open deal to another stage of its pipeline (MEMBER+).
    async fn move_deal_stage(&self, ctx: &Context<'_>, id: ID, stage_id: ID) -> AppResult<Deal> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let uuid = parse_id(&id)?;
        let d = deals::move_stage(state, viewer, uuid, &stage_id).await?;
        note(ctx, "deal", uuid);
        Ok(d)
    }

    /// Wins or loses an open deal (MEMBER+); LOST needs a `reason`.
    async fn close_deal(
        &self,
        ctx: &Context<'_>,
        id: ID,
        status: DealStatus,
        reason: Option<String>,
    ) -> AppResult<Deal> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let uuid = parse_id(&id)?;
        let d = deals::close(state, viewer, uuid, status, reason).await?;
        note(ctx, "deal", uuid);
        Ok(d)
    }
}
