//! Requests made and changed by hand: `createApprovalRequest` (not gated: deciding it changes
//! nothing else; a resource of a type with a subject must exist) and `updateApprovalRequest`
//! (pending only, requester or ADMIN+, records UPDATE).

use chrono::{DateTime, Utc};
use entity::approval_request;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseTransaction, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::{
    access::owner_or_admin,
    decide::{commit, lock_pending},
    insert, save_change,
    subject::subject_of,
    NewRequest, MAX_TEXT, MAX_TITLE,
};
use crate::{
    auth::{Permission, Role, Viewer},
    domains::approvals::{
        requests::types::{
            ApprovalActionKind, CreateApprovalRequestInput, UpdateApprovalRequestInput,
        },
        rules::{parse_members, MAX_APPROVERS, MAX_REQUIRED},
        types::{ids_json, ids_of, ApprovalResourceType},
    },
    error::{AppError, AppResult, FieldError},
    state::AppState,
};

/// A trimmed text field (`None` when empty), checked for presence and length.
pub(super) fn text(
    field: &str,
    v: Option<String>,
    max: usize,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    match &v {
        None if required => errors.push(refuse(field, "is required")),
        Some(s) if s.chars().count() > max => {
            errors.push(refuse(field, format!("must be at most {max} characters")))
        }
        _ => {}
    }
    v
}

/// Named assignees (members, not the viewer) and the assignee role (not VIEWER).
async fn check_assignees(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    ids: Option<&[async_graphql::ID]>,
    role: Option<Role>,
    errors: &mut Vec<FieldError>,
) -> AppResult<Vec<Uuid>> {
    let ids = ids.unwrap_or_default();
    if role == Some(Role::Viewer) {
        errors.push(refuse(
            "input.assigneeRole",
            "must be MEMBER or higher (viewers cannot approve)",
        ));
    }
    if ids.len() > MAX_APPROVERS {
        errors.push(refuse(
            "input.assigneeIds",
            format!("at most {MAX_APPROVERS} assignees"),
        ));
    }
    let parsed = parse_members(conn, viewer.org_id, "input.assigneeIds", ids, errors).await?;
    if let Some(i) = parsed.iter().position(|u| *u == viewer.user_id) {
        errors.push(FieldError {
            field: format!("input.assigneeIds[{i}]"),
            message: "you cannot assign your own request to yourself".into(),
        });
    }
    Ok(parsed)
}

