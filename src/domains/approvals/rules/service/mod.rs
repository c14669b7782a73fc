//! Approval rules: CRUD, toggle, test, and [`matching`] (the gate's question: which enabled rule
//! of this organization applies to these facts?).

use std::collections::HashSet;

use chrono::Utc;
use entity::{approval_rule, membership};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};
use serde_json::Value;
use uuid::Uuid;

pub mod condition;

use condition::Condition;

use crate::{
    auth::{Permission, Role, Viewer},
    domains::approvals::{
        rules::types::{
            ApprovalRule, ApprovalRuleInput, ApprovalRuleTest, UpdateApprovalRuleInput,
        },
        types::{ids_json, ApprovalResourceType},
    },
    error::{AppError, AppResult, FieldError},
    graphql::pagination::{keyset_rows, ByColumn, IdConnection, PageArgs, TotalCount},
    ids::parse_id,
    state::AppState,
};

/// Most distinct approvals a rule or request may need.
pub const MAX_REQUIRED: i32 = 10;
/// Longest SLA.
pub const MAX_SLA_HOURS: i32 = 8760;
/// Most named approvers.
pub const MAX_APPROVERS: usize = 50;

/// Every rule query starts here.
pub fn scoped(viewer: &Viewer) -> Select<approval_rule::Entity> {
    approval_rule::Entity::find().filter(approval_rule::Column::OrgId.eq(viewer.org_id))
}

/// A rule of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<approval_rule::Model> {
    scoped(viewer)
        .filter(approval_rule::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("approval rule"))
}

/// A page of rules, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    resource_type: Option<ApprovalResourceType>,
    args: PageArgs,
) -> AppResult<IdConnection<ApprovalRule>> {
    viewer.require(Permission::ReadApprovals)?;
    let mut q = scoped(viewer);
    if let Some(t) = resource_type {
        q = q.filter(approval_rule::Column::ResourceType.eq(t.as_str()));
    }
    // Wrapped together: the rules' approvers and authors load once for the page.
    let total = TotalCount::of(state.db.clone(), q.clone());
    let order = ByColumn {
        column: approval_rule::Column::Id,
        desc: true,
        key_of: |m: &approval_rule::Model| m.id,
    };
    let page = keyset_rows(&state.db, q, &order, &args).await?;
    Ok(page.into_connection_batch(total, |m| m.id, ApprovalRule::wrap))
}

/// The rules `ids` of the viewer's organization (those that still exist), in one statement: the
/// `rule` of a page of requests.
pub async fn by_ids(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    ids: &[Uuid],
) -> AppResult<Vec<approval_rule::Model>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(scoped(viewer)
        .filter(approval_rule::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?)
}

/// The user ids among `ids` that are members of `org_id`.
pub async fn members_among(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    ids: &[Uuid],
) -> AppResult<HashSet<Uuid>> {
    if ids.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::OrgId.eq(org_id))
        .filter(membership::Column::UserId.is_in(ids.to_vec()))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?
        .into_iter()
        .collect())
}

/// Parses named users (`field[i]` errors for malformed ids, non-members and duplicates).
pub async fn parse_members(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    field: &str,
    ids: &[async_graphql::ID],
    errors: &mut Vec<FieldError>,
) -> AppResult<Vec<Uuid>> {
    let mut parsed = Vec::new();
    let mut seen = HashSet::new();
    for (i, id) in ids.iter().enumerate() {
        match parse_id(id) {
            Ok(u) if seen.insert(u) => parsed.push((i, u)),
            Ok(_) => errors.push(FieldError {
                field: format!("{field}[{i}]"),
                message: "is listed twice".into(),
            }),
            Err(_) => errors.push(FieldError {
                field: format!("{field}[{i}]"),
                message: "is not a member of the organization".into(),
            }),
        }
    }
    let all: Vec<Uuid> = parsed.iter().map(|(_, u)| *u).collect();
    let members = members_among(conn, org_id, &all).await?;
    for (i, u) in &parsed {
        if !members.contains(u) {
            errors.push(FieldError {
                field: format!("{field}[{i}]"),
                message: "is not a member of the organization".into(),
            });
        }
    }
    Ok(all)
}

