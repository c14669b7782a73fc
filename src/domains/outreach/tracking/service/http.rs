//! The tracking HTTP endpoints: the open pixel (`GET /t/o/{token}.gif`, `no-store`), click
//! redirects (`GET /t/c/{token}`, 302 to the URL signed into the token), the unsubscribe page
//! (`GET /u/{token}`: a confirmation page, since link scanners prefetch and a GET never
//! unsubscribes) and its button / RFC 8058 one-click (`POST /u/{token}`). Forged, altered or
//! wrong-kind tokens are 404.

use axum::{
    body::Bytes,
    extract::{Path, State},
    response::{IntoResponse, Response},
};
use entity::{campaign_recipient, organization};
use http::{header, HeaderMap, StatusCode};
use sea_orm::EntityTrait;

use super::{
    others,
    record::{record, Activity},
    token::{verify, TokenKind},
};
use crate::{error::AppError, http::HttpState};

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

/// The organization that sent message `id`: a campaign recipient's, or another sender's.
async fn org_of_message(s: &HttpState, id: uuid::Uuid) -> Result<Option<uuid::Uuid>, AppError> {
    let recipient = campaign_recipient::Entity::find_by_id(id)
        .one(&s.app.db)
        .await?;
    match recipient {
        Some(r) => Ok(Some(r.org_id)),
        None => others::org_of(&s.app, id).await,
    }
}

/// `GET /u/{token}`: a confirmation page (a GET never unsubscribes: link scanners prefetch).
pub async fn unsubscribe_page(State(s): State<HttpState>, Path(token): Path<String>) -> Response {
    let Some((rid, _)) = verify(&s.app.config.jwt_secret, &token, TokenKind::Unsubscribe) else {
        return not_found();
    };
    let org = match org_of_message(&s, rid).await {
        Ok(Some(org)) => organization::Entity::find_by_id(org)
            .one(&s.app.db)
            .await
            .ok()
            .flatten()
            .map(|o| o.name)
            .unwrap_or_default(),
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = ?e, "unsubscribe page lookup failed");
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