/// A field error.
fn refuse(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

/// The trimmed resource id; it must name an existing resource when its type has a subject.
async fn check_resource(
    state: &AppState,
    viewer: &Viewer,
    resource_type: ApprovalResourceType,
    raw: &str,
    errors: &mut Vec<FieldError>,
) -> AppResult<String> {
    let resource_id = raw.trim().to_string();
    if resource_id.is_empty() || resource_id.len() > 64 {
        errors.push(refuse("input.resourceId", "must be 1–64 characters"));
    } else if let Some(subject) = subject_of(resource_type) {
        if !subject.exists(state, viewer, &resource_id).await? {
            errors.push(refuse(
                "input.resourceId",
                format!("no such {}", subject.noun()),
            ));
        }
    }
    Ok(resource_id)
}

/// Assignees or a role, the number of approvals, the due time.
fn check_create_numbers(
    input: &CreateApprovalRequestInput,
    assignee_ids: &[Uuid],
    errors: &mut Vec<FieldError>,
) {
    if assignee_ids.is_empty() && input.assignee_role.is_none() {
        errors.push(refuse(
            "input.assigneeIds",
            "give assigneeIds, assigneeRole or both",
        ));
    }
    let required = input.required_approvals.unwrap_or(1);
    if !(1..=MAX_REQUIRED).contains(&required) {
        errors.push(refuse(
            "input.requiredApprovals",
            format!("must be between 1 and {MAX_REQUIRED}"),
        ));
    } else if input.assignee_role.is_none()
        && !assignee_ids.is_empty()
        && required as usize > assignee_ids.len()
    {
        errors.push(refuse(
            "input.requiredApprovals",
            "cannot exceed the number of assignees",
        ));
    }
    check_due(input.due_at, errors);
}

fn check_due(due_at: Option<DateTime<Utc>>, errors: &mut Vec<FieldError>) {
    if due_at.is_some_and(|d| d <= Utc::now()) {
        errors.push(refuse("input.dueAt", "must be in the future"));
    }
}

/// `createApprovalRequest`: a request made by hand (not gated: deciding it changes nothing
/// else).
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateApprovalRequestInput,
) -> AppResult<approval_request::Model> {
    viewer.require(Permission::ActOnApprovals)?;
    let mut errors = Vec::new();
    let title = text(
        "input.title",
        Some(input.title.clone()),
        MAX_TITLE,
        true,
        &mut errors,
    );
    let description = text(
        "input.description",
        input.description.clone(),
        MAX_TEXT,
        false,
        &mut errors,
    );
    let resource_id = check_resource(
        state,
        viewer,
        input.resource_type,
        &input.resource_id,
        &mut errors,
    )
    .await?;
    let assignee_ids = check_assignees(
        &state.db,
        viewer,
        input.assignee_ids.as_deref(),
        input.assignee_role,
        &mut errors,
    )
    .await?;
    check_create_numbers(&input, &assignee_ids, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let txn = state.db.begin().await?;
    let r = insert(
        &txn,
        NewRequest {
            org_id: viewer.org_id,
            rule_id: None,
            resource_type: input.resource_type,
            resource_id,
            title: title.unwrap_or_default(),
            description,
            requested_by: Some(viewer.user_id),
            assignee_ids,
            assignee_role: input.assignee_role,
            required_approvals: input.required_approvals.unwrap_or(1),
            priority: input.priority.unwrap_or_default(),
            due_at: input.due_at,
            gated: false,
            payload: json!({}),
        },
    )
    .await?;
    commit(state, txn).await?;
    Ok(r)
}

/// The validated changes of an update: title, description (`Some(None)` clears it), assignees.
type Changes = (Option<String>, Option<Option<String>>, Option<Vec<Uuid>>);

async fn check_update(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    r: &approval_request::Model,
    input: &UpdateApprovalRequestInput,
) -> AppResult<Changes> {
    let mut errors = Vec::new();
    let title = match input.title.clone() {
        Some(t) => text("input.title", Some(t), MAX_TITLE, true, &mut errors),
        None => None,
    };
    let description = input
        .description
        .clone()
        .map(|d| text("input.description", Some(d), MAX_TEXT, false, &mut errors));
    let ids = match &input.assignee_ids {
        Some(ids) => Some(check_assignees(txn, viewer, Some(ids), None, &mut errors).await?),
        None => None,
    };
    if input.assignee_role == Some(Role::Viewer) {
        errors.push(refuse(
            "input.assigneeRole",
            "must be MEMBER or higher (viewers cannot approve)",
        ));
    }
    check_due(input.due_at, &mut errors);
    let new_ids = ids.clone().unwrap_or_else(|| ids_of(&r.assignee_ids));
    let new_role = input
        .assignee_role
        .or(r.assignee_role.as_deref().and_then(Role::parse));
    if new_ids.is_empty() && new_role.is_none() {
        errors.push(refuse(
            "input.assigneeIds",
            "a request needs assignees or an assignee role",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    Ok((title, description, ids))
}

/// `updateApprovalRequest`: pending requests only, by the requester or ADMIN+.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateApprovalRequestInput,
) -> AppResult<approval_request::Model> {
    viewer.require(Permission::ActOnApprovals)?;
    let txn = state.db.begin().await?;
    let r = lock_pending(&txn, viewer, id).await?;
    owner_or_admin(viewer, &r)?;
    let (title, description, ids) = check_update(&txn, viewer, &r, &input).await?;
    let now = Utc::now();
    let mut a: approval_request::ActiveModel = r.into();
    if let Some(t) = title {
        a.title = Set(t);
    }
    if let Some(d) = description {
        a.description = Set(d);
    }
    if let Some(ids) = ids {
        a.assignee_ids = Set(ids_json(&ids));
    }
    if let Some(role) = input.assignee_role {
        a.assignee_role = Set(Some(role.as_str().into()));
    }
    if let Some(d) = input.due_at {
        a.due_at = Set(Some(d));
        a.urgent = Set(false);
        a.escalated_at = Set(None);
    }
    if let Some(p) = input.priority {
        a.priority = Set(p.as_str().into());
    }
    let r = save_change(&txn, a, viewer, ApprovalActionKind::Update, None, None, now).await?;
    commit(state, txn).await?;
    Ok(r)
}