/// A rule's fields after validation.
struct Valid {
    name: String,
    resource_type: ApprovalResourceType,
    condition: Value,
    approver_role: Option<Role>,
    approver_ids: Vec<Uuid>,
    required: i32,
    sla_hours: Option<i32>,
    enabled: bool,
}

fn check_role(role: Option<Role>, field: &str, errors: &mut Vec<FieldError>) {
    if role == Some(Role::Viewer) {
        errors.push(FieldError {
            field: field.into(),
            message: "must be MEMBER or higher (viewers cannot approve)".into(),
        });
    }
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) -> String {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError {
            field: "input.name".into(),
            message: "must be 1–200 characters".into(),
        });
    }
    name.to_string()
}

fn check_numbers(
    required: i32,
    sla: Option<i32>,
    named: Option<usize>,
    errors: &mut Vec<FieldError>,
) {
    if !(1..=MAX_REQUIRED).contains(&required) {
        errors.push(FieldError {
            field: "input.requiredApprovals".into(),
            message: format!("must be between 1 and {MAX_REQUIRED}"),
        });
    } else if let Some(n) = named.filter(|n| *n > 0 && (required as usize) > *n) {
        errors.push(FieldError {
            field: "input.requiredApprovals".into(),
            message: format!("cannot exceed the {n} named approvers"),
        });
    }
    if let Some(h) = sla {
        if !(1..=MAX_SLA_HOURS).contains(&h) {
            errors.push(FieldError {
                field: "input.slaHours".into(),
                message: format!("must be between 1 and {MAX_SLA_HOURS}"),
            });
        }
    }
}

async fn validate(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    input: &ApprovalRuleInput,
) -> AppResult<Valid> {
    let mut errors = Vec::new();
    let name = check_name(&input.name, &mut errors);
    let condition = match Condition::parse(&input.condition.0, "input.condition") {
        Ok(c) => c.to_json(),
        Err(e) => {
            errors.push(e);
            Value::Null
        }
    };
    let ids = input.approver_ids.clone().unwrap_or_default();
    if input.approver_role.is_none() == ids.is_empty() {
        errors.push(FieldError {
            field: "input.approverRole".into(),
            message: "give exactly one of approverRole and approverIds".into(),
        });
    }
    if ids.len() > MAX_APPROVERS {
        errors.push(FieldError {
            field: "input.approverIds".into(),
            message: format!("at most {MAX_APPROVERS} approvers"),
        });
    }
    check_role(input.approver_role, "input.approverRole", &mut errors);
    let approver_ids =
        parse_members(conn, viewer.org_id, "input.approverIds", &ids, &mut errors).await?;
    let required = input.required_approvals.unwrap_or(1);
    check_numbers(
        required,
        input.sla_hours,
        Some(approver_ids.len()),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    Ok(Valid {
        name,
        resource_type: input.resource_type,
        condition,
        approver_role: input.approver_role,
        approver_ids,
        required,
        sla_hours: input.sla_hours,
        enabled: input.enabled.unwrap_or(true),
    })
}

/// `createApprovalRule` (ADMIN+).
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: ApprovalRuleInput,
) -> AppResult<approval_rule::Model> {
    viewer.require(Permission::ManageApprovalRules)?;
    let v = validate(&state.db, viewer, &input).await?;
    let now = Utc::now();
    Ok(approval_rule::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        name: Set(v.name),
        resource_type: Set(v.resource_type.as_str().into()),
        condition: Set(v.condition),
        approver_role: Set(v.approver_role.map(|r| r.as_str().to_string())),
        approver_ids: Set(ids_json(&v.approver_ids)),
        required_approvals: Set(v.required),
        sla_hours: Set(v.sla_hours),
        enabled: Set(v.enabled),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?)
}

