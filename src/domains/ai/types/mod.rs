//! What the AI operations return (the provider's JSON is deserialized into these, which is how
//! an answer's shape is validated) and their GraphQL inputs; the objects with field resolvers
//! (search goals, lead analyses) and the operations' result objects are in `objects.rs`.

mod objects;

pub use objects::{
    AiUsagePeriod, AiUsageReport, AiUsageRow, ClassificationResult, ConversationSuggestions,
    EntitiesResult, GeneratedReply, LeadAnalysis, LeadInfoResult, SearchGoal, SearchGoalJob,
    SearchGoalResult, SentimentResult, SummaryResult,
};

use async_graphql::{InputObject, SimpleObject};
use serde::{Deserialize, Serialize};

/// Which provider answered and whether the cache did.
#[derive(Debug, Clone, SimpleObject)]
pub struct AiMeta {
    /// `local` (deterministic rules) or `openai` (an OpenAI-compatible server).
    pub provider: String,
    /// `heuristic-v1` for the local provider, else the model that answered.
    pub model: String,
    /// Answered from the cache (no provider call, no tokens).
    pub cached: bool,
}

/// `analyzeSentiment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sentiment {
    /// `positive`, `negative` or `neutral`.
    pub sentiment: String,
    /// −1 (negative) … 1 (positive).
    pub score: f64,
}

/// One label's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelScore {
    pub label: String,
    /// 0 … 1.
    pub score: f64,
}

/// `classifyText`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Classification {
    /// One of the given labels.
    pub label: String,
    /// 0 … 1.
    pub confidence: f64,
    /// Every given label with its score.
    pub scores: Vec<LabelScore>,
}

/// `summarizeText`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Summary {
    pub summary: String,
}

/// `extractEntities`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entities {
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub urls: Vec<String>,
    /// Company-like names.
    pub organizations: Vec<String>,
    pub money: Vec<String>,
    pub dates: Vec<String>,
}

/// `extractLeadInfo`: lead fields found in free text (not stored).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeadInfo {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub title: Option<String>,
    pub website: Option<String>,
}

/// One place to look for leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, SimpleObject, InputObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[graphql(input_name = "StrategySourceInput")]
pub struct StrategySource {
    /// `WEBSITE` (query = a URL), `SEARCH` (a web search query) or `GOOGLE_MAPS` (a places
    /// text search).
    pub source: String,
    pub query: String,
}

/// How to look for the leads a goal describes.
#[derive(
    Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, SimpleObject, InputObject,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[graphql(input_name = "SearchStrategyInput")]
pub struct SearchStrategy {
    pub industries: Vec<String>,
    pub keywords: Vec<String>,
    pub job_titles: Vec<String>,
    pub locations: Vec<String>,
    pub sources: Vec<StrategySource>,
    pub exclusions: Vec<String>,
}

/// `createSearchGoal`.
#[derive(Debug, Clone, InputObject)]
pub struct CreateSearchGoalInput {
    /// The goal in plain words, e.g. "CTOs of SaaS companies in Berlin".
    pub text: String,
    pub target_market: Option<String>,
    /// Added to the locations found in the text.
    #[graphql(default)]
    pub locations: Vec<String>,
    /// 1–1,000 (default 100).
    pub max_leads: Option<i32>,
}

/// The goal as the provider sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GoalPrompt {
    pub text: String,
    pub target_market: Option<String>,
    pub locations: Vec<String>,
    pub max_leads: i32,
}

/// What `analyzeLead` tells the provider about a lead.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadFacts {
    pub name: Option<String>,
    pub title: Option<String>,
    pub company: Option<String>,
    pub industry: Option<String>,
    pub website: Option<String>,
    pub location: Option<String>,
    pub has_email: bool,
    pub has_phone: bool,
    /// NEW, CONTACTED, QUALIFIED, ...
    pub status: String,
    /// The lead's rule-based score (0–100) and its reasons.
    pub score: i32,
    pub score_reasons: Vec<String>,
}

