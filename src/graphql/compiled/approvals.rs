//! `approvalRequests` compiled to one statement (see `graphql::compiled::newest`): the request
//! rows of the approvals domain's own list select (`requests::service::list_select`), each
//! request's rule by primary key within its organization and its history as a plain list in
//! the resolvers' order (`HISTORY_ORDER`). Users (`requestedBy`, `assignees`, the history's
//! actors, the rule's approvers), `canAct` and the JSON fields are left to the resolvers.

use async_graphql::resolver_utils::EnumType as _;
use entity::approval_request;
use sea_orm::{DatabaseBackend, IdenStatic};

use super::{
    enum_sql,
    frame::Layout,
    leaf_object_sql,
    newest::{page_args, NewestPlan, PageJoins},
    object_sql, timestamp_sql, Sel,
};
use crate::{
    auth::{Role, Viewer},
    domains::approvals::{
        requests::{
            service::{list_select, HISTORY_ORDER},
            types::{ApprovalActionKind, ApprovalPriority, ApprovalRequestFilter, ApprovalStatus},
        },
        types::ApprovalResourceType,
    },
};

/// The request row of the root page.
const R: &str = "\"approval_requests\"";

/// Plans the root `approvalRequests` field, or `None` when the resolvers must run it.
pub fn plan_approval_requests(viewer: &Viewer, field: &Sel) -> Option<NewestPlan> {
    if !field.only_args(&["filter", "first", "after", "last", "before"]) {
        return None;
    }
    let filter: Option<ApprovalRequestFilter> =
        field.arg("filter", "ApprovalRequestFilter", false)?;
    let args = page_args(field)?;
    let select = list_select(
        DatabaseBackend::Postgres,
        viewer,
        &filter.unwrap_or_default(),
    )
    .ok()?;
    let mut joins = PageJoins::default();
    let layout = Layout::plan(
        field,
        "ApprovalRequestConnection",
        "ApprovalRequestEdge",
        |sel| object_sql(sel, "ApprovalRequest", |f| request_field(f, &mut joins)),
    )?;
    Some(NewestPlan::with_joins(
        select,
        approval_request::Column::Id,
        args,
        layout,
        &joins,
    ))
}

/// SQL for a nullable `Role` output of `expr`: the stored role when it is one, else null (as
/// the resolvers' `Role::parse`).
fn role_sql(expr: &str) -> String {
    let list = Role::items()
        .iter()
        .map(|i| format!("'{}'", i.name))
        .collect::<Vec<_>>()
        .join(", ");
    format!("CASE WHEN {expr} IN ({list}) THEN {expr} END")
}

/// The SQL of one selected `ApprovalRequest` field of the row [`R`]; a history is read for the
/// whole page at once (`joins`).
fn request_field(f: &Sel, joins: &mut PageJoins) -> Option<String> {
    let col = |c: &str| format!("{R}.\"{c}\"");
    if f.is_leaf() {
        return Some(match f.name.as_str() {
            "id" | "title" | "description" | "urgent" | "gated" => col(&f.name),
            "resourceType" => enum_sql(&col("resource_type"), ApprovalResourceType::ALL, "OTHER"),
            "resourceId" => col("resource_id"),
            "status" => enum_sql(&col("status"), ApprovalStatus::ALL, "PENDING"),
            "priority" => enum_sql(&col("priority"), ApprovalPriority::ALL, "NORMAL"),
            "requiredApprovals" => col("required_approvals"),
            "approvalCount" => col("approval_count"),
            "assigneeRole" => role_sql(&col("assignee_role")),
            "resolutionComment" => col("resolution_comment"),
            "dueAt" => timestamp_sql(&col("due_at")),
            "escalatedAt" => timestamp_sql(&col("escalated_at")),
            "resolvedAt" => timestamp_sql(&col("resolved_at")),
            "createdAt" => timestamp_sql(&col("created_at")),
            "updatedAt" => timestamp_sql(&col("updated_at")),
            // `payload` (JSON written by serde) and `canAct` (the viewer's rights in Rust) are
            // left to the resolvers.
            _ => return None,
        });
    }
    match f.name.as_str() {
        // By primary key, in the request's organization (the viewer's: the rows are scoped to
        // it), as the resolvers' page-wide `rules::by_ids`; null without one.
        "rule" if f.args.is_empty() => {
            let obj = leaf_object_sql(&f.children, "ApprovalRule", rule_column)?;
            Some(format!(
                "(SELECT {obj} FROM approval_rules lg_ar WHERE lg_ar.id = {} AND lg_ar.org_id = {})",
                col("rule_id"),
                col("org_id"),
            ))
        }
        // Every entry, in the resolvers' order (`histories_of`), of every request of the page
        // in one grouped pass (a subquery per request scanned the table once per request).
        "history" if f.args.is_empty() => {
            let obj = leaf_object_sql(&f.children, "ApprovalAction", action_column)?;
            let sql = format!(
                "SELECT lg_aa.request_id AS lg_k, \
                 array_to_json(array_agg({obj} ORDER BY lg_aa.{} ASC)) AS lg_v \
                 FROM approval_actions lg_aa JOIN lg_page \
                 ON lg_aa.request_id = lg_page.id AND lg_aa.org_id = lg_page.org_id \
                 GROUP BY lg_aa.request_id",
                HISTORY_ORDER.as_str(),
            );
            Some(joins.add(sql, "'[]'::json"))
        }
        _ => None,
    }
}

/// An `ApprovalRule` leaf of the row `lg_ar` (`condition`, JSON, is left to the resolvers).
fn rule_column(name: &str) -> Option<String> {
    Some(match name {
        "id" | "name" | "enabled" => format!("lg_ar.{name}"),
        "resourceType" => enum_sql("lg_ar.resource_type", ApprovalResourceType::ALL, "OTHER"),
        "approverRole" => role_sql("lg_ar.approver_role"),
        "requiredApprovals" => "lg_ar.required_approvals".into(),
        "slaHours" => "lg_ar.sla_hours".into(),
        "createdAt" => timestamp_sql("lg_ar.created_at"),
        "updatedAt" => timestamp_sql("lg_ar.updated_at"),
        _ => return None,
    })
}

/// An `ApprovalAction` leaf of the row `lg_aa`.
fn action_column(name: &str) -> Option<String> {
    Some(match name {
        "id" | "comment" => format!("lg_aa.{name}"),
        "requestId" => "lg_aa.request_id".into(),
        "action" => enum_sql("lg_aa.action", ApprovalActionKind::ALL, "UPDATE"),
        "at" => timestamp_sql("lg_aa.created_at"),
        _ => return None,
    })
}
