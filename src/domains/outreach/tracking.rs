//! Tracking: signed tokens, link rewriting and the open pixel, the HTTP endpoints (open, click,
//! unsubscribe page + RFC 8058 one-click POST) and [`record`], which applies any email event
//! (also those from provider webhooks and inbound replies) to the recipient, the suppression
//! list, the lead timeline and the event stream in one transaction.
//!
//! Tokens are HS256 JWTs with their own audience (the export link's approach): `{r: recipient,
//! k: o|c|u, u: url}`. A click token carries the URL it redirects to, and tokens are only minted
//! for links found in the rendered email, so the redirect cannot be pointed anywhere else. They
//! do not expire: an unsubscribe link must keep working.

use std::cell::Cell;

use axum::{
    body::Bytes,
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use entity::{
    campaign_recipient, email_event, email_suppression, lead, lead_interaction, organization,
};
use http::{header, HeaderMap, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{
    sea_query::OnConflict, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait,
    QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::types::RecipientStatus;
use crate::{
    auth::keys,
    error::{AppError, AppResult},
    events::{outbox, CampaignActivity, DomainEvent, EventEnvelope},
    http::HttpState,
    state::AppState,
    state::Wakes,
};

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

/// Something that happened to a sent email.
#[derive(Debug, Clone)]
pub enum Activity {
    /// The pixel loaded.
    Open,
    /// A link was followed.
    Click(String),
    /// The lead unsubscribed (`source`: `link`, `one-click`, a provider).
    Unsubscribe(String),
    /// The message bounced.
    Bounce {
        /// Permanent (hard) or temporary (soft).
        hard: bool,
        /// The server's reason.
        reason: String,
        /// Where we learned it (`sendgrid`, `mailgun`, `dsn`).
        source: String,
    },
    /// The lead replied.
    Reply {
        /// From address of the reply.
        from: Option<String>,
        /// Its subject.
        subject: Option<String>,
    },
    /// The lead marked it as spam (provider feedback).
    Complaint(String),
}

impl Activity {
    fn kind(&self) -> &'static str {
        match self {
            Activity::Open => "open",
            Activity::Click(_) => "click",
            Activity::Unsubscribe(_) => "unsubscribe",
            Activity::Bounce { .. } => "bounce",
            Activity::Reply { .. } => "reply",
            Activity::Complaint(_) => "complaint",
        }
    }

    fn data(&self) -> Value {
        match self {
            Activity::Open => json!({}),
            Activity::Click(url) => json!({"url": url}),
            Activity::Unsubscribe(source) => json!({"source": source}),
            Activity::Bounce {
                hard,
                reason,
                source,
            } => {
                json!({"bounce": if *hard { "hard" } else { "soft" }, "reason": reason, "source": source})
            }
            Activity::Reply { from, subject } => json!({"from": from, "subject": subject}),
            Activity::Complaint(source) => json!({"source": source}),
        }
    }
}

/// Applies `activity` to recipient `recipient_id`: stores the event, moves the recipient
/// forward, adds suppressions (unsubscribe, hard bounce, complaint), writes the lead timeline and
/// records `campaign.activity`, all in one transaction. Returns false when the recipient does not
/// exist or was never sent (nothing is recorded then).
pub async fn record(state: &AppState, recipient_id: Uuid, activity: Activity) -> AppResult<bool> {
    let txn = state.db.begin().await?;
    let Some(r) = campaign_recipient::Entity::find_by_id(recipient_id)
        .one(&txn)
        .await?
    else {
        return Ok(false);
    };
    let status = RecipientStatus::parse(&r.status).unwrap_or(RecipientStatus::Pending);
    if r.sent_at.is_none() && status != RecipientStatus::Uncertain {
        return Ok(false);
    }
    let now = Utc::now();
    let kind = activity.kind();
    let data = activity.data();
    email_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        recipient_id: Set(r.id),
        campaign_id: Set(r.campaign_id),
        org_id: Set(r.org_id),
        lead_id: Set(r.lead_id),
        kind: Set(kind.into()),
        data: Set(data.clone()),
        at: Set(now),
    }
    .insert(&txn)
    .await?;
    let advance = |to: RecipientStatus| -> Option<RecipientStatus> {
        (to.rank() > status.rank() && status.rank() > 0).then_some(to)
    };
    let mut a: campaign_recipient::ActiveModel = r.clone().into();
    let mut timeline = true;
    let mut suppress: Option<&str> = None;
    match &activity {
        Activity::Open => {
            a.open_count = Set(r.open_count + 1);
            timeline = r.opened_at.is_none();
            if r.opened_at.is_none() {
                a.opened_at = Set(Some(now));
            }
            if let Some(s) = advance(RecipientStatus::Opened) {
                a.status = Set(s.as_str().into());
            }
        }
        Activity::Click(_) => {
            a.click_count = Set(r.click_count + 1);
            if r.clicked_at.is_none() {
                a.clicked_at = Set(Some(now));
            }
            // A click proves the email was opened, even with images blocked.
            if r.opened_at.is_none() {
                a.opened_at = Set(Some(now));
            }
            if let Some(s) = advance(RecipientStatus::Clicked) {
                a.status = Set(s.as_str().into());
            }
        }
        Activity::Reply { .. } => {
            if r.replied_at.is_none() {
                a.replied_at = Set(Some(now));
            }
            if let Some(s) = advance(RecipientStatus::Replied) {
                a.status = Set(s.as_str().into());
            }
        }
        Activity::Unsubscribe(_) | Activity::Complaint(_) => {
            timeline = r.unsubscribed_at.is_none();
            if r.unsubscribed_at.is_none() {
                a.unsubscribed_at = Set(Some(now));
            }
            if status != RecipientStatus::Bounced {
                a.status = Set(RecipientStatus::Unsubscribed.as_str().into());
            }
            suppress = Some(if matches!(activity, Activity::Complaint(_)) {
                "complaint"
            } else {
                "unsubscribe"
            });
        }
        Activity::Bounce { hard, .. } => {
            a.bounced_at = Set(Some(now));
            // A soft bounce never overrides a hard one.
            if *hard || r.bounce_kind.as_deref() != Some("hard") {
                a.bounce_kind = Set(Some(if *hard { "hard" } else { "soft" }.into()));
            }
            if *hard {
                a.status = Set(RecipientStatus::Bounced.as_str().into());
                suppress = Some("hard_bounce");
            }
        }
    }
    a.last_event_at = Set(Some(now));
    a.updated_at = Set(now);
    a.update(&txn).await?;
    if let Some(reason) = suppress {
        email_suppression::Entity::insert(email_suppression::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(r.org_id),
            email: Set(r.email.to_lowercase()),
            reason: Set(reason.into()),
            data: Set(json!({"campaignId": r.campaign_id, "recipientId": r.id})),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                email_suppression::Column::OrgId,
                email_suppression::Column::Email,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    }
    if let (true, Some(lead_id)) = (timeline, r.lead_id) {
        // Only when the lead still exists in the recipient's organization.
        let exists = lead::Entity::find_by_id(lead_id)
            .filter(lead::Column::OrgId.eq(r.org_id))
            .one(&txn)
            .await?
            .is_some();
        if exists {
            let mut d = data;
            d["campaignId"] = json!(r.campaign_id);
            lead_interaction::ActiveModel {
                id: Set(Uuid::now_v7()),
                lead_id: Set(lead_id),
                org_id: Set(r.org_id),
                kind: Set(format!("email_{kind}")),
                actor_id: Set(None),
                data: Set(d),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
    }
    outbox::record(
        &txn,
        &EventEnvelope::new(
            r.org_id,
            None,
            DomainEvent::CampaignActivity(CampaignActivity {
                campaign_id: r.campaign_id,
                recipient_id: r.id,
                lead_id: r.lead_id,
                kind: kind.into(),
            }),
        ),
    )
    .await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(true)
}

/// The recipient with Message-ID `id` (with or without angle brackets).
pub async fn recipient_by_message_id(state: &AppState, id: &str) -> AppResult<Option<Uuid>> {
    let id = id.trim().trim_start_matches('<').trim_end_matches('>');
    if id.is_empty() || id.len() > 250 {
        return Ok(None);
    }
    Ok(campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::MessageId.eq(format!("<{id}>")))
        .one(&state.db)
        .await?
        .map(|r| r.id))
}

/// A 1×1 transparent GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "unknown or invalid link",
    )
        .into_response()
}

fn log_failure(e: AppError) {
    tracing::error!(error = ?e, "recording an email event failed");
}

/// `GET /t/o/{token}.gif`: records an open, answers the pixel.
pub async fn open(State(s): State<HttpState>, Path(token): Path<String>) -> Response {
    let token = token.trim_end_matches(".gif");
    let Some((rid, _)) = verify(&s.app.config.jwt_secret, token, TokenKind::Open) else {
        return not_found();
    };
    if let Err(e) = record(&s.app, rid, Activity::Open).await {
        log_failure(e);
    }
    (
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store, max-age=0"),
        ],
        PIXEL,
    )
        .into_response()
}

