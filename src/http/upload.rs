//! GraphQL multipart requests (file uploads), read only for a viewer who may upload.
//!
//! The handler authenticates from the headers before this runs (`graphql::post_handler`):
//! an anonymous request is answered 401 `UNAUTHENTICATED` and a viewer without
//! [`UPLOAD_PERMISSIONS`] 403 `FORBIDDEN` without a byte of the body read. Then the parts are
//! read in the order the multipart request spec requires: `operations` (at most
//! `MAX_BODY_BYTES`), `map` (likewise), then the files, each streamed to an unlinked file under
//! `DATA_DIR/uploads` (at most `MAX_UPLOAD_BYTES` each, `MAX_UPLOAD_FILES` in all). A file part
//! before `operations` and `map`, or one the map does not name, is never written anywhere.

use std::io::SeekFrom;

use async_graphql::{BatchRequest, UploadValue};
use axum::{body::Body, response::Response};
use http::{header, HeaderMap, StatusCode};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::{
    graphql::{error_response, Media},
    HttpState,
};
use crate::{
    auth::{Permission, Viewer},
    error::ErrorCode,
    state::AppState,
};

/// The permissions of the operations taking an `Upload` (`importLeads`, `uploadFile`): a
/// viewer needs one of them before any file part is read. An upload operation with another
/// permission must be added here.
pub const UPLOAD_PERMISSIONS: &[Permission] = &[Permission::WriteLeads, Permission::WriteFiles];

/// Why a multipart request was refused: HTTP status, code, message.
#[derive(Debug)]
pub struct Refusal {
    /// HTTP status.
    pub status: StatusCode,
    /// `extensions.code`.
    pub code: &'static str,
    /// Message.
    pub message: String,
}

fn bad(message: impl Into<String>) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "BAD_REQUEST",
        message: message.into(),
    }
}

fn from_multer(e: multer::Error) -> Refusal {
    match e {
        multer::Error::FieldSizeExceeded { limit, field_name } => Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "BAD_REQUEST",
            message: format!(
                "multipart part {} is larger than {limit} bytes",
                field_name.unwrap_or_default()
            ),
        },
        multer::Error::StreamSizeExceeded { limit } => Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "BAD_REQUEST",
            message: format!("multipart request larger than {limit} bytes"),
        },
        e => bad(format!("malformed multipart request: {e}")),
    }
}

/// Reads a multipart request (GraphQL multipart request spec, file uploads): only a viewer who
/// may upload gets any part read; files stream to disk (`http::upload`).
pub async fn read_checked(
    s: &HttpState,
    headers: &HeaderMap,
    body: Body,
    viewer: Option<&Viewer>,
    media: Media,
) -> Result<BatchRequest, Response> {
    let Some(v) = viewer else {
        return Err(error_response(
            StatusCode::UNAUTHORIZED,
            media,
            ErrorCode::Unauthenticated.as_str(),
            "sign in to upload files",
        ));
    };
    if let Some(Err(e)) = UPLOAD_PERMISSIONS
        .iter()
        .map(|p| v.require(*p))
        .reduce(|a, b| a.or(b))
    {
        return Err(error_response(
            StatusCode::FORBIDDEN,
            media,
            e.code().as_str(),
            &e.public_message(),
        ));
    }
    read(&s.app, headers, body)
        .await
        .map_err(|r| error_response(r.status, media, r.code, &r.message))
}

