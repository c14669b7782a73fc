//! Schedules: CRUD, pause/resume, and the ticker that fires due occurrences exactly once.
//!
//! **Claiming an occurrence** ([`tick`]): for each ACTIVE schedule whose `next_run_at` is due,
//! one transaction (1) advances `next_run_at` with `UPDATE … WHERE id = ? AND next_run_at = <the
//! occurrence>` (a second instance that read the same row updates nothing), (2) inserts the run
//! `(schedule_id, scheduled_at)` under a UNIQUE index with `ON CONFLICT DO NOTHING` (the
//! durable key: an occurrence is never inserted twice), and (3) records `schedule.fired` in the
//! outbox, whose fan-out queues the webhook deliveries. Either all three commit or none.
//! **Missed occurrences** (downtime, a paused schedule): one run fires for the oldest missed
//! occurrence and `next_run_at` moves past `now` (RUN_ONCE); resuming starts from now.
//! **Time** is the `now` argument of [`tick`]; the background loop passes the clock.

use chrono::{DateTime, Utc};
use entity::{schedule, schedule_run};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, TransactionTrait,
};
use serde_json::Value;
use std::time::Duration as StdDuration;
use tokio::{sync::watch, task::JoinHandle};
use uuid::Uuid;

use super::{cron::CronSpec, endpoints::Checks, schedule_report};
use crate::{
    auth::{Permission, Viewer},
    domains::webhooks::types::{
        CreateScheduleInput, Schedule, ScheduleAction, ScheduleRun, ScheduleStatus,
        UpdateScheduleInput,
    },
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, ScheduleChanged, ScheduleFired},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::{AppState, Wakes},
};

/// Longest name.
const MAX_NAME: usize = 200;
/// Largest payload (serialized).
const MAX_PAYLOAD: usize = 16 * 1024;
/// Most occurrences `nextRuns` previews.
pub const MAX_PREVIEW: usize = 50;
/// Due schedules one tick looks at.
const TICK_BATCH: u64 = 200;
/// How often the background ticker runs.
const TICK_EVERY: StdDuration = StdDuration::from_secs(5);
/// The run status stored.
const FIRED: &str = "FIRED";
/// The run status when the action could not be carried out.
const FAILED: &str = "FAILED";

/// Every query starts here.
fn scoped(viewer: &Viewer) -> Select<schedule::Entity> {
    schedule::Entity::find().filter(schedule::Column::OrgId.eq(viewer.org_id))
}

/// The viewer's organization's schedule `id`, or NOT_FOUND.
async fn get(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<schedule::Model> {
    scoped(viewer)
        .filter(schedule::Column::Id.eq(id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("schedule"))
}

/// A page of the organization's schedules, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
) -> AppResult<IdConnection<Schedule>> {
    viewer.require(Permission::ManageSchedules)?;
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        schedule::Column::Id,
        &args,
        |m| m.id,
        Schedule,
    )
    .await
}

