//! What a page yields: links, emails (plain, `mailto:`, and `name [at] domain [dot] com`
//! obfuscation), phones (`tel:` links and text, validated and normalized to E.164 with
//! `phonenumber`), the company name (`og:site_name`, schema.org Organization JSON-LD, `<title>`),
//! a postal address (JSON-LD `PostalAddress`) and social profile links.
//!
//! Parsing is synchronous (`scraper` documents are not `Send`): the crawler parses small pages
//! on the task that fetched them and large ones on the blocking pool.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::LazyLock,
};

use linkify::{LinkFinder, LinkKind};
use regex::Regex;
use scraper::{Html, Node, Selector};
use serde_json::Value;
use url::Url;

pub use crate::platform::contact::{check_email, phone, valid_syntax, EmailVerdict};

/// Everything found on one page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageData {
    /// Absolute http(s) links (`<a href>`, `<area href>`), in document order, deduplicated.
    pub links: Vec<Url>,
    /// Syntactically valid emails, lowercased, deduplicated (not yet checked for role or
    /// disposable addresses: see [`check_email`]).
    pub emails: Vec<String>,
    /// Valid phone numbers in E.164, deduplicated.
    pub phones: Vec<String>,
    /// Company name and how sure we are of it.
    pub company: Option<Company>,
    /// Social profiles by network (`linkedin`, `twitter`, `facebook`, ...).
    pub social: BTreeMap<String, String>,
    /// Postal address from schema.org JSON-LD.
    pub address: Option<Address>,
}

/// Where a company name came from; stronger signals win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CompanySignal {
    /// The `<title>` (last segment of `Page | Site`).
    Title,
    /// schema.org Organization JSON-LD `name`.
    JsonLd,
    /// `<meta property="og:site_name">`.
    OgSiteName,
}

/// A company name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// The name.
    pub name: String,
    /// Its source.
    pub signal: CompanySignal,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Address {
    /// `streetAddress`.
    pub street: Option<String>,
    /// `addressLocality`.
    pub city: Option<String>,
    /// `addressRegion`.
    pub region: Option<String>,
    /// `postalCode`.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, when `addressCountry` is one.
    pub country: Option<String>,
}

/// A constant selector (`None` only if it failed to parse, which the unit tests rule out).
type Sel = LazyLock<Option<Selector>>;

static LINKS: Sel = LazyLock::new(|| Selector::parse("a[href], area[href]").ok());
static TITLE: Sel = LazyLock::new(|| Selector::parse("title").ok());
static OG_SITE: Sel = LazyLock::new(|| Selector::parse(r#"meta[property="og:site_name"]"#).ok());
static JSON_LD: Sel =
    LazyLock::new(|| Selector::parse(r#"script[type="application/ld+json"]"#).ok());

/// Elements matching `sel` (none when the selector is missing).
fn select<'a>(doc: &'a Html, sel: &'a Sel) -> impl Iterator<Item = scraper::ElementRef<'a>> + 'a {
    sel.as_ref().into_iter().flat_map(move |s| doc.select(s))
}

/// `[at]`, `(at)`, `{at}`, `<at>` with optional spaces.
static OBF_AT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)\s*[\[\(\{<]\s*(?:at|@)\s*[\]\)\}>]\s*").ok());
/// `[dot]`, `(dot)`, ... with optional spaces.
static OBF_DOT: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)\s*[\[\(\{<]\s*(?:dot|\.)\s*[\]\)\}>]\s*").ok());
/// Phone-like runs: an optional `+` or `(`, then digits with spaces, dots, dashes, slashes
/// and parentheses between them.
static PHONE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?:\+|\(|\b)\d[\d \t().\-/]{5,20}\d\b").ok());

/// Dates that the phone pattern would otherwise take (`2024-01-15`, `15.01.2024`, `1/15/2024`).
static DATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$").ok()
});

/// Parses `html` fetched from `base`. `region` (ISO alpha-2) lets national phone numbers parse.
pub fn extract(html: &str, base: &Url, region: Option<&str>) -> PageData {
    extract_dom(&Html::parse_document(html), base, region)
}

/// [`extract`] on a document already parsed (the crawler parses each page once, for this and
/// for its link facts).
pub fn extract_dom(doc: &Html, base: &Url, region: Option<&str>) -> PageData {
    let mut data = PageData::default();
    let mut found = Found::default();
    // JSON-LD first: it may carry the country that national phone numbers need.
    let (ld_company, ld_phones) = json_ld(doc, &mut data, &mut found.emails);
    let region = region
        .map(str::to_string)
        .or_else(|| data.address.as_ref().and_then(|a| a.country.clone()));
    for t in ld_phones {
        if let Some(p) = phone(&t, region.as_deref()) {
            found.phones.push(p);
        }
    }
    anchors(doc, base, region.as_deref(), &mut data, &mut found);
    text_contacts(doc, region.as_deref(), &mut found);
    data.emails = found
        .emails
        .0
        .into_iter()
        .filter(|e| valid_syntax(e))
        .collect();
    data.phones = found.phones.0;
    data.links = found.links.urls;
    data.company = company(doc, ld_company);
    data
}

