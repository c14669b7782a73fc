//! Reports: saved definitions (`createReport`, `deleteReport`, `reports`, `report`), their
//! runs (`reportRuns`) and `generateReport`, which queues one durable
//! `insight.generate_report` job per run ([`super::report_job`]). At most
//! [`DAILY_LIMIT`] runs per organization in any 24 hours: the next is RATE_LIMITED with
//! `retryAfter` = seconds until the oldest run of the window leaves it; concurrent requests of
//! one organization take turns (`db::lock_key`), so the limit is exact.

use chrono::{DateTime, Duration, Utc};
use entity::{report, report_run};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, TransactionTrait,
};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{range, report_job};
use crate::{
    auth::{Permission, Viewer},
    config::Config,
    domains::{
        insight::types::{
            CreateReportInput, DateRangeInput, RangePreset, Report, ReportKind, ReportRun,
            ReportRunStatus,
        },
        leads::types::LeadStatus,
        places::files::{delete_generated, remove_objects, signed_file_url},
    },
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, ReportChanged},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    jobs::{queue, NewJob},
    state::{AppState, Wakes},
};

/// Runs an organization may request in any 24 hours.
pub const DAILY_LIMIT: u64 = 50;
/// How long a run's download link is valid after it was read.
pub const LINK_TTL_SECS: i64 = 3600;
const MAX_NAME_CHARS: usize = 200;

/// The viewer's organization's reports, deleted ones left out.
pub fn scoped(viewer: &Viewer) -> Select<report::Entity> {
    report::Entity::find()
        .filter(report::Column::OrgId.eq(viewer.org_id))
        .filter(report::Column::DeletedAt.is_null())
}

/// A report of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<report::Model> {
    scoped(viewer)
        .filter(report::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("report"))
}

/// `reports`: newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
) -> AppResult<IdConnection<Report>> {
    viewer.require(Permission::ReadDeals)?;
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        report::Column::Id,
        &args,
        |m| m.id,
        Report::from,
    )
    .await
}

/// `reportRuns(reportId)`: newest first; another organization's report is NOT_FOUND.
pub async fn runs(
    state: &AppState,
    viewer: &Viewer,
    report_id: Uuid,
    args: PageArgs,
) -> AppResult<IdConnection<ReportRun>> {
    viewer.require(Permission::ReadDeals)?;
    get(&state.db, viewer, report_id).await?;
    let q = report_run::Entity::find()
        .filter(report_run::Column::OrgId.eq(viewer.org_id))
        .filter(report_run::Column::ReportId.eq(report_id));
    let config = state.config.clone();
    page_by_id_desc(
        &state.db,
        q,
        report_run::Column::Id,
        &args,
        |m| m.id,
        move |m| run_node(&config, m),
    )
    .await
}

/// A run as GraphQL shows it, with a fresh signed link when it succeeded.
pub fn run_node(config: &Config, m: report_run::Model) -> ReportRun {
    let status = ReportRunStatus::parse(&m.status).unwrap_or(ReportRunStatus::Failed);
    let (url, url_expires_at) = match (status, m.file_id) {
        (ReportRunStatus::Succeeded, Some(file)) => {
            let exp = Utc::now() + Duration::seconds(LINK_TTL_SECS);
            let url = signed_file_url(config, file, m.org_id, exp.timestamp());
            (Some(url), DateTime::from_timestamp(exp.timestamp(), 0))
        }
        _ => (None, None),
    };
    ReportRun {
        id: async_graphql::ID(m.id.to_string()),
        report_id: async_graphql::ID(m.report_id.to_string()),
        status,
        progress: m.progress,
        row_count: m.row_count,
        error: m.error,
        url,
        url_expires_at,
        created_at: m.created_at,
        finished_at: m.finished_at,
    }
}

/// Records `report.changed` or `report.run` in the outbox.
pub async fn record(
    conn: &impl ConnectionTrait,
    org: Uuid,
    user: Option<Uuid>,
    run: bool,
    payload: ReportChanged,
) -> AppResult<()> {
    let event = if run {
        DomainEvent::ReportRun(payload)
    } else {
        DomainEvent::ReportChanged(payload)
    };
    outbox::record(conn, &EventEnvelope::new(org, user, event)).await
}

