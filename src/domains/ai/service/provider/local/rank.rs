//! Ranking a goal's leads: each lead's fields are compared with the strategy — industries
//! (by name or by the built-in trigger words), keywords, job titles, locations (city/region
//! text, or the country of a built-in place), exclusions — plus points for contact details.
//! Every point comes with a reason. No language understanding: only the words the lead's
//! fields contain count.

use super::{goals::INDUSTRIES, words};
use crate::domains::ai::types::{Candidate, RankedLead, Ranking, SearchStrategy};

/// Built-in places and their ISO country codes (the crawler stores countries as codes).
const PLACE_COUNTRY: &[(&str, &str)] = &[
    ("new york", "US"),
    ("san francisco", "US"),
    ("los angeles", "US"),
    ("chicago", "US"),
    ("austin", "US"),
    ("boston", "US"),
    ("seattle", "US"),
    ("california", "US"),
    ("texas", "US"),
    ("united states", "US"),
    ("usa", "US"),
    ("toronto", "CA"),
    ("canada", "CA"),
    ("london", "GB"),
    ("united kingdom", "GB"),
    ("uk", "GB"),
    ("berlin", "DE"),
    ("munich", "DE"),
    ("hamburg", "DE"),
    ("germany", "DE"),
    ("paris", "FR"),
    ("france", "FR"),
    ("amsterdam", "NL"),
    ("netherlands", "NL"),
    ("dublin", "IE"),
    ("ireland", "IE"),
    ("madrid", "ES"),
    ("barcelona", "ES"),
    ("spain", "ES"),
    ("sydney", "AU"),
    ("australia", "AU"),
];

fn stem(w: &str) -> String {
    let w = w.to_lowercase();
    w.strip_suffix('s')
        .filter(|s| s.len() >= 3)
        .map(str::to_string)
        .unwrap_or(w)
}

/// Stemmed words of the lead's descriptive fields (company, title, industry, website host,
/// email domain, tags).
fn lead_words(c: &Candidate) -> Vec<String> {
    let domain = c.email.as_deref().and_then(|e| e.split('@').nth(1));
    let parts = [
        c.company.as_deref(),
        c.title.as_deref(),
        c.industry.as_deref(),
        c.website.as_deref(),
        domain,
    ];
    let mut out: Vec<String> = parts
        .iter()
        .flatten()
        .flat_map(|p| words(&p.replace(['-', '.', '/', '_'], " ")))
        .map(|w| stem(&w))
        .collect();
    out.extend(c.tags.iter().flat_map(|t| words(t)).map(|w| stem(&w)));
    out
}

/// True when every word of `phrase` (stemmed, 3+ letters) is among `ws`.
fn has_phrase(ws: &[String], phrase: &str) -> bool {
    let p: Vec<String> = words(phrase)
        .iter()
        .map(|w| stem(w))
        .filter(|w| w.len() >= 3)
        .collect();
    !p.is_empty() && p.iter().all(|w| ws.contains(w))
}

/// True when `text` contains a trigger word (prefix) of `industry`.
fn has_trigger(ws: &[String], industry: &str) -> Option<&'static str> {
    INDUSTRIES
        .iter()
        .filter(|(_, i)| i.eq_ignore_ascii_case(industry))
        .find(|(t, _)| {
            let tw: Vec<String> = words(t).iter().map(|w| w.to_lowercase()).collect();
            tw.iter()
                .all(|t| ws.iter().any(|w| w.starts_with(t.as_str())))
        })
        .map(|(t, _)| *t)
}

/// One lead against the strategy.
pub fn rank_one(s: &SearchStrategy, c: &Candidate) -> RankedLead {
    let ws = lead_words(c);
    let mut score = 0;
    let mut reasons = Vec::new();
    let mut matched = false;
    let mut add = |pts: i32, why: String, criterion: bool| {
        score += pts;
        matched |= criterion;
        reasons.push(format!("+{pts} {why}"));
    };
    if let Some(how) = industry_match(s, c, &ws) {
        add(35, how, true);
    }
    let kw: Vec<&String> = s.keywords.iter().filter(|k| has_phrase(&ws, k)).collect();
    if !kw.is_empty() {
        let pts = (kw.len() as i32 * 10).min(30);
        let names: Vec<&str> = kw.iter().map(|k| k.as_str()).collect();
        add(pts, format!("keywords: {}", names.join(", ")), true);
    }
    if let Some(t) = c.title.as_deref().and_then(|title| {
        s.job_titles
            .iter()
            .find(|j| title.to_lowercase().contains(&j.to_lowercase()))
    }) {
        add(20, format!("job title {t}"), true);
    }
    if let Some((pts, why)) = place_match(s, c) {
        add(pts, why, true);
    }
    if c.email.is_some() {
        add(10, "has an email address".into(), false);
    }
    if c.has_phone {
        add(5, "has a phone number".into(), false);
    }
    let valid = verdict(s, c, &ws, matched, &mut reasons);
    RankedLead {
        lead_id: c.id.clone(),
        score: score.clamp(0, 100),
        valid,
        reasons,
    }
}

