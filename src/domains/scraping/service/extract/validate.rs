//! Checks on found contacts: email syntax and verdicts (no-reply, disposable, role addresses)
//! and phone numbers validated to E.164.

use std::{cell::RefCell, collections::HashMap};

/// File extensions that show up as fake TLDs (`logo@2x.png`).
const FILE_TLDS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "css", "js", "ico", "bmp", "tif", "tiff", "avif",
];

/// Syntax: RFC 5322 (email_address), a dotted domain whose last label is alphabetic and not a
/// file extension, at most 254 characters.
pub fn valid_syntax(email: &str) -> bool {
    if email.len() > 254 || !email_address::EmailAddress::is_valid(email) {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    !local.is_empty()
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
        && !FILE_TLDS.contains(&tld)
}

/// Phones remembered per thread (see [`phone`]); the map is emptied when it reaches this size.
const PHONE_CACHE: usize = 1024;

thread_local! {
    /// `region NUL text` → what [`parse_phone`] said.
    static PHONES: RefCell<HashMap<String, Option<String>>> = RefCell::new(HashMap::new());
}

/// A validated E.164 number, or `None`. A site repeats its phone on every page (header, footer)
/// and one parse costs tens of microseconds (libphonenumber's patterns), so verdicts are
/// remembered per thread, at most `PHONE_CACHE` of them.
pub fn phone(raw: &str, region: Option<&str>) -> Option<String> {
    let raw = raw.trim();
    let digits = raw.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return None;
    }
    let key = format!("{}\0{raw}", region.unwrap_or_default());
    if let Some(hit) = PHONES.with(|c| c.borrow().get(&key).cloned()) {
        return hit;
    }
    let out = parse_phone(raw, region);
    PHONES.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= PHONE_CACHE {
            c.clear();
        }
        c.insert(key, out.clone());
    });
    out
}

fn parse_phone(raw: &str, region: Option<&str>) -> Option<String> {
    let region = region.and_then(|c| c.to_uppercase().parse::<phonenumber::country::Id>().ok());
    match phonenumber::parse(region, raw) {
        Ok(n) if phonenumber::is_valid(&n) => {
            Some(n.format().mode(phonenumber::Mode::E164).to_string())
        }
        _ => None,
    }
}

/// What [`check_email`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailVerdict {
    /// A usable address; `role` marks shared mailboxes (`info@`, `sales@`, ...).
    Valid {
        /// A role address.
        role: bool,
    },
    /// Not a person's or company's usable address.
    Rejected(&'static str),
}

/// Mailboxes of a function, not a person.
const ROLE_LOCALS: &[&str] = &[
    "info",
    "sales",
    "support",
    "contact",
    "admin",
    "office",
    "hello",
    "team",
    "marketing",
    "billing",
    "help",
    "enquiries",
    "inquiries",
    "webmaster",
    "postmaster",
    "hostmaster",
    "abuse",
    "jobs",
    "careers",
    "hr",
    "press",
    "media",
    "accounts",
    "service",
    "customerservice",
    "privacy",
    "legal",
    "security",
    "orders",
    "booking",
    "reception",
    "mail",
];

/// Addresses nobody reads.
const NO_REPLY_LOCALS: &[&str] = &[
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "mailer-daemon",
];

/// A small list of throwaway-mailbox domains (the common ones; not exhaustive).
const DISPOSABLE_DOMAINS: &[&str] = &[
    "mailinator.com",
    "guerrillamail.com",
    "guerrillamail.net",
    "sharklasers.com",
    "10minutemail.com",
    "temp-mail.org",
    "tempmail.com",
    "tempmailo.com",
    "yopmail.com",
    "trashmail.com",
    "getnada.com",
    "dispostable.com",
    "maildrop.cc",
    "throwawaymail.com",
    "fakeinbox.com",
    "mailnesia.com",
    "mintemail.com",
    "emailondeck.com",
    "spamgourmet.com",
    "mohmal.com",
    "burnermail.io",
    "moakt.com",
];

/// Syntax, no-reply and disposable domains are rejected; role addresses are flagged.
/// (No MX lookup: see docs/ARCHITECTURE.md.)
pub fn check_email(email: &str) -> EmailVerdict {
    if !valid_syntax(email) {
        return EmailVerdict::Rejected("invalid syntax");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return EmailVerdict::Rejected("invalid syntax");
    };
    let base_local = local.split('+').next().unwrap_or(local);
    if NO_REPLY_LOCALS.contains(&base_local) {
        return EmailVerdict::Rejected("no-reply address");
    }
    if DISPOSABLE_DOMAINS
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
    {
        return EmailVerdict::Rejected("disposable domain");
    }
    EmailVerdict::Valid {
        role: ROLE_LOCALS.contains(&base_local),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_phone_verdicts_match_a_fresh_parse_and_stay_bounded() {
        for _ in 0..2 {
            assert_eq!(
                phone("(415) 555-2671", Some("us")).as_deref(),
                Some("+14155552671")
            );
            // The region is part of the key: a national number means nothing without it.
            assert_eq!(phone("(415) 555-2671", None), None);
        }
        for n in 0..(PHONE_CACHE + 100) {
            let raw = format!("+1 415 555 {:04}", n % 10_000);
            assert_eq!(phone(&raw, None), parse_phone(&raw, None));
        }
        assert!(PHONES.with(|c| c.borrow().len()) <= PHONE_CACHE);
    }
}
