//! CSV import as a durable job: `importLeads(file | fileId, mapping, onConflict)` enqueues
//! `leads.import` over an object in storage (`platform::storage`), so the worker of any
//! instance can run it: an upload is streamed to `orgs/{org}/imports/{id}.csv` (removed when the
//! job ends), a `fileId` names an IMPORT file uploaded with `uploadFile` (kept; the files domain
//! refuses to delete it while the job is unfinished, [`jobs_using_file`]). The worker streams
//! the object to a local spool file and parses from there. The handler commits chunks of 500 rows, each all-or-nothing together
//! with the job's progress (rows committed, counts, per-row errors), so a crash resumes after
//! the last committed chunk without losing or duplicating rows. Per-row problems (invalid values,
//! duplicates, invalid UTF-8, ragged rows) are reported with row number, field and reason.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read},
};

use async_trait::async_trait;
use entity::{file, job};
use futures::TryStreamExt;
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::{create_in, Created, Origin};
use crate::{
    auth::{Permission, Role, Viewer, ViewerVia},
    domains::leads::types::{
        ColumnMappingInput, CreateLeadInput, LeadImportField, LeadSource, Location, OnConflict,
    },
    error::{AppError, AppResult},
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    platform::storage::StorageError,
    state::{AppState, Wakes},
};

/// Job kind.
pub const KIND: &str = "leads.import";
/// Rows per transaction.
pub const CHUNK: usize = 500;
/// Row errors kept in the result.
pub const MAX_ERRORS: usize = 1000;