/// `createReport`: name 1–200 characters, params checked for the kind.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateReportInput,
) -> AppResult<Report> {
    viewer.require(Permission::WriteDeals)?;
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::invalid(
            "input.name",
            format!("must have 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    let params = check_params(input.kind, input.params.map(|p| p.0))?;
    let txn = state.db.begin().await?;
    let m = report::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        name: Set(name),
        kind: Set(input.kind.as_str().into()),
        format: Set(input.format.as_str().into()),
        params: Set(params),
        created_by: Set(viewer.user_id),
        created_at: Set(Utc::now()),
        deleted_at: Set(None),
    }
    .insert(&txn)
    .await?;
    let payload = ReportChanged {
        report_id: m.id,
        action: "created".into(),
        run_id: None,
        status: None,
        progress: None,
        error: None,
    };
    record(&txn, viewer.org_id, Some(viewer.user_id), false, payload).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(m.into())
}

/// `deleteReport`: the report is marked deleted, its unfinished runs FAILED and the files its
/// runs generated deleted (`file.deleted` each) in one transaction; their stored bytes go after
/// the commit. The runs stay, unreachable, so the daily limit still counts them.
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    viewer.require(Permission::WriteDeals)?;
    let txn = state.db.begin().await?;
    let gone = report::Entity::update_many()
        .col_expr(report::Column::DeletedAt, Expr::value(Utc::now()))
        .filter(report::Column::OrgId.eq(viewer.org_id))
        .filter(report::Column::Id.eq(id))
        .filter(report::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if gone.rows_affected == 0 {
        return Err(AppError::NotFound("report"));
    }
    // A run still queued or running ends here; the job, fenced out, deletes what it stored.
    report_run::Entity::update_many()
        .col_expr(
            report_run::Column::Status,
            Expr::value(ReportRunStatus::Failed.as_str()),
        )
        .col_expr(
            report_run::Column::Error,
            Expr::value("the report was deleted"),
        )
        .col_expr(report_run::Column::FinishedAt, Expr::value(Utc::now()))
        .filter(report_run::Column::OrgId.eq(viewer.org_id))
        .filter(report_run::Column::ReportId.eq(id))
        .filter(report_run::Column::Status.is_in([
            ReportRunStatus::Queued.as_str(),
            ReportRunStatus::Running.as_str(),
        ]))
        .exec(&txn)
        .await?;
    let files: Vec<Uuid> = report_run::Entity::find()
        .select_only()
        .column(report_run::Column::FileId)
        .filter(report_run::Column::OrgId.eq(viewer.org_id))
        .filter(report_run::Column::ReportId.eq(id))
        .filter(report_run::Column::FileId.is_not_null())
        .into_tuple::<Option<Uuid>>()
        .all(&txn)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let objects = delete_generated(&txn, viewer, &files).await?;
    let payload = ReportChanged {
        report_id: id,
        action: "deleted".into(),
        run_id: None,
        status: None,
        progress: None,
        error: None,
    };
    record(&txn, viewer.org_id, Some(viewer.user_id), false, payload).await?;
    state.commit(txn, Wakes::Events).await?;
    remove_objects(state, objects).await;
    Ok(())
}

/// `generateReport`: a QUEUED run, its job and `report.run` (queued) in one transaction.
pub async fn generate(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<ReportRun> {
    let txn = state.db.begin().await?;
    let run = queue_run(&txn, viewer, id, &[]).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(run_node(&state.config, run))
}

/// Queues a run of report `id` as `viewer` in the caller's transaction (the caller commits and
/// wakes the jobs): the run, its job and `report.run` (queued), within the daily limit
/// (RATE_LIMITED past it). When the run succeeds, its download link is mailed to each of
/// `mail_to` (the job carries them; the mail is queued with the run's success, so once).
pub async fn queue_run(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
    mail_to: &[String],
) -> AppResult<report_run::Model> {
    viewer.require(Permission::WriteDeals)?;
    // One organization's requests take turns from here to the commit, so the count below
    // includes every run a concurrent request stored: the limit is exact.
    crate::db::lock_key(txn, "report_runs", &viewer.org_id.to_string()).await?;
    let report = get(txn, viewer, id).await?;
    if report.kind == ReportKind::ApprovalsAudit.as_str() {
        // The run reads approval requests as this viewer.
        viewer.require(Permission::ReadApprovals)?;
    }
    let now = Utc::now();
    let window = report_run::Entity::find()
        .filter(report_run::Column::OrgId.eq(viewer.org_id))
        .filter(report_run::Column::CreatedAt.gt(now - Duration::days(1)));
    if window.clone().count(txn).await? >= DAILY_LIMIT {
        let oldest = window
            .order_by_asc(report_run::Column::CreatedAt)
            .one(txn)
            .await?
            .map_or(now, |r| r.created_at);
        let wait = (oldest + Duration::days(1) - now).num_seconds().max(1);
        return Err(AppError::RateLimited {
            retry_after_secs: u64::try_from(wait).unwrap_or(1),
        });
    }
    let run = report_run::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        report_id: Set(report.id),
        status: Set(ReportRunStatus::Queued.as_str().into()),
        progress: Set(0),
        attempt: Set(0),
        row_count: Set(None),
        file_id: Set(None),
        error: Set(None),
        requested_by: Set(viewer.user_id),
        created_at: Set(now),
        finished_at: Set(None),
    }
    .insert(txn)
    .await?;
    let mut payload = json!({"orgId": viewer.org_id, "runId": run.id});
    if !mail_to.is_empty() {
        payload["mailTo"] = json!(mail_to);
    }
    let job = NewJob {
        org_id: Some(viewer.org_id),
        created_by: Some(viewer.user_id),
        max_attempts: 3,
        ..NewJob::new(report_job::KIND, payload)
    };
    queue::enqueue(txn, job).await?;
    let payload = ReportChanged {
        report_id: report.id,
        action: "queued".into(),
        run_id: Some(run.id),
        status: Some(run.status.clone()),
        progress: Some(0),
        error: None,
    };
    record(txn, viewer.org_id, Some(viewer.user_id), true, payload).await?;
    Ok(run)
}

const RANGE_KEYS: [&str; 2] = ["range", "preset"];
const LEAD_KEYS: [&str; 2] = ["status", "source"];

/// The kind's params, checked (BAD_USER_INPUT on `input.params.<key>`); absent is `{}`.
pub fn check_params(kind: ReportKind, params: Option<Value>) -> AppResult<Value> {
    let map = match params {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(AppError::invalid("input.params", "must be a JSON object")),
    };
    let allowed: &[&str] = match kind {
        ReportKind::LeadList => &LEAD_KEYS,
        _ => &RANGE_KEYS,
    };
    for k in map.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(AppError::invalid(
                format!("input.params.{k}"),
                format!("is not a parameter of {}", kind.as_str()),
            ));
        }
    }
    match kind {
        ReportKind::LeadList => check_lead_params(&map)?,
        _ => {
            period(&map, Utc::now())?;
        }
    }
    Ok(Value::Object(map))
}