/// One schedule.
pub async fn find(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<schedule::Model> {
    viewer.require(Permission::ManageSchedules)?;
    get(state, viewer, id).await
}

/// A page of a schedule's runs, newest first.
pub async fn runs(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    args: PageArgs,
) -> AppResult<IdConnection<ScheduleRun>> {
    viewer.require(Permission::ManageSchedules)?;
    let s = get(state, viewer, id).await?;
    let select = schedule_run::Entity::find()
        .filter(schedule_run::Column::OrgId.eq(viewer.org_id))
        .filter(schedule_run::Column::ScheduleId.eq(s.id));
    page_by_id_desc(
        &state.db,
        select,
        schedule_run::Column::Id,
        &args,
        |m| m.id,
        ScheduleRun,
    )
    .await
}

/// The next `count` occurrences of `cron` in `timezone` after `after` (default now).
pub fn preview(
    viewer: &Viewer,
    cron: &str,
    timezone: &str,
    count: i32,
    after: Option<DateTime<Utc>>,
) -> AppResult<Vec<DateTime<Utc>>> {
    viewer.require(Permission::ManageSchedules)?;
    let mut checks = Checks(Vec::new());
    let spec = checks.spec(cron, timezone);
    let count = usize::try_from(count)
        .ok()
        .filter(|c| (1..=MAX_PREVIEW).contains(c));
    if count.is_none() {
        checks.push("count", format!("must be between 1 and {MAX_PREVIEW}"));
    }
    checks.finish()?;
    let (Some(spec), Some(count)) = (spec, count) else {
        return Err(AppError::internal("checked input missing"));
    };
    Ok(spec.upcoming(after.unwrap_or_else(Utc::now), count))
}

impl Checks {
    /// The expression and zone, each error under its field.
    fn spec(&mut self, cron: &str, timezone: &str) -> Option<CronSpec> {
        match CronSpec::parse(cron, timezone) {
            Ok(s) => Some(s),
            Err(errors) => {
                for (field, message) in errors {
                    self.push(field, message);
                }
                None
            }
        }
    }
}

fn clean_name(raw: &str) -> Result<String, String> {
    let n = raw.trim();
    if n.is_empty() {
        return Err("must not be empty".into());
    }
    if n.chars().count() > MAX_NAME {
        return Err(format!("must be at most {MAX_NAME} characters"));
    }
    Ok(n.to_string())
}

fn clean_payload(v: Option<&Value>) -> Result<Value, String> {
    let v = v
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    if !v.is_object() {
        return Err("must be a JSON object".into());
    }
    if serde_json::to_string(&v).map_or(0, |s| s.len()) > MAX_PAYLOAD {
        return Err(format!("must be at most {MAX_PAYLOAD} bytes"));
    }
    Ok(v)
}

/// The next occurrence after `now`, or why there is none.
fn first_run(spec: &CronSpec, now: DateTime<Utc>) -> AppResult<DateTime<Utc>> {
    spec.next_after(now)
        .ok_or_else(|| AppError::invalid("cron", "never matches a future time"))
}

/// Records `schedule.changed` with `action` in `txn` and commits.
async fn changed(
    state: &AppState,
    txn: sea_orm::DatabaseTransaction,
    viewer: &Viewer,
    id: Uuid,
    action: &str,
) -> AppResult<()> {
    let env = EventEnvelope::new(
        viewer.org_id,
        Some(viewer.user_id),
        DomainEvent::ScheduleChanged(ScheduleChanged {
            schedule_id: id,
            action: action.into(),
        }),
    );
    outbox::record(&txn, &env).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(())
}

/// Creates an ACTIVE schedule; its first occurrence is the next match after now.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateScheduleInput,
) -> AppResult<schedule::Model> {
    viewer.require(Permission::ManageSchedules)?;
    let mut checks = Checks(Vec::new());
    let name = checks.take("name", clean_name(&input.name));
    let spec = checks.spec(&input.cron, &input.timezone);
    let payload = checks.take(
        "payload",
        clean_payload(input.payload.as_ref().map(|j| &j.0)),
    );
    let action = input.action.unwrap_or(ScheduleAction::EmitEvent);
    if let (ScheduleAction::GenerateReport, Some(p)) = (action, &payload) {
        schedule_report::check(&state.db, viewer, p, &mut checks).await?;
    }
    checks.finish()?;
    let (Some(name), Some(spec), Some(payload)) = (name, spec, payload) else {
        return Err(AppError::internal("checked input missing"));
    };
    let now = Utc::now();
    let next = first_run(&spec, now)?;
    let txn = state.db.begin().await?;
    let row = schedule::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        name: Set(name),
        cron: Set(input.cron.split_whitespace().collect::<Vec<_>>().join(" ")),
        timezone: Set(input.timezone.trim().to_string()),
        action: Set(action.as_str().into()),
        payload: Set(payload),
        status: Set(ScheduleStatus::Active.as_str().into()),
        next_run_at: Set(Some(next)),
        last_run_at: Set(None),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    changed(state, txn, viewer, row.id, "created").await?;
    Ok(row)
}

/// Applies the given fields; a new expression or zone recomputes the next occurrence from now.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateScheduleInput,
) -> AppResult<schedule::Model> {
    viewer.require(Permission::ManageSchedules)?;
    let row = get(state, viewer, id).await?;
    let mut checks = Checks(Vec::new());
    let name = input
        .name
        .as_deref()
        .and_then(|n| checks.take("name", clean_name(n)));
    let cron = input.cron.clone().unwrap_or_else(|| row.cron.clone());
    let timezone = input
        .timezone
        .clone()
        .unwrap_or_else(|| row.timezone.clone());
    let spec = checks.spec(&cron, &timezone);
    let payload = input
        .payload
        .as_ref()
        .and_then(|p| checks.take("payload", clean_payload(Some(&p.0))));
    if let Some(p) = &payload {
        if row.action == ScheduleAction::GenerateReport.as_str() {
            schedule_report::check(&state.db, viewer, p, &mut checks).await?;
        }
    }
    checks.finish()?;
    let Some(spec) = spec else {
        return Err(AppError::internal("checked input missing"));
    };
    let now = Utc::now();
    let retimed = input.cron.is_some() || input.timezone.is_some();
    let active = row.status == ScheduleStatus::Active.as_str();
    let next = if retimed && active {
        Some(first_run(&spec, now)?)
    } else {
        None
    };
    let txn = state.db.begin().await?;
    let mut a: schedule::ActiveModel = row.into();
    if let Some(n) = name {
        a.name = Set(n);
    }
    if retimed {
        a.cron = Set(cron.split_whitespace().collect::<Vec<_>>().join(" "));
        a.timezone = Set(timezone.trim().to_string());
    }
    if let Some(next) = next {
        a.next_run_at = Set(Some(next));
    }
    if let Some(p) = payload {
        a.payload = Set(p);
    }
    a.updated_at = Set(now);
    let row = a.update(&txn).await?;
    changed(state, txn, viewer, row.id, "updated").await?;
    Ok(row)
}