/// The field a header maps to when no mapping is given.
pub fn guess(header: &str) -> LeadImportField {
    let h: String = header
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    match h.as_str() {
        "firstname" | "first" | "givenname" | "forename" => LeadImportField::FirstName,
        "lastname" | "last" | "surname" | "familyname" => LeadImportField::LastName,
        "email" | "emailaddress" | "mail" => LeadImportField::Email,
        "phone" | "phonenumber" | "telephone" | "tel" | "mobile" => LeadImportField::Phone,
        "company" | "companyname" | "organization" | "organisation" | "business" => {
            LeadImportField::Company
        }
        "title" | "jobtitle" | "position" | "role" => LeadImportField::Title,
        "website" | "url" | "web" | "domain" => LeadImportField::Website,
        "industry" | "sector" => LeadImportField::Industry,
        "city" | "town" => LeadImportField::City,
        "region" | "state" | "province" => LeadImportField::Region,
        "country" | "countrycode" => LeadImportField::Country,
        "tags" | "labels" => LeadImportField::Tags,
        _ => LeadImportField::Ignore,
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    /// A local file (jobs enqueued before imports moved onto storage).
    #[serde(default)]
    path: Option<String>,
    /// The CSV's object in storage.
    #[serde(default)]
    storage_key: Option<String>,
    /// The IMPORT file read (its object is kept); `None`: the object is the job's own upload.
    #[serde(default)]
    file_id: Option<Uuid>,
    filename: String,
    org_id: Uuid,
    user_id: Uuid,
    role: Role,
    mapping: Vec<ColumnMappingInput>,
    on_conflict: OnConflict,
}

/// What `importLeads` reads.
pub enum ImportSource {
    /// A CSV sent with the request.
    Upload(async_graphql::UploadValue),
    /// An IMPORT file of the organization (`uploadFile`).
    File(Uuid),
}

fn unavailable(e: StorageError) -> AppError {
    tracing::error!(error = %e, "object storage failed");
    AppError::Unavailable("file storage is unavailable; try again later".into())
}

/// Enqueues the import job over the CSV in storage (an upload is streamed there first).
pub async fn start(
    state: &AppState,
    viewer: &Viewer,
    source: ImportSource,
    mapping: Option<Vec<ColumnMappingInput>>,
    on_conflict: OnConflict,
) -> AppResult<job::Model> {
    viewer.require(Permission::WriteLeads)?;
    let mut payload = Payload {
        path: None,
        storage_key: None,
        file_id: None,
        filename: String::new(),
        org_id: viewer.org_id,
        user_id: viewer.user_id,
        role: viewer.role,
        mapping: mapping.unwrap_or_default(),
        on_conflict,
    };
    let txn = match source {
        ImportSource::Upload(upload) => {
            let key = format!(
                "orgs/{}/imports/{}.csv",
                viewer.org_id.simple(),
                Uuid::now_v7().simple()
            );
            let mut src = tokio::fs::File::from_std(upload.content);
            state
                .storage
                .put_reader(&key, &mut src)
                .await
                .map_err(unavailable)?;
            payload.filename = upload.filename.chars().take(200).collect();
            payload.storage_key = Some(key);
            state.db.begin().await?
        }
        ImportSource::File(id) => {
            let txn = state.db.begin().await?;
            // Locked (PostgreSQL) so a concurrent deleteFile either runs first (not found here)
            // or sees this job.
            let f = file::Entity::find_by_id(id)
                .filter(file::Column::OrgId.eq(viewer.org_id))
                .filter(file::Column::DeletedAt.is_null())
                .lock_exclusive()
                .one(&txn)
                .await?
                .ok_or(AppError::NotFound("file"))?;
            if f.kind != "IMPORT" {
                return Err(AppError::invalid(
                    "fileId",
                    format!("is a {} file; upload the CSV as IMPORT", f.kind),
                ));
            }
            payload.filename = f.name.chars().take(200).collect();
            payload.storage_key = Some(f.storage_key);
            payload.file_id = Some(id);
            txn
        }
    };
    let new = NewJob {
        org_id: Some(viewer.org_id),
        created_by: Some(viewer.user_id),
        max_attempts: 5,
        ..NewJob::new(KIND, serde_json::to_value(&payload)?)
    };
    let job = queue::enqueue(&txn, new).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(job)
}

/// How many unfinished (queued or running) import jobs of `org` read file `file_id`.
pub async fn jobs_using_file(
    conn: &impl ConnectionTrait,
    org: Uuid,
    file_id: Uuid,
) -> AppResult<usize> {
    let jobs = job::Entity::find()
        .filter(job::Column::OrgId.eq(org))
        .filter(job::Column::Kind.eq(KIND))
        .filter(job::Column::State.is_in(["queued", "running"]))
        .all(conn)
        .await?;
    Ok(jobs
        .into_iter()
        .filter_map(|j| serde_json::from_value::<Payload>(j.payload).ok())
        .filter(|p| p.file_id == Some(file_id))
        .count())
}

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Progress {
    committed_rows: usize,
    total_rows: usize,
    imported: usize,
    merged: usize,
    skipped: usize,
    failed: usize,
    errors: Vec<Value>,
}

impl Progress {
    fn fail(&mut self, row: usize, field: &str, reason: &str) {
        if self.errors.len() < MAX_ERRORS {
            self.errors
                .push(json!({"row": row, "field": field, "reason": reason}));
        }
    }
}

/// One parsed row: its number (1 = first data row) and the input or its problems.
type Row = (usize, Result<CreateLeadInput, Vec<(String, String)>>);

fn parse(source: impl Read, mapping: &[ColumnMappingInput]) -> Result<Vec<Row>, String> {
    let mut source = BufReader::new(source);
    let head = source
        .fill_buf()
        .map_err(|e| format!("unreadable file: {e}"))?;
    if head.starts_with(b"\xEF\xBB\xBF") {
        source.consume(3);
    }
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(source);
    let headers: Vec<String> = rdr
        .byte_headers()
        .map_err(|e| format!("unreadable header row: {e}"))?
        .iter()
        .map(|h| String::from_utf8(h.to_vec()).map(|s| s.trim().to_string()))
        .collect::<Result<_, _>>()
        .map_err(|_| "the header row is not valid UTF-8".to_string())?;
    let fields = column_fields(&headers, mapping)?;
    let mut rows = Vec::new();
    for (i, rec) in rdr.byte_records().enumerate() {
        let n = i + 1;
        let parsed = match rec {
            Ok(rec) if rec.len() > headers.len() => Err(vec![(
                String::new(),
                format!(
                    "row has {} fields, the header has {}",
                    rec.len(),
                    headers.len()
                ),
            )]),
            Ok(rec) => parse_row(&rec, &headers, &fields),
            Err(e) => Err(vec![(String::new(), format!("unreadable row: {e}"))]),
        };
        rows.push((n, parsed));
    }
    Ok(rows)
}

/// The field each column feeds: the explicit mapping, else a guess from the header.
fn column_fields(
    headers: &[String],
    mapping: &[ColumnMappingInput],
) -> Result<Vec<LeadImportField>, String> {
    let explicit: HashMap<&str, LeadImportField> =
        mapping.iter().map(|m| (m.column.trim(), m.field)).collect();
    if let Some(missing) = mapping
        .iter()
        .find(|m| !headers.iter().any(|h| h == m.column.trim()))
    {
        return Err(format!(
            "mapping names a column the file does not have: {}",
            missing.column
        ));
    }
    let fields: Vec<LeadImportField> = headers
        .iter()
        .map(|h| {
            if explicit.is_empty() {
                guess(h)
            } else {
                explicit
                    .get(h.as_str())
                    .copied()
                    .unwrap_or(LeadImportField::Ignore)
            }
        })
        .collect();
    if fields.iter().all(|f| *f == LeadImportField::Ignore) {
        return Err("no column maps to a lead field; pass a mapping".into());
    }
    Ok(fields)
}

/// One record as a lead input, or its problems (column, reason).
fn parse_row(
    rec: &csv::ByteRecord,
    headers: &[String],
    fields: &[LeadImportField],
) -> Result<CreateLeadInput, Vec<(String, String)>> {
    let mut input = CreateLeadInput {
        source: Some(LeadSource::Import),
        ..Default::default()
    };
    let mut loc = Location::default();
    let mut problems = Vec::new();
    for (j, raw) in rec.iter().enumerate() {
        let Ok(v) = std::str::from_utf8(raw) else {
            problems.push((headers[j].clone(), "is not valid UTF-8".to_string()));
            continue;
        };
        let v = v.trim();
        if !v.is_empty() {
            set_field(&mut input, &mut loc, fields[j], v);
        }
    }
    if loc != Location::default() {
        input.location = Some(loc);
    }
    if problems.is_empty() {
        Ok(input)
    } else {
        Err(problems)
    }
}

fn set_field(input: &mut CreateLeadInput, loc: &mut Location, field: LeadImportField, v: &str) {
    let s = Some(v.to_string());
    match field {
        LeadImportField::FirstName => input.first_name = s,
        LeadImportField::LastName => input.last_name = s,
        LeadImportField::Email => input.email = s,
        LeadImportField::Phone => input.phone = s,
        LeadImportField::Company => input.company = s,
        LeadImportField::Title => input.title = s,
        LeadImportField::Website => input.website = s,
        LeadImportField::Industry => input.industry = s,
        LeadImportField::City => loc.city = s,
        LeadImportField::Region => loc.region = s,
        LeadImportField::Country => loc.country = s,
        LeadImportField::Tags => {
            input.tags = Some(
                v.split([';', ','])
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect(),
            )
        }
        LeadImportField::Ignore => {}
    }
}

/// The `leads.import` handler.
pub struct ImportLeads(pub AppState);

#[async_trait]
impl JobHandler for ImportLeads {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p: Payload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let rows = self.read_rows(ctx, &p).await?;
        let mut progress: Progress = ctx
            .job
            .progress
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        progress.total_rows = rows.len();
        for chunk in rows.chunks(CHUNK) {
            if chunk
                .last()
                .is_some_and(|(n, _)| *n <= progress.committed_rows)
            {
                continue; // committed by an earlier attempt
            }
            if ctx.is_cancelled() {
                return Err(JobError::Cancelled);
            }
            progress = self.commit_chunk(ctx, &p, chunk, progress).await?;
        }
        if let Some(path) = &p.path {
            let _ = tokio::fs::remove_file(path).await;
        }
        if let (Some(key), None) = (&p.storage_key, p.file_id) {
            if let Err(e) = self.0.storage.delete(key).await {
                tracing::warn!(error = %e, key, "removing an import's upload failed");
            }
        }
        crate::db::spawn_analyze_if_grown(&self.0.db, "leads", progress.imported as u64);
        Ok(serde_json::to_value(&progress).map_err(|e| JobError::Permanent(e.to_string()))?)
    }
}

