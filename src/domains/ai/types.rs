//! What the AI operations return (the provider's JSON is deserialized into these, which is how
//! an answer's shape is validated) and their GraphQL inputs.

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
