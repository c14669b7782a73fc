//! CSV export: `exportLeads` returns a short-lived signed URL; `GET /exports/leads?token=…`
//! streams the file in chunks of 1,000 rows (keyset by id), so memory stays flat whatever the
//! size. Cells starting with `=`, `+`, `-`, `@`, tab or carriage return are prefixed with `'`
//! against spreadsheet formula injection.

use std::collections::HashMap;

use axum::{
    body::{Body, Bytes},
    extract::{Query, State},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Duration, Utc};
use entity::lead;
use http::{header, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{loader, query::filtered, types::LeadFilter};
use crate::{
    auth::{Permission, Role, Viewer, ViewerVia},
    error::{AppError, AppResult},
    http::HttpState,
    state::AppState,
};

/// Lifetime of an export link.
pub const LINK_TTL: Duration = Duration::minutes(10);
const AUDIENCE: &str = "leadgraph-export";
const CHUNK: u64 = 1000;

#[derive(Serialize, Deserialize)]
struct ExportClaims {
    sub: Uuid,
    org: Uuid,
    filter: LeadFilter,
    aud: String,
    exp: i64,
}

/// Signs a download link for the viewer's leads matching `filter`.
pub fn sign(
    state: &AppState,
    viewer: &Viewer,
    filter: LeadFilter,
) -> AppResult<(String, DateTime<Utc>)> {
    viewer.require(Permission::ReadLeads)?;
    // Validate the filter now, so a bad one fails here rather than at download.
    filtered(state.db.get_database_backend(), viewer, &filter)?;
    let exp = Utc::now() + LINK_TTL;
    let claims = ExportClaims {
        sub: viewer.user_id,
        org: viewer.org_id,
        filter,
        aud: AUDIENCE.into(),
        exp: exp.timestamp(),
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(state.config.jwt_secret.as_bytes()),
    )
    .map_err(AppError::internal)?;
    Ok((
        format!("{}/exports/leads?token={token}", state.config.public_url),
        exp,
    ))
}

/// Escapes a cell against formula injection.
pub fn cell(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

const HEADER: [&str; 17] = [
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "title",
    "website",
    "industry",
    "city",
    "region",
    "country",
    "source",
    "status",
    "score",
    "tags",
    "created_at",
];

fn chunk_csv(
    rows: &[lead::Model],
    tags: &HashMap<Uuid, Vec<String>>,
    header: bool,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 160));
    if header {
        w.write_record(HEADER)?;
    }
    let o = |v: &Option<String>| cell(v.as_deref().unwrap_or(""));
    for r in rows {
        w.write_record([
            r.id.to_string(),
            o(&r.first_name),
            o(&r.last_name),
            o(&r.email),
            o(&r.phone),
            cell(&r.company),
            o(&r.title),
            o(&r.website),
            o(&r.industry),
            o(&r.city),
            o(&r.region),
            o(&r.country),
            r.source.clone(),
            r.status.clone(),
            r.score.to_string(),
            cell(&tags.get(&r.id).map(|t| t.join(";")).unwrap_or_default()),
            r.created_at.to_rfc3339(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// Query string of the download route.
#[derive(Deserialize)]
pub struct DownloadParams {
    token: String,
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_string(),
    )
        .into_response()
}

/// `GET /exports/leads?token=…`.
pub async fn download(State(s): State<HttpState>, Query(p): Query<DownloadParams>) -> Response {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    let claims = match jsonwebtoken::decode::<ExportClaims>(
        &p.token,
        &DecodingKey::from_secret(s.app.config.jwt_secret.as_bytes()),
        &validation,
    ) {
        Ok(d) => d.claims,
        Err(_) => return refuse(StatusCode::FORBIDDEN, "invalid or expired export link"),
    };
    // The link carries the scope it was signed for; the organization filter is applied again.
    let viewer = Viewer {
        user_id: claims.sub,
        org_id: claims.org,
        role: Role::Viewer,
        via: ViewerVia::Jwt,
        session_id: None,
    };
    let base = match filtered(s.app.db.get_database_backend(), &viewer, &claims.filter) {
        Ok(q) => q,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "invalid export filter"),
    };
    let db = s.app.db.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut last: Option<Uuid> = None;
        let mut first = true;
        loop {
            let mut q = base.clone().order_by_asc(lead::Column::Id).limit(CHUNK);
            if let Some(l) = last {
                q = q.filter(lead::Column::Id.gt(l));
            }
            let rows = match q.all(&db).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "export query failed");
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            };
            let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
            let tags = loader::tags(&db, &ids).await.unwrap_or_default();
            match chunk_csv(&rows, &tags, first) {
                Ok(bytes) => {
                    if tx.send(Ok(Bytes::from(bytes))).await.is_err() {
                        return; // client went away
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "export encoding failed");
                    let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                    return;
                }
            }
            first = false;
            if (rows.len() as u64) < CHUNK {
                return;
            }
            last = rows.last().map(|r| r.id);
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let name = format!("leads-{}.csv", Utc::now().format("%Y%m%d-%H%M%S"));
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formula_cells_are_escaped() {
        assert_eq!(super::cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(super::cell("+1"), "'+1");
        assert_eq!(super::cell("@SUM"), "'@SUM");
        assert_eq!(super::cell("Acme"), "Acme");
    }
}
