//! Scraping queries, mutations and the progress subscription: guard, parse, call the service,
//! map.

use async_graphql::{Context, MergedObject, Object, Subscription, ID};
use futures::{Stream, StreamExt};

use super::{
    service::{
        self,
        audiences::{self, Audience, UpdateAudienceInput},
        params::CreateScrapeJobInput,
        sources::settings,
    },
    types::{
        ScrapeJob, ScrapeJobFilter, ScrapeJobProgressEvent, ScrapeJobStatus, ScrapingSettings,
        UpdateScrapingSettingsInput,
    },
};
use crate::{
    auth::Permission,
    domains::{leads::types::LeadFilter, realtime},
    error::{AppError, AppResult},
    events::{DomainEvent, EventType},
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

use crate::domains::audit::note_ref as note;

/// Scrape job queries.
#[derive(Default)]
pub struct ScrapeJobQuery;

#[Object]
impl ScrapeJobQuery {
    /// Scrape jobs of the viewer's organization, newest first.
    async fn scrape_jobs(
        &self,
        ctx: &Context<'_>,
        filter: Option<ScrapeJobFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<IdConnection<ScrapeJob>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, None, None)?;
        service::list(state, viewer, filter.unwrap_or_default(), args).await
    }

    /// One scrape job; null when it does not exist in the viewer's organization.
    async fn scrape_job(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<ScrapeJob>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadScrapeJobs)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match service::get(&state.db, viewer, id).await {
            Ok(m) => Ok(Some(m.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Audience queries.
#[derive(Default)]
pub struct AudienceQuery;

#[Object]
impl AudienceQuery {
    /// Saved audiences of the viewer's organization, newest first.
    async fn audiences(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<IdConnection<Audience>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, None, None)?;
        audiences::list(state, viewer, args).await
    }

    /// One audience with its leads; null when it does not exist in the viewer's organization.
    async fn audience(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Audience>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadLeads)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match audiences::get(&state.db, viewer, id).await {
            Ok(m) => Ok(Some(m.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Scraping queries (jobs and audiences).
#[derive(MergedObject, Default)]
pub struct ScrapingQuery(ScrapeJobQuery, AudienceQuery, ScrapingSettingsQuery);

/// Scrape job mutations.
#[derive(Default)]
pub struct ScrapeJobMutation;

#[Object]
impl ScrapeJobMutation {
    /// Starts a scrape (MEMBER+): `source` and the one parameter object matching it
    /// (`website`, `search` or `googleMaps`). It runs in the background; follow it with
    /// `scrapeJob(id)` or the `scrapeJobProgress` subscription.
    async fn create_scrape_job(
        &self,
        ctx: &Context<'_>,
        input: CreateScrapeJobInput,
    ) -> AppResult<ScrapeJob> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = service::create(state, viewer, &input).await?;
        note(ctx, "scrape_job", m.id);
        Ok(m.into())
    }

    /// Cancels a queued or running scrape (MEMBER+); it stops within a second. CONFLICT when
    /// it already finished.
    async fn cancel_scrape_job(&self, ctx: &Context<'_>, id: ID) -> AppResult<ScrapeJob> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = service::cancel(state, viewer, parse_id(&id)?).await?;
        note(ctx, "scrape_job", m.id);
        Ok(m.into())
    }

    /// Runs a failed or cancelled scrape again (MEMBER+). It resumes: pages already fetched are
    /// not fetched again (failed pages are). CONFLICT in any other status.
    async fn retry_scrape_job(&self, ctx: &Context<'_>, id: ID) -> AppResult<ScrapeJob> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = service::retry(state, viewer, parse_id(&id)?).await?;
        note(ctx, "scrape_job", m.id);
        Ok(m.into())
    }

    /// Deletes a scrape with its pages (MANAGER+); a running one is cancelled first. The leads
    /// it found stay.
    async fn delete_scrape_job(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = service::delete(state, viewer, parse_id(&id)?).await?;
        note(ctx, "scrape_job", m.id);
        Ok(id)
    }
}

/// Audience mutations.
#[derive(Default)]
pub struct AudienceMutation;

#[Object]
impl AudienceMutation {
    /// Saves a lead filter as a named audience (MEMBER+). CONFLICT when the name is taken.
    async fn save_audience(
        &self,
        ctx: &Context<'_>,
        name: String,
        filter: LeadFilter,
    ) -> AppResult<Audience> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = audiences::save(state, viewer, &name, &filter).await?;
        note(ctx, "audience", m.id);
        Ok(m.into())
    }

    /// Renames an audience or replaces its filter (MEMBER+).
    async fn update_audience(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateAudienceInput,
    ) -> AppResult<Audience> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = audiences::update(state, viewer, parse_id(&id)?, &input).await?;
        note(ctx, "audience", m.id);
        Ok(m.into())
    }

    /// Deletes an audience (MEMBER+); its leads are untouched.
    async fn delete_audience(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = audiences::delete(state, viewer, parse_id(&id)?).await?;
        note(ctx, "audience", m.id);
        Ok(id)
    }
}

/// Scraping mutations (jobs and audiences).
#[derive(MergedObject, Default)]
pub struct ScrapingMutation(
    ScrapeJobMutation,
    AudienceMutation,
    ScrapingSettingsMutation,
);

/// Scraping subscriptions.
#[derive(Default)]
pub struct ScrapingSubscription;

#[Subscription]
impl ScrapingSubscription {
    /// Progress of one scrape job: its current state first, then `scrape.progress` events
    /// (at most every 250 ms while it runs, and on every status change); the stream completes
    /// after the final message (`isFinal`: the job succeeded, failed or was cancelled).
    /// Another organization's job id is NOT_FOUND.
    async fn scrape_job_progress(
        &self,
        ctx: &Context<'_>,
        job_id: ID,
    ) -> Result<impl Stream<Item = AppResult<ScrapeJobProgressEvent>>, AppError> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadScrapeJobs)?;
        let id = parse_id(&job_id)?;
        // Subscribe before reading the job, so no event falls in between.
        let events = realtime::live(
            ctx,
            &[EventType::ScrapeProgress, EventType::ScrapeCompleted],
            None,
        )
        .await?;
        let job = service::get(&state.db, viewer, id).await?;
        let terminal =
            ScrapeJobStatus::parse(&job.status).is_some_and(ScrapeJobStatus::is_terminal);
        let first = ScrapeJobProgressEvent {
            event_id: None,
            occurred_at: job.updated_at,
            progress: service::progress(&job),
            is_final: terminal,
        };
        let since = job.updated_at;
        let rest = realtime::filter_live(events, move |env| {
            let ev = match env.event {
                DomainEvent::ScrapeProgress(p)
                    if p.scrape_job_id == id && env.occurred_at >= since =>
                {
                    Some(ScrapeJobProgressEvent {
                        event_id: Some(env.id),
                        occurred_at: env.occurred_at,
                        progress: p,
                        is_final: false,
                    })
                }
                DomainEvent::ScrapeCompleted(p) if p.scrape_job_id == id => {
                    Some(ScrapeJobProgressEvent {
                        event_id: Some(env.id),
                        occurred_at: env.occurred_at,
                        progress: p,
                        is_final: true,
                    })
                }
                _ => None,
            };
            futures::future::ready(ev)
        });
        let all = futures::stream::once(futures::future::ready(Ok(first)))
            .chain(rest)
            .boxed();
        // End right after the final message (without waiting for another event).
        Ok(futures::stream::unfold(
            (all, false),
            |(mut s, done)| async move {
                if done {
                    return None;
                }
                let ev = s.next().await?;
                // A stream error is final too (the live stream ends after it).
                let fin = ev.as_ref().map_or(true, |e| e.is_final);
                Some((ev, (s, fin)))
            },
        ))
    }
}

/// `scrapingSettings`.
#[derive(Default)]
pub struct ScrapingSettingsQuery;

#[Object]
impl ScrapingSettingsQuery {
    /// Which scraping provider keys the organization has set, and which key-based sources can
    /// run. Never returns a key.
    async fn scraping_settings(&self, ctx: &Context<'_>) -> AppResult<ScrapingSettings> {
        let (state, viewer) = ctx.state_and_viewer()?;
        settings::get(state, viewer).await
    }
}

/// `updateScrapingSettings`.
#[derive(Default)]
pub struct ScrapingSettingsMutation;

#[Object]
impl ScrapingSettingsMutation {
    /// Sets or removes the organization's own provider keys (ADMIN+). The answer says only
    /// which keys are set.
    async fn update_scraping_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateScrapingSettingsInput,
    ) -> AppResult<ScrapingSettings> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let out = settings::update(state, viewer, &input).await?;
        note(ctx, "organization", viewer.org_id);
        Ok(out)
    }
}
