//! From fetched bytes to a document the extractor can read, and the link facts the extractor
//! does not look at.
//!
//! - **Character encoding** (the WHATWG "encoding sniffing" order, without content guessing):
//!   a byte-order mark, else the `charset` of the `Content-Type` header, else a `<meta
//!   charset>` / `<meta http-equiv="Content-Type" content="…; charset=…">` in the first 1024
//!   bytes, else UTF-8. Labels are resolved by `encoding_rs` (`latin1` is windows-1252, as in
//!   browsers); an unknown label is ignored; a `<meta>` naming UTF-16 means UTF-8 (a document
//!   that can be prescanned as ASCII is not UTF-16). Undecodable bytes become U+FFFD.
//! - **`<base href>`**: the first `<base>` with an `href` sets the base URL that relative links
//!   resolve against (resolved itself against the page URL; ignored unless http(s)).
//! - **`rel="nofollow"`**: links whose `rel` contains `nofollow` are not followed (they are
//!   still read for contacts and social profiles). A URL linked from the page both with and
//!   without `nofollow` is followed. `<meta name="robots" content="nofollow">` (or `none`, or
//!   the same under our agent name `Leadgraph`) means no link of the page is followed.
//!
//! Each page is parsed into a DOM once ([`Document::dom`]): the link facts are read from it here
//! and the extractor ([`crate::domains::scraping::service::extract::extract_dom`]) reads the same tree.
//! Only the `<meta charset>` prescan of the raw bytes uses `lol_html`'s streaming tokenizer.

use std::{cell::RefCell, collections::HashSet, fmt, sync::LazyLock};

use encoding_rs::Encoding;
use lol_html::{element, HtmlRewriter, Settings};
use scraper::{Html, Selector};
use url::Url;

use super::{canonical, AGENT};

/// How far into the body `<meta charset>` is looked for (the HTML standard's prescan size).
pub const PRESCAN_BYTES: usize = 1024;

/// A decoded page and what it says about its links.
pub struct Document {
    /// The text of the page.
    pub text: String,
    /// The page parsed (HTML5 tree construction), for the extractor.
    pub dom: Html,
    /// The encoding the bytes were decoded with (its WHATWG name, e.g. `windows-1252`).
    pub encoding: &'static str,
    /// The URL relative links resolve against (`<base href>`, else the page URL).
    pub base: Url,
    /// Link targets (canonical, see [`canonical`]) that appear only with `rel="nofollow"`.
    pub nofollow: HashSet<Url>,
    /// A `<meta name="robots">` forbids following any link of the page.
    pub follow_none: bool,
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("encoding", &self.encoding)
            .field("base", &self.base.as_str())
            .field("nofollow", &self.nofollow)
            .field("follow_none", &self.follow_none)
            .finish_non_exhaustive()
    }
}

impl Document {
    /// Decodes `body` (served with `content_type` from `url`) and scans its link facts.
    pub fn parse(body: &[u8], content_type: Option<&str>, url: &Url) -> Document {
        let encoding = sniff(body, content_type);
        let (text, _, _) = encoding.decode(body);
        let text = text.into_owned();
        let dom = Html::parse_document(&text);
        let links = scan_links(&dom);
        let base = links
            .base
            .as_deref()
            .and_then(|b| url.join(b.trim()).ok())
            .filter(|b| matches!(b.scheme(), "http" | "https"))
            .unwrap_or_else(|| url.clone());
        let resolve = |href: &str| base.join(href.trim()).ok().and_then(|u| canonical(&u));
        let followed: HashSet<Url> = links.followed.iter().filter_map(|h| resolve(h)).collect();
        let nofollow = links
            .nofollow
            .iter()
            .filter_map(|h| resolve(h))
            .filter(|u| !followed.contains(u))
            .collect();
        Document {
            text,
            dom,
            encoding: encoding.name(),
            base,
            nofollow,
            follow_none: links.follow_none,
        }
    }

    /// Whether a link found on this page may be crawled.
    pub fn may_follow(&self, link: &Url) -> bool {
        !self.follow_none && canonical(link).is_none_or(|c| !self.nofollow.contains(&c))
    }
}

