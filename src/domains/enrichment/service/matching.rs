//! Duplicate matching, pure: each lead's normalised keys ([`Keys`]), the blocks that decide which
//! pairs are compared at all ([`candidate_pairs`]), and the score of one pair ([`score`]).
//!
//! **Blocking.** A pair is compared only when the two leads share a blocking key: the normalised
//! email, the email domain (free webmail excluded: everybody shares gmail.com), the website
//! host, the normalised company name, or the phone's last 10 digits. Inside a block the members
//! are sorted by name and each is compared with its next [`WINDOW`] neighbours (the sorted
//! neighbourhood method), so a block of 5 000 leads of one company costs 5 000 × [`WINDOW`]
//! comparisons, never 5 000² / 2. Names alone are no blocking key (too weak to pair on).
//!
//! **Score** (points, capped at 100; a pair with fewer than [`THRESHOLD`] is no candidate):
//!
//! | reason | points |
//! | --- | --- |
//! | SAME_EMAIL (normalised) | 100 |
//! | SAME_PHONE (last 10 digits, at least 7) | 60 |
//! | SIMILAR_NAME (Jaro-Winkler of the normalised full names ≥ [`NAME_SIMILARITY`]) | 50 × similarity |
//! | SAME_COMPANY (normalised name equal and a shared domain: email domain or website host) | 30 |
//! | SAME_WEBSITE (host equal) | 20 |
//!
//! So two different people of one company with one website (50) are no pair, the same person
//! written twice at that company (≈ 78) is.

use std::collections::{BTreeSet, HashMap};

use crate::{
    domains::enrichment::types::DuplicateReason,
    platform::contact::{is_free_provider, normalise_email},
};

/// Neighbours each block member is compared with (after sorting the block by name).
pub const WINDOW: usize = 12;
/// Fewest points of a candidate pair.
pub const THRESHOLD: u32 = 60;
/// Least Jaro-Winkler similarity of two full names that counts as SIMILAR_NAME.
pub const NAME_SIMILARITY: f64 = 0.9;

/// What matching reads of a lead.
#[derive(Debug, Clone, Default)]
pub struct Fields<'a> {
    /// Given name.
    pub first_name: Option<&'a str>,
    /// Family name.
    pub last_name: Option<&'a str>,
    /// Email.
    pub email: Option<&'a str>,
    /// Phone, any format.
    pub phone: Option<&'a str>,
    /// Company name.
    pub company: &'a str,
    /// Website, any format.
    pub website: Option<&'a str>,
}

/// A lead's normalised keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keys {
    /// `first last`, lowercase letters and digits, single spaces.
    pub name: Option<String>,
    /// Normalised email.
    pub email: Option<String>,
    /// Email domain, unless free webmail.
    pub email_domain: Option<String>,
    /// The phone's last 10 digits (at least 7 digits).
    pub phone: Option<String>,
    /// Company name: lowercase words without punctuation or legal suffixes.
    pub company: Option<String>,
    /// Website host without `www.`.
    pub host: Option<String>,
}

const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "ltd",
    "limited",
    "gmbh",
    "corp",
    "corporation",
    "co",
    "company",
    "sa",
    "sas",
    "sarl",
    "ag",
    "bv",
    "nv",
    "plc",
    "srl",
    "spa",
    "oy",
    "ab",
    "as",
    "kg",
    "the",
];

