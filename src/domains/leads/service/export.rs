//! CSV and XLSX export: `exportLeads` returns a short-lived signed URL; `GET /exports/leads?token=…`
//! streams the file in chunks of 1,000 rows (keyset by id), so memory stays flat whatever the
//! size. Cells starting with `=`, `+`, `-`, `@`, tab or carriage return are prefixed with `'`
//! against spreadsheet formula injection.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use axum::{
    body::{Body, Bytes},
    extract::{Query, State},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Duration, Utc};
use entity::lead;
use http::{header, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::{Receiver, Sender};
use uuid::Uuid;

use super::query::filtered;
use crate::{
    auth::{keys, Permission, Role, Viewer, ViewerVia},
    domains::leads::{
        loader,
        types::{ExportFormat, LeadFilter},
    },
    error::{AppError, AppResult},
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
    #[serde(default)]
    format: ExportFormat,
    aud: String,
    exp: i64,
}

/// Signs a download link for the viewer's leads matching `filter`.
pub fn sign(
    state: &AppState,
    viewer: &Viewer,
    filter: LeadFilter,
    format: ExportFormat,
) -> AppResult<(String, DateTime<Utc>)> {
    viewer.require(Permission::ReadLeads)?;
    // Validate the filter now, so a bad one fails here rather than at download.
    filtered(state.db.get_database_backend(), viewer, &filter)?;
    let exp = Utc::now() + LINK_TTL;
    let claims = ExportClaims {
        sub: viewer.user_id,
        org: viewer.org_id,
        filter,
        format,
        aud: AUDIENCE.into(),
        exp: exp.timestamp(),
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&keys::derive(&state.config.jwt_secret, keys::EXPORT_LINK)),
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

/// A lead's cells in [`HEADER`] order, unescaped.
fn row_values(r: &lead::Model, tags: &HashMap<Uuid, Vec<String>>) -> [String; 17] {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        r.id.to_string(),
        o(&r.first_name),
        o(&r.last_name),
        o(&r.email),
        o(&r.phone),
        r.company.clone(),
        o(&r.title),
        o(&r.website),
        o(&r.industry),
        o(&r.city),
        o(&r.region),
        o(&r.country),
        r.source.clone(),
        r.status.clone(),
        r.score.to_string(),
        tags.get(&r.id).map(|t| t.join(";")).unwrap_or_default(),
        r.created_at.to_rfc3339(),
    ]
}

/// Column of the score (a number in XLSX).
const SCORE_COLUMN: usize = 14;

fn chunk_csv(
    rows: &[lead::Model],
    tags: &HashMap<Uuid, Vec<String>>,
    header: bool,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 160));
    if header {
        w.write_record(HEADER)?;
    }
    for r in rows {
        w.write_record(row_values(r, tags).iter().map(|v| cell(v)))?;
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

/// A file download response streaming `rx`.
fn attachment(content_type: &str, name: String, rx: Receiver<Chunk>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
        .into_response()
}

type Chunk = Result<Bytes, std::io::Error>;

/// `GET /exports/leads?token=…`.
pub async fn download(State(app): State<AppState>, Query(p): Query<DownloadParams>) -> Response {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    let claims = match jsonwebtoken::decode::<ExportClaims>(
        &p.token,
        &DecodingKey::from_secret(&keys::derive(&app.config.jwt_secret, keys::EXPORT_LINK)),
        &validation,
    ) {
        Ok(d) => d.claims,
        Err(_) => return refuse(StatusCode::FORBIDDEN, "invalid or expired export link"),
    };
    if let Err(refused) = check_signer(&app, &claims).await {
        return refused;
    }
    // The link carries the scope it was signed for; the organization filter is applied again.
    let viewer = Viewer {
        user_id: claims.sub,
        org_id: claims.org,
        role: Role::Viewer,
        via: ViewerVia::Jwt,
        session_id: None,
    };
    let base = match filtered(app.db.get_database_backend(), &viewer, &claims.filter) {
        Ok(q) => q,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "invalid export filter"),
    };
    let db = app.db.clone();
    if claims.format == ExportFormat::Xlsx {
        return xlsx(app.config.data_dir.join("exports"), db, base).await;
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    tokio::spawn(stream_csv(db, base, tx));
    let name = format!("leads-{}.csv", Utc::now().format("%Y%m%d-%H%M%S"));
    attachment("text/csv; charset=utf-8", name, rx)
}

/// The link dies with its signer's membership (removal ends every credential of theirs).
async fn check_signer(app: &AppState, claims: &ExportClaims) -> Result<(), Response> {
    let member = entity::membership::Entity::find()
        .filter(entity::membership::Column::UserId.eq(claims.sub))
        .filter(entity::membership::Column::OrgId.eq(claims.org))
        .one(&app.db)
        .await;
    match member {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(refuse(
            StatusCode::FORBIDDEN,
            "invalid or expired export link",
        )),
        Err(e) => {
            tracing::error!(error = %e, "export link membership check failed");
            Err(refuse(StatusCode::SERVICE_UNAVAILABLE, "try again later"))
        }
    }
}

/// Sends the CSV chunk by chunk until the end, an error or the client going away.
async fn stream_csv(db: DatabaseConnection, base: Select<lead::Entity>, tx: Sender<Chunk>) {
    let mut last: Option<Uuid> = None;
    let mut first = true;
    loop {
        let (rows, tags) = match next_chunk(&db, &base, last).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = ?e, "export query failed");
                let _ = tx.send(Err(std::io::Error::other("export failed"))).await;
                return;
            }
        };
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
}

