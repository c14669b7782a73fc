//! Insight's root objects: deals, pipelines, the dashboard, analytics, the funnel, attribution,
//! lifetime value and the live dashboard (guard, parse, call the service).

use async_graphql::{Context, Object, Subscription, ID};
use futures::Stream;

use super::{
    service::{
        activity, analytics, campaigns, costs, dashboard, deals, events, funnel, live, pipelines,
        range::{self, Period},
        reports, revenue, sales,
    },
    types::{
        ActivityType, AnalyticsEventFilter, Attribution, AttributionGroupBy, AttributionModel,
        CampaignAnalytics, ConversionFunnel, CreateDealInput, CreatePipelineInput,
        CreateReportInput, Dashboard, DateRangeInput, Deal, DealFilter, DealStatus, EmailGroupBy,
        EmailPerformance, LeadAnalytics, LeadGroupBy, LocalDaysInput, Ltv, LtvGroupBy,
        MarketingCost, Pipeline, RangePreset, Report, ReportRun, RevenueAnalytics, RevenueGroupBy,
        Roi, SetCostInput, TrackEventInput, TrackEventsResult, UpdateDealInput,
        UpdatePipelineInput,
    },
};
use crate::{
    auth::Permission,
    domains::audit::note_ref as note,
    error::{AppError, AppResult},
    graphql::{
        pagination::{IdConnection, KeysetArgs, PageArgs},
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

    /// One campaign's emails sent in `range` or `preset` (default: the last 30 days): totals,
    /// per local day of sending (zero-filled) and per A/B variant, with rates. Another
    /// organization's campaign is NOT_FOUND.
    async fn campaign_analytics(
        &self,
        ctx: &Context<'_>,
        campaign_id: ID,
        range: Option<DateRangeInput>,
        preset: Option<RangePreset>,
    ) -> AppResult<CampaignAnalytics> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadDeals)?;
        let r = range::resolve(
            range,
            preset,
            Some(RangePreset::Last30Days),
            chrono::Utc::now(),
        )?;
        let id = parse_id(&campaign_id).map_err(|_| AppError::NotFound("campaign"))?;
        campaigns::campaign(state, viewer, id, r).await
    }

    /// Deals won (closed WON) in `range`, `preset` or local `days` (exactly one), grouped by
    /// time of closing, lead source, last-touch campaign or owner, per currency.
    async fn revenue_analytics(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRangeInput>,
        preset: Option<RangePreset>,
        days: Option<LocalDaysInput>,
        group_by: RevenueGroupBy,
    ) -> AppResult<RevenueAnalytics> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let period = Period {
            range,
            preset,
            days,
        };
        sales::revenue(state, viewer, period, group_by).await
    }

    /// The leads created in `range`, `preset` or local `days` (exactly one) and how far they
    /// got: created → contacted → replied → qualified → deal → won, with conversion rates.
    async fn conversion_funnel(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRangeInput>,
        preset: Option<RangePreset>,
        days: Option<LocalDaysInput>,
    ) -> AppResult<ConversionFunnel> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let period = Period {
            range,
            preset,
            days,
        };
        let with_medians = ctx
            .look_ahead()
            .field("stages")
            .field("medianSecondsFromPrevious")
            .exists();
        funnel::funnel(state, viewer, period, with_medians).await
    }

    /// Won deals closed in `range`, `preset` or local `days` (exactly one), credited to the
    /// campaigns or sources that touched their leads by `model`.
    async fn attribution(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRangeInput>,
        preset: Option<RangePreset>,
        days: Option<LocalDaysInput>,
        model: AttributionModel,
        group_by: AttributionGroupBy,
    ) -> AppResult<Attribution> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let period = Period {
            range,
            preset,
            days,
        };
        revenue::attribution(state, viewer, period, model, group_by).await
    }

    /// Revenue credited to each campaign or source (as `attribution`) against the cost set for
    /// it (`setCost`), with `(revenue − cost) / cost`.
    async fn roi(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRangeInput>,
        preset: Option<RangePreset>,
        days: Option<LocalDaysInput>,
        model: AttributionModel,
        group_by: AttributionGroupBy,
    ) -> AppResult<Roi> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let period = Period {
            range,
            preset,
            days,
        };
        revenue::roi(state, viewer, period, model, group_by).await
    }

    /// Tracked analytics events, newest first by `occurredAt` (ReadDeals).
    async fn analytics_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AnalyticsEventFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<events::EventConnection> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = KeysetArgs::new(first, after, last, before)?;
        events::list(state, viewer, filter.unwrap_or_default(), args).await
    }

    /// The organization's activity, newest first: lead timeline entries, campaigns created,
    /// launched and ended, approvals requested and resolved, scrapes created and finished,
    /// deals created and closed (`types` narrows the sources; those the viewer may not read
    /// are left out).
    async fn recent_activity(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        types: Option<Vec<ActivityType>>,
    ) -> AppResult<activity::ActivityConnection> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = KeysetArgs::new(first, after, None, None)?;
        activity::feed(state, viewer, types, args).await
    }

    /// Saved reports, newest first.
    async fn reports(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Report>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        reports::list(state, viewer, args).await
    }

    /// One report; null when it does not exist in the viewer's organization.
    async fn report(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Report>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadDeals)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match reports::get(&state.db, viewer, id).await {
            Ok(m) => Ok(Some(m.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A report's runs, newest first; another organization's report is NOT_FOUND.
    async fn report_runs(
        &self,
        ctx: &Context<'_>,
        report_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<ReportRun>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        let id = parse_id(&report_id).map_err(|_| AppError::NotFound("report"))?;
        reports::runs(state, viewer, id, args).await
    }

    /// Lifetime value (won deal value per customer) per lead source or industry, all time.
    async fn ltv(&self, ctx: &Context<'_>, group_by: LtvGroupBy) -> AppResult<Ltv> {
        let (state, viewer) = ctx.state_and_viewer()?;
        revenue::ltv(state, viewer, group_by).await
    }
}

/// Insight subscriptions.
#[derive(Default)]
pub struct InsightSubscription;

#[Subscription]
impl InsightSubscription {
    /// The dashboard over `range` or `preset` (exactly one; a preset ends at each push), pushed
    /// when events that move its KPIs arrive: at most once per `DASHBOARD_UPDATE_WINDOW_MS`
    /// (2 s), one refresh shared by every subscriber of the organization and range. Query
    /// `dashboard` for the numbers at subscription time.
    async fn dashboard_updates(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRangeInput>,
        preset: Option<RangePreset>,
    ) -> Result<impl Stream<Item = AppResult<Dashboard>>, AppError> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadDeals)?;
        viewer.require(Permission::SubscribeEvents)?;
        range::resolve(range, preset, None, chrono::Utc::now())?;
        let key = match (range, preset) {
            (Some(r), _) => live::LiveRange::Fixed(r.from, r.to),
            (None, Some(p)) => live::LiveRange::Preset(p),
            (None, None) => return Err(AppError::invalid("range", "give a range or a preset")),
        };
        Ok(live::updates(state, viewer.clone(), key))
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

    /// Sets what was spent on a campaign or a lead source, for `roi` (MANAGER+).
    async fn set_cost(&self, ctx: &Context<'_>, input: SetCostInput) -> AppResult<MarketingCost> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let c = costs::set(state, viewer, input).await?;
        note(ctx, "marketing_cost", c.id.as_str());
        Ok(c)
    }

    /// Stores 1–500 analytics events (MEMBER+, or an API key of that role): all valid or none
    /// stored; an event whose `clientEventId` is already stored is counted as a duplicate, so
    /// a batch may be retried.
    async fn track_events(
        &self,
        ctx: &Context<'_>,
        events: Vec<TrackEventInput>,
    ) -> AppResult<TrackEventsResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        events::track(state, viewer, events).await
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

    /// Saves a report definition (params checked for the kind).
    async fn create_report(
        &self,
        ctx: &Context<'_>,
        input: CreateReportInput,
    ) -> AppResult<Report> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let r = reports::create(state, viewer, input).await?;
        note(ctx, "report", r.id.as_str());
        Ok(r)
    }

    /// Deletes a report and the files its runs generated (the runs still count toward the
    /// daily limit).
    async fn delete_report(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        note(ctx, "report", id.as_str());
        let id = parse_id(&id).map_err(|_| AppError::NotFound("report"))?;
        reports::delete(state, viewer, id).await?;
        Ok(true)
    }

    /// Queues a run of the report (a durable job; `report.run` events follow it); at most 50
    /// per organization in 24 hours (then RATE_LIMITED with `retryAfter`).
    async fn generate_report(&self, ctx: &Context<'_>, id: ID) -> AppResult<ReportRun> {
        let (state, viewer) = ctx.state_and_viewer()?;
        note(ctx, "report", id.as_str());
        let id = parse_id(&id).map_err(|_| AppError::NotFound("report"))?;
        reports::generate(state, viewer, id).await
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