/// Lowercase alphanumeric words joined by single spaces (anything else separates words).
fn words(s: &str) -> Vec<String> {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The normalised company name: `ACME, Inc.` and `Acme Inc` are both `acme`.
pub fn company_key(company: &str) -> Option<String> {
    let w: Vec<String> = words(company)
        .into_iter()
        .filter(|w| !LEGAL_SUFFIXES.contains(&w.as_str()))
        .collect();
    (!w.is_empty()).then(|| w.join(" "))
}

/// The website's host, lowercase, without `www.`, port or path.
pub fn host_key(website: &str) -> Option<String> {
    let s = website.trim().to_lowercase();
    let s = s.split_once("://").map_or(s.as_str(), |(_, rest)| rest);
    let host = s.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next()?.trim_end_matches('.');
    let host = host.strip_prefix("www.").unwrap_or(host);
    (host.contains('.') && !host.starts_with('.')).then(|| host.to_string())
}

/// The phone's last 10 digits, when it has at least 7.
pub fn phone_key(phone: &str) -> Option<String> {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 7).then(|| digits[digits.len().saturating_sub(10)..].iter().collect())
}

impl Keys {
    /// The keys of `f`.
    pub fn of(f: &Fields<'_>) -> Keys {
        let name: Vec<String> = [f.first_name, f.last_name]
            .into_iter()
            .flatten()
            .flat_map(words)
            .collect();
        let email = f.email.and_then(|e| normalise_email(e).ok());
        Keys {
            name: (!name.is_empty()).then(|| name.join(" ")),
            email_domain: email
                .as_ref()
                .filter(|e| !is_free_provider(&e.domain))
                .map(|e| e.domain.clone()),
            email: email.map(|e| e.address),
            phone: f.phone.and_then(phone_key),
            company: company_key(f.company),
            host: f.website.and_then(host_key),
        }
    }

    /// The blocking keys (prefixed by kind, so kinds never collide).
    fn blocking(&self) -> Vec<String> {
        let tagged = [
            ("e", &self.email),
            ("d", &self.email_domain),
            ("w", &self.host),
            ("c", &self.company),
            ("p", &self.phone),
        ];
        tagged
            .into_iter()
            .filter_map(|(t, k)| k.as_ref().map(|k| format!("{t}:{k}")))
            .collect()
    }

    /// The domains this lead is known by (email domain, website host).
    fn domains(&self) -> impl Iterator<Item = &String> {
        self.email_domain.iter().chain(self.host.iter())
    }
}

/// The pairs `(i, j)`, `i < j`, of `keys` worth scoring: both in one block, within
/// [`WINDOW`] of each other in the block's name order. Each pair once, in ascending order.
pub fn candidate_pairs(keys: &[Keys]) -> BTreeSet<(usize, usize)> {
    let mut blocks: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        for b in k.blocking() {
            blocks.entry(b).or_default().push(i);
        }
    }
    let mut pairs = BTreeSet::new();
    for mut members in blocks.into_values() {
        if members.len() < 2 {
            continue;
        }
        members.sort_by(|a, b| keys[*a].name.cmp(&keys[*b].name).then(a.cmp(b)));
        for (n, &a) in members.iter().enumerate() {
            for &b in members.iter().skip(n + 1).take(WINDOW) {
                pairs.insert((a.min(b), a.max(b)));
            }
        }
    }
    pairs
}