/// Pauses (no occurrence fires) or resumes (the next occurrence after now; missed ones are
/// skipped) a schedule.
pub async fn set_paused(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    paused: bool,
) -> AppResult<schedule::Model> {
    viewer.require(Permission::ManageSchedules)?;
    let row = get(state, viewer, id).await?;
    let now = Utc::now();
    let next = if paused {
        None
    } else {
        let spec = CronSpec::parse(&row.cron, &row.timezone)
            .map_err(|_| AppError::internal("a stored schedule does not parse"))?;
        Some(first_run(&spec, now)?)
    };
    let status = if paused {
        ScheduleStatus::Paused
    } else {
        ScheduleStatus::Active
    };
    let txn = state.db.begin().await?;
    let mut a: schedule::ActiveModel = row.into();
    a.status = Set(status.as_str().into());
    a.next_run_at = Set(next);
    a.updated_at = Set(now);
    let row = a.update(&txn).await?;
    let action = if paused { "paused" } else { "resumed" };
    changed(state, txn, viewer, row.id, action).await?;
    Ok(row)
}

/// Deletes a schedule and its run history.
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<bool> {
    viewer.require(Permission::ManageSchedules)?;
    let row = get(state, viewer, id).await?;
    let txn = state.db.begin().await?;
    schedule_run::Entity::delete_many()
        .filter(schedule_run::Column::ScheduleId.eq(row.id))
        .exec(&txn)
        .await?;
    schedule::Entity::delete_by_id(row.id).exec(&txn).await?;
    changed(state, txn, viewer, row.id, "deleted").await?;
    Ok(true)
}

/// Fires every occurrence due at `now` (each exactly once across instances); returns how many
/// this call fired.
pub async fn tick(state: &AppState, now: DateTime<Utc>) -> AppResult<usize> {
    let due = schedule::Entity::find()
        .filter(schedule::Column::Status.eq(ScheduleStatus::Active.as_str()))
        .filter(schedule::Column::NextRunAt.lte(now))
        .order_by_asc(schedule::Column::NextRunAt)
        .limit(TICK_BATCH)
        .all(&state.db)
        .await?;
    let mut fired = 0;
    for s in due {
        if fire(state, &s, now).await? {
            fired += 1;
        }
    }
    Ok(fired)
}

/// Claims and fires `s`'s due occurrence; false when another instance had it.
async fn fire(state: &AppState, s: &schedule::Model, now: DateTime<Utc>) -> AppResult<bool> {
    let Some(at) = s.next_run_at else {
        return Ok(false);
    };
    let Ok(spec) = CronSpec::parse(&s.cron, &s.timezone) else {
        tracing::warn!(schedule = %s.id, "a stored schedule does not parse; skipped");
        return Ok(false);
    };
    let next = spec.next_after(at.max(now));
    let txn = state.db.begin().await?;
    let claimed = schedule::Entity::update_many()
        .col_expr(schedule::Column::NextRunAt, Expr::value(next))
        .col_expr(schedule::Column::LastRunAt, Expr::value(Some(at)))
        .col_expr(schedule::Column::UpdatedAt, Expr::value(now))
        .filter(schedule::Column::Id.eq(s.id))
        .filter(schedule::Column::Status.eq(ScheduleStatus::Active.as_str()))
        .filter(schedule::Column::NextRunAt.eq(at))
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed == 0 {
        return Ok(false);
    }
    let run_id = Uuid::now_v7();
    let env = EventEnvelope::new(
        s.org_id,
        None,
        DomainEvent::ScheduleFired(ScheduleFired {
            schedule_id: s.id,
            run_id,
            scheduled_at: at,
            payload: s.payload.clone(),
        }),
    );
    let inserted = schedule_run::Entity::insert(schedule_run::ActiveModel {
        id: Set(run_id),
        org_id: Set(s.org_id),
        schedule_id: Set(s.id),
        scheduled_at: Set(at),
        status: Set(FIRED.into()),
        event_id: Set(Some(env.id)),
        created_at: Set(now),
        error: Set(None),
    })
    .on_conflict(
        OnConflict::columns([
            schedule_run::Column::ScheduleId,
            schedule_run::Column::ScheduledAt,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        return Ok(false);
    }
    if s.action == ScheduleAction::GenerateReport.as_str() {
        if let Some(reason) = schedule_report::fire(&txn, s).await? {
            tracing::info!(schedule = %s.id, %reason, "a scheduled report was not queued");
            schedule_run::Entity::update_many()
                .col_expr(schedule_run::Column::Status, Expr::value(FAILED))
                .col_expr(schedule_run::Column::Error, Expr::value(reason))
                .filter(schedule_run::Column::Id.eq(run_id))
                .exec(&txn)
                .await?;
        }
    }
    outbox::record(&txn, &env).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(true)
}

/// The background ticker: [`tick`] with the clock every few seconds until shutdown.
pub fn spawn(state: AppState, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(TICK_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
            if let Err(e) = tick(&state, Utc::now()).await {
                tracing::warn!(error = ?e, "schedule tick failed");
            }
        }
    })
}
