//! Goal → search strategy, and lead analysis.

use super::{
    group1, matches, re,
    text::{entities, find_titles},
    unique, words, EXCLUDE,
};
use crate::domains::ai::types::{
    GoalPrompt, LeadAnalysisOutput, LeadFacts, SearchStrategy, StrategySource,
};

/// (trigger word prefix, industry).
pub(super) const INDUSTRIES: &[(&str, &str)] = &[
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

pub(super) const LOCATIONS: &[&str] = &[
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
    let (text, exclusions) = without_exclusions(goal);
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
    let urls = entities(&goal.text).urls;
    let keywords = keywords(&text, &job_titles, &locations, &urls);
    let sources = sources(&industries, &keywords, &job_titles, &locations, &urls);
    SearchStrategy {
        industries,
        keywords,
        job_titles,
        locations,
        sources,
        exclusions,
    }
}

/// The goal's text (with the target market) without its "excluding …" phrases, and those
/// exclusions.
fn without_exclusions(goal: &GoalPrompt) -> (String, Vec<String>) {
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
    (text, exclusions)
}

/// Up to 8 other words of the goal: not stopwords, titles, places or URL parts.
fn keywords(
    text: &str,
    job_titles: &[String],
    locations: &[String],
    urls: &[String],
) -> Vec<String> {
    let covered: Vec<String> = job_titles
        .iter()
        .chain(locations)
        .flat_map(|s| words(s))
        .collect();
    let url_words: Vec<String> = urls.iter().flat_map(|u| words(u)).collect();
    unique(
        words(text)
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
    .collect()
}

/// URLs as WEBSITE sources, one SEARCH query per location (≤ 3, or one without), and a
/// GOOGLE_MAPS query per location for local-business industries.
fn sources(
    industries: &[String],
    keywords: &[String],
    job_titles: &[String],
    locations: &[String],
    urls: &[String],
) -> Vec<StrategySource> {
    let topic = industries
        .first()
        .or_else(|| keywords.first())
        .cloned()
        .unwrap_or_default();
    let mut sources: Vec<StrategySource> = urls
        .iter()
        .map(|u| StrategySource {
            source: "WEBSITE".into(),
            query: u.clone(),
        })
        .collect();
    if topic.is_empty() {
        return sources;
    }
    let title = job_titles
        .first()
        .map(|t| format!(" {t}"))
        .unwrap_or_default();
    let places: Vec<Option<&String>> = if locations.is_empty() {
        vec![None]
    } else {
        locations.iter().take(3).map(Some).collect()
    };
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
    sources
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
