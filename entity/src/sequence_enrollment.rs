//! `sequence_enrollments`: one lead in one sequence (unique per sequence and lead): the next step
//! to send, when it is due, and why the enrollment stopped.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sequence_enrollments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub sequence_id: Uuid,
    pub lead_id: Uuid,
    /// ACTIVE | COMPLETED | STOPPED.
    pub status: String,
    /// Index of the next step to send (= the number of steps done).
    pub current_step: i32,
    /// When the next step is due (NULL once finished).
    pub next_step_at: Option<DateTimeUtc>,
    /// REPLIED | UNSUBSCRIBED | BOUNCED | SUPPRESSED | UNENROLLED | FAILED.
    pub stop_reason: Option<String>,
    pub stopped_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
