//! n8n workflows: a registry of the organization's workflows kept in step with its n8n
//! instance through n8n's public REST API, and executions started through their webhook
//! triggers.
//!
//! - **Client** (`service/client.rs`): `GET/POST /api/v1/workflows`, `GET/PUT/DELETE
//!   /api/v1/workflows/{id}`, `POST /api/v1/workflows/{id}/activate|deactivate`, the key in
//!   `X-N8N-API-KEY`, over the SSRF-guarded client (the base URL is the organization's). n8n's
//!   401/403 is SERVICE_UNAVAILABLE "n8n refused the API key"; its 400/422 on a pushed
//!   definition is BAD_USER_INPUT on `input.definition`; every call records its outcome on the
//!   n8n integration (`lastSuccessAt` / `lastError`). The connection comes from
//!   `integrations` (`n8n_connection`); the key never leaves the process but in that header.
//! - **Tables**: `workflows` (UNIQUE (org, `remote_id` = the n8n id); name, definition
//!   `{nodes, connections, settings}`, active, the first Webhook node's path, SYNCED or
//!   REMOVED) and `workflow_executions` (input, the trigger's status and first kilobyte,
//!   RUNNING, SUCCEEDED or FAILED, n8n's execution id, duration, `retry_of`).
//! - **Writes** go to n8n first, then the registry (n8n's answer is what is stored); a delete
//!   that n8n answers 404 still removes the row. `syncWorkflows` pages `GET /api/v1/workflows`
//!   (`nextCursor`), inserts new ones, updates changed ones and marks the ones n8n no longer
//!   has REMOVED.
//! - **Execute** POSTs the input JSON to `{baseUrl}/webhook/{path}` of an active workflow with
//!   a POST Webhook trigger and records the execution (FAILED with the reason when the trigger
//!   refuses) and `workflow.started` in one transaction.
//! - **Completion** (`service/complete.rs`): each RUNNING execution gets a `workflow.poll`
//!   job round (1 s doubling, capped at 5 min, 45 rounds, then FAILED as unreported) that
//!   claims n8n's execution (the trigger's `executionId`, else the earliest unclaimed one
//!   started since in `GET /api/v1/executions?workflowId=`; UNIQUE (workflow, remote id)) and
//!   reads `GET /api/v1/executions/{id}`: `success` → SUCCEEDED, `error`/`crashed`/`canceled`
//!   → FAILED with n8n's error message, stoppedAt and duration. The update is fenced on
//!   `status = 'RUNNING'` and the event written only when it changed the row.
//! - **Retry** re-posts a FAILED execution's input (new row, `retryOf`); CONFLICT otherwise.
//!   **Stats** (`service/stats.rs`): one aggregate over `[from, to)` of started executions.
//!   **Validate** (`service/validate.rs`): shape, an enabled trigger node, unique node names,
//!   connections naming existing nodes — every problem a field of one BAD_USER_INPUT.
//! - **Events**: `workflow.changed` (created, updated, activated, deactivated, deleted,
//!   synced, removed), `workflow.started`, `workflow.completed` and `workflow.failed`,
//!   visible with `RunWorkflows`.
//! - **Roles**: `RunWorkflows` (MEMBER) reads the registry and executions and executes;
//!   `ManageWorkflows` (ADMIN) changes the registry. Another organization's workflow is
//!   NOT_FOUND.
//! - **Callback** (`service/callback.rs`): an incoming hook of kind WORKFLOW_COMPLETE (signed,
//!   fresh, not replayed: checked by the parent's `service/incoming.rs`) names an execution of
//!   the hook's organization (`executionId`, which the trigger receives in the
//!   `X-Leadgraph-Execution-Id` header, or n8n's `n8nExecutionId`) and its n8n status; it is
//!   recorded through the poll's fenced update in the receipt's transaction, so the callback
//!   and the poll record it once between them.

mod resolver;
mod service;
pub mod types;

pub use resolver::{WorkflowMutation, WorkflowQuery};
pub use service::{
    callback::{
        execution as completion_execution, parse as parse_completion, record as record_completion,
        Completion,
    },
    complete::{PollWorkflowExecution, POLL_KIND},
};