/// The score (0–100 points) and reasons of a pair, or `None` below [`THRESHOLD`].
pub fn score(a: &Keys, b: &Keys) -> Option<(u32, Vec<DuplicateReason>)> {
    let same = |x: &Option<String>, y: &Option<String>| x.is_some() && x == y;
    let mut points = 0u32;
    let mut reasons = Vec::new();
    if same(&a.email, &b.email) {
        points += 100;
        reasons.push(DuplicateReason::SameEmail);
    }
    if same(&a.phone, &b.phone) {
        points += 60;
        reasons.push(DuplicateReason::SamePhone);
    }
    if let (Some(x), Some(y)) = (&a.name, &b.name) {
        let similarity = strsim::jaro_winkler(x, y);
        if similarity >= NAME_SIMILARITY {
            points += (50.0 * similarity).round() as u32;
            reasons.push(DuplicateReason::SimilarName);
        }
    }
    let shared_domain = a.domains().any(|d| b.domains().any(|e| d == e));
    if same(&a.company, &b.company) && shared_domain {
        points += 30;
        reasons.push(DuplicateReason::SameCompany);
    }
    if same(&a.host, &b.host) {
        points += 20;
        reasons.push(DuplicateReason::SameWebsite);
    }
    (points >= THRESHOLD).then_some((points.min(100), reasons))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use DuplicateReason::*;

    fn lead<'a>(
        first: &'a str,
        last: &'a str,
        email: &'a str,
        company: &'a str,
        website: &'a str,
        phone: &'a str,
    ) -> Keys {
        let opt = |s: &'a str| (!s.is_empty()).then_some(s);
        Keys::of(&Fields {
            first_name: opt(first),
            last_name: opt(last),
            email: opt(email),
            phone: opt(phone),
            company,
            website: opt(website),
        })
    }

    #[test]
    fn keys_normalise_company_host_and_phone() {
        assert_eq!(company_key("ACME, Inc.").as_deref(), Some("acme"));
        assert_eq!(
            company_key("The Acme Company GmbH").as_deref(),
            Some("acme")
        );
        assert_eq!(company_key("Inc."), None);
        assert_eq!(
            host_key("https://www.Acme.example:8443/about?x").as_deref(),
            Some("acme.example")
        );
        assert_eq!(host_key("acme.example").as_deref(), Some("acme.example"));
        assert_eq!(host_key("localhost"), None);
        assert_eq!(
            phone_key("+1 (415) 555-0100").as_deref(),
            Some("4155550100")
        );
        assert_eq!(phone_key("555-01"), None);
        let k = lead("Jane", "Doe", "Jane@Gmail.com", "", "", "");
        assert_eq!(k.email_domain, None, "free webmail is no blocking key");
        assert_eq!(k.email.as_deref(), Some("jane@gmail.com"));
    }

    #[test]
    fn scores_and_reasons() {
        let jane = lead(
            "Jane",
            "Doe",
            "jane@acme.example",
            "Acme Inc",
            "acme.example",
            "",
        );
        let jane2 = lead("Jane", "Doe.", "j.doe@acme.example", "ACME", "", "");
        let (points, reasons) = score(&jane, &jane2).unwrap();
        assert_eq!(reasons, vec![SimilarName, SameCompany]);
        assert_eq!(points, 80);
        // Two people of one company and website: a near miss.
        let bob = lead(
            "Bob",
            "Chen",
            "bob@acme.example",
            "Acme",
            "www.acme.example",
            "",
        );
        assert_eq!(score(&jane, &bob), None);
        let jon = lead(
            "Jon",
            "Dough",
            "jon@acme.example",
            "Acme",
            "acme.example",
            "",
        );
        let jw = strsim::jaro_winkler("jane doe", "jon dough");
        assert!(jw < NAME_SIMILARITY, "{jw}");
        assert_eq!(score(&jane, &jon), None);
        let a = lead("", "", "", "X", "", "+1 415 555 0100");
        let b = lead("", "", "", "Y", "", "(415) 555-0100");
        assert_eq!(score(&a, &b), Some((60, vec![SamePhone])));
        let e = lead("J", "", "JANE@acme.example", "Z", "", "");
        assert_eq!(score(&jane, &e), Some((100, vec![SameEmail])));
    }

    #[test]
    fn blocking_bounds_the_comparisons() {
        let people: Vec<Keys> = (0..1000)
            .map(|i| {
                Keys::of(&Fields {
                    first_name: Some("P"),
                    last_name: Some(&format!("{i:04}")),
                    email: Some(&format!("p{i}@big.example")),
                    company: "Big Corp",
                    ..Fields::default()
                })
            })
            .collect();
        let pairs = candidate_pairs(&people);
        assert!(pairs.len() <= 1000 * WINDOW, "{}", pairs.len());
        let loners = [
            lead("A", "B", "", "One", "", ""),
            lead("A", "B", "", "Two", "", ""),
        ];
        assert!(
            candidate_pairs(&loners).is_empty(),
            "a name alone is no block"
        );
    }
}