/// The encoding to decode `body` with (BOM, then `Content-Type`, then `<meta>`, then UTF-8).
pub fn sniff(body: &[u8], content_type: Option<&str>) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(body) {
        return enc;
    }
    if let Some(enc) = content_type
        .and_then(charset_param)
        .and_then(|l| Encoding::for_label(l.as_bytes()))
    {
        return enc;
    }
    if let Some(enc) = meta_charset(&body[..body.len().min(PRESCAN_BYTES)]) {
        return enc;
    }
    encoding_rs::UTF_8
}

/// The `charset` parameter of a `Content-Type` value (`text/html; charset="ISO-8859-1"`).
pub fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(|c| c == '"' || c == '\'').to_string())
            .filter(|v| !v.is_empty())
    })
}

/// The encoding declared by the first `<meta charset>` or `<meta http-equiv="Content-Type">`
/// in `head` (bytes read as ASCII-compatible; tag and attribute names are ASCII).
fn meta_charset(head: &[u8]) -> Option<&'static Encoding> {
    let found: RefCell<Option<String>> = RefCell::new(None);
    let mut rewriter = HtmlRewriter::new(
        Settings {
            element_content_handlers: vec![element!("meta", |el| {
                if found.borrow().is_some() {
                    return Ok(());
                }
                let label = el.get_attribute("charset").or_else(|| {
                    let http_equiv = el.get_attribute("http-equiv")?;
                    if !http_equiv.trim().eq_ignore_ascii_case("content-type") {
                        return None;
                    }
                    charset_param(&el.get_attribute("content")?)
                });
                if let Some(l) = label {
                    *found.borrow_mut() = Some(l);
                }
                Ok(())
            })],
            ..Settings::new()
        },
        |_: &[u8]| {},
    );
    // A truncated tag at the end of the prescan window is simply not reported.
    let _ = rewriter.write(head);
    drop(rewriter);
    let label = found.into_inner()?;
    let enc = Encoding::for_label(label.trim().as_bytes())?;
    Some(
        if enc == encoding_rs::UTF_16LE || enc == encoding_rs::UTF_16BE {
            encoding_rs::UTF_8
        } else if enc == encoding_rs::X_USER_DEFINED {
            encoding_rs::WINDOWS_1252
        } else {
            enc
        },
    )
}

#[derive(Default)]
struct Links {
    base: Option<String>,
    followed: Vec<String>,
    nofollow: Vec<String>,
    follow_none: bool,
}

fn has_token(list: &str, token: &str) -> bool {
    list.split(|c: char| c.is_ascii_whitespace() || c == ',')
        .any(|t| t.eq_ignore_ascii_case(token))
}

/// A constant selector (`None` only if it failed to parse, which the unit tests rule out).
type Sel = LazyLock<Option<Selector>>;

static BASE: Sel = LazyLock::new(|| Selector::parse("base[href]").ok());
static ANCHORS: Sel = LazyLock::new(|| Selector::parse("a[href], area[href]").ok());
static META: Sel = LazyLock::new(|| Selector::parse("meta[name][content]").ok());

