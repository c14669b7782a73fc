//! Contact checks shared by scraping (found contacts) and enrichment (`validateContact`):
//! email syntax (RFC 5322 via `email_address`, IDN domains via `idna`) and its normalised form,
//! role, no-reply, free-provider and disposable addresses, and phone numbers validated to E.164
//! with their type and region (`phonenumber`). Domain-free: no DNS here (see [`super::mx`]).
//!
//! The disposable list is data: `disposable_domains.txt` next to this file (the
//! disposable-email-domains project's list, shipped in the binary), plus the lines of
//! `DISPOSABLE_DOMAINS_FILE` when set ([`DisposableDomains::load`]).

use std::{
    cell::RefCell,
    collections::{HashMap, HashSet},
    path::Path,
    sync::{Arc, LazyLock},
};

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

/// Syntax, no-reply and disposable domains (the shipped list) are rejected; role addresses are
/// flagged. (No MX lookup: see [`super::mx`].)
pub fn check_email(email: &str) -> EmailVerdict {
    if !valid_syntax(email) {
        return EmailVerdict::Rejected("invalid syntax");
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return EmailVerdict::Rejected("invalid syntax");
    };
    if is_no_reply(local) {
        return EmailVerdict::Rejected("no-reply address");
    }
    if DisposableDomains::shipped().contains(domain) {
        return EmailVerdict::Rejected("disposable domain");
    }
    EmailVerdict::Valid {
        role: is_role(local),
    }
}

/// The local part without a `+tag`.
fn base_local(local: &str) -> &str {
    local.split('+').next().unwrap_or(local)
}

/// A shared mailbox (`info@`, `sales+eu@`).
pub fn is_role(local: &str) -> bool {
    ROLE_LOCALS.contains(&base_local(local))
}

/// An address nobody reads (`noreply@`).
pub fn is_no_reply(local: &str) -> bool {
    NO_REPLY_LOCALS.contains(&base_local(local))
}

/// Webmail providers anyone can sign up with (the address is a person's, not a company's).
const FREE_PROVIDERS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "yahoo.com",
    "yahoo.co.uk",
    "yahoo.fr",
    "ymail.com",
    "outlook.com",
    "hotmail.com",
    "hotmail.co.uk",
    "hotmail.fr",
    "live.com",
    "msn.com",
    "aol.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "proton.me",
    "protonmail.com",
    "pm.me",
    "gmx.com",
    "gmx.net",
    "gmx.de",
    "web.de",
    "mail.com",
    "zoho.com",
    "yandex.com",
    "yandex.ru",
    "mail.ru",
    "qq.com",
    "163.com",
    "126.com",
    "naver.com",
    "fastmail.com",
    "tutanota.com",
    "hey.com",
];

/// `domain` (lowercase ASCII) is a free webmail provider.
pub fn is_free_provider(domain: &str) -> bool {
    FREE_PROVIDERS.contains(&domain)
}

/// An email address split and normalised: lowercase, the domain in its ASCII (punycode) form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalisedEmail {
    /// `local@domain`, lowercase, ASCII domain.
    pub address: String,
    /// The local part (lowercase).
    pub local: String,
    /// The domain, lowercase ASCII (IDN labels as `xn--`).
    pub domain: String,
}

/// Normalises `raw` (trimmed, lowercased, IDN domain to ASCII with UTS 46) and checks its
/// syntax (RFC 5322 through `email_address`, a dotted domain with an alphabetic or `xn--` top
/// label, at most 254 characters). `Err` carries the reason.
pub fn normalise_email(raw: &str) -> Result<NormalisedEmail, &'static str> {
    let raw = raw.trim();
    let Some((local, domain)) = raw.rsplit_once('@') else {
        return Err("no @");
    };
    let domain = domain.trim_end_matches('.');
    let Ok(domain) = idna::domain_to_ascii(domain) else {
        return Err("invalid domain");
    };
    let local = local.to_lowercase();
    let address = format!("{local}@{domain}");
    if local.is_empty()
        || address.len() > 254
        || !email_address::EmailAddress::is_valid(&address)
        || !domain.contains('.')
    {
        return Err("invalid syntax");
    }
    let tld = domain.rsplit('.').next().unwrap_or_default();
    let tld_ok =
        tld.starts_with("xn--") || (tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    if !tld_ok || FILE_TLDS.contains(&tld) {
        return Err("invalid syntax");
    }
    Ok(NormalisedEmail {
        address,
        local,
        domain,
    })
}

/// Disposable (throwaway) mailbox domains: a domain is disposable when it or a parent domain
/// is listed.
#[derive(Debug, Default)]
pub struct DisposableDomains(HashSet<String>);

/// The list shipped with the binary.
const SHIPPED: &str = include_str!("disposable_domains.txt");