/// Reads a multipart GraphQL request whose viewer was already checked.
pub async fn read(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<BatchRequest, Refusal> {
    let limits = &state.config.limits;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let boundary = multer::parse_boundary(content_type).map_err(from_multer)?;
    let constraints = constraints(limits);
    let mut multipart =
        multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);

    let mut request: Option<BatchRequest> = None;
    let mut map: Option<std::collections::HashMap<String, Vec<String>>> = None;
    let mut files = 0usize;
    while let Some(field) = multipart.next_field().await.map_err(from_multer)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "operations" if request.is_none() => {
                let bytes = field.bytes().await.map_err(from_multer)?;
                request =
                    Some(serde_json::from_slice(&bytes).map_err(|e| {
                        bad(format!("malformed GraphQL request in `operations`: {e}"))
                    })?);
            }
            "map" if request.is_some() && map.is_none() => {
                let bytes = field.bytes().await.map_err(from_multer)?;
                map = Some(
                    serde_json::from_slice(&bytes)
                        .map_err(|e| bad(format!("malformed `map`: {e}")))?,
                );
            }
            _ => {
                let (Some(request), Some(map)) = (request.as_mut(), map.as_mut()) else {
                    return Err(bad(
                        "multipart parts must come in order: operations, map, then files",
                    ));
                };
                // A part the map does not name is skipped unread (multer drains it).
                let Some(paths) = map.remove(&name) else {
                    continue;
                };
                files += 1;
                if files > limits.max_upload_files {
                    return Err(Refusal {
                        status: StatusCode::PAYLOAD_TOO_LARGE,
                        code: "BAD_REQUEST",
                        message: format!("at most {} files per request", limits.max_upload_files),
                    });
                }
                attach(state, request, field, paths).await?;
            }
        }
    }
    let request = request.ok_or_else(|| bad("multipart request without `operations`"))?;
    match map {
        Some(m) if m.is_empty() => Ok(request),
        Some(m) => Err(bad(format!(
            "files named in `map` are missing: {}",
            m.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
        None => Err(bad("multipart request without `map`")),
    }
}

/// Size limits of the multipart stream: the JSON parts as the body limit, each file as the
/// upload limit.
fn constraints(limits: &crate::config::GraphqlLimits) -> multer::Constraints {
    let body_cap = limits.max_body_bytes as u64;
    let file_cap = limits.max_upload_bytes as u64;
    let whole = body_cap
        .saturating_mul(2)
        .saturating_add(file_cap.saturating_mul(limits.max_upload_files as u64))
        // Part headers and boundaries.
        .saturating_add(64 * 1024);
    multer::Constraints::new().size_limit(
        multer::SizeLimit::new()
            .whole_stream(whole)
            .per_field(file_cap)
            .for_field("operations", body_cap)
            .for_field("map", body_cap),
    )
}

/// Spools one file part and sets it at each of its `paths` in the request.
async fn attach(
    state: &AppState,
    request: &mut BatchRequest,
    mut field: multer::Field<'_>,
    paths: Vec<String>,
) -> Result<(), Refusal> {
    let filename = field.file_name().unwrap_or("").to_string();
    let content_type = field.content_type().map(ToString::to_string);
    let mut file = spool_file(state).await?;
    while let Some(chunk) = field.chunk().await.map_err(from_multer)? {
        file.write_all(&chunk).await.map_err(io_refusal)?;
    }
    file.flush().await.map_err(io_refusal)?;
    file.seek(SeekFrom::Start(0)).await.map_err(io_refusal)?;
    let upload = UploadValue {
        filename,
        content_type,
        content: file.into_std().await,
    };
    for path in paths {
        let upload = upload.try_clone().map_err(io_refusal)?;
        match request {
            BatchRequest::Single(r) => r.set_upload(&path, upload),
            BatchRequest::Batch(rs) => {
                let mut s = path.splitn(2, '.');
                let idx = s.next().and_then(|i| i.parse::<usize>().ok());
                if let (Some(r), Some(path)) = (idx.and_then(|i| rs.get_mut(i)), s.next()) {
                    r.set_upload(path, upload);
                }
            }
        }
    }
    Ok(())
}

fn io_refusal(e: std::io::Error) -> Refusal {
    tracing::error!(error = %e, "spooling an upload failed");
    Refusal {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "INTERNAL",
        message: "internal error".into(),
    }
}

/// A new file under `DATA_DIR/uploads`, unlinked at once: it lives as long as its handle.
async fn spool_file(state: &AppState) -> Result<tokio::fs::File, Refusal> {
    let dir = state.config.data_dir.join("uploads");
    tokio::fs::create_dir_all(&dir).await.map_err(io_refusal)?;
    let path = dir.join(format!("upload-{}", uuid::Uuid::now_v7().simple()));
    let file = tokio::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .await
        .map_err(io_refusal)?;
    if let Err(e) = tokio::fs::remove_file(&path).await {
        tracing::warn!(error = %e, path = %path.display(), "could not unlink a spooled upload");
    }
    Ok(file)
}
