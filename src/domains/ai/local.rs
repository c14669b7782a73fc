//! The default provider: deterministic keyword, word-list and regex rules. No network, no
//! tokens; results are labelled provider `local`, model `heuristic-v1`. These are heuristics,
//! not language understanding: they find what the lists and patterns describe and nothing else.

use std::sync::LazyLock;

use async_trait::async_trait;
use regex::Regex;
use serde_json::Value;

use super::{
    provider::{AiError, AiProvider, Completion, Task, Usage},
    types::{
        Classification, Entities, GoalPrompt, LabelScore, LeadAnalysisOutput, LeadFacts, LeadInfo,
        SearchStrategy, Sentiment, StrategySource, Summary,
    },
};
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
    }
}

/// A pattern; `None` (matching nothing) if it does not compile — the unit test
/// `patterns_compile` makes sure every constant one does.
fn re(p: &str) -> Option<Regex> {
    Regex::new(p).ok()
}

fn matches(r: &Option<Regex>, text: &str) -> bool {
    r.as_ref().is_some_and(|r| r.is_match(text))
}

fn found(r: &Option<Regex>, text: &str) -> Vec<String> {
    r.as_ref()
        .map(|r| r.find_iter(text).map(|m| m.as_str().to_string()).collect())
        .unwrap_or_default()
}

fn group1(r: &Option<Regex>, text: &str) -> Vec<String> {
    r.as_ref()
        .map(|r| {
            r.captures_iter(text)
                .filter_map(|c| c.get(1))
                .map(|m| m.as_str().to_string())
                .collect()
        })
        .unwrap_or_default()
}

static WORD: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"[A-Za-z][A-Za-z'-]*"));
static EMAIL: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"));
static URL: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r#"(?:https?://|www\.)[^\s<>"')\]]+[^\s<>"')\].,;:!?]"#));
static PHONE: LazyLock<Option<Regex>> = LazyLock::new(|| re(r"\+?\(?\d[\d\s().-]{6,}\d"));
static MONEY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)[$€£]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:k|m|bn|million|billion)\b)?|\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|dollars|euros)\b",
    )
});
static DATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{4}\b|\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}\b|\b\d{1,2}\s+(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{4}\b",
    )
});
static ORG: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"\b(?:[A-Z][A-Za-z0-9&-]*\s+){0,3}(?:Inc|LLC|Ltd|GmbH|AG|Corp|Corporation|Group|Labs|Technologies|Systems|Solutions|Software|Partners)\b\.?",
    )
});
static NAME_INTRO: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"(?:[Mm]y name is|I am|I'm|[Tt]his is)\s+([A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)")
});
static EXCLUDE: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"(?i)\b(?:excluding|except|but not|without|no)\s+([^.,;]+)"));

const POSITIVE: &[&str] = &[
    "good",
    "great",
    "excellent",
    "love",
    "like",
    "happy",
    "pleased",
    "interested",
    "thanks",
    "thank",
    "amazing",
    "awesome",
    "helpful",
    "perfect",
    "glad",
    "excited",
    "impressed",
    "yes",
    "wonderful",
    "fantastic",
    "recommend",
    "works",
    "fast",
    "easy",
];
const NEGATIVE: &[&str] = &[
    "bad",
    "terrible",
    "awful",
    "hate",
    "angry",
    "disappointed",
    "unhappy",
    "poor",
    "slow",
    "broken",
    "problem",
    "issue",
    "refund",
    "cancel",
    "worst",
    "useless",
    "annoying",
    "never",
    "expensive",
    "bug",
    "fail",
    "failed",
    "complaint",
    "unsubscribe",
];
const NEGATIONS: &[&str] = &[
    "not", "no", "don't", "doesn't", "didn't", "isn't", "wasn't", "won't",
];

