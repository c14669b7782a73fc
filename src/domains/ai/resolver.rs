//! The ai domain's root objects: `AiQuery` and `AiMutation` (guard, parse, call the service,
//! map).

use async_graphql::{Context, Object, ID};

use super::{
    service::{self, provider::Task},
    types::{
        AiUsagePeriod, AiUsageReport, ClassificationResult, ConversationSuggestions,
        CreateSearchGoalInput, EntitiesResult, GenerateReplyInput, GeneratedReply, LeadAnalysis,
        LeadInfoResult, SearchGoal, SearchStrategy, SentimentResult, SummaryResult,
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
        service::list_goals(state, viewer, args, SearchGoal::wrap).await
    }

    /// One search goal.
    async fn search_goal(&self, ctx: &Context<'_>, id: ID) -> AppResult<SearchGoal> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::get_goal(state, viewer, parse_id(&id)?)
            .await
            .map(SearchGoal::from)
    }

    /// Up to three next messages for a lead, from its status and timeline (MEMBER+; spends
    /// the AI budget).
    async fn conversation_suggestions(
        &self,
        ctx: &Context<'_>,
        lead_id: ID,
    ) -> AppResult<ConversationSuggestions> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (suggestions, meta) =
            service::reply::suggestions(state, viewer, parse_id(&lead_id)?).await?;
        Ok(ConversationSuggestions {
            suggestions,
            ai_generated: true,
            meta,
        })
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
        let (result, meta) =
            service::run_on_text(state, viewer, &text, |text| Task::Sentiment { text }).await?;
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
        let (result, meta) =
            service::run_on_text(state, viewer, &text, |text| Task::Entities { text }).await?;
        Ok(EntitiesResult { result, meta })
    }

    /// Lead fields found in a text (an email signature, a message); nothing is stored.
    async fn extract_lead_info(
        &self,
        ctx: &Context<'_>,
        text: String,
    ) -> AppResult<LeadInfoResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (result, meta) =
            service::run_on_text(state, viewer, &text, |text| Task::LeadInfo { text }).await?;
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
            .map(SearchGoal::from)
    }

    /// Runs a DRAFT goal: creates the scrape jobs of its strategy, then ranks and validates
    /// the leads they find (progress on `events` as `search_goal.progress`). A goal runs once:
    /// any other status is CONFLICT.
    async fn run_search_goal(&self, ctx: &Context<'_>, id: ID) -> AppResult<SearchGoal> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::run_goal(state, viewer, parse_id(&id)?)
            .await
            .map(SearchGoal::from)
    }

    /// Cancels a RUNNING or RANKING goal and its unfinished scrape jobs.
    async fn cancel_search_goal(&self, ctx: &Context<'_>, id: ID) -> AppResult<SearchGoal> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::cancel_goal(state, viewer, parse_id(&id)?)
            .await
            .map(SearchGoal::from)
    }

    /// Writes an email to a lead (a reply to `conversationContext`, or a first message),
    /// optionally built on a template; nothing is stored or sent. `aiGenerated` is true.
    async fn generate_reply(
        &self,
        ctx: &Context<'_>,
        input: GenerateReplyInput,
    ) -> AppResult<GeneratedReply> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let (draft, meta) = service::reply::generate_reply(state, viewer, input).await?;
        Ok(GeneratedReply {
            draft,
            ai_generated: true,
            meta,
        })
    }

    /// Replaces a DRAFT goal's strategy.
    async fn update_search_strategy(
        &self,
        ctx: &Context<'_>,
        id: ID,
        strategy: SearchStrategy,
    ) -> AppResult<SearchGoal> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::update_strategy(state, viewer, parse_id(&id)?, strategy)
            .await
            .map(SearchGoal::from)
    }
}
