//! The ai domain's GraphQL objects: text-tool results, search goals with their jobs and
//! ranked results, reply drafts and lead analyses.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{lead_analysis, scrape_job, search_goal, search_goal_job};
use uuid::Uuid;

use super::{
    AiMeta, Classification, ConversationSuggestion, Entities, LeadInfo, ReplyDraft,
    SearchGoalStatus, SearchStrategy, Sentiment, Summary,
};
use crate::{
    auth::Permission,
    domains::{
        ai::service::goals::{self, ResultConnection, ResultRow},
        leads::Lead,
        scraping::types::ScrapeJob,
    },
    error::AppResult,
    events::SearchGoalProgress,
    graphql::{
        pagination::{IdConnection, KeysetArgs, KeysetRows, PageArgs},
        siblings::{batchable, question, PageCells},
        ContextExt,
    },
};

/// `analyzeSentiment`.
#[derive(SimpleObject)]
pub struct SentimentResult {
    #[graphql(flatten)]
    pub result: Sentiment,
    #[graphql(flatten)]
    pub meta: AiMeta,
}

/// `classifyText`.
#[derive(SimpleObject)]
pub struct ClassificationResult {
    #[graphql(flatten)]
    pub result: Classification,
    #[graphql(flatten)]
    pub meta: AiMeta,
}

/// `summarizeText`.
#[derive(SimpleObject)]
pub struct SummaryResult {
    #[graphql(flatten)]
    pub result: Summary,
    #[graphql(flatten)]
    pub meta: AiMeta,
}

/// `extractEntities`.
#[derive(SimpleObject)]
pub struct EntitiesResult {
    #[graphql(flatten)]
    pub result: Entities,
    #[graphql(flatten)]
    pub meta: AiMeta,
}

/// `extractLeadInfo`.
#[derive(SimpleObject)]
pub struct LeadInfoResult {
    #[graphql(flatten)]
    pub result: LeadInfo,
    #[graphql(flatten)]
    pub meta: AiMeta,
}

/// Search goals resolved together (one page): their nested `jobs` and `results` pages (and the
/// results' leads) load once for all of them (`graphql::siblings`), per distinct arguments.
pub struct SearchGoalPage {
    ids: Vec<Uuid>,
    jobs: PageCells<HashMap<Uuid, KeysetRows<search_goal_job::Model>>>,
    results: PageCells<goals::GoalResults>,
}

/// A lead-search goal and its strategy.
#[derive(Clone)]
pub struct SearchGoal(pub search_goal::Model, Arc<SearchGoalPage>);

impl From<search_goal::Model> for SearchGoal {
    fn from(m: search_goal::Model) -> Self {
        let mut all = SearchGoal::wrap(vec![m]);
        all.remove(0)
    }
}

impl SearchGoal {
    /// Wraps models that are resolved together.
    pub fn wrap(models: Vec<search_goal::Model>) -> Vec<SearchGoal> {
        let page = Arc::new(SearchGoalPage {
            ids: models.iter().map(|m| m.id).collect(),
            jobs: PageCells::default(),
            results: PageCells::default(),
        });
        models
            .into_iter()
            .map(|m| SearchGoal(m, page.clone()))
            .collect()
    }

    fn progress(&self) -> SearchGoalProgress {
        self.0
            .progress
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }
}

/// One source of a running goal's strategy: its scrape job, or why it was skipped.
pub struct SearchGoalJob(pub search_goal_job::Model);

#[Object]
impl SearchGoalJob {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Index of the source in the strategy.
    async fn position(&self) -> i32 {
        self.0.position
    }
    /// `WEBSITE`, `SEARCH` or `GOOGLE_MAPS`.
    async fn source(&self) -> &str {
        &self.0.source
    }
    async fn query(&self) -> &str {
        &self.0.query
    }
    /// Why no scrape job was created (no API key configured, an invalid query).
    async fn skipped_reason(&self) -> Option<&str> {
        self.0.skipped_reason.as_deref()
    }
    /// The scrape job (null when skipped or deleted since). One statement per source; a goal
    /// has at most 20.
    async fn scrape_job(&self, ctx: &Context<'_>) -> AppResult<Option<ScrapeJob>> {
        let Some(id) = self.0.scrape_job_id else {
            return Ok(None);
        };
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadScrapeJobs)?;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        Ok(scrape_job::Entity::find_by_id(id)
            .filter(scrape_job::Column::OrgId.eq(viewer.org_id))
            .one(&state.db)
            .await?
            .map(ScrapeJob::from))
    }
}

/// A lead a goal found, ranked and validated against the goal.
pub struct SearchGoalResult(pub ResultRow);

#[Object]
impl SearchGoalResult {
    async fn id(&self) -> ID {
        ID(self.0.result.id.to_string())
    }
    /// 1 = best fit. Valid leads rank before rejected ones.
    async fn rank(&self) -> i32 {
        self.0.result.rank
    }
    /// 0–100.
    async fn score(&self) -> i32 {
        self.0.result.score
    }
    /// `VALID` or `REJECTED`.
    async fn validation_status(&self) -> String {
        self.0.result.validation.to_uppercase()
    }
    /// Why the score and the validation.
    async fn reasons(&self) -> Vec<String> {
        serde_json::from_value(self.0.result.reasons.clone()).unwrap_or_default()
    }
    /// The lead (null without READ on leads, or when deleted since).
    async fn lead(&self) -> Option<&Lead> {
        self.0.lead.as_ref()
    }
    async fn lead_id(&self) -> ID {
        ID(self.0.result.lead_id.to_string())
    }
    /// Who ranked it.
    async fn provider(&self) -> &str {
        &self.0.result.provider
    }
    async fn model(&self) -> &str {
        &self.0.result.model
    }
}

