//! CSV import as a durable job: `importLeads(file, mapping, onConflict)` stores the upload and
//! enqueues `leads.import`. The handler commits chunks of 500 rows, each all-or-nothing together
//! with the job's progress (rows committed, counts, per-row errors), so a crash resumes after
//! the last committed chunk without losing or duplicating rows. Per-row problems (invalid values,
//! duplicates, invalid UTF-8, ragged rows) are reported with row number, field and reason.

use std::collections::HashMap;

use async_trait::async_trait;
use entity::job;
use sea_orm::{
    sea_query::Expr, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{create_in, Created, Origin};
use crate::{
    auth::{Permission, Role, Viewer, ViewerVia},
    domains::leads::types::{
        ColumnMappingInput, CreateLeadInput, LeadImportField, LeadSource, Location, OnConflict,
    },
    error::{AppError, AppResult},
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
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
    path: String,
    filename: String,
    org_id: Uuid,
    user_id: Uuid,
    role: Role,
    mapping: Vec<ColumnMappingInput>,
    on_conflict: OnConflict,
}

/// Stores the upload and enqueues the import job.
pub async fn start(
    state: &AppState,
    viewer: &Viewer,
    upload: async_graphql::UploadValue,
    mapping: Option<Vec<ColumnMappingInput>>,
    on_conflict: OnConflict,
) -> AppResult<job::Model> {
    viewer.require(Permission::WriteLeads)?;
    let dir = state.config.data_dir.join("uploads");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(AppError::internal)?;
    let path = dir.join(format!("{}.csv", Uuid::now_v7()));
    let mut src = upload.content;
    let mut file = std::fs::File::create(&path).map_err(AppError::internal)?;
    // The upload is a temp file already on disk; copy it off the async threads.
    let copy = tokio::task::spawn_blocking(move || std::io::copy(&mut src, &mut file))
        .await
        .map_err(AppError::internal)?;
    copy.map_err(AppError::internal)?;
    let payload = Payload {
        path: path.display().to_string(),
        filename: upload.filename.chars().take(200).collect(),
        org_id: viewer.org_id,
        user_id: viewer.user_id,
        role: viewer.role,
        mapping: mapping.unwrap_or_default(),
        on_conflict,
    };
    let new = NewJob {
        org_id: Some(viewer.org_id),
        created_by: Some(viewer.user_id),
        max_attempts: 5,
        ..NewJob::new(KIND, serde_json::to_value(&payload)?)
    };
    let txn = state.db.begin().await?;
    let job = queue::enqueue(&txn, new).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(job)
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

fn parse(bytes: &[u8], mapping: &[ColumnMappingInput]) -> Result<Vec<Row>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
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
        let bytes = tokio::fs::read(&p.path)
            .await
            .map_err(|e| JobError::Permanent(format!("upload missing: {e}")))?;
        let rows = parse(&bytes, &p.mapping).map_err(JobError::Permanent)?;
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
        let _ = tokio::fs::remove_file(&p.path).await;
        crate::db::spawn_analyze_if_grown(&self.0.db, "leads", progress.imported as u64);
        Ok(serde_json::to_value(&progress).map_err(|e| JobError::Permanent(e.to_string()))?)
    }
}

fn retryable(e: impl std::fmt::Display) -> JobError {
    JobError::Retryable(e.to_string())
}

impl ImportLeads {
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
        let rows = parse(&csv, &[]).unwrap();
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
        assert!(parse(b"a,b\n1,2\n", &[]).is_err(), "nothing maps");
    }
}
