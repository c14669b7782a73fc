//! The registry's writes: each goes to n8n first and stores what n8n answered, with
//! `workflow.changed` in the same transaction.

use chrono::Utc;
use entity::{workflow, workflow_execution};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    Select, TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;

use super::{
    client::{Failure, N8n},
    definition,
};
use crate::{
    auth::{Permission, Viewer},
    domains::webhooks::{
        integrations::n8n_connection,
        workflows::types::{CreateWorkflowInput, UpdateWorkflowInput, Workflow, WorkflowStatus},
    },
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, WorkflowChanged},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::{AppState, Wakes},
};

/// Every query starts here.
pub fn scoped(viewer: &Viewer) -> Select<workflow::Entity> {
    workflow::Entity::find().filter(workflow::Column::OrgId.eq(viewer.org_id))
}

/// The viewer's organization's workflow `id`, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<workflow::Model> {
    scoped(viewer)
        .filter(workflow::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("workflow"))
}

/// Records `workflow.changed` for `row`.
pub async fn record_changed(
    conn: &impl ConnectionTrait,
    org: Uuid,
    user: Option<Uuid>,
    row: &workflow::Model,
    action: &str,
) -> AppResult<()> {
    let env = EventEnvelope::new(
        org,
        user,
        DomainEvent::WorkflowChanged(WorkflowChanged {
            workflow_id: row.id,
            remote_id: row.remote_id.clone(),
            action: action.into(),
        }),
    );
    outbox::record(conn, &env).await?;
    Ok(())
}

/// A page of the registry, newest first (MEMBER+).
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
) -> AppResult<IdConnection<Workflow>> {
    viewer.require(Permission::RunWorkflows)?;
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        workflow::Column::Id,
        &args,
        |m| m.id,
        Workflow,
    )
    .await
}

/// One workflow (MEMBER+).
pub async fn find(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<workflow::Model> {
    viewer.require(Permission::RunWorkflows)?;
    get(&state.db, viewer, id).await
}

/// The client for the viewer's organization.
async fn n8n<'a>(state: &'a AppState, viewer: &Viewer) -> AppResult<N8n<'a>> {
    Ok(N8n {
        state,
        conn: n8n_connection(state, viewer).await?,
    })
}

/// The registry fields of n8n's answer `w` on `active`.
fn apply(active: &mut workflow::ActiveModel, w: &Value, fallback_name: &str) {
    let d = definition::of_remote(w);
    active.webhook_path = Set(definition::webhook(&d).map(|(p, _)| p));
    active.name = Set(w["name"].as_str().unwrap_or(fallback_name).to_string());
    active.active = Set(w["active"].as_bool().unwrap_or(false));
    active.definition = Set(d);
    active.status = Set(WorkflowStatus::Synced.as_str().into());
    active.synced_at = Set(Some(Utc::now()));
    active.updated_at = Set(Utc::now());
}

/// Pushes a new workflow to n8n and adds it to the registry with n8n's id (ADMIN+).
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateWorkflowInput,
) -> AppResult<workflow::Model> {
    viewer.require(Permission::ManageWorkflows)?;
    let name = definition::clean_name(&input.name);
    let def = definition::clean(&input.definition.0);
    let (name, def) = match (name, def) {
        (Ok(n), Ok(d)) => (n, d),
        (Err(a), Err(b)) => return Err(merge(a, b)),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let client = n8n(state, viewer).await?;
    let w = client.create(&N8n::body(&name, &def)).await?;
    let remote = definition::remote_id(&w)
        .ok_or_else(|| AppError::Unavailable("n8n's answer has no workflow id".into()))?;
    let now = Utc::now();
    let mut row = workflow::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        remote_id: Set(remote),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        ..Default::default()
    };
    apply(&mut row, &w, &name);
    let txn = state.db.begin().await?;
    let row = row.insert(&txn).await?;
    record_changed(&txn, viewer.org_id, Some(viewer.user_id), &row, "created").await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(row)
}

/// Two input errors as one.
fn merge(a: AppError, b: AppError) -> AppError {
    let fields = |e: AppError| match e {
        AppError::BadUserInput { fields, .. } => fields,
        _ => Vec::new(),
    };
    let mut all = fields(a);
    all.extend(fields(b));
    AppError::invalid_fields(all)
}

/// Stores n8n's answer `w` over `row` with `workflow.changed` `action`.
async fn store(
    state: &AppState,
    viewer: &Viewer,
    row: workflow::Model,
    w: &Value,
    action: &str,
) -> AppResult<workflow::Model> {
    let name = row.name.clone();
    let mut active: workflow::ActiveModel = row.into();
    apply(&mut active, w, &name);
    let txn = state.db.begin().await?;
    let row = active.update(&txn).await?;
    record_changed(&txn, viewer.org_id, Some(viewer.user_id), &row, action).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(row)
}

/// Pushes a changed name or definition to n8n (ADMIN+).
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateWorkflowInput,
) -> AppResult<workflow::Model> {
    viewer.require(Permission::ManageWorkflows)?;
    let name = input
        .name
        .as_deref()
        .map(definition::clean_name)
        .transpose();
    let def = input
        .definition
        .as_ref()
        .map(|d| definition::clean(&d.0))
        .transpose();
    let (name, def) = match (name, def) {
        (Ok(n), Ok(d)) => (n, d),
        (Err(a), Err(b)) => return Err(merge(a, b)),
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    let row = get(&state.db, viewer, id).await?;
    let name = name.unwrap_or_else(|| row.name.clone());
    let def = def.unwrap_or_else(|| row.definition.clone());
    let client = n8n(state, viewer).await?;
    let w = client
        .update(&row.remote_id, &N8n::body(&name, &def))
        .await?;
    store(state, viewer, row, &w, "updated").await
}

/// Activates or deactivates a workflow in n8n (ADMIN+).
pub async fn set_active(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    on: bool,
) -> AppResult<workflow::Model> {
    viewer.require(Permission::ManageWorkflows)?;
    let row = get(&state.db, viewer, id).await?;
    let client = n8n(state, viewer).await?;
    let mut w = client.set_active(&row.remote_id, on).await?;
    if let Some(o) = w.as_object_mut() {
        o.entry("active").or_insert(Value::Bool(on));
    }
    let action = if on { "activated" } else { "deactivated" };
    store(state, viewer, row, &w, action).await
}

/// Deletes a workflow in n8n (already gone there is fine) and from the registry with its
/// executions (ADMIN+).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<bool> {
    viewer.require(Permission::ManageWorkflows)?;
    let row = get(&state.db, viewer, id).await?;
    let client = n8n(state, viewer).await?;
    match client.delete(&row.remote_id).await {
        Ok(_) | Err(Failure::Missing) => {}
        Err(Failure::Error(e)) => return Err(e),
    }
    let txn = state.db.begin().await?;
    workflow_execution::Entity::delete_many()
        .filter(workflow_execution::Column::WorkflowId.eq(row.id))
        .exec(&txn)
        .await?;
    workflow::Entity::delete_by_id(row.id).exec(&txn).await?;
    record_changed(&txn, viewer.org_id, Some(viewer.user_id), &row, "deleted").await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(true)
}
