//! Tracking tokens and instrumented HTML: HS256 JWTs with their own audience (the export
//! link's approach), `{r: recipient, k: o|c|u, u: url}`. A click token carries the URL it
//! redirects to, and tokens are only minted for links found in the rendered email, so the
//! redirect cannot be pointed anywhere else (no open redirect). They do not expire: an
//! unsubscribe link must keep working. [`instrument_html`] rewrites the links and appends the
//! open pixel with `lol_html`.

use std::cell::Cell;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::keys;

const AUDIENCE: &str = "leadgraph-track";

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The open pixel.
    Open,
    /// A link.
    Click,
    /// The unsubscribe page / one-click.
    Unsubscribe,
}

impl TokenKind {
    fn code(self) -> &'static str {
        match self {
            TokenKind::Open => "o",
            TokenKind::Click => "c",
            TokenKind::Unsubscribe => "u",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Claims {
    r: Uuid,
    k: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    u: Option<String>,
    aud: String,
}

/// Signs a tracking token.
pub fn sign(secret: &str, kind: TokenKind, recipient: Uuid, url: Option<&str>) -> String {
    let claims = Claims {
        r: recipient,
        k: kind.code().into(),
        u: url.map(str::to_string),
        aud: AUDIENCE.into(),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&keys::derive(secret, keys::TRACKING_LINK)),
    )
    .unwrap_or_default()
}

/// The recipient (and URL, for clicks) of a valid token of `kind`; `None` for anything forged,
/// altered or of another kind.
pub fn verify(secret: &str, token: &str, kind: TokenKind) -> Option<(Uuid, Option<String>)> {
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&[AUDIENCE]);
    v.set_required_spec_claims(&["aud"]);
    v.validate_exp = false;
    // Tracking links sign with their own key (`auth::keys`). Links in mail sent before that
    // change were signed with the secret itself and keep working (unsubscribe links must):
    // nothing else is signed with the bare secret any more, so nothing else can pass as one.
    let decode =
        |key: &[u8]| jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(key), &v);
    let c = decode(&keys::derive(secret, keys::TRACKING_LINK))
        .or_else(|_| decode(secret.as_bytes()))
        .ok()?
        .claims;
    if c.k != kind.code() {
        return None;
    }
    if kind == TokenKind::Click && c.u.is_none() {
        return None;
    }
    Some((c.r, c.u))
}

/// The public URLs of one recipient's email.
pub struct Links<'a> {
    base: &'a str,
    secret: &'a str,
    recipient: Uuid,
}

impl<'a> Links<'a> {
    /// Links under `base` (PUBLIC_URL) signed with `secret`.
    pub fn new(base: &'a str, secret: &'a str, recipient: Uuid) -> Self {
        Links {
            base,
            secret,
            recipient,
        }
    }
    /// The open pixel.
    pub fn open(&self) -> String {
        format!(
            "{}/t/o/{}.gif",
            self.base,
            sign(self.secret, TokenKind::Open, self.recipient, None)
        )
    }
    /// A tracked redirect to `url`.
    pub fn click(&self, url: &str) -> String {
        format!(
            "{}/t/c/{}",
            self.base,
            sign(self.secret, TokenKind::Click, self.recipient, Some(url))
        )
    }
    /// Links to the unsubscribe page start with this (they are not click-tracked).
    pub fn unsubscribe_prefix(&self) -> String {
        format!("{}/u/", self.base)
    }
    /// The unsubscribe page (GET) and one-click endpoint (POST).
    pub fn unsubscribe(&self) -> String {
        format!(
            "{}/u/{}",
            self.base,
            sign(self.secret, TokenKind::Unsubscribe, self.recipient, None)
        )
    }
}

