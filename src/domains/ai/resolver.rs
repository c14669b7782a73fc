//! AI queries and mutations: guard, parse, call the service, map.

use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{lead_analysis, search_goal};

use super::{
    provider::Task,
    service::{self, AiUsagePeriod, AiUsageReport},
    types::{
        AiMeta, Classification, CreateSearchGoalInput, Entities, LeadInfo, SearchStrategy,
        Sentiment, Summary,
    },
};
use crate::{
    error::{AppError, AppResult},
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
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

/// A lead-search goal and its strategy.
pub struct SearchGoal(pub search_goal::Model);

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
    /// `DRAFT`: derived, not run (running a goal is not built yet).
    async fn status(&self) -> String {
        self.0.status.to_uppercase()
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

/// AI queries.
#[derive(Default)]
pub struct AiQuery;

#[Object]
impl AiQuery {
    /// The organization's AI calls, tokens and estimated cost (ADMIN+) in `period` (default
    /// MONTH, the budget period).
    async fn ai_usage(
        &self,
        ctx: &Context<'_>,
        period: Option<AiUsagePeriod>,
    ) -> AppResult<AiUsageReport> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::usage(state, viewer, period.unwrap_or(AiUsagePeriod::Month)).await
    }

    /// The organization's search goals, newest first.
    async fn search_goals(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<SearchGoal>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        service::list_goals(state, viewer, args, SearchGoal).await
    }

    /// One search goal.
    async fn search_goal(&self, ctx: &Context<'_>, id: ID) -> AppResult<SearchGoal> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::get_goal(state, viewer, parse_id(&id)?)
            .await
            .map(SearchGoal)
    }
}

/// AI mutations (each spends the organization's AI budget, except `updateSearchStrategy`).
#[derive(Default)]
pub struct AiMutation;

#[Object]
impl AiMutation {
    /// Sentiment of a text (≤ 20,000 characters).
    async fn analyze_sentiment(
        &self,
        ctx: &Context<'_>,
        text: String,
    ) -> AppResult<SentimentResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let text = service::check_text("text", &text)?;
        let (result, meta) = service::run(state, viewer, Task::Sentiment { text }).await?;
        Ok(SentimentResult { result, meta })
    }

    /// The best of 2–20 labels for a text.
    async fn classify_text(
        &self,
        ctx: &Context<'_>,
        text: String,
        labels: Vec<String>,
    ) -> AppResult<ClassificationResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let text = service::check_text("text", &text)?;
        let labels = service::check_labels(&labels)?;
        let (result, meta) = service::run(state, viewer, Task::Classify { text, labels }).await?;
        Ok(ClassificationResult { result, meta })
    }

    /// A summary of at most `maxWords` (5–500, default 50) words.
    async fn summarize_text(
        &self,
        ctx: &Context<'_>,
        text: String,
        max_words: Option<i32>,
    ) -> AppResult<SummaryResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let text = service::check_text("text", &text)?;
        let max_words = u32::try_from(max_words.unwrap_or(50))
            .ok()
            .filter(|n| (5..=500).contains(n))
            .ok_or_else(|| AppError::invalid("maxWords", "must be 5–500"))?;
        let (result, meta) =
            service::run(state, viewer, Task::Summarize { text, max_words }).await?;
        Ok(SummaryResult { result, meta })
    }

    /// Emails, phones, URLs, organizations, money amounts and dates in a text.
    async fn extract_entities(&self, ctx: &Context<'_>, text: String) -> AppResult<EntitiesResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let text = service::check_text("text", &text)?;
        let (result, meta) = service::run(state, viewer, Task::Entities { text }).await?;
        Ok(EntitiesResult { result, meta })
    }

    /// Lead fields found in a text (an email signature, a message); nothing is stored.
    async fn extract_lead_info(
        &self,
        ctx: &Context<'_>,
        text: String,
    ) -> AppResult<LeadInfoResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let text = service::check_text("text", &text)?;
        let (result, meta) = service::run(state, viewer, Task::LeadInfo { text }).await?;
        Ok(LeadInfoResult { result, meta })
    }

    /// Analyzes a lead (summary, fit score with reasons, next action, talking points) and
    /// stores the analysis (`Lead.analysis` shows the newest).
    async fn analyze_lead(&self, ctx: &Context<'_>, id: ID) -> AppResult<LeadAnalysis> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::analyze_lead(state, viewer, parse_id(&id)?)
            .await
            .map(LeadAnalysis)
    }

    /// Stores a goal with the strategy the provider derives from it.
    async fn create_search_goal(
        &self,
        ctx: &Context<'_>,
        input: CreateSearchGoalInput,
    ) -> AppResult<SearchGoal> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::create_goal(state, viewer, input)
            .await
            .map(SearchGoal)
    }

    /// Replaces a goal's strategy.
    async fn update_search_strategy(
        &self,
        ctx: &Context<'_>,
        id: ID,
        strategy: SearchStrategy,
    ) -> AppResult<SearchGoal> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::update_strategy(state, viewer, parse_id(&id)?, strategy)
            .await
            .map(SearchGoal)
    }
}
