//! The provider abstraction (implementations: [`local`], the default, and [`openai`]): a [`Task`] (what to do, its input and the JSON schema of the
//! answer) goes to an [`AiProvider`], which returns JSON of that shape plus token usage.

pub mod local;
pub mod openai;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::domains::ai::types::{
    Candidate, Classification, Entities, GoalPrompt, LeadAnalysisOutput, LeadFacts, LeadInfo,
    Ranking, RenderedTemplate, ReplyDraft, ReplyTone, SearchStrategy, Sentiment, Suggestions,
    Summary, TimelineFact,
};
use crate::state::AppState;

/// Tokens one call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

/// A provider's answer: JSON already checked against the task's shape.
#[derive(Debug, Clone)]
pub struct Completion {
    pub value: Value,
    pub usage: Usage,
    /// `local` or `openai`.
    pub provider: &'static str,
    /// The model that produced the answer (the fallback one when the primary failed).
    pub model: String,
}

/// Why a provider gave no usable answer (the message is shown to the caller).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AiError {
    /// HTTP/transport failure after the retries.
    #[error("the AI provider failed: {0}")]
    Provider(String),
    /// The model's answer was not JSON of the expected shape, even after one repair request.
    #[error("the AI provider returned invalid output: {0}")]
    InvalidOutput(String),
}

/// One thing to ask a provider.
#[derive(Debug, Clone)]
pub enum Task {
    Sentiment {
        text: String,
    },
    Classify {
        text: String,
        labels: Vec<String>,
    },
    Summarize {
        text: String,
        max_words: u32,
    },
    Entities {
        text: String,
    },
    LeadInfo {
        text: String,
    },
    Strategy {
        goal: GoalPrompt,
    },
    AnalyzeLead {
        lead: LeadFacts,
    },
    /// Score and validate a goal's leads against its strategy.
    RankLeads {
        goal: String,
        strategy: SearchStrategy,
        leads: Vec<Candidate>,
    },
    /// Write an email to a lead.
    Reply {
        lead: LeadFacts,
        context: Option<String>,
        tone: ReplyTone,
        template: Option<RenderedTemplate>,
    },
    /// Next messages for a lead from its timeline.
    Suggestions {
        lead: LeadFacts,
        timeline: Vec<TimelineFact>,
    },
}

fn string_array() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

