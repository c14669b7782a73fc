//! `schedules`: an organization's cron schedules (5-field expression read in an IANA time zone),
//! the action each fires and the next occurrence due.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// 5-field cron expression (minute hour day-of-month month day-of-week).
    pub cron: String,
    /// IANA time zone the expression is read in (`America/New_York`).
    pub timezone: String,
    /// `EMIT_EVENT`.
    pub action: String,
    /// Data carried by the action (the `schedule.fired` event's `payload`).
    pub payload: Json,
    /// `ACTIVE` | `PAUSED`.
    pub status: String,
    /// The next occurrence due (null while paused).
    pub next_run_at: Option<DateTimeUtc>,
    pub last_run_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