fn parse_list(text: &str, into: &mut HashSet<String>) {
    for line in text.lines() {
        let d = line.trim();
        if !d.is_empty() && !d.starts_with('#') {
            into.insert(d.trim_end_matches('.').to_ascii_lowercase());
        }
    }
}

impl DisposableDomains {
    /// The shipped list (parsed once per process).
    pub fn shipped() -> Arc<DisposableDomains> {
        static LIST: LazyLock<Arc<DisposableDomains>> = LazyLock::new(|| {
            let mut set = HashSet::new();
            parse_list(SHIPPED, &mut set);
            Arc::new(DisposableDomains(set))
        });
        LIST.clone()
    }

    /// The shipped list plus the domains in `path` (one a line, `#` comments), or just the
    /// shipped list without a path.
    pub fn load(path: Option<&Path>) -> std::io::Result<Arc<DisposableDomains>> {
        let Some(path) = path else {
            return Ok(Self::shipped());
        };
        let text = std::fs::read_to_string(path)?;
        let mut set = Self::shipped().0.clone();
        parse_list(&text, &mut set);
        Ok(Arc::new(DisposableDomains(set)))
    }

    /// `domain` (lowercase ASCII) or one of its parents is listed.
    pub fn contains(&self, domain: &str) -> bool {
        let mut d = domain;
        loop {
            if self.0.contains(d) {
                return true;
            }
            match d.split_once('.') {
                Some((_, rest)) if rest.contains('.') => d = rest,
                _ => return false,
            }
        }
    }

    /// How many domains are listed.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Nothing listed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What a phone number is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneDetails {
    /// The number in E.164.
    pub e164: String,
    /// `MOBILE`, `FIXED_LINE`, `FIXED_LINE_OR_MOBILE`, `VOIP`, `TOLL_FREE`, or `OTHER`.
    pub kind: &'static str,
    /// ISO 3166-1 alpha-2 region of the number, when known.
    pub region: Option<String>,
}

/// Parses `raw` (national numbers need `region`) into a valid number with its type and region.
pub fn phone_details(raw: &str, region: Option<&str>) -> Option<PhoneDetails> {
    use phonenumber::Type;
    let region = region.and_then(|c| c.to_uppercase().parse::<phonenumber::country::Id>().ok());
    let n = phonenumber::parse(region, raw.trim()).ok()?;
    if !phonenumber::is_valid(&n) {
        return None;
    }
    let kind = match n.number_type(&phonenumber::metadata::DATABASE) {
        Type::Mobile => "MOBILE",
        Type::FixedLine => "FIXED_LINE",
        Type::FixedLineOrMobile => "FIXED_LINE_OR_MOBILE",
        Type::Voip => "VOIP",
        Type::TollFree => "TOLL_FREE",
        _ => "OTHER",
    };
    Some(PhoneDetails {
        e164: n.format().mode(phonenumber::Mode::E164).to_string(),
        kind,
        region: n.country().id().map(|id| id.as_ref().to_string()),
    })
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

    #[test]
    fn normalised_emails_idn_roles_free_and_disposable() {
        let n = normalise_email("  Jane.Doe@Bücher.Example ").unwrap();
        assert_eq!(n.address, "jane.doe@xn--bcher-kva.example");
        assert_eq!(n.domain, "xn--bcher-kva.example");
        assert_eq!(normalise_email("a@b"), Err("invalid syntax"));
        assert_eq!(normalise_email("logo@2x.png"), Err("invalid syntax"));
        assert_eq!(normalise_email("nobody"), Err("no @"));
        assert!(is_role("sales+eu") && !is_role("jane"));
        assert!(is_free_provider("gmail.com") && !is_free_provider("acme.example"));
        let list = DisposableDomains::shipped();
        assert!(list.len() > 1000);
        assert!(list.contains("mailinator.com") && list.contains("eu.mailinator.com"));
        assert!(!list.contains("acme.example") && !list.contains("com"));
    }

    #[test]
    fn disposable_list_is_extended_from_a_file() {
        let dir = std::env::temp_dir().join(format!("lg-disposable-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("extra.txt");
        std::fs::write(&path, "# extra\nThrowaway.Test\n").unwrap();
        let list = DisposableDomains::load(Some(&path)).unwrap();
        assert!(list.contains("throwaway.test") && list.contains("mailinator.com"));
        assert!(DisposableDomains::load(Some(&dir.join("missing.txt"))).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn phone_type_and_region() {
        let p = phone_details("+44 7400 123456", None).unwrap();
        assert_eq!((p.e164.as_str(), p.kind), ("+447400123456", "MOBILE"));
        assert_eq!(p.region.as_deref(), Some("GB"));
        assert!(phone_details("12", None).is_none());
    }
}
