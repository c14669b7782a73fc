//! The `insight.generate_report` job: one run of a report. The run is claimed for the job's
//! attempt (`status` QUEUED or RUNNING → RUNNING, `attempt` = the queue's attempt) and every
//! later write is fenced on `status = 'RUNNING' AND attempt = <mine>`, so an attempt whose
//! lease was taken over writes nothing. Each step records `report.run` (running, progress,
//! succeeded / failed) in its transaction. The output is stored through places' files
//! (dedupe, quota, `file.uploaded`), acting for the member who asked for the run.

use async_trait::async_trait;
use chrono::Utc;
use entity::{report, report_run};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{report_data, report_render, reports::record};
use crate::{
    auth::{Role, Viewer, ViewerVia},
    domains::{
        insight::types::{ReportFormat, ReportKind, ReportRunStatus},
        places::files::{delete_generated, remove_objects, signed_file_url, store_generated},
    },
    error::AppError,
    events::ReportChanged,
    jobs::{JobContext, JobError, JobHandler},
    platform::{mail_job, mailer::OutgoingEmail},
    state::{AppState, Wakes},
};

/// The job kind.
pub const KIND: &str = "insight.generate_report";

/// The `insight.generate_report` handler.
pub struct GenerateReport(pub AppState);

fn id_of(payload: &Value, key: &str) -> Result<Uuid, JobError> {
    payload[key]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobError::Permanent(format!("bad payload: {key}")))
}

fn retryable(e: impl std::fmt::Debug) -> JobError {
    JobError::Retryable(format!("{e:?}"))
}

/// The run's writes for one attempt.
struct Fence {
    org: Uuid,
    run: Uuid,
    report: Uuid,
    user: Uuid,
    attempt: i32,
}

impl Fence {
    fn update(&self) -> sea_orm::UpdateMany<report_run::Entity> {
        report_run::Entity::update_many()
            .filter(report_run::Column::Id.eq(self.run))
            .filter(report_run::Column::Status.eq(ReportRunStatus::Running.as_str()))
            .filter(report_run::Column::Attempt.eq(self.attempt))
    }

    fn event(&self, action: &str, status: ReportRunStatus, progress: i32) -> ReportChanged {
        ReportChanged {
            report_id: self.report,
            action: action.into(),
            run_id: Some(self.run),
            status: Some(status.as_str().into()),
            progress: Some(progress),
            error: None,
        }
    }

    /// Applies `update` (fenced) and records `event` with it; false when fenced out.
    async fn write(
        &self,
        state: &AppState,
        update: sea_orm::UpdateMany<report_run::Entity>,
        event: ReportChanged,
    ) -> Result<bool, JobError> {
        self.write_mailing(state, update, event, &[]).await
    }

    /// [`Self::write`], queuing `mails` in the same transaction (so they go once, with it).
    async fn write_mailing(
        &self,
        state: &AppState,
        update: sea_orm::UpdateMany<report_run::Entity>,
        event: ReportChanged,
        mails: &[OutgoingEmail],
    ) -> Result<bool, JobError> {
        let txn = state.db.begin().await.map_err(retryable)?;
        let done = update.exec(&txn).await.map_err(retryable)?;
        if done.rows_affected == 0 {
            return Ok(false);
        }
        record(&txn, self.org, Some(self.user), true, event)
            .await
            .map_err(retryable)?;
        for m in mails {
            mail_job::enqueue(&txn, m).await.map_err(retryable)?;
        }
        state.commit(txn, Wakes::Events).await.map_err(retryable)?;
        Ok(true)
    }
}

