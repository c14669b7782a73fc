//! Workflow queries and mutations: guard, parse, call the service, map.

use async_graphql::{Context, Json, Object, ID};
use serde_json::Value;
use uuid::Uuid;

use super::{
    service::{execute, registry, stats, sync, validate},
    types::{
        CreateWorkflowInput, UpdateWorkflowInput, Workflow, WorkflowExecution, WorkflowStats,
        WorkflowSyncResult, WorkflowValidation,
    },
};
use crate::{
    auth::Permission,
    domains::audit::note_ref as note,
    domains::insight::{
        resolve_range,
        types::{DateRangeInput, RangePreset},
    },
    error::{AppError, AppResult},
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// A workflow id, or NOT_FOUND.
fn workflow_id(id: &ID) -> AppResult<Uuid> {
    parse_id(id).map_err(|_| AppError::NotFound("workflow"))
}

/// Workflow queries.
#[derive(Default)]
pub struct WorkflowQuery;

#[Object]
impl WorkflowQuery {
    /// The organization's n8n workflow registry, newest first (MEMBER+).
    async fn workflows(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Workflow>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        registry::list(state, viewer, args).await
    }

    /// One workflow (MEMBER+); null when it does not exist in the viewer's organization.
    async fn workflow(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Workflow>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::RunWorkflows)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match registry::find(state, viewer, id).await {
            Ok(m) => Ok(Some(Workflow(m))),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A workflow's executions, newest first (MEMBER+).
    async fn workflow_executions(
        &self,
        ctx: &Context<'_>,
        workflow_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<WorkflowExecution>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = self::workflow_id(&workflow_id)?;
        let args = PageArgs::new(first, after, last, before)?;
        execute::list(state, viewer, id, args).await
    }

    /// Executions started in `range` (or the `preset`, default the last 30 days), of one
    /// workflow or all: counts per status, success rate and mean duration (MEMBER+).
    async fn workflow_stats(
        &self,
        ctx: &Context<'_>,
        range: Option<DateRangeInput>,
        preset: Option<RangePreset>,
        workflow_id: Option<ID>,
    ) -> AppResult<WorkflowStats> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::RunWorkflows)?;
        let r = resolve_range(
            range,
            preset,
            Some(RangePreset::Last30Days),
            chrono::Utc::now(),
        )?;
        let id = workflow_id.as_ref().map(self::workflow_id).transpose()?;
        stats::stats(state, viewer, r, id).await
    }

    /// Checks an n8n definition without saving it (MEMBER+): a trigger node, unique node
    /// names, connections naming existing nodes. Problems are BAD_USER_INPUT with the fields.
    async fn validate_workflow(
        &self,
        ctx: &Context<'_>,
        definition: Json<Value>,
    ) -> AppResult<WorkflowValidation> {
        let (_, viewer) = ctx.state_and_viewer()?;
        validate::validate(viewer, &definition.0)
    }
}

/// Workflow mutations.
#[derive(Default)]
pub struct WorkflowMutation;

#[Object]
impl WorkflowMutation {
    /// Pushes a new workflow to n8n and keeps it in the registry with n8n's id (ADMIN+).
    async fn create_workflow(
        &self,
        ctx: &Context<'_>,
        input: CreateWorkflowInput,
    ) -> AppResult<Workflow> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = registry::create(state, viewer, input).await?;
        note(ctx, "workflow", m.id);
        Ok(Workflow(m))
    }

    /// Pushes a new name or definition to n8n (ADMIN+).
    async fn update_workflow(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateWorkflowInput,
    ) -> AppResult<Workflow> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = registry::update(state, viewer, workflow_id(&id)?, input).await?;
        note(ctx, "workflow", m.id);
        Ok(Workflow(m))
    }

    /// Deletes a workflow in n8n and from the registry with its executions (ADMIN+).
    async fn delete_workflow(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = workflow_id(&id)?;
        let done = registry::delete(state, viewer, id).await?;
        note(ctx, "workflow", id);
        Ok(done)
    }

    /// Activates a workflow in n8n (ADMIN+).
    async fn activate_workflow(&self, ctx: &Context<'_>, id: ID) -> AppResult<Workflow> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = registry::set_active(state, viewer, workflow_id(&id)?, true).await?;
        note(ctx, "workflow", m.id);
        Ok(Workflow(m))
    }

    /// Deactivates a workflow in n8n (ADMIN+).
    async fn deactivate_workflow(&self, ctx: &Context<'_>, id: ID) -> AppResult<Workflow> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let m = registry::set_active(state, viewer, workflow_id(&id)?, false).await?;
        note(ctx, "workflow", m.id);
        Ok(Workflow(m))
    }

    /// Pulls every workflow from n8n: new ones are added, changed ones updated, missing ones
    /// marked REMOVED (ADMIN+).
    async fn sync_workflows(&self, ctx: &Context<'_>) -> AppResult<WorkflowSyncResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        sync::sync(state, viewer).await
    }

    /// Starts a workflow through its Webhook trigger with `input` as the JSON body (MEMBER+);
    /// the execution is recorded (FAILED with the reason when the trigger refuses).
    async fn execute_workflow(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: Option<Json<Value>>,
    ) -> AppResult<WorkflowExecution> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = workflow_id(&id)?;
        let input = input.map_or_else(|| Value::Object(Default::default()), |j| j.0);
        let m = execute::execute(state, viewer, id, input).await?;
        note(ctx, "workflow", id);
        Ok(WorkflowExecution(m))
    }

    /// Starts a FAILED execution again with the same input (MEMBER+): a new execution whose
    /// `retryOf` names it. CONFLICT for an execution that did not fail.
    async fn retry_workflow_execution(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> AppResult<WorkflowExecution> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = parse_id(&id).map_err(|_| AppError::NotFound("workflow execution"))?;
        let m = execute::retry(state, viewer, id).await?;
        note(ctx, "workflow", m.workflow_id);
        Ok(WorkflowExecution(m))
    }
}
