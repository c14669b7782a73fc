//! GraphQL types of scraping: jobs, their progress and pages, the progress event.

mod audiences;
mod params;
mod settings;
mod sources;

pub use audiences::{Audience, UpdateAudienceInput};
pub use params::{
    CreateScrapeJobInput, GeoPointInput, GoogleMapsScrapeInput, ScrapeSource, SearchScrapeInput,
    WebsiteScrapeInput,
};
pub use settings::{ScrapingSettings, UpdateScrapingSettingsInput};
pub use sources::{
    CraigslistScrapeInput, JobBoardProvider, JobBoardsScrapeInput, SocialScrapeInput,
};

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, Enum, InputObject, Json, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{scrape_job, scrape_page};
use uuid::Uuid;

use super::service::{self, lead_pages::LeadPages};
use crate::{
    auth::Permission,
    domains::leads::{Lead, LeadConnection},
    error::AppResult,
    events::ScrapeProgress,
    graphql::{
        pagination::{IdConnection, KeysetArgs, KeysetRows, PageArgs},
        siblings::{batchable, question, PageCells},
        ContextExt,
    },
};

/// Lifecycle of a scrape job.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrapeJobStatus {
    /// Waiting for a worker.
    Queued,
    /// Crawling.
    Running,
    /// Finished.
    Succeeded,
    /// Gave up (every page failed, an API refused, or the attempts ran out).
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

crate::wire_enum!(ScrapeJobStatus { Queued => "queued", Running => "running", Succeeded => "succeeded", Failed => "failed", Cancelled => "cancelled" });

impl ScrapeJobStatus {
    /// True when the job will not run again unless retried.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ScrapeJobStatus::Succeeded | ScrapeJobStatus::Failed | ScrapeJobStatus::Cancelled
        )
    }
}

/// State of one page of a crawl.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrapePageStatus {
    /// Discovered, not fetched yet.
    Queued,
    /// Fetched and parsed.
    Done,
    /// The fetch failed (HTTP error, timeout, too large, refused address, redirect loop).
    Failed,
    /// Not fetched or not parsed on purpose (robots.txt, not HTML).
    Skipped,
}

crate::wire_enum!(ScrapePageStatus { Queued => "queued", Done => "done", Failed => "failed", Skipped => "skipped" });

/// Filters for `scrapeJobs`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct ScrapeJobFilter {
    /// Any of these statuses.
    pub status: Option<Vec<ScrapeJobStatus>>,
    /// Any of these sources.
    pub source: Option<Vec<ScrapeSource>>,
}

/// Scrape jobs resolved together (one page): their nested `leads` and `pages` load once for
/// all of them (`graphql::siblings`), per distinct arguments.
pub struct ScrapeJobPage {
    ids: Vec<Uuid>,
    leads: PageCells<LeadPages>,
    pages: PageCells<HashMap<Uuid, KeysetRows<scrape_page::Model>>>,
}

impl ScrapeJobPage {
    fn new(ids: Vec<Uuid>) -> Arc<Self> {
        Arc::new(ScrapeJobPage {
            ids,
            leads: PageCells::default(),
            pages: PageCells::default(),
        })
    }
}

/// A scrape: a website crawl, a web search or a Google Maps search, run in the background.
#[derive(Clone)]
pub struct ScrapeJob(pub scrape_job::Model, Arc<ScrapeJobPage>);

impl ScrapeJob {
    /// Wraps models that are resolved together.
    pub fn wrap(models: Vec<scrape_job::Model>) -> Vec<ScrapeJob> {
        let page = ScrapeJobPage::new(models.iter().map(|m| m.id).collect());
        models
            .into_iter()
            .map(|m| ScrapeJob(m, page.clone()))
            .collect()
    }
}

impl From<scrape_job::Model> for ScrapeJob {
    fn from(m: scrape_job::Model) -> Self {
        let page = ScrapeJobPage::new(vec![m.id]);
        ScrapeJob(m, page)
    }
}