/// Claims the run for this attempt; None when it is finished or gone.
async fn claim(
    state: &AppState,
    org: Uuid,
    run: Uuid,
    attempt: i32,
) -> Result<Option<(Fence, report::Model)>, JobError> {
    let txn = state.db.begin().await.map_err(retryable)?;
    let claimed = report_run::Entity::update_many()
        .col_expr(
            report_run::Column::Status,
            Expr::value(ReportRunStatus::Running.as_str()),
        )
        .col_expr(report_run::Column::Attempt, Expr::value(attempt))
        .col_expr(report_run::Column::Progress, Expr::value(0))
        .filter(report_run::Column::Id.eq(run))
        .filter(report_run::Column::OrgId.eq(org))
        .filter(report_run::Column::Status.is_in([
            ReportRunStatus::Queued.as_str(),
            ReportRunStatus::Running.as_str(),
        ]))
        .exec(&txn)
        .await
        .map_err(retryable)?;
    if claimed.rows_affected == 0 {
        return Ok(None);
    }
    let Some(r) = report_run::Entity::find_by_id(run)
        .one(&txn)
        .await
        .map_err(retryable)?
    else {
        return Ok(None);
    };
    let Some(report) = report::Entity::find_by_id(r.report_id)
        .filter(report::Column::OrgId.eq(org))
        .filter(report::Column::DeletedAt.is_null())
        .one(&txn)
        .await
        .map_err(retryable)?
    else {
        return Ok(None);
    };
    let fence = Fence {
        org,
        run,
        report: report.id,
        user: r.requested_by,
        attempt,
    };
    record(
        &txn,
        org,
        Some(fence.user),
        true,
        fence.event("running", ReportRunStatus::Running, 0),
    )
    .await
    .map_err(retryable)?;
    state.commit(txn, Wakes::Events).await.map_err(retryable)?;
    Ok(Some((fence, report)))
}

/// Marks the run FAILED with the public message of `e`.
async fn fail(state: &AppState, fence: &Fence, message: String) -> Result<(), JobError> {
    let update = fence
        .update()
        .col_expr(
            report_run::Column::Status,
            Expr::value(ReportRunStatus::Failed.as_str()),
        )
        .col_expr(report_run::Column::Error, Expr::value(message.clone()))
        .col_expr(report_run::Column::FinishedAt, Expr::value(Utc::now()));
    let mut event = fence.event("failed", ReportRunStatus::Failed, 100);
    event.error = Some(message);
    fence.write(state, update, event).await.map(|_| ())
}

/// Whether retrying can help: the database or storage failed or was unavailable.
fn transient(e: &AppError) -> bool {
    matches!(e, AppError::Internal(_) | AppError::Unavailable(_))
}

/// What a step of the run can end with.
enum Halt {
    /// The report could not be made (the run is marked FAILED unless retrying can help).
    App(AppError),
    /// The queue's own outcome (fenced out, retryable write).
    Job(JobError),
}

impl From<AppError> for Halt {
    fn from(e: AppError) -> Self {
        Halt::App(e)
    }
}

impl From<JobError> for Halt {
    fn from(e: JobError) -> Self {
        Halt::Job(e)
    }
}

