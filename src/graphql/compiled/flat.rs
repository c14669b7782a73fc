//! The flat newest-first roots compiled to one statement (see `graphql::compiled::newest`):
//! `notifications` and `auditLogs`, lists of one table each, from their domains' own list
//! selects.

use entity::{audit_log, notification};

use super::{
    enum_sql,
    frame::Layout,
    leaf_object_sql,
    newest::{page_args, NewestPlan},
    timestamp_sql, Sel,
};
use crate::{
    auth::Viewer,
    domains::{
        audit::{service::list_select as audit_select, types::AuditLogFilter},
        notifications::{service::list_select as notifications_select, types::NotificationType},
    },
};

/// Plans the root `notifications` field, or `None` when the resolvers must run it.
pub fn plan_notifications(viewer: &Viewer, field: &Sel) -> Option<NewestPlan> {
    if !field.only_args(&["unreadOnly", "first", "after", "last", "before"]) {
        return None;
    }
    let unread: Option<bool> = field.arg("unreadOnly", "Boolean", true)?;
    let args = page_args(field)?;
    let select = notifications_select(viewer, unread.unwrap_or(false)).ok()?;
    let layout = Layout::plan(field, "NotificationConnection", "NotificationEdge", |sel| {
        let col = |c: &str| format!("\"notifications\".\"{c}\"");
        leaf_object_sql(sel, "Notification", |name| {
            Some(match name {
                "id" | "title" | "body" | "link" => col(name),
                "type" => enum_sql(&col("type"), NotificationType::ALL, "ANNOUNCEMENT"),
                "resourceType" => col("resource_type"),
                "resourceId" => col("resource_id"),
                "read" => format!("({} IS NOT NULL)", col("read_at")),
                "readAt" => timestamp_sql(&col("read_at")),
                "createdAt" => timestamp_sql(&col("created_at")),
                _ => return None,
            })
        })
    })?;
    Some(NewestPlan::new(
        select,
        notification::Column::Id,
        args,
        layout,
    ))
}

/// Plans the root `auditLogs` field, or `None` when the resolvers must run it.
pub fn plan_audit_logs(viewer: &Viewer, field: &Sel) -> Option<NewestPlan> {
    if !field.only_args(&["filter", "first", "after", "last", "before"]) {
        return None;
    }
    let filter: Option<AuditLogFilter> = field.arg("filter", "AuditLogFilter", false)?;
    let args = page_args(field)?;
    let select = audit_select(viewer, &filter.unwrap_or_default()).ok()?;
    let layout = Layout::plan(field, "AuditLogConnection", "AuditLogEdge", |sel| {
        let col = |c: &str| format!("\"audit_logs\".\"{c}\"");
        leaf_object_sql(sel, "AuditLog", |name| {
            Some(match name {
                "id" | "action" | "outcome" | "ip" => col(name),
                "actorUserId" => col("actor_user_id"),
                "actorApiKeyId" => col("actor_api_key_id"),
                "resourceType" => col("resource_type"),
                "resourceId" => col("resource_id"),
                "userAgent" => col("user_agent"),
                "requestId" => col("request_id"),
                "createdAt" => timestamp_sql(&col("created_at")),
                // `changes` (JSON written by serde in the resolvers) is left to them.
                _ => return None,
            })
        })
    })?;
    Some(NewestPlan::new(select, audit_log::Column::Id, args, layout))
}