/// `analyzeLead`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeadAnalysisOutput {
    pub summary: String,
    /// 0–100.
    pub fit_score: i32,
    pub reasons: Vec<String>,
    pub next_action: String,
    pub talking_points: Vec<String>,
}

/// A lead found by a goal's scrape jobs, as the ranking provider sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The lead id (the answer names leads by it).
    pub id: String,
    pub name: Option<String>,
    pub title: Option<String>,
    pub company: Option<String>,
    pub industry: Option<String>,
    pub website: Option<String>,
    /// City, region, country.
    pub location: Option<String>,
    pub email: Option<String>,
    pub has_phone: bool,
    pub tags: Vec<String>,
}

/// One lead's fit against the goal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RankedLead {
    /// The candidate's `id`.
    pub lead_id: String,
    /// 0–100.
    pub score: i32,
    /// Whether the lead matches the goal (false: rejected).
    pub valid: bool,
    /// Why the score and the validation.
    pub reasons: Vec<String>,
}

/// The ranking provider's answer: every candidate once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ranking {
    pub leads: Vec<RankedLead>,
}

/// The voice of a generated reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplyTone {
    Professional,
    Friendly,
    Casual,
    Enthusiastic,
}

/// `generateReply`.
#[derive(Debug, Clone, InputObject)]
pub struct GenerateReplyInput {
    /// The lead the reply is for.
    pub lead_id: async_graphql::ID,
    /// The conversation so far, or the message being answered (≤ 20,000 characters).
    pub conversation_context: Option<String>,
    /// Default PROFESSIONAL.
    pub tone: Option<ReplyTone>,
    /// An email template of the organization, rendered for the lead, to build the reply on.
    pub template_id: Option<async_graphql::ID>,
}

/// A template rendered for the lead (what the reply is built on).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenderedTemplate {
    pub subject: String,
    pub body: String,
}

/// A generated email.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplyDraft {
    pub subject: String,
    /// Plain text.
    pub body: String,
}

/// One entry of a lead's timeline, as the provider sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineFact {
    /// `created`, `status_changed`, `note_added`, `contacted`, `email_sent`, `email_opened`,
    /// `email_replied`, …
    pub kind: String,
    /// Days since it happened.
    pub days_ago: i64,
    /// Its data (JSON) as text.
    pub detail: String,
}

/// A next step in the conversation with a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConversationSuggestion {
    /// Short label, e.g. "Follow up".
    pub action: String,
    /// A message to send (plain text).
    pub message: String,
    /// Why now (what in the timeline suggests it).
    pub reason: String,
}

/// `conversationSuggestions`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Suggestions {
    pub suggestions: Vec<ConversationSuggestion>,
}

/// Where a search goal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum SearchGoalStatus {
    /// Strategy derived (and editable), not run.
    Draft,
    /// Its scrape jobs are at work.
    Running,
    /// Every scrape job finished; the leads are being ranked.
    Ranking,
    /// Ranked results are stored.
    Completed,
    /// No source could run, every scrape job failed, or ranking failed (`error`).
    Failed,
    /// Cancelled by a user (its scrape jobs too).
    Cancelled,
}

impl SearchGoalStatus {
    /// Storage form.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchGoalStatus::Draft => "draft",
            SearchGoalStatus::Running => "running",
            SearchGoalStatus::Ranking => "ranking",
            SearchGoalStatus::Completed => "completed",
            SearchGoalStatus::Failed => "failed",
            SearchGoalStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the storage form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => SearchGoalStatus::Draft,
            "running" => SearchGoalStatus::Running,
            "ranking" => SearchGoalStatus::Ranking,
            "completed" => SearchGoalStatus::Completed,
            "failed" => SearchGoalStatus::Failed,
            "cancelled" => SearchGoalStatus::Cancelled,
            _ => return None,
        })
    }
}
