//! GraphQL types of schedules: the schedule, its runs, its inputs and enums.

use async_graphql::{Enum, InputObject, Json, Object, ID};
use chrono::{DateTime, Utc};
use entity::{schedule, schedule_run};

/// Whether a schedule fires.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleStatus {
    /// Its occurrences fire.
    Active,
    /// Nothing fires until it is resumed (missed occurrences are skipped).
    Paused,
}

crate::wire_enum!(ScheduleStatus {
    Active => "ACTIVE",
    Paused => "PAUSED",
});

/// What an occurrence does.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleAction {
    /// Records a `schedule.fired` event carrying the schedule's payload: the events
    /// subscription shows it and webhook endpoints taking SCHEDULE_FIRED receive it.
    EmitEvent,
    /// Generates a report (payload `{"reportId": ID, "mailTo": [member emails]}`) as the member
    /// who created the schedule, and mails its download link to `mailTo` when it is ready; also
    /// records `schedule.fired`. Counts toward the daily report limit.
    GenerateReport,
}

crate::wire_enum!(ScheduleAction {
    EmitEvent => "EMIT_EVENT",
    GenerateReport => "GENERATE_REPORT",
});

/// A cron schedule of the organization.
pub struct Schedule(pub schedule::Model);

impl From<schedule::Model> for Schedule {
    fn from(m: schedule::Model) -> Self {
        Schedule(m)
    }
}

/// A 5-field cron expression read in an IANA time zone, and the action each occurrence fires.
/// DST: a fixed time that does not exist runs at the end of the gap; a fixed time that happens
/// twice runs once (the first); interval expressions follow real time.
#[Object]
impl Schedule {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// `minute hour day-of-month month day-of-week`.
    async fn cron(&self) -> &str {
        &self.0.cron
    }
    /// IANA time zone the expression is read in.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
    /// What an occurrence does.
    async fn action(&self) -> ScheduleAction {
        ScheduleAction::parse(&self.0.action).unwrap_or(ScheduleAction::EmitEvent)
    }
    /// Data the action carries.
    async fn payload(&self) -> Json<serde_json::Value> {
        Json(self.0.payload.clone())
    }
    /// ACTIVE or PAUSED.
    async fn status(&self) -> ScheduleStatus {
        ScheduleStatus::parse(&self.0.status).unwrap_or(ScheduleStatus::Paused)
    }
    /// The next occurrence due (null while paused).
    async fn next_run_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_run_at
    }
    /// The last occurrence fired.
    async fn last_run_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_run_at
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One fired occurrence of a schedule.
pub struct ScheduleRun(pub schedule_run::Model);

/// An occurrence fired (exactly once, whatever the number of server instances).
#[Object]
impl ScheduleRun {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The schedule.
    async fn schedule_id(&self) -> ID {
        ID(self.0.schedule_id.to_string())
    }
    /// The occurrence (not when a ticker saw it).
    async fn scheduled_at(&self) -> DateTime<Utc> {
        self.0.scheduled_at
    }
    /// `FIRED`, or `FAILED` when its action could not be carried out (see `error`).
    async fn status(&self) -> &str {
        &self.0.status
    }
    /// Why the action could not be carried out (a GENERATE_REPORT whose report was deleted or
    /// whose organization reached the daily limit); null when it was.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// The `schedule.fired` event it recorded.
    async fn event_id(&self) -> Option<ID> {
        self.0.event_id.map(|id| ID(id.to_string()))
    }
    /// When it fired.
    async fn fired_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A new schedule.
#[derive(InputObject, Debug, Clone)]
pub struct CreateScheduleInput {
    /// Name (at most 200 characters).
    pub name: String,
    /// 5-field cron expression (`*/15 9-17 * * MON-FRI`).
    pub cron: String,
    /// IANA time zone (`America/New_York`).
    pub timezone: String,
    /// Default EMIT_EVENT.
    pub action: Option<ScheduleAction>,
    /// A JSON object the action carries (at most 16 KiB).
    pub payload: Option<Json<serde_json::Value>>,
}

/// Changes to a schedule; absent fields stay. A new expression or zone restarts from now.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateScheduleInput {
    /// Name.
    pub name: Option<String>,
    /// 5-field cron expression.
    pub cron: Option<String>,
    /// IANA time zone.
    pub timezone: Option<String>,
    /// A JSON object the action carries.
    pub payload: Option<Json<serde_json::Value>>,
}
