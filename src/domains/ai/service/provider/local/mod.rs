//! The default provider: deterministic keyword, word-list and regex rules. No network, no
//! tokens; results are labelled provider `local`, model `heuristic-v1`. These are heuristics,
//! not language understanding: they find what the lists and patterns describe and nothing else.

mod goals;
mod rank;
mod reply;
mod text;

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use serde_json::Value;

pub use goals::{analyze_lead, strategy};
pub use rank::rank;
pub use reply::{reply, suggestions};
pub use text::{classify, entities, lead_info, sentiment, summarize};

use super::{AiError, AiProvider, Completion, Task, Usage};
use crate::state::AppState;

/// The model name reported for local results.
pub const MODEL: &str = "heuristic-v1";

/// The deterministic provider.
pub struct LocalHeuristic;

#[async_trait]
impl AiProvider for LocalHeuristic {
    fn name(&self) -> &'static str {
        "local"
    }

    fn model(&self) -> &str {
        MODEL
    }

    async fn complete(&self, _state: &AppState, task: &Task) -> Result<Completion, AiError> {
        let value = answer(task).map_err(|e| AiError::InvalidOutput(e.to_string()))?;
        Ok(Completion {
            value,
            usage: Usage::default(),
            provider: "local",
            model: MODEL.to_string(),
        })
    }
}

/// The local answer to a task.
pub fn answer(task: &Task) -> Result<Value, serde_json::Error> {
    match task {
        Task::Sentiment { text } => serde_json::to_value(sentiment(text)),
        Task::Classify { text, labels } => serde_json::to_value(classify(text, labels)),
        Task::Summarize { text, max_words } => serde_json::to_value(summarize(text, *max_words)),
        Task::Entities { text } => serde_json::to_value(entities(text)),
        Task::LeadInfo { text } => serde_json::to_value(lead_info(text)),
        Task::Strategy { goal } => serde_json::to_value(strategy(goal)),
        Task::AnalyzeLead { lead } => serde_json::to_value(analyze_lead(lead)),
        Task::RankLeads {
            strategy, leads, ..
        } => serde_json::to_value(rank(strategy, leads)),
        Task::Reply {
            lead,
            context,
            tone,
            template,
        } => serde_json::to_value(reply(lead, context.as_deref(), *tone, template.as_ref())),
        Task::Suggestions { lead, timeline } => serde_json::to_value(suggestions(lead, timeline)),
    }
}

/// A pattern; `None` (matching nothing) if it does not compile — the unit test
/// `patterns_compile` makes sure every constant one does.
pub(super) fn re(p: &str) -> Option<Regex> {
    Regex::new(p).ok()
}

pub(super) fn matches(r: &Option<Regex>, text: &str) -> bool {
    r.as_ref().is_some_and(|r| r.is_match(text))
}

pub(super) fn found(r: &Option<Regex>, text: &str) -> Vec<String> {
    r.as_ref()
        .map(|r| r.find_iter(text).map(|m| m.as_str().to_string()).collect())
        .unwrap_or_default()
}

pub(super) fn group1(r: &Option<Regex>, text: &str) -> Vec<String> {
    r.as_ref()
        .map(|r| {
            r.captures_iter(text)
                .filter_map(|c| c.get(1))
                .map(|m| m.as_str().to_string())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) static WORD: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"[A-Za-z][A-Za-z'-]*"));
pub(super) static EMAIL: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"));
pub(super) static URL: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r#"(?:https?://|www\.)[^\s<>"')\]]+[^\s<>"')\].,;:!?]"#));
pub(super) static PHONE: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"\+?\(?\d[\d\s().-]{6,}\d"));
pub(super) static MONEY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)[$€£]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|bn|million|billion)\b)?|\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|dollars|euros)\b",
    )
});
pub(super) static DATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{4}\b|\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b|\b\d{1,2}\s+(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{4}\b",
    )
});
pub(super) static ORG: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"\b(?:[A-Z][A-Za-z0-9&-]*\s+){0,3}(?:Inc|LLC|Ltd|GmbH|AG|Corp|Corporation|Group|Labs|Technologies|Systems|Solutions|Software|Partners)\b\.?",
    )
});
pub(super) static NAME_INTRO: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"(?:[Mm]y name is|I am|I'm|[Tt]his is)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)")
});
pub(super) static EXCLUDE: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"(?i)\b(?:excluding|except|but not|without|no)\s+([^.,;]+)"));

fn words(text: &str) -> Vec<String> {
    found(&WORD, text)
        .iter()
        .map(|w| w.to_lowercase())
        .collect()
}

pub(super) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn unique(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in it {
        let s = s.trim().to_string();
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::{text::*, *};

    #[test]
    fn patterns_compile() {
        for p in [
            &*WORD,
            &*EMAIL,
            &*URL,
            &*PHONE,
            &*MONEY,
            &*DATE,
            &*ORG,
            &*NAME_INTRO,
            &*EXCLUDE,
        ] {
            assert!(p.is_some());
        }
    }

    #[test]
    fn sentiment_handles_negation() {
        assert_eq!(sentiment("I love it, great work").sentiment, "positive");
        assert_eq!(sentiment("This is not good").sentiment, "negative");
        assert_eq!(sentiment("The meeting is on Tuesday").score, 0.0);
    }

    #[test]
    fn summary_cuts_long_first_sentence() {
        assert_eq!(
            summarize("one two three four five.", 3).summary,
            "one two three…"
        );
        assert_eq!(summarize("A b. C d e. F.", 5).summary, "A b. C d e.");
    }
}