fn retryable(e: impl std::fmt::Display) -> JobError {
    JobError::Retryable(e.to_string())
}

impl ImportLeads {
    /// The parsed rows of the job's CSV: its object in storage streamed to a local spool file
    /// (removed again), or the local file of a job enqueued before imports moved onto storage.
    async fn read_rows(&self, ctx: &JobContext, p: &Payload) -> Result<Vec<Row>, JobError> {
        let missing =
            |e: &dyn std::fmt::Display| JobError::Permanent(format!("upload missing: {e}"));
        if let Some(id) = p.file_id {
            let live = file::Entity::find_by_id(id)
                .filter(file::Column::DeletedAt.is_null())
                .one(&self.0.db)
                .await
                .map_err(retryable)?;
            if live.is_none() {
                return Err(JobError::Permanent("the import file was deleted".into()));
            }
        }
        let (path, spooled) = match (&p.storage_key, &p.path) {
            (Some(key), _) => {
                let dir = self.0.config.data_dir.join("uploads");
                tokio::fs::create_dir_all(&dir).await.map_err(retryable)?;
                let path = dir.join(format!("job-{}.csv", ctx.job.id.simple()));
                self.spool(key, &path).await.inspect_err(|_| {
                    let _ = std::fs::remove_file(&path);
                })?;
                (path, true)
            }
            (None, Some(path)) => (std::path::PathBuf::from(path), false),
            (None, None) => return Err(missing(&"the job names no file")),
        };
        let mapping = p.mapping.clone();
        let read = path.clone();
        let parsed = tokio::task::spawn_blocking(move || {
            let f = std::fs::File::open(&read).map_err(|e| missing(&e))?;
            parse(f, &mapping).map_err(JobError::Permanent)
        })
        .await
        .map_err(retryable)?;
        if spooled {
            let _ = tokio::fs::remove_file(&path).await;
        }
        parsed
    }

