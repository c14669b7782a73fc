//! `report_runs`: one generation of a report (a `insight.generate_report` job).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "report_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub report_id: Uuid,
    /// `QUEUED`, `RUNNING`, `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// 0–100.
    pub progress: i32,
    /// The job attempt that holds the run; later writes are fenced on it.
    pub attempt: i32,
    /// Data rows of the output.
    pub row_count: Option<i32>,
    /// The stored output (`files`).
    pub file_id: Option<Uuid>,
    pub error: Option<String>,
    pub requested_by: Uuid,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
