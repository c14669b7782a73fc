//! Audit log queries.

use async_graphql::{Context, Object};

use super::{
    service,
    types::{AuditLog, AuditLogFilter},
};
use crate::{
    error::AppResult,
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
};

/// Audit queries.
#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The organization's audit log, newest first (ADMIN+).
    async fn audit_logs(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<AuditLog>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        service::list(
            state,
            viewer,
            filter.unwrap_or_default(),
            args,
            AuditLog::from,
        )
        .await
    }

    /// The matching audit rows as CSV (newest first, at most 10,000 rows; ADMIN+).
    async fn export_audit_logs(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
    ) -> AppResult<String> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::export_csv(state, viewer, filter.unwrap_or_default()).await
    }
}