    /// Streams object `key` to the local file `path`, chunk by chunk.
    async fn spool(&self, key: &str, path: &std::path::Path) -> Result<(), JobError> {
        let read = self.0.storage.get(key, None).await.map_err(|e| match e {
            StorageError::NotFound => JobError::Permanent("upload missing in storage".into()),
            e => retryable(e),
        })?;
        let mut out = tokio::fs::File::create(path).await.map_err(retryable)?;
        let mut stream = read.stream;
        while let Some(chunk) = stream.try_next().await.map_err(retryable)? {
            out.write_all(&chunk).await.map_err(retryable)?;
        }
        out.flush().await.map_err(retryable)?;
        Ok(())
    }

    /// Imports one chunk and records the job's progress, all in one transaction.
    async fn commit_chunk(
        &self,
        ctx: &JobContext,
        p: &Payload,
        chunk: &[Row],
        progress: Progress,
    ) -> Result<Progress, JobError> {
        let viewer = Viewer {
            user_id: p.user_id,
            org_id: p.org_id,
            role: p.role,
            via: ViewerVia::Jwt,
            session_id: None,
        };
        let txn = self.0.db.begin().await.map_err(retryable)?;
        let mut next = progress;
        for (n, row) in chunk {
            if *n > next.committed_rows {
                import_row(&txn, &viewer, p, *n, row, &mut next).await?;
            }
        }
        next.committed_rows = chunk.last().map(|(n, _)| *n).unwrap_or(next.committed_rows);
        let snapshot =
            serde_json::to_value(&next).map_err(|e| JobError::Permanent(e.to_string()))?;
        job::Entity::update_many()
            .col_expr(job::Column::Progress, Expr::value(snapshot))
            .filter(job::Column::Id.eq(ctx.job.id))
            .exec(&txn)
            .await
            .map_err(retryable)?;
        self.0.commit(txn, Wakes::Events).await.map_err(retryable)?;
        Ok(next)
    }
}

/// Imports row `n` inside `txn`, counting the outcome in `next`. Only unexpected errors abort
/// (the chunk rolls back; the job retries from the last commit).
async fn import_row(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    p: &Payload,
    n: usize,
    row: &Result<CreateLeadInput, Vec<(String, String)>>,
    next: &mut Progress,
) -> Result<(), JobError> {
    let input = match row {
        Ok(input) => input,
        Err(problems) => {
            next.failed += 1;
            for (field, reason) in problems {
                next.fail(n, field, reason);
            }
            return Ok(());
        }
    };
    let origin = Origin {
        kind: "import",
        reference: format!("file:{}#row{n}", p.filename),
    };
    match create_in(txn, viewer, "", input, p.on_conflict, &origin).await {
        Ok(Created::New(_)) => next.imported += 1,
        Ok(Created::Merged(_)) => next.merged += 1,
        Ok(Created::Skipped(_)) => next.skipped += 1,
        Err(AppError::BadUserInput { fields, .. }) => {
            next.failed += 1;
            for f in fields {
                next.fail(n, &f.field, &f.message);
            }
        }
        Err(AppError::Conflict(m)) => {
            next.failed += 1;
            next.fail(n, "email", &m);
        }
        Err(e) => {
            return Err(JobError::Retryable(format!(
                "row {n}: {}",
                e.public_message()
            )))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bom_quotes_ragged_and_bad_utf8() {
        let mut csv = b"\xEF\xBB\xBFFirst Name,E-Mail,Company,Notes\n".to_vec();
        csv.extend_from_slice(b"Ada,ada@x.io,\"Acme, Inc.\nEU\",x\n");
        csv.extend_from_slice(b"Bob,bob@x.io,B,x,EXTRA\n");
        csv.extend_from_slice(b"C\xff,c@x.io,C,x\n");
        csv.extend_from_slice(b"Dee,dee@x.io\n");
        let rows = parse(csv.as_slice(), &[]).unwrap();
        assert_eq!(rows.len(), 4);
        let first = rows[0].1.as_ref().unwrap();
        assert_eq!(first.company.as_deref(), Some("Acme, Inc.\nEU"));
        assert_eq!(first.first_name.as_deref(), Some("Ada"));
        assert!(rows[1].1.as_ref().unwrap_err()[0].1.contains("5 fields"));
        assert_eq!(rows[2].1.as_ref().unwrap_err()[0].0, "First Name");
        assert_eq!(
            rows[3].1.as_ref().unwrap().email.as_deref(),
            Some("dee@x.io")
        );
        assert!(parse(&b"a,b\n1,2\n"[..], &[]).is_err(), "nothing maps");
    }
}