fn words(text: &str) -> Vec<String> {
    found(&WORD, text)
        .iter()
        .map(|w| w.to_lowercase())
        .collect()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Word-list sentiment: positive and negative words, a negation flips the next word.
pub fn sentiment(text: &str) -> Sentiment {
    let (mut pos, mut neg) = (0i32, 0i32);
    let ws = words(text);
    for (i, w) in ws.iter().enumerate() {
        let negated = i > 0 && NEGATIONS.contains(&ws[i - 1].as_str());
        let (p, n) = (
            POSITIVE.contains(&w.as_str()),
            NEGATIVE.contains(&w.as_str()),
        );
        match (p, n, negated) {
            (true, _, false) | (_, true, true) => pos += 1,
            (true, _, true) | (_, true, false) => neg += 1,
            _ => {}
        }
    }
    let total = pos + neg;
    let score = if total == 0 {
        0.0
    } else {
        round2(f64::from(pos - neg) / f64::from(total))
    };
    let sentiment = if pos > neg {
        "positive"
    } else if neg > pos {
        "negative"
    } else {
        "neutral"
    };
    Sentiment {
        sentiment: sentiment.into(),
        score,
    }
}

fn stem(w: &str) -> &str {
    w.strip_suffix("es")
        .filter(|s| s.len() >= 3)
        .or_else(|| w.strip_suffix('s').filter(|s| s.len() >= 3))
        .unwrap_or(w)
}

/// Keyword overlap: each label scores the text words equal (after a plural strip) to one of
/// its words; ties go to the label given first.
pub fn classify(text: &str, labels: &[String]) -> Classification {
    let text_words: Vec<String> = words(text).iter().map(|w| stem(w).to_string()).collect();
    let raw: Vec<usize> = labels
        .iter()
        .map(|l| {
            let lw: Vec<String> = words(l).iter().map(|w| stem(w).to_string()).collect();
            text_words.iter().filter(|w| lw.contains(w)).count()
        })
        .collect();
    let sum: usize = raw.iter().sum();
    let scores: Vec<LabelScore> = labels
        .iter()
        .zip(&raw)
        .map(|(l, n)| LabelScore {
            label: l.clone(),
            score: if sum == 0 {
                0.0
            } else {
                round2(*n as f64 / sum as f64)
            },
        })
        .collect();
    let mut best = 0;
    for (i, n) in raw.iter().enumerate() {
        if *n > raw[best] {
            best = i;
        }
    }
    Classification {
        label: labels.get(best).cloned().unwrap_or_default(),
        confidence: scores.get(best).map(|s| s.score).unwrap_or(0.0),
        scores,
    }
}

/// Leading sentences while they fit in `max_words`; a first sentence longer than that is cut
/// and ends with "…".
pub fn summarize(text: &str, max_words: u32) -> Summary {
    let max = max_words as usize;
    let mut sentences = Vec::new();
    let mut current = String::new();
    for ch in text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
    {
        current.push(ch);
        if matches!(ch, '.' | '!' | '?') {
            sentences.push(std::mem::take(&mut current));
        }
    }
    if !current.trim().is_empty() {
        sentences.push(current);
    }
    let mut out: Vec<&str> = Vec::new();
    let mut count = 0;
    for s in &sentences {
        let n = s.split_whitespace().count();
        if count + n > max {
            if out.is_empty() {
                let cut: Vec<&str> = s.split_whitespace().take(max).collect();
                return Summary {
                    summary: format!("{}…", cut.join(" ")),
                };
            }
            break;
        }
        count += n;
        out.push(s.trim());
    }
    Summary {
        summary: out.join(" "),
    }
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

/// Pattern matches: emails, phone numbers (7+ digits, not dates), URLs, names ending in a
/// company suffix, money amounts and dates.
pub fn entities(text: &str) -> Entities {
    let emails = unique(found(&EMAIL, text).into_iter());
    let urls = unique(found(&URL, text).into_iter());
    let dates = unique(found(&DATE, text).into_iter());
    let phones = unique(
        found(&PHONE, text)
            .into_iter()
            .map(|p| p.trim().to_string())
            .filter(|p| {
                let digits = p.chars().filter(char::is_ascii_digit).count();
                (7..=15).contains(&digits) && !dates.iter().any(|d| d.contains(p.as_str()))
            }),
    );
    let money = unique(found(&MONEY, text).into_iter());
    let organizations = unique(
        found(&ORG, text)
            .into_iter()
            .map(|o| o.trim_end_matches('.').to_string())
            .filter(|o| o.split_whitespace().count() >= 2),
    );
    Entities {
        emails,
        phones,
        urls,
        organizations,
        money,
        dates,
    }
}

const TITLES: &[&str] = &[
    "Co-founder",
    "Founder",
    "CEO",
    "CTO",
    "CFO",
    "COO",
    "CMO",
    "Owner",
    "VP of Sales",
    "VP of Marketing",
    "VP of Engineering",
    "Head of Sales",
    "Head of Marketing",
    "Head of Growth",
    "Marketing Manager",
    "Sales Manager",
    "Office Manager",
    "Engineering Manager",
    "Product Manager",
    "Recruiter",
    "Director",
];

fn find_titles(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut found: Vec<String> = Vec::new();
    for t in TITLES {
        let p = format!(r"\b{}s?\b", regex::escape(&t.to_lowercase()));
        if matches(&re(&p), &lower) {
            // "Co-founder" already covers "founder".
            if !found
                .iter()
                .any(|f| f.to_lowercase().contains(&t.to_lowercase()))
            {
                found.push((*t).to_string());
            }
        }
    }
    found
}

/// The first email, phone, URL (else the email's domain), company-like name, job title and an
/// introduced name ("I'm Jane Doe", "my name is …").
pub fn lead_info(text: &str) -> LeadInfo {
    let e = entities(text);
    let email = e.emails.first().cloned();
    let website = e.urls.first().cloned();
    LeadInfo {
        name: group1(&NAME_INTRO, text).into_iter().next(),
        phone: e.phones.first().cloned(),
        company: e.organizations.first().cloned(),
        title: find_titles(text).into_iter().next(),
        website,
        email,
    }
}

/// (trigger word prefix, industry).
const INDUSTRIES: &[(&str, &str)] = &[
    ("saas", "Software"),
    ("software", "Software"),
    ("dental", "Dental"),
    ("dentist", "Dental"),
    ("restaurant", "Restaurants"),
    ("real estate", "Real Estate"),
    ("realtor", "Real Estate"),
    ("law firm", "Legal"),
    ("lawyer", "Legal"),
    ("legal", "Legal"),
    ("marketing agenc", "Marketing"),
    ("ecommerce", "E-commerce"),
    ("e-commerce", "E-commerce"),
    ("online store", "E-commerce"),
    ("healthcare", "Healthcare"),
    ("clinic", "Healthcare"),
    ("fintech", "Finance"),
    ("bank", "Finance"),
    ("construction", "Construction"),
    ("manufactur", "Manufacturing"),
    ("logistic", "Logistics"),
    ("school", "Education"),
    ("education", "Education"),
    ("hotel", "Hospitality"),
    ("hospitality", "Hospitality"),
    ("gym", "Fitness"),
    ("fitness", "Fitness"),
];

/// Industries whose businesses are found on a map.
const LOCAL_BUSINESS: &[&str] = &[
    "Dental",
    "Restaurants",
    "Real Estate",
    "Legal",
    "Healthcare",
    "Construction",
    "Hospitality",
    "Fitness",
];

const LOCATIONS: &[&str] = &[
    "New York",
    "San Francisco",
    "Los Angeles",
    "Chicago",
    "Austin",
    "Boston",
    "Seattle",
    "Toronto",
    "London",
    "Berlin",
    "Munich",
    "Hamburg",
    "Paris",
    "Amsterdam",
    "Dublin",
    "Madrid",
    "Barcelona",
    "Sydney",
    "Germany",
    "France",
    "United Kingdom",
    "United States",
    "USA",
    "UK",
    "Canada",
    "Australia",
    "Spain",
    "Netherlands",
    "Ireland",
    "California",
    "Texas",
];

const STOPWORDS: &[&str] = &[
    "find",
    "get",
    "me",
    "leads",
    "lead",
    "for",
    "in",
    "the",
    "a",
    "an",
    "of",
    "and",
    "or",
    "with",
    "who",
    "that",
    "are",
    "at",
    "to",
    "companies",
    "company",
    "businesses",
    "business",
    "looking",
    "want",
    "need",
    "i",
    "we",
    "our",
    "us",
    "based",
    "near",
    "around",
    "from",
    "on",
    "contacts",
    "contact",
    "people",
    "decision",
    "makers",
    "their",
    "them",
    "is",
    "which",
    "have",
    "has",
    "all",
    "any",
    "some",
    "more",
    "than",
    "small",
    "excluding",
    "except",
    "without",
    "not",
    "no",
    "but",
];

/// Goal → strategy: industries, job titles and locations matched against the built-in lists,
/// the other words of the goal as keywords, "excluding …" phrases as exclusions, URLs as
/// WEBSITE sources, one SEARCH query per location (or one without), and a GOOGLE_MAPS query per
/// location for local-business industries.
pub fn strategy(goal: &GoalPrompt) -> SearchStrategy {
    let mut text = goal.text.clone();
    let exclusions = unique(
        group1(&EXCLUDE, &goal.text)
            .into_iter()
            .map(|m| m.to_lowercase()),
    );
    for x in &exclusions {
        if let Some(r) = re(&format!(
            r"(?i)\b(?:excluding|except|but not|without|no)\s+{}",
            regex::escape(x)
        )) {
            text = r.replace_all(&text, " ").into_owned();
        }
    }
    if let Some(m) = &goal.target_market {
        text.push_str(". ");
        text.push_str(m);
    }
    let lower = text.to_lowercase();
    let industries = unique(
        INDUSTRIES
            .iter()
            .filter(|(t, _)| matches(&re(&format!(r"\b{}", regex::escape(t))), &lower))
            .map(|(_, i)| (*i).to_string()),
    );
    let job_titles = find_titles(&text);
    let mut locations = unique(
        LOCATIONS
            .iter()
            .filter(|l| matches(&re(&format!(r"\b{}\b", regex::escape(l))), &text))
            .map(|l| (*l).to_string()),
    );
    for l in &goal.locations {
        if !locations.iter().any(|x| x.eq_ignore_ascii_case(l.trim())) && !l.trim().is_empty() {
            locations.push(l.trim().to_string());
        }
    }
    let covered: Vec<String> = job_titles
        .iter()
        .chain(&locations)
        .flat_map(|s| words(s))
        .collect();
    let urls = entities(&goal.text).urls;
    let url_words: Vec<String> = urls.iter().flat_map(|u| words(u)).collect();
    let keywords: Vec<String> = unique(
        words(&text)
            .into_iter()
            .map(|w| w.trim_end_matches('\'').to_string())
            .filter(|w| {
                w.len() >= 3
                    && !STOPWORDS.contains(&w.as_str())
                    && !covered.contains(w)
                    && !covered.contains(&w.trim_end_matches('s').to_string())
                    && !url_words.contains(w)
            }),
    )
    .into_iter()
    .take(8)
    .collect();
    let topic = industries
        .first()
        .cloned()
        .or_else(|| keywords.first().cloned())
        .unwrap_or_default();
    let mut sources: Vec<StrategySource> = urls
        .iter()
        .map(|u| StrategySource {
            source: "WEBSITE".into(),
            query: u.clone(),
        })
        .collect();
    let title = job_titles
        .first()
        .map(|t| format!(" {t}"))
        .unwrap_or_default();
    let places: Vec<Option<&String>> = if locations.is_empty() {
        vec![None]
    } else {
        locations.iter().take(3).map(Some).collect()
    };
    if !topic.is_empty() {
        for l in &places {
            let at = l.map(|l| format!(" {l}")).unwrap_or_default();
            sources.push(StrategySource {
                source: "SEARCH".into(),
                query: format!("{topic}{title}{at}").to_lowercase(),
            });
        }
        if industries
            .iter()
            .any(|i| LOCAL_BUSINESS.contains(&i.as_str()))
        {
            for l in places.iter().flatten() {
                sources.push(StrategySource {
                    source: "GOOGLE_MAPS".into(),
                    query: format!("{} in {l}", topic.to_lowercase()),
                });
            }
        }
    }
    SearchStrategy {
        industries,
        keywords,
        job_titles,
        locations,
        sources,
        exclusions,
    }
}

/// Lead analysis from the lead's own fields: the summary joins name, title, company, industry
/// and location; the fit score is the lead's rule-based score (`leads::scoring`) with its
/// reasons; the next action follows the status and the contact details present; talking points
/// come from the industry, title and website.
pub fn analyze_lead(l: &LeadFacts) -> LeadAnalysisOutput {
    let who = l.name.clone().unwrap_or_else(|| "Unnamed contact".into());
    let mut summary = who;
    if let Some(t) = &l.title {
        summary.push_str(&format!(", {t}"));
    }
    if let Some(c) = &l.company {
        summary.push_str(&format!(" at {c}"));
    }
    let mut context = Vec::new();
    if let Some(i) = &l.industry {
        context.push(i.clone());
    }
    if let Some(loc) = &l.location {
        context.push(loc.clone());
    }
    if !context.is_empty() {
        summary.push_str(&format!(" ({})", context.join(", ")));
    }
    summary.push('.');
    let next_action = if !l.has_email && !l.has_phone {
        "Find an email address or phone number"
    } else {
        match l.status.as_str() {
            "NEW" if l.has_email => "Send an introduction email",
            "NEW" => "Call to introduce yourself",
            "CONTACTED" => "Follow up on the first contact",
            "QUALIFIED" => "Propose a meeting",
            "CONVERTED" => "Ask for a referral",
            "LOST" | "UNQUALIFIED" => "Leave for now; revisit in three months",
            _ => "Review the lead",
        }
    }
    .to_string();
    let mut talking_points = Vec::new();
    if let Some(i) = &l.industry {
        talking_points.push(format!("Current challenges in {i}"));
    }
    if let Some(t) = &l.title {
        talking_points.push(format!("What a {t} is measured on"));
    }
    if let Some(w) = &l.website {
        talking_points.push(format!("What {w} says about their offer"));
    }
    if talking_points.is_empty() {
        talking_points.push("Their current process and tools".into());
    }
    LeadAnalysisOutput {
        summary,
        fit_score: l.score.clamp(0, 100),
        reasons: l.score_reasons.clone(),
        next_action,
        talking_points,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
