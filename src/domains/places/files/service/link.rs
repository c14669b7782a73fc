//! Signed download links and the route that serves them.
//!
//! A link is `PUBLIC_URL/files/{id}?exp={unix seconds}&sig={hex}`, where `sig` is
//! HMAC-SHA256 under the `file-link` key derived from `JWT_SECRET` (`auth::keys`) over the
//! file id, its organization and the expiry. A link to an image's smaller standard size adds
//! `&w={pixels}`, which the signature covers too. Whoever holds a link may download until it
//! expires: it is made to be put in an `<img src>` or handed to a browser. An unknown or
//! deleted file, or a signature that does not verify (another file's, another organization's,
//! a changed expiry), is 404 like a missing file; an authentic link past its expiry is 410.
//!
//! `GET /files/{id}` streams the object from storage, whole (200) or one byte range
//! (`Range: bytes=a-b`, `a-`, `-n`: 206 with `Content-Range`; a range that starts past the end
//! is 416 with `Content-Range: bytes */size`; several ranges or a malformed header get the
//! whole file). Every answer carries `X-Content-Type-Options: nosniff` and a sandboxing CSP;
//! only raster images are `inline`, everything else (HTML, SVG, PDF, …) is an attachment.

use std::ops::Range;

use axum::{
    body::Body,
    extract::{Path, Query, State},
    response::{IntoResponse, Response},
};
use chrono::Utc;
use entity::file;
use hmac::{Hmac, Mac};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Deserialize;
use sha2::Sha256;
use uuid::Uuid;

use crate::{auth::keys, config::Config, state::AppState};

/// Longest validity of a link: 7 days.
pub const MAX_EXPIRY_SECS: i64 = 7 * 24 * 3600;

fn mac(config: &Config, id: Uuid, org: Uuid, exp: i64, w: Option<i32>) -> Option<Hmac<Sha256>> {
    let key = keys::derive(&config.jwt_secret, keys::FILE_LINK);
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    match w {
        None => mac.update(format!("{id}.{org}.{exp}").as_bytes()),
        Some(w) => mac.update(format!("{id}.{org}.{exp}.w{w}").as_bytes()),
    }
    Some(mac)
}

/// The signed URL of file `m`, valid until `exp` (unix seconds).
pub fn signed_url(config: &Config, m: &file::Model, exp: i64) -> String {
    signed_url_of(config, m, None, exp)
}

/// The signed URL of file `m`, or of its variant `w` pixels big, valid until `exp`.
pub fn signed_url_of(config: &Config, m: &file::Model, w: Option<i32>, exp: i64) -> String {
    signed_variant_url(config, m.id, m.org_id, w, exp)
}

/// The signed URL of file `id` of organization `org` (or of its variant `w` pixels big),
/// valid until `exp`.
pub fn signed_variant_url(
    config: &Config,
    id: Uuid,
    org: Uuid,
    w: Option<i32>,
    exp: i64,
) -> String {
    let sig = mac(config, id, org, exp, w)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    let size = w.map(|w| format!("&w={w}")).unwrap_or_default();
    format!("{}/files/{id}?exp={exp}{size}&sig={sig}", config.public_url)
}

/// The signed URL of file `id` of organization `org`, valid until `exp` (unix seconds), for
/// callers that keep only the file's id (a report run's output).
pub fn signed_file_url(config: &Config, id: Uuid, org: Uuid, exp: i64) -> String {
    let sig = mac(config, id, org, exp, None)
        .map(|m| hex::encode(m.finalize().into_bytes()))
        .unwrap_or_default();
    format!("{}/files/{id}?exp={exp}&sig={sig}", config.public_url)
}

/// Query string of a download link.
#[derive(Debug, Deserialize)]
pub struct LinkParams {
    exp: Option<i64>,
    sig: Option<String>,
    w: Option<i32>,
}

