//! `schedule_runs`: one row per fired occurrence of a schedule; UNIQUE (schedule_id,
//! scheduled_at) makes the claim of an occurrence exactly once across instances.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "schedule_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub schedule_id: Uuid,
    /// The occurrence fired (not when the ticker saw it).
    pub scheduled_at: DateTimeUtc,
    /// `FIRED`, or `FAILED` when the action could not be carried out (see `error`).
    pub status: String,
    /// The `schedule.fired` event recorded with the run.
    pub event_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    /// Why the action could not be carried out (null when it was).
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
