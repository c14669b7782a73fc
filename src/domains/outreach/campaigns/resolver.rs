//! Campaign queries, mutations and the `campaignEvents` subscription.

use async_graphql::{Context, Object, Subscription, ID};
use chrono::{DateTime, Utc};
use futures::Stream;

use super::{
    service::{self as campaigns, by_template, recipients, stats, Move},
    types::{
        campaign_of, AddRecipientsPayload, Campaign, CampaignEvent, CampaignFilter, CampaignStats,
        CampaignTimelinePoint, CreateCampaignInput, RecipientSourceInput, TemplatePerformance,
        TemplateUsage, TimelineBucket, UpdateCampaignInput,
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

/// Campaign queries.
#[derive(Default)]
pub struct CampaignQuery;

#[Object]
impl CampaignQuery {
    /// Campaigns of the organization, newest first.
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        filter: Option<CampaignFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Campaign>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        campaigns::list(state, viewer, &filter.unwrap_or_default(), args).await
    }

    /// One campaign; null when it does not exist in the viewer's organization.
    async fn campaign(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Campaign>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadOutreach)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match campaigns::get(&state.db, viewer, id).await {
            Ok(c) => Ok(Some(c.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sent, delivered, opens and clicks (unique and total), replies, bounces (hard/soft),
    /// unsubscribes and rates, also per A/B variant.
    async fn campaign_stats(&self, ctx: &Context<'_>, id: ID) -> AppResult<CampaignStats> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadOutreach)?;
        let c = campaigns::get(&state.db, viewer, parse_id(&id)?).await?;
        stats::compute(&state.db, c.id).await
    }

    /// Sends, opens, clicks, replies, bounces and unsubscribes per hour or day (UTC).
    async fn campaign_timeline(
        &self,
        ctx: &Context<'_>,
        id: ID,
        bucket: Option<TimelineBucket>,
    ) -> AppResult<Vec<CampaignTimelinePoint>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadOutreach)?;
        let c = campaigns::get(&state.db, viewer, parse_id(&id)?).await?;
        stats::timeline(&state.db, c.id, bucket.unwrap_or_default()).await
    }

    /// The campaigns using a template.
    async fn template_usage(&self, ctx: &Context<'_>, id: ID) -> AppResult<TemplateUsage> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let list = by_template::usage(state, viewer, parse_id(&id)?).await?;
        Ok(TemplateUsage {
            campaign_count: list.len() as i64,
            last_used_at: list.first().map(|c| c.created_at),
            campaigns: Campaign::wrap(list),
        })
    }

    /// Sent, opens, clicks, replies and rates across every campaign that used the template.
    async fn template_performance(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> AppResult<TemplatePerformance> {
        let (state, viewer) = ctx.state_and_viewer()?;
        by_template::performance(state, viewer, parse_id(&id)?).await
    }
}

/// Campaign mutations.
#[derive(Default)]
pub struct CampaignMutation;

#[Object]
impl CampaignMutation {
    /// Creates a DRAFT campaign.
    async fn create_campaign(
        &self,
        ctx: &Context<'_>,
        input: CreateCampaignInput,
    ) -> AppResult<Campaign> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let c = campaigns::create(state, viewer, input).await?;
        note(ctx, "campaign", c.id);
        Ok(c.into())
    }

    /// Changes the fields present in `input` (DRAFT, SCHEDULED or PAUSED campaigns only).
    async fn update_campaign(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateCampaignInput,
    ) -> AppResult<Campaign> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let c = campaigns::update(state, viewer, parse_id(&id)?, input).await?;
        note(ctx, "campaign", c.id);
        Ok(c.into())
    }

    /// Deletes a campaign with its recipients and statistics (MANAGER+; not while RUNNING).
    async fn delete_campaign(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let uuid = parse_id(&id)?;
        campaigns::delete(state, viewer, uuid).await?;
        note(ctx, "campaign", uuid);
        Ok(id)
    }

    /// Copies the settings (not the recipients) into a new DRAFT.
    async fn duplicate_campaign(&self, ctx: &Context<'_>, id: ID) -> AppResult<Campaign> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let c = campaigns::duplicate(state, viewer, parse_id(&id)?).await?;
        note(ctx, "campaign", c.id);
        Ok(c.into())
    }

    /// Adds leads by `leadIds`, a lead `filter` or a saved `audienceId` (exactly one).
    /// Suppressed addresses (unsubscribed, hard-bounced), leads without email and leads already
    /// present are skipped and counted.
    async fn add_campaign_recipients(
        &self,
        ctx: &Context<'_>,
        campaign_id: ID,
        input: RecipientSourceInput,
    ) -> AppResult<AddRecipientsPayload> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let cid = parse_id(&campaign_id)?;
        let source = recipients::source_from(input.lead_ids, input.filter, input.audience_id)?;
        let out = recipients::add(state, viewer, cid, source).await?;
        note(ctx, "campaign", cid);
        Ok(out)
    }

    /// Removes a lead the campaign has not sent to yet (CONFLICT once sent).
    async fn remove_campaign_recipient(
        &self,
        ctx: &Context<'_>,
        campaign_id: ID,
        lead_id: ID,
    ) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let cid = parse_id(&campaign_id)?;
        let lid = parse_id(&lead_id).map_err(|_| AppError::NotFound("recipient"))?;
        recipients::remove(state, viewer, cid, lid).await?;
        note(ctx, "campaign", cid);
        Ok(true)
    }

    /// Starts sending (through the approval gate: PENDING_APPROVAL when a rule applies).
    async fn launch_campaign(&self, ctx: &Context<'_>, id: ID) -> AppResult<Campaign> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let c = campaigns::launch(state, viewer, parse_id(&id)?).await?;
        note(ctx, "campaign", c.id);
        Ok(c.into())
    }

    /// Sends at `at` (future; through the approval gate).
    async fn schedule_campaign(
        &self,
        ctx: &Context<'_>,
        id: ID,
        at: DateTime<Utc>,
    ) -> AppResult<Campaign> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let c = campaigns::schedule(state, viewer, parse_id(&id)?, at).await?;
        note(ctx, "campaign", c.id);
        Ok(c.into())
    }

    /// Suspends a RUNNING or SCHEDULED campaign after the messages in flight.
    async fn pause_campaign(&self, ctx: &Context<'_>, id: ID) -> AppResult<Campaign> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let c = campaigns::transition(state, viewer, parse_id(&id)?, Move::Pause).await?;
        note(ctx, "campaign", c.id);
        Ok(c.into())
    }

    /// Continues a PAUSED or FAILED campaign with the recipients not sent yet.
    async fn resume_campaign(&self, ctx: &Context<'_>, id: ID) -> AppResult<Campaign> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let c = campaigns::transition(state, viewer, parse_id(&id)?, Move::Resume).await?;
        note(ctx, "campaign", c.id);
        Ok(c.into())
    }

    /// Stops for good; recipients not sent yet are never sent.
    async fn stop_campaign(&self, ctx: &Context<'_>, id: ID) -> AppResult<Campaign> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let c = campaigns::transition(state, viewer, parse_id(&id)?, Move::Stop).await?;
        note(ctx, "campaign", c.id);
        Ok(c.into())
    }
}

/// Campaign subscriptions.
#[derive(Default)]
pub struct CampaignSubscription;

#[Subscription]
impl CampaignSubscription {
    /// Status changes with live counters, and per-email activity, of one campaign.
    async fn campaign_events(
        &self,
        ctx: &Context<'_>,
        campaign_id: ID,
    ) -> Result<impl Stream<Item = Result<CampaignEvent, AppError>>, AppError> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadOutreach)?;
        let id = parse_id(&campaign_id)?;
        campaigns::get(&state.db, viewer, id).await?;
        let s = realtime::live(
            ctx,
            &[EventType::CampaignStatus, EventType::CampaignActivity],
            None,
        )
        .await?;
        Ok(realtime::filter_live(s, move |env| {
            futures::future::ready((campaign_of(&env) == Some(id)).then_some(CampaignEvent(env)))
        }))
    }
}
