//! `enrichment_runs`: a batch enrichment (`enrichLeads`) and its counters.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrichment_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// The `enrichment.run` job.
    pub job_id: Option<Uuid>,
    pub created_by: Uuid,
    /// The creator's role when the run was asked for (the job acts with it).
    pub role: String,
    /// Field names (JSON array).
    pub fields: Json,
    /// The leads, fixed when the run was created (JSON array of ids).
    pub lead_ids: Json,
    /// QUEUED | RUNNING | SUCCEEDED | BUDGET_EXHAUSTED | FAILED.
    pub status: String,
    /// Lead × field pairs in the run.
    pub total: i32,
    /// Pairs finished.
    pub done: i32,
    /// Pairs filled by a provider.
    pub filled: i32,
    /// Pairs every provider failed on.
    pub failed: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
