//! Text tools: word-list sentiment, keyword classification, leading-sentence summaries, regex
//! entities and lead fields.

use super::{
    found, group1, matches, re, round2, unique, words, DATE, EMAIL, MONEY, NAME_INTRO, ORG, PHONE,
    URL,
};
use crate::domains::ai::types::{
    Classification, Entities, LabelScore, LeadInfo, Sentiment, Summary,
};

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

pub(super) const TITLES: &[&str] = &[
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

pub(super) fn find_titles(text: &str) -> Vec<String> {
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
