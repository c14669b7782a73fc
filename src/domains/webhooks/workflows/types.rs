//! GraphQL types of n8n workflows: the registry entry, its executions, the inputs and the sync
//! result.

use async_graphql::{Enum, InputObject, Json, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{workflow, workflow_execution};
use serde_json::Value;

/// Whether n8n still has a workflow.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowStatus {
    /// As n8n had it at the last push or sync.
    Synced,
    /// The last sync no longer found it in n8n.
    Removed,
}

crate::wire_enum!(WorkflowStatus {
    Synced => "SYNCED",
    Removed => "REMOVED",
});

/// How an execution went.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowExecutionStatus {
    /// The webhook trigger accepted it; n8n has not reported it finished yet.
    Running,
    /// n8n reported it finished successfully.
    Succeeded,
    /// The webhook trigger refused it or could not be reached, or n8n reported an error.
    Failed,
}

crate::wire_enum!(WorkflowExecutionStatus {
    Running => "RUNNING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
});

/// A workflow of the registry.
pub struct Workflow(pub workflow::Model);

impl From<workflow::Model> for Workflow {
    fn from(m: workflow::Model) -> Self {
        Workflow(m)
    }
}

/// An n8n workflow as Leadgraph last pushed or pulled it.
#[Object]
impl Workflow {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Its id in n8n.
    async fn remote_id(&self) -> &str {
        &self.0.remote_id
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// `{nodes, connections, settings}` (n8n's JSON).
    async fn definition(&self) -> Json<Value> {
        Json(self.0.definition.clone())
    }
    /// Whether n8n runs its triggers.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// The path of its Webhook trigger (`executeWorkflow` posts to `/webhook/{path}`).
    async fn webhook_path(&self) -> Option<&str> {
        self.0.webhook_path.as_deref()
    }
    /// SYNCED or REMOVED.
    async fn status(&self) -> WorkflowStatus {
        WorkflowStatus::parse(&self.0.status).unwrap_or(WorkflowStatus::Removed)
    }
    /// The last push or sync.
    async fn synced_at(&self) -> Option<DateTime<Utc>> {
        self.0.synced_at
    }
    /// When it entered the registry.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One execution started through `executeWorkflow`.
pub struct WorkflowExecution(pub workflow_execution::Model);

impl From<workflow_execution::Model> for WorkflowExecution {
    fn from(m: workflow_execution::Model) -> Self {
        WorkflowExecution(m)
    }
}

/// An execution handed to a workflow's webhook trigger.
#[Object]
impl WorkflowExecution {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The workflow.
    async fn workflow_id(&self) -> ID {
        ID(self.0.workflow_id.to_string())
    }
    /// RUNNING, SUCCEEDED or FAILED.
    async fn status(&self) -> WorkflowExecutionStatus {
        WorkflowExecutionStatus::parse(&self.0.status).unwrap_or(WorkflowExecutionStatus::Failed)
    }
    /// The JSON posted to the trigger.
    async fn input(&self) -> Json<Value> {
        Json(self.0.input.clone())
    }
    /// The trigger's HTTP status (null when it could not be reached).
    async fn response_status(&self) -> Option<i32> {
        self.0.response_status
    }
    /// The first kilobyte of the trigger's answer.
    async fn response(&self) -> Option<&str> {
        self.0.response.as_deref()
    }
    /// Why it failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// When it was started.
    async fn started_at(&self) -> DateTime<Utc> {
        self.0.started_at
    }
    /// When it finished (n8n's stoppedAt; a refused trigger at once).
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// n8n's execution id, once found.
    async fn remote_execution_id(&self) -> Option<&str> {
        self.0.remote_execution_id.as_deref()
    }
    /// n8n's stoppedAt − startedAt in milliseconds, once finished.
    async fn duration_ms(&self) -> Option<i64> {
        self.0.duration_ms
    }
    /// The failed execution this one retries.
    async fn retry_of(&self) -> Option<ID> {
        self.0.retry_of.map(|id| ID(id.to_string()))
    }
}

/// A new workflow, pushed to n8n.
#[derive(InputObject, Debug, Clone)]
pub struct CreateWorkflowInput {
    /// Name (at most 200 characters).
    pub name: String,
    /// n8n's JSON: `{nodes: [{name, type, …}], connections: {…}, settings?: {…}}` (at most
    /// 256 KiB).
    pub definition: Json<Value>,
}

/// Changes to a workflow, pushed to n8n; absent fields stay.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateWorkflowInput {
    /// Name.
    pub name: Option<String>,
    /// n8n's JSON.
    pub definition: Option<Json<Value>>,
}

/// What `syncWorkflows` did.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct WorkflowSyncResult {
    /// New in n8n, added to the registry.
    pub created: i32,
    /// Changed in n8n, updated.
    pub updated: i32,
    /// Gone from n8n, marked REMOVED.
    pub removed: i32,
    /// Already in step.
    pub unchanged: i32,
}

/// Executions started in a range, by status.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct WorkflowStats {
    /// Range start.
    pub from: DateTime<Utc>,
    /// Range end (exclusive).
    pub to: DateTime<Utc>,
    /// Executions started.
    pub total: i64,
    /// Still running.
    pub running: i64,
    /// Finished successfully.
    pub succeeded: i64,
    /// Failed (refused by the trigger or reported failed by n8n).
    pub failed: i64,
    /// succeeded / (succeeded + failed); null when none finished.
    pub success_rate: Option<f64>,
    /// Mean of n8n's reported durations, in milliseconds; null when none finished.
    pub mean_duration_ms: Option<f64>,
}

/// A definition that passed `validateWorkflow`.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct WorkflowValidation {
    /// Always true (an invalid definition is BAD_USER_INPUT with the fields).
    pub valid: bool,
    /// Its nodes.
    pub node_count: i32,
    /// The names of its trigger nodes.
    pub trigger_nodes: Vec<String>,
}