#[Object]
impl ScrapeJob {
    /// Scrape job id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Source.
    async fn source(&self) -> ScrapeSource {
        ScrapeSource::parse(&self.0.source).unwrap_or(ScrapeSource::Website)
    }
    /// Status.
    async fn status(&self) -> ScrapeJobStatus {
        ScrapeJobStatus::parse(&self.0.status).unwrap_or(ScrapeJobStatus::Failed)
    }
    /// The validated parameters, defaults filled in (`{"source": "WEBSITE", "crawl": {...}}`).
    async fn params(&self) -> Json<serde_json::Value> {
        Json(self.0.params.clone())
    }
    /// Counters and the current page.
    async fn progress(&self) -> ScrapeProgress {
        service::progress(&self.0)
    }
    /// Why the job failed (or why the last attempt failed, while it is retried).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// The background job running it (see `job(id)`).
    async fn job_id(&self) -> Option<ID> {
        self.0.job_id.map(|j| ID(j.to_string()))
    }
    /// Who created it.
    async fn created_by_id(&self) -> Option<ID> {
        self.0.created_by.map(|u| ID(u.to_string()))
    }
    /// When a worker first started it.
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    /// When it reached its final status.
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Leads this job created or updated, newest first.
    async fn leads(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<LeadConnection<Lead>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadLeads)?;
        let args = KeysetArgs::new(first, after, None, None)?;
        if !batchable(state, &args) {
            return service::leads(state, viewer, self.0.id, args).await;
        }
        let cell = self.1.leads.cell(question((args.limit, args.backward)));
        let pages = cell
            .get_or_try_init(|| service::leads_of_jobs(state, viewer, &self.1.ids, &args))
            .await?;
        match pages.connection(&state.db, self.0.id) {
            Some(c) => Ok(c),
            None => service::leads(state, viewer, self.0.id, args).await,
        }
    }
    /// Pages of the crawl, newest first, optionally only some statuses.
    async fn pages(
        &self,
        ctx: &Context<'_>,
        status: Option<Vec<ScrapePageStatus>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<IdConnection<ScrapePage>> {
        let state = ctx.state()?;
        let args = PageArgs::new(first, after, None, None)?;
        if !batchable(state, &args) {
            return service::pages(state, self.0.id, status, args).await;
        }
        let cell = self
            .1
            .pages
            .cell(question((args.limit, args.backward, format!("{status:?}"))));
        let db = &state.db;
        let all = cell
            .get_or_try_init(|| service::pages_of_jobs(db, &self.1.ids, &status, &args))
            .await?;
        let page = match all.get(&self.0.id) {
            Some(p) => p.clone(),
            None => KeysetRows::new(&args, Vec::new()),
        };
        Ok(service::pages_connection(db, self.0.id, status, page))
    }
}

/// One page of a crawl.
#[derive(SimpleObject, Debug, Clone)]
pub struct ScrapePage {
    /// Page id.
    pub id: ID,
    /// Canonical URL.
    pub url: String,
    /// Links followed from a seed to reach it (seeds 0, sitemap entries 1).
    pub depth: i32,
    /// Status.
    pub status: ScrapePageStatus,
    /// HTTP status of the response, when there was one.
    pub http_status: Option<i32>,
    /// Leads it yielded.
    pub leads_found: i32,
    /// When it was fetched (or given up).
    pub fetched_at: Option<DateTime<Utc>>,
    /// Why it failed or was skipped.
    pub error: Option<String>,
}

impl From<scrape_page::Model> for ScrapePage {
    fn from(m: scrape_page::Model) -> Self {
        ScrapePage {
            id: ID(m.id.to_string()),
            status: ScrapePageStatus::parse(&m.status).unwrap_or(ScrapePageStatus::Failed),
            url: m.url,
            depth: m.depth,
            http_status: m.http_status,
            leads_found: m.leads_found,
            fetched_at: m.fetched_at,
            error: m.error,
        }
    }
}

/// One message of `scrapeJobProgress`.
pub struct ScrapeJobProgressEvent {
    /// Event id; `None` for the snapshot sent first.
    pub event_id: Option<uuid::Uuid>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The payload.
    pub progress: ScrapeProgress,
    /// Whether this is the last message.
    pub is_final: bool,
}

#[Object]
impl ScrapeJobProgressEvent {
    /// Event id (null for the current state sent first).
    async fn event_id(&self) -> Option<ID> {
        self.event_id.map(|i| ID(i.to_string()))
    }
    /// The scrape job.
    async fn scrape_job_id(&self) -> ID {
        ID(self.progress.scrape_job_id.to_string())
    }
    /// Its status at that moment.
    async fn status(&self) -> ScrapeJobStatus {
        ScrapeJobStatus::parse(&self.progress.status).unwrap_or(ScrapeJobStatus::Failed)
    }
    /// Its counters at that moment.
    async fn progress(&self) -> &ScrapeProgress {
        &self.progress
    }
    /// Why it failed.
    async fn error(&self) -> Option<&str> {
        self.progress.error.as_deref()
    }
    /// True on the last message (the job finished); the subscription completes after it.
    async fn is_final(&self) -> bool {
        self.is_final
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.occurred_at
    }
    /// The job as it is now; null once deleted.
    async fn job(&self, ctx: &Context<'_>) -> AppResult<Option<ScrapeJob>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        match service::get(&state.db, viewer, self.progress.scrape_job_id).await {
            Ok(m) => Ok(Some(m.into())),
            Err(crate::error::AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