/// `GET /t/c/{token}`: records a click and redirects to the URL signed into the token — only
/// when that recipient exists and was sent its message (the only place tokens are minted is the
/// message being sent, `message::build`): a token for anything else is 404, so the endpoint is
/// never a redirect to an address no sent email contained. If the database cannot be asked,
/// a correctly signed link still works (logged).
pub async fn click(State(s): State<HttpState>, Path(token): Path<String>) -> Response {
    let Some((rid, Some(url))) = verify(&s.app.config.jwt_secret, &token, TokenKind::Click) else {
        return not_found();
    };
    match record(&s.app, rid, Activity::Click(url.clone())).await {
        Ok(true) => {}
        Ok(false) => return not_found(),
        Err(e) => log_failure(e),
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, url),
            (header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response()
}

fn page(title: &str, body: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{t}</title></head>\
         <body style=\"font-family:sans-serif;max-width:32rem;margin:4rem auto\"><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// `GET /u/{token}`: a confirmation page (a GET never unsubscribes: link scanners prefetch).
pub async fn unsubscribe_page(State(s): State<HttpState>, Path(token): Path<String>) -> Response {
    let Some((rid, _)) = verify(&s.app.config.jwt_secret, &token, TokenKind::Unsubscribe) else {
        return not_found();
    };
    let org = match campaign_recipient::Entity::find_by_id(rid)
        .one(&s.app.db)
        .await
    {
        Ok(Some(r)) => organization::Entity::find_by_id(r.org_id)
            .one(&s.app.db)
            .await
            .ok()
            .flatten()
            .map(|o| o.name)
            .unwrap_or_default(),
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe page lookup failed");
            String::new()
        }
    };
    let org = org
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    page(
        "Unsubscribe",
        &format!(
            "<p>Stop receiving emails from {org}?</p><form method=\"post\"><button type=\"submit\">Unsubscribe</button></form>"
        ),
    )
}

/// `POST /u/{token}`: the page's button and RFC 8058 one-click (`List-Unsubscribe=One-Click`).
pub async fn unsubscribe(
    State(s): State<HttpState>,
    Path(token): Path<String>,
    _headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((rid, _)) = verify(&s.app.config.jwt_secret, &token, TokenKind::Unsubscribe) else {
        return not_found();
    };
    let source = if body.as_ref() == b"List-Unsubscribe=One-Click" {
        "one-click"
    } else {
        "link"
    };
    match record(&s.app, rid, Activity::Unsubscribe(source.into())).await {
        Ok(true) => page(
            "Unsubscribed",
            "<p>You will not receive these emails any more.</p>",
        ),
        Ok(false) => not_found(),
        Err(e) => {
            log_failure(e);
            (StatusCode::INTERNAL_SERVER_ERROR, "please try again").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
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
