//! `workflow_executions`: one row per `executeWorkflow` (or `retryWorkflowExecution`) call
//! through the workflow's webhook trigger.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_executions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub workflow_id: Uuid,
    /// RUNNING (the trigger accepted it) | SUCCEEDED | FAILED (the trigger refused it, or n8n
    /// reported an error).
    pub status: String,
    pub input: Json,
    pub response_status: Option<i32>,
    /// The first kilobyte of the trigger's answer.
    pub response: Option<String>,
    pub error: Option<String>,
    pub started_by: Option<Uuid>,
    pub started_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
    /// n8n's execution id, once the poll job found it.
    pub remote_execution_id: Option<String>,
    /// n8n's stoppedAt − startedAt, once finished.
    pub duration_ms: Option<i64>,
    /// The failed execution this one retries.
    pub retry_of: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