/// What a page yields so far, in order of appearance.
#[derive(Default)]
struct Found {
    emails: Ordered,
    phones: Ordered,
    links: OrderedUrls,
}

/// The JSON-LD organizations: emails, address, social profiles into `data`/`emails`; returns
/// the first organization's name and the raw telephones (parsed once the region is known).
fn json_ld(doc: &Html, data: &mut PageData, emails: &mut Ordered) -> (Option<String>, Vec<String>) {
    let mut ld_company = None;
    let mut ld_phones = Vec::new();
    for script in select(doc, &JSON_LD) {
        let raw: String = script.text().collect();
        if let Ok(v) = serde_json::from_str::<Value>(raw.trim()) {
            walk_json_ld(&v, &mut |org| {
                if ld_company.is_none() {
                    ld_company = str_field(org, "name");
                }
                if let Some(e) = str_field(org, "email") {
                    emails.push(e.trim_start_matches("mailto:").to_lowercase());
                }
                if let Some(t) = str_field(org, "telephone") {
                    ld_phones.push(t);
                }
                if data.address.is_none() {
                    data.address = org.get("address").and_then(address);
                }
                for same in as_list(org.get("sameAs")) {
                    if let Some(u) = same.as_str().and_then(|s| Url::parse(s).ok()) {
                        add_social(&mut data.social, &u);
                    }
                }
            });
        }
    }
    (ld_company, ld_phones)
}

/// `mailto:` and `tel:` links, social profiles and the links to follow.
fn anchors(doc: &Html, base: &Url, region: Option<&str>, data: &mut PageData, found: &mut Found) {
    for a in select(doc, &LINKS) {
        let Some(href) = a.value().attr("href").map(str::trim) else {
            continue;
        };
        let lower = href.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("mailto:") {
            let rest = &href[href.len() - rest.len()..];
            let addrs = rest.split('?').next().unwrap_or_default();
            for e in percent_decode(addrs).split([',', ';']) {
                found.emails.push(e.trim().to_lowercase());
            }
        } else if let Some(rest) = lower.strip_prefix("tel:") {
            let rest = &href[href.len() - rest.len()..];
            if let Some(p) = phone(&percent_decode(rest), region) {
                found.phones.push(p);
            }
        } else if let Ok(u) = base.join(href) {
            if matches!(u.scheme(), "http" | "https") {
                add_social(&mut data.social, &u);
                found.links.push_url(u);
            }
        }
    }
}

/// Emails (after undoing obfuscation) and phones in the visible text.
fn text_contacts(doc: &Html, region: Option<&str>, found: &mut Found) {
    let text = visible_text(doc);
    let deobfuscated = deobfuscate(&text);
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Email]);
    for l in finder.links(&deobfuscated) {
        found.emails.push(l.as_str().to_lowercase());
    }
    if let Some(re) = PHONE.as_ref() {
        for m in re.find_iter(&text) {
            let candidate = m.as_str().trim();
            if DATE.as_ref().is_some_and(|d| d.is_match(candidate)) {
                continue;
            }
            if let Some(p) = phone(candidate, region) {
                found.phones.push(p);
            }
        }
    }
}

/// The company name: `og:site_name` > JSON-LD organization name > `<title>`.
fn company(doc: &Html, ld_company: Option<String>) -> Option<Company> {
    select(doc, &OG_SITE)
        .filter_map(|m| m.value().attr("content"))
        .map(clean)
        .find(|s| !s.is_empty())
        .map(|name| Company {
            name,
            signal: CompanySignal::OgSiteName,
        })
        .or_else(|| {
            ld_company.map(|name| Company {
                name: clean(&name),
                signal: CompanySignal::JsonLd,
            })
        })
        .or_else(|| {
            select(doc, &TITLE)
                .next()
                .map(|t| t.text().collect::<String>())
                .and_then(|t| title_company(&t))
                .map(|name| Company {
                    name,
                    signal: CompanySignal::Title,
                })
        })
        .filter(|c| !c.name.is_empty())
}

/// Keeps first occurrences in order.
#[derive(Default)]
struct Ordered(Vec<String>);

impl Ordered {
    fn push(&mut self, s: String) {
        if !s.is_empty() && !self.0.contains(&s) {
            self.0.push(s);
        }
    }
}

#[derive(Default)]
struct OrderedUrls {
    urls: Vec<Url>,
    seen: BTreeSet<String>,
}

impl OrderedUrls {
    fn push_url(&mut self, u: Url) {
        if self.seen.insert(u.as_str().to_string()) {
            self.urls.push(u);
        }
    }
}

fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The site part of a title: `Contact | Acme Inc` → `Acme Inc`; a title without separators is
/// taken whole.
fn title_company(title: &str) -> Option<String> {
    let t = clean(title);
    let last = t.rsplit(" | ").next().unwrap_or_default().to_string();
    let seg = [" – ", " — ", " - ", " · ", " :: "]
        .iter()
        .fold(last, |acc, sep| {
            acc.rsplit(sep).next().unwrap_or(&acc).to_string()
        });
    let seg = seg.trim().to_string();
    (!seg.is_empty() && seg.chars().count() <= 120).then_some(seg)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Text of the document outside `script`, `style`, `noscript` and `template`, one space between
/// text nodes.
fn visible_text(doc: &Html) -> String {
    let mut out = String::new();
    for node in doc.tree.nodes() {
        let Node::Text(t) = node.value() else {
            continue;
        };
        let hidden = node.parent().is_some_and(|p| match p.value() {
            Node::Element(e) => matches!(e.name(), "script" | "style" | "noscript" | "template"),
            _ => false,
        });
        if !hidden {
            out.push_str(t);
            out.push(' ');
        }
    }
    out
}

/// `jane [at] acme [dot] com` → `jane@acme.com`.
pub fn deobfuscate(text: &str) -> String {
    let step = match OBF_AT.as_ref() {
        Some(re) => re.replace_all(text, "@").into_owned(),
        None => text.to_string(),
    };
    match OBF_DOT.as_ref() {
        Some(re) => re.replace_all(&step, ".").into_owned(),
        None => step,
    }
}

/// Builds the lazily initialised parts of extraction once: libphonenumber's metadata (~90 ms
/// in a release build the first time a number is parsed), the selectors and patterns. Called at
/// startup on the blocking pool so neither the first scrape nor the first lead with a phone
/// pays for it.
pub fn warm_up() {
    let base = Url::parse("https://warm-up.invalid/").ok();
    if let Some(base) = base {
        let _ = extract(
            "<html><head><title>a</title></head><body><a href=\"/b\">b</a> \
             mail [at] example [dot] com +1 415 555 2671 2024-01-01</body></html>",
            &base,
            Some("US"),
        );
    }
    let _ = phone("+14155552671", None);
}

/// Social network of a profile link, if it is one.
fn social_network(u: &Url) -> Option<&'static str> {
    let host = u
        .host_str()?
        .trim_start_matches("www.")
        .trim_start_matches("m.");
    let net = match host {
        "linkedin.com" => "linkedin",
        "twitter.com" | "x.com" => "twitter",
        "facebook.com" | "fb.com" => "facebook",
        "instagram.com" => "instagram",
        "youtube.com" => "youtube",
        "github.com" => "github",
        "tiktok.com" => "tiktok",
        _ => return None,
    };
    let path = u.path().trim_matches('/');
    let share = ["sharer", "share", "intent", "home"]
        .iter()
        .any(|s| path.starts_with(s));
    (!path.is_empty() && !share).then_some(net)
}

fn add_social(map: &mut BTreeMap<String, String>, u: &Url) {
    if let Some(net) = social_network(u) {
        map.entry(net.to_string())
            .or_insert_with(|| u.as_str().to_string());
    }
}

fn as_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Array(a) => a.iter().find_map(|x| x.as_str()).map(str::to_string),
        _ => None,
    }
}

/// schema.org types that describe the business behind a site.
fn is_org_type(t: &str) -> bool {
    let t = t.rsplit('/').next().unwrap_or(t);
    matches!(
        t,
        "Organization"
            | "Corporation"
            | "LocalBusiness"
            | "Store"
            | "Restaurant"
            | "ProfessionalService"
            | "NGO"
    ) || t.ends_with("Business")
        || t.ends_with("Organization")
}

/// Calls `f` on every Organization-like object (top level, arrays, `@graph`).
fn walk_json_ld(v: &Value, f: &mut impl FnMut(&Value)) {
    match v {
        Value::Array(a) => a.iter().for_each(|x| walk_json_ld(x, f)),
        Value::Object(o) => {
            let typed = as_list(o.get("@type"))
                .iter()
                .any(|t| t.as_str().is_some_and(is_org_type));
            if typed {
                f(v);
            }
            if let Some(g) = o.get("@graph") {
                walk_json_ld(g, f);
            }
        }
        _ => {}
    }
}

fn address(v: &Value) -> Option<Address> {
    let v = match v {
        Value::Array(a) => a.first()?,
        v => v,
    };
    if !v.is_object() {
        return None;
    }
    let country = match v.get("addressCountry") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(o @ Value::Object(_)) => str_field(o, "name"),
        _ => None,
    }
    .map(|c| c.trim().to_uppercase())
    .filter(|c| c.len() == 2 && c.chars().all(|x| x.is_ascii_alphabetic()));
    let a = Address {
        street: str_field(v, "streetAddress"),
        city: str_field(v, "addressLocality"),
        region: str_field(v, "addressRegion"),
        postal_code: str_field(v, "postalCode"),
        country,
    };
    (a != Address::default()).then_some(a)
}

#[cfg(test)]
mod tests;
