//! Deterministic, explainable lead scoring: each rule that fires adds points and a reason.

use entity::lead;

use crate::domains::leads::types::ScoreReason;

fn reason(rule: &str, points: i32, detail: impl Into<String>) -> ScoreReason {
    ScoreReason {
        rule: rule.into(),
        points,
        detail: detail.into(),
    }
}

/// Seniority points from a job title.
fn seniority(title: &str) -> Option<(i32, &'static str)> {
    let t = title.to_lowercase();
    let words: Vec<&str> = t
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    if [
        "ceo",
        "cto",
        "cfo",
        "coo",
        "cmo",
        "founder",
        "cofounder",
        "owner",
        "president",
        "partner",
    ]
    .iter()
    .any(|w| has(w))
        || t.contains("co-founder")
        || t.contains("chief")
    {
        Some((25, "executive"))
    } else if has("vp") || t.contains("vice president") || has("head") || has("director") {
        Some((20, "senior leadership"))
    } else if has("manager") || has("lead") {
        Some((10, "manager"))
    } else {
        None
    }
}

/// Scores a lead; `contacted` and `notes` describe engagement.
pub fn score(l: &lead::Model, notes: u64) -> (i32, Vec<ScoreReason>) {
    let mut reasons = Vec::new();
    if l.email.is_some() {
        reasons.push(reason("has_email", 20, "an email address is known"));
    }
    if l.phone.is_some() {
        reasons.push(reason("has_phone", 15, "a valid phone number is known"));
    }
    if l.website.is_some() {
        reasons.push(reason("has_website", 10, "the company has a website"));
    }
    if !l.company.is_empty() {
        reasons.push(reason("has_company", 10, "the company is known"));
    }
    if let Some((points, level)) = l.title.as_deref().and_then(seniority) {
        reasons.push(reason(
            "title_seniority",
            points,
            format!("title suggests {level}"),
        ));
    }
    if l.industry.is_some() {
        reasons.push(reason("has_industry", 5, "the industry is known"));
    }
    if l.last_contacted_at.is_some() {
        reasons.push(reason("engaged", 10, "the lead was contacted"));
    }
    if notes > 0 {
        reasons.push(reason("researched", 5, format!("{notes} note(s) on file")));
    }
    let total = reasons.iter().map(|r| r.points).sum::<i32>().clamp(0, 100);
    (total, reasons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seniority_levels() {
        assert_eq!(seniority("Co-Founder & CEO").map(|s| s.0), Some(25));
        assert_eq!(seniority("VP Sales").map(|s| s.0), Some(20));
        assert_eq!(seniority("Engineering Manager").map(|s| s.0), Some(10));
        assert_eq!(seniority("Engineer"), None);
        assert_eq!(seniority("Directory clerk"), None, "whole words only");
    }
}