/// How the lead matches one of the strategy's industries (its industry, the industry's name
/// or a trigger word among its words).
fn industry_match(s: &SearchStrategy, c: &Candidate, ws: &[String]) -> Option<String> {
    s.industries.iter().find_map(|i| {
        if c.industry
            .as_deref()
            .is_some_and(|x| x.eq_ignore_ascii_case(i))
            || has_phrase(ws, i)
        {
            Some(format!("industry {i}"))
        } else {
            has_trigger(ws, i).map(|t| format!("industry {i} (\"{t}\")"))
        }
    })
}

/// Points and reason for a strategy location: in the lead's location text (15), or only the
/// same country as a built-in place (8).
fn place_match(s: &SearchStrategy, c: &Candidate) -> Option<(i32, String)> {
    let loc = c.location.clone().unwrap_or_default().to_lowercase();
    let country = loc.rsplit(", ").next().unwrap_or_default().to_uppercase();
    s.locations.iter().find_map(|l| {
        let l_lower = l.to_lowercase();
        if !loc.is_empty() && loc.contains(&l_lower) {
            return Some((15, format!("located in {l}")));
        }
        PLACE_COUNTRY
            .iter()
            .find(|(p, cc)| *p == l_lower && country == *cc)
            .map(|(_, cc)| (8, format!("same country as {l} ({cc})")))
    })
}

/// VALID unless an exclusion matches, the lead cannot be reached, or the strategy has criteria
/// and none matched (the reason is added to `reasons`).
fn verdict(
    s: &SearchStrategy,
    c: &Candidate,
    ws: &[String],
    matched: bool,
    reasons: &mut Vec<String>,
) -> bool {
    let criteria = !(s.industries.is_empty()
        && s.keywords.is_empty()
        && s.job_titles.is_empty()
        && s.locations.is_empty());
    let rejected = if let Some(x) = s.exclusions.iter().find(|x| has_phrase(ws, x)) {
        format!("rejected: matches the exclusion \"{x}\"")
    } else if c.email.is_none() && !c.has_phone {
        "rejected: no email address or phone number".into()
    } else if criteria && !matched {
        "rejected: matches none of the goal's industries, keywords, job titles or locations".into()
    } else {
        return true;
    };
    reasons.push(rejected);
    false
}

/// Every candidate, in the given order.
pub fn rank(s: &SearchStrategy, leads: &[Candidate]) -> Ranking {
    Ranking {
        leads: leads.iter().map(|c| rank_one(s, c)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(company: &str, email: Option<&str>, location: Option<&str>) -> Candidate {
        Candidate {
            id: company.into(),
            name: None,
            title: None,
            company: Some(company.into()),
            industry: None,
            website: None,
            location: location.map(str::to_string),
            email: email.map(str::to_string),
            has_phone: false,
            tags: vec![],
        }
    }

    #[test]
    fn scores_with_reasons_and_rejects() {
        let s = SearchStrategy {
            industries: vec!["Dental".into()],
            keywords: vec!["implants".into()],
            locations: vec!["Berlin".into()],
            exclusions: vec!["chains".into()],
            ..Default::default()
        };
        let good = rank_one(
            &s,
            &cand(
                "Smile Dentist Implants",
                Some("a@smile.de"),
                Some("Berlin, DE"),
            ),
        );
        assert!(good.valid);
        assert_eq!(good.score, 35 + 10 + 15 + 10, "{:?}", good.reasons);
        let other = rank_one(&s, &cand("Bakery", Some("b@bake.de"), None));
        assert!(!other.valid);
        assert_eq!(other.score, 10);
        let chain = rank_one(&s, &cand("Dental Chains", Some("c@x.de"), None));
        assert!(!chain.valid);
        let country = rank_one(&s, &cand("Dental Co", None, Some("Munich, DE")));
        assert!(!country.valid, "no contact details");
        assert_eq!(country.score, 35 + 8);
    }
}