/// `updateApprovalRule` (ADMIN+): the fields present change; the result is validated as a
/// whole. Requests already created keep what they were created with.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateApprovalRuleInput,
) -> AppResult<approval_rule::Model> {
    viewer.require(Permission::ManageApprovalRules)?;
    let r = get(&state.db, viewer, id).await?;
    let current = ApprovalRule::from(r.clone());
    let (approver_role, approver_ids) = match (&input.approver_role, &input.approver_ids) {
        (Some(role), None) => (Some(*role), None),
        (None, Some(ids)) => (None, Some(ids.clone())),
        (None, None) => (
            current.approver_role,
            Some(
                current
                    .approver_ids
                    .iter()
                    .map(|u| async_graphql::ID(u.to_string()))
                    .collect(),
            ),
        ),
        (Some(role), Some(ids)) => (Some(*role), Some(ids.clone())),
    };
    let merged = ApprovalRuleInput {
        name: input.name.unwrap_or(current.name),
        resource_type: current.resource_type,
        condition: input.condition.unwrap_or(current.condition),
        approver_role,
        approver_ids: approver_ids.filter(|v| !v.is_empty()),
        required_approvals: Some(
            input
                .required_approvals
                .unwrap_or(current.required_approvals),
        ),
        sla_hours: input.sla_hours.or(current.sla_hours),
        enabled: Some(input.enabled.unwrap_or(current.enabled)),
    };
    let v = validate(&state.db, viewer, &merged).await?;
    let mut a: approval_rule::ActiveModel = r.into();
    a.name = Set(v.name);
    a.condition = Set(v.condition);
    a.approver_role = Set(v.approver_role.map(|r| r.as_str().to_string()));
    a.approver_ids = Set(ids_json(&v.approver_ids));
    a.required_approvals = Set(v.required);
    a.sla_hours = Set(v.sla_hours);
    a.enabled = Set(v.enabled);
    a.updated_at = Set(Utc::now());
    Ok(a.update(&state.db).await?)
}

/// `deleteApprovalRule` (ADMIN+). Requests it created stay (their `rule` becomes null).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    viewer.require(Permission::ManageApprovalRules)?;
    let r = get(&state.db, viewer, id).await?;
    approval_rule::Entity::delete_by_id(r.id)
        .exec(&state.db)
        .await?;
    Ok(())
}

/// `toggleApprovalRule` (ADMIN+): enabled ↔ disabled.
pub async fn toggle(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<approval_rule::Model> {
    viewer.require(Permission::ManageApprovalRules)?;
    let r = get(&state.db, viewer, id).await?;
    let enabled = !r.enabled;
    let mut a: approval_rule::ActiveModel = r.into();
    a.enabled = Set(enabled);
    a.updated_at = Set(Utc::now());
    Ok(a.update(&state.db).await?)
}

/// `testApprovalRule`: a stored rule (`id`) or an unsaved one (`input`, validated like
/// `createApprovalRule`) against `sample` facts. Writes nothing.
pub async fn test(
    state: &AppState,
    viewer: &Viewer,
    id: Option<Uuid>,
    input: Option<ApprovalRuleInput>,
    sample: &Value,
) -> AppResult<ApprovalRuleTest> {
    viewer.require(Permission::ReadApprovals)?;
    if !sample.is_object() {
        return Err(AppError::invalid(
            "sample",
            "must be a JSON object of facts",
        ));
    }
    let condition = match (id, input) {
        (Some(id), None) => stored_condition(&get(&state.db, viewer, id).await?)?,
        (None, Some(input)) => {
            let v = validate(&state.db, viewer, &input).await?;
            Condition::parse(&v.condition, "input.condition")
                .map_err(|e| AppError::invalid_fields(vec![e]))?
        }
        _ => return Err(AppError::invalid("id", "give exactly one of id and input")),
    };
    let (matched, explanation) = condition.explain(sample);
    Ok(ApprovalRuleTest {
        matched,
        explanation,
    })
}

/// The first enabled rule (oldest first) of `org_id` for `resource_type` whose condition the
/// facts satisfy.
pub async fn matching(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    resource_type: ApprovalResourceType,
    facts: &Value,
) -> AppResult<Option<approval_rule::Model>> {
    let rules = approval_rule::Entity::find()
        .filter(approval_rule::Column::OrgId.eq(org_id))
        .filter(approval_rule::Column::ResourceType.eq(resource_type.as_str()))
        .filter(approval_rule::Column::Enabled.eq(true))
        .order_by_asc(approval_rule::Column::Id)
        .all(conn)
        .await?;
    for r in rules {
        if stored_condition(&r)?.matches(facts) {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// The condition of a stored rule (stored in normalized form, so it parses).
fn stored_condition(r: &approval_rule::Model) -> AppResult<Condition> {
    Condition::parse(&r.condition, "condition")
        .map_err(|e| AppError::internal(format!("stored rule {} does not parse: {e:?}", r.id)))
}