/// `generateReply`: an email written by the provider, marked as AI-written.
#[derive(SimpleObject)]
pub struct GeneratedReply {
    #[graphql(flatten)]
    pub draft: ReplyDraft,
    /// Always true: approval rules can target AI-written copy.
    pub ai_generated: bool,
    #[graphql(flatten)]
    pub meta: AiMeta,
}

/// `conversationSuggestions`.
#[derive(SimpleObject)]
pub struct ConversationSuggestions {
    pub suggestions: Vec<ConversationSuggestion>,
    /// Always true.
    pub ai_generated: bool,
    #[graphql(flatten)]
    pub meta: AiMeta,
}

#[Object]
impl SearchGoal {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn text(&self) -> &str {
        &self.0.text
    }
    async fn target_market(&self) -> Option<&str> {
        self.0.target_market.as_deref()
    }
    async fn locations(&self) -> Vec<String> {
        serde_json::from_value(self.0.locations.clone()).unwrap_or_default()
    }
    async fn max_leads(&self) -> i32 {
        self.0.max_leads
    }
    /// The strategy (derived by the provider, possibly edited since).
    async fn strategy(&self) -> AppResult<SearchStrategy> {
        Ok(serde_json::from_value(self.0.strategy.clone())?)
    }
    /// DRAFT → RUNNING → RANKING → COMPLETED, or FAILED / CANCELLED.
    async fn status(&self) -> SearchGoalStatus {
        SearchGoalStatus::parse(&self.0.status).unwrap_or(SearchGoalStatus::Failed)
    }
    /// Why the run failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// Scrape jobs created for the goal.
    async fn jobs_total(&self) -> i32 {
        self.progress().counts.jobs_total
    }
    /// Of those, finished.
    async fn jobs_done(&self) -> i32 {
        self.progress().counts.jobs_done
    }
    /// Strategy sources skipped (see `jobs.skippedReason`).
    async fn sources_skipped(&self) -> i32 {
        self.progress().counts.sources_skipped
    }
    /// Distinct leads the goal's jobs found.
    async fn leads_found(&self) -> i32 {
        self.progress().counts.leads_found
    }
    /// Results stored.
    async fn ranked(&self) -> i32 {
        self.progress().counts.ranked
    }
    /// Results validated as matching the goal.
    async fn valid(&self) -> i32 {
        self.progress().counts.valid
    }
    /// The strategy's sources once run: scrape jobs, or why a source was skipped.
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<SearchGoalJob>> {
        let (state, _) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        if !batchable(state, &args) {
            return goals::goal_jobs_page(state, self.0.id, args, SearchGoalJob).await;
        }
        let db = &state.db;
        let cell = self.1.jobs.cell(question((args.limit, args.backward)));
        let all = cell
            .get_or_try_init(|| goals::jobs_of_goals(db, &self.1.ids, &args))
            .await?;
        let page = match all.get(&self.0.id) {
            Some(p) => p.clone(),
            None => KeysetRows::new(&args, Vec::new()),
        };
        Ok(goals::goal_jobs_connection(
            db,
            self.0.id,
            page,
            SearchGoalJob,
        ))
    }
    /// The ranked leads, best first.
    async fn results(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<ResultConnection<SearchGoalResult>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = KeysetArgs::<i32>::new(first, after, last, before)?;
        if !batchable(state, &args) {
            return goals::results_page(state, viewer, self.0.id, args, SearchGoalResult).await;
        }
        let cell = self.1.results.cell(question((args.limit, args.backward)));
        let pages = cell
            .get_or_try_init(|| goals::GoalResults::load(state, viewer, &self.1.ids, &args))
            .await?;
        Ok(pages.connection(state, viewer, self.0.id, &args, SearchGoalResult))
    }
    /// Who derived the strategy.
    async fn provider(&self) -> &str {
        &self.0.provider
    }
    async fn model(&self) -> &str {
        &self.0.model
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An AI analysis of a lead.
pub struct LeadAnalysis(pub lead_analysis::Model);

#[Object]
impl LeadAnalysis {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    async fn lead_id(&self) -> ID {
        ID(self.0.lead_id.to_string())
    }
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// 0–100.
    async fn fit_score(&self) -> i32 {
        self.0.fit_score
    }
    /// Why the fit score is what it is.
    async fn reasons(&self) -> Vec<String> {
        serde_json::from_value(self.0.reasons.clone()).unwrap_or_default()
    }
    async fn next_action(&self) -> &str {
        &self.0.next_action
    }
    async fn talking_points(&self) -> Vec<String> {
        serde_json::from_value(self.0.talking_points.clone()).unwrap_or_default()
    }
    /// `local` or `openai`.
    async fn provider(&self) -> &str {
        &self.0.provider
    }
    async fn model(&self) -> &str {
        &self.0.model
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The window of `aiUsage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum AiUsagePeriod {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The current calendar month (UTC), the budget period.
    Month,
}

/// Totals of one operation × provider × model.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub struct AiUsageRow {
    pub operation: String,
    pub provider: String,
    pub model: String,
    /// Calls, cache hits included.
    pub calls: i64,
    pub cached_calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Estimated, in millionths of a US dollar.
    pub cost_micros: i64,
}

/// `aiUsage(period)`.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub struct AiUsageReport {
    pub since: DateTime<Utc>,
    pub calls: i64,
    pub cached_calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
    /// `AI_MONTHLY_TOKEN_BUDGET` (0 = unlimited).
    pub monthly_token_budget: u64,
    /// Tokens used this calendar month.
    pub month_tokens_used: i64,
    pub by_operation: Vec<AiUsageRow>,
}