fn check_lead_params(map: &Map<String, Value>) -> AppResult<()> {
    if let Some(s) = map.get("status") {
        if s.as_str().and_then(LeadStatus::parse).is_none() {
            return Err(AppError::invalid(
                "input.params.status",
                format!("must be one of {}", LeadStatus::ALL.join(", ")),
            ));
        }
    }
    if let Some(s) = map.get("source") {
        let ok = s
            .as_str()
            .is_some_and(|s| !s.trim().is_empty() && s.chars().count() <= 100);
        if !ok {
            return Err(AppError::invalid(
                "input.params.source",
                "must be a string of 1 to 100 characters",
            ));
        }
    }
    Ok(())
}

fn preset(s: &str) -> Option<RangePreset> {
    match s {
        "LAST_7_DAYS" => Some(RangePreset::Last7Days),
        "LAST_30_DAYS" => Some(RangePreset::Last30Days),
        "LAST_90_DAYS" => Some(RangePreset::Last90Days),
        "LAST_365_DAYS" => Some(RangePreset::Last365Days),
        _ => None,
    }
}

/// The period of a range kind's params at `now`: `range`, `preset` or the last 30 days.
pub fn period(map: &Map<String, Value>, now: DateTime<Utc>) -> AppResult<range::Range> {
    let time = |field: &str| -> AppResult<DateTime<Utc>> {
        map.get("range")
            .and_then(|r| r.get(field))
            .and_then(Value::as_str)
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                AppError::invalid(
                    format!("input.params.range.{field}"),
                    "must be an RFC 3339 time",
                )
            })
    };
    match (map.get("range"), map.get("preset")) {
        (Some(_), Some(_)) => Err(AppError::invalid(
            "input.params",
            "give range or preset, not both",
        )),
        (Some(_), None) => {
            let r = DateRangeInput {
                from: time("from")?,
                to: time("to")?,
            };
            range::check(r, "input.params.range")
        }
        (None, Some(p)) => {
            let p = p.as_str().and_then(preset).ok_or_else(|| {
                AppError::invalid(
                    "input.params.preset",
                    "must be LAST_7_DAYS, LAST_30_DAYS, LAST_90_DAYS or LAST_365_DAYS",
                )
            })?;
            Ok(range::Range::preset(p, now))
        }
        (None, None) => Ok(range::Range::preset(RangePreset::Last30Days, now)),
    }
}