/// Reads, renders and stores the report, moving the run to 50 % then SUCCEEDED.
async fn generate(
    state: &AppState,
    fence: &Fence,
    report: &report::Model,
    mail_to: &[String],
) -> Result<Value, Halt> {
    let viewer = Viewer {
        user_id: fence.user,
        org_id: fence.org,
        role: Role::Member,
        via: ViewerVia::Jwt,
        session_id: None,
    };
    let kind = ReportKind::parse(&report.kind).unwrap_or(ReportKind::LeadList);
    let format = ReportFormat::parse(&report.format).unwrap_or(ReportFormat::Csv);
    let table = report_data::build(state, &viewer, &report.name, kind, &report.params).await?;
    let moved = fence
        .update()
        .col_expr(report_run::Column::Progress, Expr::value(50));
    let event = fence.event("progress", ReportRunStatus::Running, 50);
    if !fence.write(state, moved, event).await? {
        return Ok(json!({"skipped": true}));
    }
    let bytes = report_render::render(&table, format).map_err(AppError::internal)?;
    let (content_type, ext) = report_render::content_type(format);
    let name = format!(
        "{}-{}.{ext}",
        slug(&report.name),
        Utc::now().format("%Y%m%d-%H%M%S")
    );
    let file = store_generated(state, &viewer, &name, content_type, &bytes).await?;
    let rows = i32::try_from(table.rows.len()).unwrap_or(i32::MAX);
    let done = fence
        .update()
        .col_expr(
            report_run::Column::Status,
            Expr::value(ReportRunStatus::Succeeded.as_str()),
        )
        .col_expr(report_run::Column::Progress, Expr::value(100))
        .col_expr(report_run::Column::FileId, Expr::value(file.id))
        .col_expr(report_run::Column::RowCount, Expr::value(rows))
        .col_expr(report_run::Column::FinishedAt, Expr::value(Utc::now()));
    let event = fence.event("succeeded", ReportRunStatus::Succeeded, 100);
    let mails = link_mails(state, fence, report, file.id, mail_to);
    if !fence.write_mailing(state, done, event, &mails).await? {
        // Fenced out while storing (the run was taken over or its report deleted): nothing
        // names the file, so it goes.
        discard(state, &viewer, file.id).await?;
        return Ok(json!({"skipped": true}));
    }
    Ok(json!({"runId": fence.run, "fileId": file.id, "rows": rows}))
}

#[async_trait]
impl JobHandler for GenerateReport {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let state = &self.0;
        let org = id_of(&ctx.job.payload, "orgId")?;
        let run = id_of(&ctx.job.payload, "runId")?;
        let Some((fence, report)) = claim(state, org, run, ctx.job.attempts).await? else {
            return Ok(json!({"skipped": true}));
        };
        let mail_to: Vec<String> = ctx.job.payload["mailTo"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        match generate(state, &fence, &report, &mail_to).await {
            Ok(v) => Ok(v),
            Err(Halt::Job(e)) => Err(e),
            Err(Halt::App(e)) if transient(&e) && ctx.job.attempts < ctx.job.max_attempts => {
                Err(retryable(e))
            }
            Err(Halt::App(e)) => {
                tracing::warn!(error = ?e, %run, "report run failed");
                fail(state, &fence, e.public_message()).await?;
                Err(JobError::Permanent(e.public_message()))
            }
        }
    }
}

/// How long a mailed download link stays valid.
const MAILED_LINK_TTL_SECS: i64 = 7 * 24 * 3600;

/// The mails telling each of `mail_to` that the report is ready, with a signed link to it.
fn link_mails(
    state: &AppState,
    fence: &Fence,
    report: &report::Model,
    file: Uuid,
    mail_to: &[String],
) -> Vec<OutgoingEmail> {
    if mail_to.is_empty() {
        return Vec::new();
    }
    let exp = Utc::now().timestamp() + MAILED_LINK_TTL_SECS;
    let link = signed_file_url(&state.config, file, fence.org, exp);
    mail_to
        .iter()
        .map(|to| OutgoingEmail {
            to: to.clone(),
            to_name: None,
            from: None,
            reply_to: None,
            subject: format!("Report ready: {}", report.name),
            text: format!(
                "Your scheduled report \"{}\" is ready:\n\n{link}\n\nThe link is valid for 7 days.\n",
                report.name
            ),
            html: None,
        })
        .collect()
}

/// Deletes a generated file no run names.
async fn discard(state: &AppState, viewer: &Viewer, file: Uuid) -> Result<(), AppError> {
    let txn = state.db.begin().await?;
    let objects = delete_generated(&txn, viewer, &[file]).await?;
    state.commit(txn, Wakes::Events).await?;
    remove_objects(state, objects).await;
    Ok(())
}

/// A file-name-safe form of the report's name.
fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-');
    if s.is_empty() {
        "report".into()
    } else {
        s.chars().take(60).collect()
    }
}