fn plain(status: StatusCode, message: &str) -> Response {
    let mut res = (status, message.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn missing() -> Response {
    plain(StatusCode::NOT_FOUND, "file not found")
}

/// `GET /files/{id}?exp=…&sig=…`.
pub async fn download(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<LinkParams>,
    headers: HeaderMap,
) -> Response {
    let (Ok(id), Some(exp), Some(sig)) = (Uuid::parse_str(&id), p.exp, p.sig) else {
        return missing();
    };
    let Ok(sig) = hex::decode(sig) else {
        return missing();
    };
    let row = file::Entity::find_by_id(id)
        .filter(file::Column::DeletedAt.is_null())
        .one(&app.db)
        .await;
    let m = match row {
        Ok(Some(m)) => m,
        Ok(None) => return missing(),
        Err(e) => {
            tracing::error!(error = %e, "file link lookup failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "try again later");
        }
    };
    let authentic =
        mac(&app.config, m.id, m.org_id, exp, p.w).is_some_and(|m| m.verify_slice(&sig).is_ok());
    if !authentic {
        return missing();
    }
    if exp < Utc::now().timestamp() {
        return plain(StatusCode::GONE, "this download link has expired");
    }
    let m = match p.w {
        None => m,
        Some(w) => match super::images::variant(&app.db, m.id, w).await {
            Ok(Some(v)) => file::Model {
                content_type: v.content_type,
                size: v.size,
                sha256: v.sha256,
                storage_key: v.storage_key,
                ..m
            },
            Ok(None) => return missing(),
            Err(e) => {
                tracing::error!(error = ?e, "file variant lookup failed");
                return plain(StatusCode::SERVICE_UNAVAILABLE, "try again later");
            }
        },
    };
    serve(&app, &m, headers.get(header::RANGE)).await
}

/// What the `Range` header asks of an object of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeAsk {
    /// The whole object (no header, several ranges, or one we do not understand).
    Whole,
    /// These bytes (end exclusive).
    Part(Range<u64>),
    /// A range that starts past the end.
    Unsatisfiable,
}

/// Parses `Range: bytes=a-b | a- | -n` against `size` (RFC 9110 §14.1.2).
pub fn range_ask(value: Option<&HeaderValue>, size: u64) -> RangeAsk {
    let Some(spec) = value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes="))
    else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        // `-n`: the last n bytes.
        (true, false) => match parse(b) {
            Some(0) => RangeAsk::Unsatisfiable,
            Some(n) if size > 0 => RangeAsk::Part(size.saturating_sub(n)..size),
            Some(_) => RangeAsk::Unsatisfiable,
            None => RangeAsk::Whole,
        },
        (false, _) => {
            let Some(first) = parse(a) else {
                return RangeAsk::Whole;
            };
            let last = if b.is_empty() {
                Some(u64::MAX)
            } else {
                parse(b)
            };
            match last {
                Some(last) if last < first => RangeAsk::Whole,
                Some(_) if first >= size => RangeAsk::Unsatisfiable,
                Some(last) => RangeAsk::Part(first..last.min(size - 1) + 1),
                None => RangeAsk::Whole,
            }
        }
        (true, true) => RangeAsk::Whole,
    }
}

/// Raster images show inline; anything else downloads.
fn disposition(m: &file::Model) -> String {
    let inline = matches!(
        m.content_type.as_str(),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    );
    let ascii: String = m
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(&m.name, percent_encoding::NON_ALPHANUMERIC);
    format!(
        "{}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}",
        if inline { "inline" } else { "attachment" }
    )
}

async fn serve(app: &AppState, m: &file::Model, range: Option<&HeaderValue>) -> Response {
    let size = u64::try_from(m.size).unwrap_or(0);
    let ask = range_ask(range, size);
    let part = match ask {
        RangeAsk::Unsatisfiable => {
            let mut res = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return res;
        }
        RangeAsk::Part(r) => Some(r),
        RangeAsk::Whole => None,
    };
    let read = match app.storage.get(&m.storage_key, part.clone()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, file = %m.id, "reading a file from storage failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "try again later");
        }
    };
    let status = if part.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let served = read.range.clone();
    let mut res = (status, Body::from_stream(read.stream)).into_response();
    let h = res.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, m.content_type.clone());
    set(
        header::CONTENT_LENGTH,
        (served.end - served.start).to_string(),
    );
    set(header::CONTENT_DISPOSITION, disposition(m));
    set(header::ACCEPT_RANGES, "bytes".into());
    set(header::ETAG, format!("\"{}\"", m.sha256));
    set(header::CACHE_CONTROL, "private, max-age=300".into());
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".into());
    set(
        header::CONTENT_SECURITY_POLICY,
        "sandbox; default-src 'none'".into(),
    );
    if part.is_some() {
        set(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", served.start, served.end - 1, read.size),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(v: &str, size: u64) -> RangeAsk {
        range_ask(Some(&HeaderValue::from_str(v).unwrap()), size)
    }

    #[test]
    fn byte_ranges_follow_rfc_9110() {
        use RangeAsk::*;
        assert_eq!(range_ask(None, 10), Whole);
        assert_eq!(ask("bytes=0-3", 10), Part(0..4));
        assert_eq!(ask("bytes=5-", 10), Part(5..10));
        assert_eq!(ask("bytes=5-100", 10), Part(5..10));
        assert_eq!(ask("bytes=-3", 10), Part(7..10));
        assert_eq!(ask("bytes=-30", 10), Part(0..10));
        assert_eq!(ask("bytes=10-", 10), Unsatisfiable);
        assert_eq!(ask("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(ask("bytes=-0", 10), Unsatisfiable);
        assert_eq!(ask("bytes=0-0", 0), Unsatisfiable);
        assert_eq!(ask("bytes=3-1", 10), Whole);
        assert_eq!(ask("bytes=0-1,4-5", 10), Whole);
        assert_eq!(ask("items=0-1", 10), Whole);
        assert_eq!(ask("bytes=x-1", 10), Whole);
    }

    #[test]
    fn only_raster_images_are_inline() {
        let mut m = file::Model {
            id: Uuid::nil(),
            org_id: Uuid::nil(),
            owner_id: Uuid::nil(),
            kind: "OTHER".into(),
            name: "Zoë \"x\".html".into(),
            content_type: "text/html".into(),
            size: 1,
            sha256: String::new(),
            storage_key: String::new(),
            created_at: Utc::now(),
            deleted_at: None,
        };
        let d = disposition(&m);
        assert!(
            d.starts_with("attachment; filename=\"Zo_ _x_.html\""),
            "{d}"
        );
        assert!(
            d.contains("filename*=UTF-8''Zo%C3%AB%20%22x%22%2Ehtml"),
            "{d}"
        );
        m.content_type = "image/png".into();
        assert!(disposition(&m).starts_with("inline;"));
    }
}