fn object(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

fn parse<T: DeserializeOwned>(v: &Value) -> Result<T, String> {
    serde_json::from_value(v.clone()).map_err(|e| e.to_string())
}

impl Task {
    /// The GraphQL operation name, recorded in `ai_usage`.
    pub fn operation(&self) -> &'static str {
        match self {
            Task::Sentiment { .. } => "analyzeSentiment",
            Task::Classify { .. } => "classifyText",
            Task::Summarize { .. } => "summarizeText",
            Task::Entities { .. } => "extractEntities",
            Task::LeadInfo { .. } => "extractLeadInfo",
            Task::Strategy { .. } => "createSearchGoal",
            Task::AnalyzeLead { .. } => "analyzeLead",
            Task::RankLeads { .. } => "runSearchGoal",
            Task::Reply { .. } => "generateReply",
            Task::Suggestions { .. } => "conversationSuggestions",
        }
    }

    /// What the model is asked to do (the system message).
    pub fn instructions(&self) -> String {
        let what = match self {
            Task::Sentiment { .. } => "Determine the sentiment of the text: sentiment is positive, negative or neutral; score is from -1 (negative) to 1 (positive).".to_string(),
            Task::Classify { labels, .. } => format!(
                "Classify the text into exactly one of these labels: {}. Give every label a score from 0 to 1; label is the best one, confidence its score.",
                labels.join(", ")
            ),
            Task::Summarize { max_words, .. } => {
                format!("Summarize the text in at most {max_words} words.")
            }
            Task::Entities { .. } => "Extract the email addresses, phone numbers, URLs, organization names, money amounts and dates the text mentions, each exactly as written.".to_string(),
            Task::LeadInfo { .. } => "Extract the sales lead described by the text: person name, email, phone, company, job title and website; null when absent.".to_string(),
            Task::AnalyzeLead { .. } => "Analyze this sales lead: a one-sentence summary, a fit score from 0 to 100 with the reasons for it, the suggested next action and talking points for a first conversation.".to_string(),
            Task::Strategy { .. } => "Turn the lead-search goal into a search strategy: target industries, search keywords, job titles, locations, sources (source is WEBSITE with a URL as query, SEARCH with a web search query, or GOOGLE_MAPS with a places query) and exclusions.".to_string(),
            Task::RankLeads { .. } => "Rank these sales leads by how well they fit the lead-search goal and its strategy (industries, keywords, job titles, locations; a lead matching an exclusion is not valid). For every lead give its id as leadId, a score from 0 to 100, valid (whether it matches the goal) and the reasons. Include every lead exactly once.".to_string(),
            Task::Reply { tone, .. } => format!(
                "Write a short sales email to this lead in a {} tone: a subject and a plain-text body. Answer the conversation context when given; build on the template when given. Do not invent facts about the lead or the sender.",
                format!("{tone:?}").to_lowercase()
            ),
            Task::Suggestions { .. } => "Suggest up to three next messages to send this sales lead, based on its status and timeline (newest first): for each a short action label, the message and the reason.".to_string(),
        };
        format!("{what} Answer with a single JSON object matching the given JSON schema and nothing else.")
    }

    /// The input (the user message).
    pub fn input(&self) -> Value {
        match self {
            Task::Sentiment { text }
            | Task::Entities { text }
            | Task::LeadInfo { text }
            | Task::Summarize { text, .. }
            | Task::Classify { text, .. } => json!({ "text": text }),
            Task::Strategy { goal } => json!({ "goal": goal }),
            Task::AnalyzeLead { lead } => json!({ "lead": lead }),
            Task::RankLeads {
                goal,
                strategy,
                leads,
            } => json!({ "goal": goal, "strategy": strategy, "leads": leads }),
            Task::Reply {
                lead,
                context,
                tone,
                template,
            } => {
                json!({ "lead": lead, "conversationContext": context, "tone": tone, "template": template })
            }
            Task::Suggestions { lead, timeline } => json!({ "lead": lead, "timeline": timeline }),
        }
    }

    /// The JSON schema of the answer.
    pub fn schema(&self) -> Value {
        let opt_str = json!({"type": ["string", "null"]});
        match self {
            Task::Sentiment { .. } => object(
                json!({"sentiment": {"type": "string", "enum": ["positive", "negative", "neutral"]}, "score": {"type": "number"}}),
                &["sentiment", "score"],
            ),
            Task::Classify { labels, .. } => object(
                json!({
                    "label": {"type": "string", "enum": labels},
                    "confidence": {"type": "number"},
                    "scores": {"type": "array", "items": object(json!({"label": {"type": "string"}, "score": {"type": "number"}}), &["label", "score"])}
                }),
                &["label", "confidence", "scores"],
            ),
            Task::Summarize { .. } => object(json!({"summary": {"type": "string"}}), &["summary"]),
            Task::Entities { .. } => object(
                json!({"emails": string_array(), "phones": string_array(), "urls": string_array(), "organizations": string_array(), "money": string_array(), "dates": string_array()}),
                &[
                    "emails",
                    "phones",
                    "urls",
                    "organizations",
                    "money",
                    "dates",
                ],
            ),
            Task::LeadInfo { .. } => object(
                json!({"name": opt_str, "email": opt_str, "phone": opt_str, "company": opt_str, "title": opt_str, "website": opt_str}),
                &["name", "email", "phone", "company", "title", "website"],
            ),
            Task::AnalyzeLead { .. } => object(
                json!({"summary": {"type": "string"}, "fitScore": {"type": "integer"}, "reasons": string_array(), "nextAction": {"type": "string"}, "talkingPoints": string_array()}),
                &[
                    "summary",
                    "fitScore",
                    "reasons",
                    "nextAction",
                    "talkingPoints",
                ],
            ),
            Task::RankLeads { .. } => object(
                json!({"leads": {"type": "array", "items": object(
                    json!({"leadId": {"type": "string"}, "score": {"type": "integer"}, "valid": {"type": "boolean"}, "reasons": string_array()}),
                    &["leadId", "score", "valid", "reasons"],
                )}}),
                &["leads"],
            ),
            Task::Reply { .. } => object(
                json!({"subject": {"type": "string"}, "body": {"type": "string"}}),
                &["subject", "body"],
            ),
            Task::Suggestions { .. } => object(
                json!({"suggestions": {"type": "array", "items": object(
                    json!({"action": {"type": "string"}, "message": {"type": "string"}, "reason": {"type": "string"}}),
                    &["action", "message", "reason"],
                )}}),
                &["suggestions"],
            ),
            Task::Strategy { .. } => object(
                json!({
                    "industries": string_array(), "keywords": string_array(), "jobTitles": string_array(),
                    "locations": string_array(), "exclusions": string_array(),
                    "sources": {"type": "array", "items": object(json!({"source": {"type": "string", "enum": ["WEBSITE", "SEARCH", "GOOGLE_MAPS"]}, "query": {"type": "string"}}), &["source", "query"])}
                }),
                &[
                    "industries",
                    "keywords",
                    "jobTitles",
                    "locations",
                    "sources",
                    "exclusions",
                ],
            ),
        }
    }

    /// Checks an answer against the expected shape (and the task's own constraints); the
    /// message is what a repair request tells the model.
    pub fn validate(&self, v: &Value) -> Result<(), String> {
        match self {
            Task::Sentiment { .. } => {
                let s: Sentiment = parse(v)?;
                if !["positive", "negative", "neutral"].contains(&s.sentiment.as_str()) {
                    return Err("sentiment must be positive, negative or neutral".into());
                }
                if !(-1.0..=1.0).contains(&s.score) {
                    return Err("score must be between -1 and 1".into());
                }
            }
            Task::Classify { labels, .. } => {
                let c: Classification = parse(v)?;
                if !labels.contains(&c.label) {
                    return Err(format!("label must be one of: {}", labels.join(", ")));
                }
            }
            Task::Summarize { .. } => {
                parse::<Summary>(v)?;
            }
            Task::Entities { .. } => {
                parse::<Entities>(v)?;
            }
            Task::LeadInfo { .. } => {
                parse::<LeadInfo>(v)?;
            }
            Task::AnalyzeLead { .. } => {
                let a: LeadAnalysisOutput = parse(v)?;
                if !(0..=100).contains(&a.fit_score) {
                    return Err("fitScore must be between 0 and 100".into());
                }
            }
            Task::RankLeads { leads, .. } => {
                let r: Ranking = parse(v)?;
                let mut seen: Vec<&str> = Vec::new();
                for l in &r.leads {
                    if !leads.iter().any(|c| c.id == l.lead_id) {
                        return Err(format!("unknown leadId {}", l.lead_id));
                    }
                    if seen.contains(&l.lead_id.as_str()) {
                        return Err(format!("leadId {} appears twice", l.lead_id));
                    }
                    seen.push(&l.lead_id);
                    if !(0..=100).contains(&l.score) {
                        return Err("score must be between 0 and 100".into());
                    }
                }
                if seen.len() != leads.len() {
                    return Err(format!(
                        "every lead must be ranked: got {} of {}",
                        seen.len(),
                        leads.len()
                    ));
                }
            }
            Task::Reply { .. } => {
                let r: ReplyDraft = parse(v)?;
                if r.subject.trim().is_empty() || r.body.trim().is_empty() {
                    return Err("subject and body must not be empty".into());
                }
            }
            Task::Suggestions { .. } => {
                let s: Suggestions = parse(v)?;
                if s.suggestions.len() > 5 {
                    return Err("at most 5 suggestions".into());
                }
            }
            Task::Strategy { .. } => {
                let s: SearchStrategy = parse(v)?;
                if let Some(bad) = s
                    .sources
                    .iter()
                    .find(|s| !["WEBSITE", "SEARCH", "GOOGLE_MAPS"].contains(&s.source.as_str()))
                {
                    return Err(format!("unknown source {}", bad.source));
                }
            }
        }
        Ok(())
    }
}

/// A structured-completion provider.
#[async_trait]
pub trait AiProvider: Send + Sync {
    /// `local` or `openai`.
    fn name(&self) -> &'static str;
    /// The model asked first (part of the cache key).
    fn model(&self) -> &str;
    /// Answers `task` with JSON that passed [`Task::validate`].
    async fn complete(&self, state: &AppState, task: &Task) -> Result<Completion, AiError>;
}