/// Decodes the entities an attribute value may hold (`&amp;`, `&#x2f;`, …).
fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..end];
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ if ent.starts_with("#x") || ent.starts_with("#X") => {
                u32::from_str_radix(&ent[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Rewrites every http(s) link through the click redirect and appends the open pixel (at the
/// end of `<body>`, or of the document when there is none).
pub fn instrument_html(html: &str, links: &Links<'_>) -> Result<String, String> {
    use lol_html::{element, html_content::ContentType, rewrite_str, RewriteStrSettings};
    let pixel = format!(
        "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">",
        links.open()
    );
    let body_seen = Cell::new(false);
    let out = rewrite_str(
        html,
        RewriteStrSettings {
            element_content_handlers: vec![
                element!("a[href]", |el| {
                    if let Some(raw) = el.get_attribute("href") {
                        let href = decode_entities(raw.trim());
                        let lower = href.to_ascii_lowercase();
                        if (lower.starts_with("http://") || lower.starts_with("https://"))
                            && !href.starts_with(&links.unsubscribe_prefix())
                            && url::Url::parse(&href).is_ok()
                        {
                            el.set_attribute("href", &links.click(&href))?;
                        }
                    }
                    Ok(())
                }),
                element!("body", |el| {
                    body_seen.set(true);
                    el.append(&pixel, ContentType::Html);
                    Ok(())
                }),
            ],
            ..RewriteStrSettings::new()
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(if body_seen.get() {
        out
    } else {
        format!("{out}{pixel}")
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn tokens_sign_with_their_own_key_and_legacy_links_still_verify() {
        let secret = "a-secret-a-secret-a-secret-a-secret";
        let rid = Uuid::now_v7();
        // Signed with the tracking key, not the bare secret.
        let t = sign(secret, TokenKind::Unsubscribe, rid, None);
        let bare = DecodingKey::from_secret(secret.as_bytes());
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[AUDIENCE]);
        v.validate_exp = false;
        assert!(jsonwebtoken::decode::<Claims>(&t, &bare, &v).is_err());
        assert_eq!(
            verify(secret, &t, TokenKind::Unsubscribe),
            Some((rid, None))
        );
        // A link from mail sent before per-kind keys (signed with the bare secret) still works.
        let legacy = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                r: rid,
                k: TokenKind::Unsubscribe.code().into(),
                u: None,
                aud: AUDIENCE.into(),
            },
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            verify(secret, &legacy, TokenKind::Unsubscribe),
            Some((rid, None))
        );
    }

    #[test]
    fn tokens_verify_only_for_their_kind_and_secret() {
        let r = Uuid::now_v7();
        let t = sign(SECRET, TokenKind::Click, r, Some("https://a.example/x?y=1"));
        assert_eq!(
            verify(SECRET, &t, TokenKind::Click),
            Some((r, Some("https://a.example/x?y=1".into())))
        );
        assert!(verify(SECRET, &t, TokenKind::Open).is_none());
        assert!(verify("another-secret-another-secret-xx", &t, TokenKind::Click).is_none());
        // Change the URL inside the token: the signature no longer matches.
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        use base64::Engine;
        let forged = json!({"r": r, "k": "c", "u": "https://evil.example", "aud": AUDIENCE});
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string());
        assert!(verify(SECRET, &parts.join("."), TokenKind::Click).is_none());
    }

    #[test]
    fn links_are_rewritten_and_the_pixel_added() {
        let r = Uuid::now_v7();
        let links = Links::new("https://t.example", SECRET, r);
        let out = instrument_html(
            "<html><body><a href=\"https:&#x2f;&#x2f;acme.io&#x2f;?a=1&amp;b=2\">x</a> <a href=\"mailto:a@b.c\">m</a></body></html>",
            &links,
        )
        .unwrap();
        assert!(out.contains("mailto:a@b.c"));
        let start = out.find("https://t.example/t/c/").unwrap() + "https://t.example/t/c/".len();
        let token: String = out[start..].chars().take_while(|c| *c != '"').collect();
        assert_eq!(
            verify(SECRET, &token, TokenKind::Click)
                .unwrap()
                .1
                .as_deref(),
            Some("https://acme.io/?a=1&b=2")
        );
        assert!(out.contains("/t/o/") && out.find("/t/o/") < out.find("</body>"));
        let bare = instrument_html("<p>hi</p>", &links).unwrap();
        assert!(bare.starts_with("<p>hi</p><img"));
    }
}