/// `<base href>`, the hrefs of `<a>`/`<area>` by `rel=nofollow`, and `<meta name=robots>`.
fn scan_links(dom: &Html) -> Links {
    let select = |sel: &'static Sel| sel.as_ref().into_iter().flat_map(|s| dom.select(s));
    let mut l = Links {
        base: select(&BASE)
            .find_map(|el| el.value().attr("href"))
            .map(str::to_string),
        ..Links::default()
    };
    for el in select(&ANCHORS) {
        let Some(href) = el.value().attr("href") else {
            continue;
        };
        let nofollow = el
            .value()
            .attr("rel")
            .is_some_and(|rel| has_token(rel, "nofollow"));
        if nofollow {
            l.nofollow.push(href.to_string());
        } else {
            l.followed.push(href.to_string());
        }
    }
    l.follow_none = select(&META).any(|el| {
        let name = el.value().attr("name").unwrap_or_default().trim();
        let content = el.value().attr("content").unwrap_or_default();
        (name.eq_ignore_ascii_case("robots") || name.eq_ignore_ascii_case(AGENT))
            && (has_token(content, "nofollow") || has_token(content, "none"))
    });
    l
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn page() -> Url {
        Url::parse("https://acme.example/dir/page").unwrap()
    }

    #[test]
    fn charset_from_header_then_meta_then_utf8_and_bom_first() {
        // "Café" in windows-1252 / ISO-8859-1.
        let latin = b"<html><head><meta charset=\"iso-8859-1\"></head><body>Caf\xe9</body></html>";
        let d = Document::parse(latin, Some("text/html"), &page());
        assert_eq!(d.encoding, "windows-1252");
        assert!(d.text.contains("Café"), "{}", d.text);
        // The header wins over the meta tag.
        let d = Document::parse(
            "<meta charset=iso-8859-1><p>Café</p>".as_bytes(),
            Some("text/html; charset=UTF-8"),
            &page(),
        );
        assert_eq!(d.encoding, "UTF-8");
        assert!(d.text.contains("Café"));
        // http-equiv form; Shift_JIS.
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("<p>東京</p>");
        let mut body =
            br#"<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">"#.to_vec();
        body.extend_from_slice(&sjis);
        let d = Document::parse(&body, None, &page());
        assert_eq!(d.encoding, "Shift_JIS");
        assert!(d.text.contains("東京"));
        // A BOM beats the header.
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice("<p>Café</p>".as_bytes());
        let d = Document::parse(&bom, Some("text/html; charset=windows-1252"), &page());
        assert_eq!(d.encoding, "UTF-8");
        assert!(d.text.contains("Café"));
        // Nothing declared, an unknown label, a meta past the prescan window: UTF-8.
        assert_eq!(sniff(b"<p>x</p>", None).name(), "UTF-8");
        assert_eq!(
            sniff(b"<p>x</p>", Some("text/html; charset=bogus")).name(),
            "UTF-8"
        );
        let mut late = vec![b' '; PRESCAN_BYTES];
        late.extend_from_slice(b"<meta charset=iso-8859-1>");
        assert_eq!(sniff(&late, None).name(), "UTF-8");
        // A meta tag claiming UTF-16 means UTF-8.
        assert_eq!(sniff(b"<meta charset=utf-16le>", None).name(), "UTF-8");
        assert_eq!(
            charset_param("text/html;Charset='koi8-r'").as_deref(),
            Some("koi8-r")
        );
    }

    #[test]
    fn selectors_parse() {
        for sel in [&BASE, &ANCHORS, &META] {
            assert!(sel.is_some());
        }
    }

    #[test]
    fn base_href_and_nofollow() {
        let html = r#"<html><head><base href="/other/"></head><body>
            <a href="a">A</a>
            <a href="b" rel="nofollow">B</a>
            <a href="c" rel="noopener NoFollow">C</a>
            <a href="c#top">C again, followed</a>
            <a href="https://ads.example/x" rel="sponsored nofollow">ad</a>
            </body></html>"#;
        let d = Document::parse(html.as_bytes(), None, &page());
        assert_eq!(d.base.as_str(), "https://acme.example/other/");
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(d.may_follow(&u("https://acme.example/other/a")));
        assert!(!d.may_follow(&u("https://acme.example/other/b")));
        assert!(d.may_follow(&u("https://acme.example/other/c")));
        assert!(!d.may_follow(&u("https://ads.example/x")));
        // No base: the page URL; a non-http base is ignored.
        let d = Document::parse(
            b"<base href='javascript:void(0)'><a href=x>x</a>",
            None,
            &page(),
        );
        assert_eq!(d.base, page());
        // Page-level nofollow.
        let d = Document::parse(
            br#"<meta name="ROBOTS" content="noindex, nofollow"><a href="x">x</a>"#,
            None,
            &page(),
        );
        assert!(d.follow_none);
        assert!(!d.may_follow(&u("https://acme.example/dir/x")));
        let d = Document::parse(br#"<meta name="robots" content="noindex">"#, None, &page());
        assert!(!d.follow_none);
    }
}