/// Reads the filtered leads in chunks and yields each chunk with its tags.
async fn next_chunk(
    db: &DatabaseConnection,
    base: &Select<lead::Entity>,
    last: Option<Uuid>,
) -> Result<(Vec<lead::Model>, HashMap<Uuid, Vec<String>>), AppError> {
    let mut q = base.clone().order_by_asc(lead::Column::Id).limit(CHUNK);
    if let Some(l) = last {
        q = q.filter(lead::Column::Id.gt(l));
    }
    let rows = q.all(db).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let tags = loader::tags(db, &ids).await?;
    Ok((rows, tags))
}

/// XLSX: written in constant-memory mode (rows flushed to a temp file as they come), then the
/// finished file is streamed from disk and deleted.
async fn xlsx(dir: PathBuf, db: DatabaseConnection, base: Select<lead::Entity>) -> Response {
    let path = dir.join(format!("{}.xlsx", Uuid::now_v7()));
    let handle = tokio::runtime::Handle::current();
    let target = path.clone();
    let built =
        tokio::task::spawn_blocking(move || write_xlsx(&handle, &dir, &db, &base, &target)).await;
    match built {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "xlsx export failed");
            let _ = tokio::fs::remove_file(&path).await;
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "export failed");
        }
        Err(e) => {
            tracing::error!(error = %e, "xlsx export task failed");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, "export failed");
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    tokio::spawn(stream_file(path, tx));
    let name = format!("leads-{}.xlsx", Utc::now().format("%Y%m%d-%H%M%S"));
    attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        name,
        rx,
    )
}

/// Writes the workbook (blocking: run it off the async threads).
fn write_xlsx(
    handle: &tokio::runtime::Handle,
    dir: &Path,
    db: &DatabaseConnection,
    base: &Select<lead::Entity>,
    target: &Path,
) -> Result<(), String> {
    let e = |e: rust_xlsxwriter::XlsxError| e.to_string();
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet_with_constant_memory().map_err(e)?;
    for (c, h) in HEADER.iter().enumerate() {
        ws.write_string(0, c as u16, *h).map_err(e)?;
    }
    let mut row: u32 = 1;
    let mut last = None;
    loop {
        let (rows, tags) = handle
            .block_on(next_chunk(db, base, last))
            .map_err(|e| e.public_message())?;
        for r in &rows {
            for (c, v) in row_values(r, &tags).iter().enumerate() {
                if c == SCORE_COLUMN {
                    ws.write_number(row, c as u16, f64::from(r.score))
                        .map_err(e)?;
                } else {
                    ws.write_string(row, c as u16, v).map_err(e)?;
                }
            }
            row += 1;
        }
        if (rows.len() as u64) < CHUNK {
            break;
        }
        last = rows.last().map(|r| r.id);
    }
    wb.save(target).map_err(e)
}

/// Streams the finished file, then deletes it.
async fn stream_file(path: PathBuf, tx: Sender<Chunk>) {
    use tokio::io::AsyncReadExt;
    let result: std::io::Result<()> = async {
        let mut f = tokio::fs::File::open(&path).await?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            if tx
                .send(Ok(Bytes::copy_from_slice(&buf[..n])))
                .await
                .is_err()
            {
                return Ok(());
            }
        }
    }
    .await;
    if let Err(e) = result {
        let _ = tx.send(Err(e)).await;
    }
    let _ = tokio::fs::remove_file(&path).await;
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
