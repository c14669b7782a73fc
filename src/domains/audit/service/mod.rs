//! Reading the audit log (ADMIN+): filtered pages and CSV export.

pub mod trail;

use entity::audit_log;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select};

use super::types::AuditLogFilter;
use crate::{
    auth::{Permission, Viewer},
    error::{AppError, AppResult},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    ids::parse_id,
    state::AppState,
};

/// Most rows one export returns.
pub const EXPORT_LIMIT: u64 = 10_000;

fn filtered(viewer: &Viewer, f: &AuditLogFilter) -> AppResult<Select<audit_log::Entity>> {
    let mut q = audit_log::Entity::find().filter(audit_log::Column::OrgId.eq(viewer.org_id));
    if let Some(a) = &f.action {
        q = q.filter(audit_log::Column::Action.eq(a.as_str()));
    }
    if let Some(id) = &f.actor_user_id {
        let id = parse_id(id).map_err(|_| AppError::invalid("filter.actorUserId", "not an id"))?;
        q = q.filter(audit_log::Column::ActorUserId.eq(id));
    }
    if let Some(t) = &f.resource_type {
        q = q.filter(audit_log::Column::ResourceType.eq(t.as_str()));
    }
    if let Some(r) = &f.resource_id {
        q = q.filter(audit_log::Column::ResourceId.eq(r.as_str()));
    }
    if let Some(o) = &f.outcome {
        q = q.filter(audit_log::Column::Outcome.eq(o.as_str()));
    }
    if let Some(t) = f.created_after {
        q = q.filter(audit_log::Column::CreatedAt.gte(t));
    }
    if let Some(t) = f.created_before {
        q = q.filter(audit_log::Column::CreatedAt.lt(t));
    }
    Ok(q)
}

/// The rows `auditLogs(filter)` lists (permission, organization, filter), before paging: the
/// one definition the resolvers and the compiled read path (`graphql::compiled::flat`) page
/// newest first by id.
pub fn list_select(
    viewer: &Viewer,
    filter: &AuditLogFilter,
) -> AppResult<Select<audit_log::Entity>> {
    viewer.require(Permission::ReadAuditLogs)?;
    filtered(viewer, filter)
}

/// A page, newest first.
pub async fn list<N: async_graphql::OutputType>(
    state: &AppState,
    viewer: &Viewer,
    filter: AuditLogFilter,
    args: PageArgs,
    to_node: impl Fn(audit_log::Model) -> N,
) -> AppResult<IdConnection<N>> {
    let q = list_select(viewer, &filter)?;
    page_by_id_desc(
        &state.db,
        q,
        audit_log::Column::Id,
        &args,
        |m| m.id,
        to_node,
    )
    .await
}

/// A CSV cell that a spreadsheet will not evaluate: cells starting with `=`, `+`, `-`, `@`, tab
/// or carriage return get a leading apostrophe (OWASP, CSV injection). User agents, request ids
/// and forwarded addresses are chosen by clients.
pub fn formula_safe(s: String) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s,
    }
}

/// CSV of the matching rows, newest first, at most [`EXPORT_LIMIT`] (every cell through
/// [`formula_safe`]).
pub async fn export_csv(
    state: &AppState,
    viewer: &Viewer,
    filter: AuditLogFilter,
) -> AppResult<String> {
    viewer.require(Permission::ReadAuditLogs)?;
    let rows = filtered(viewer, &filter)?
        .order_by_desc(audit_log::Column::Id)
        .limit(EXPORT_LIMIT)
        .all(&state.db)
        .await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let id = |o: Option<uuid::Uuid>| o.map(|u| u.to_string()).unwrap_or_default();
    w.write_record([
        "id",
        "created_at",
        "action",
        "outcome",
        "actor_user_id",
        "actor_api_key_id",
        "resource_type",
        "resource_id",
        "ip",
        "user_agent",
        "request_id",
        "changes",
    ])
    .map_err(AppError::internal)?;
    for r in rows {
        w.write_record(
            [
                r.id.to_string(),
                r.created_at.to_rfc3339(),
                r.action,
                r.outcome,
                id(r.actor_user_id),
                id(r.actor_api_key_id),
                opt(&r.resource_type),
                opt(&r.resource_id),
                opt(&r.ip),
                opt(&r.user_agent),
                opt(&r.request_id),
                r.changes.map(|c| c.to_string()).unwrap_or_default(),
            ]
            .map(formula_safe),
        )
        .map_err(AppError::internal)?;
    }
    let bytes = w.into_inner().map_err(AppError::internal)?;
    String::from_utf8(bytes).map_err(AppError::internal)
}
