//! `workflowStats`: counts per status, success rate and mean duration of the executions
//! started in a range — one aggregate statement (index (org, started_at)).

use entity::workflow_execution as we;
use sea_orm::{
    sea_query::Expr, ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use super::registry::get;
use crate::{
    auth::{Permission, Viewer},
    domains::insight::Range,
    domains::webhooks::workflows::types::WorkflowStats,
    error::AppResult,
    state::AppState,
};

#[derive(FromQueryResult)]
struct Row {
    total: i64,
    running: i64,
    succeeded: i64,
    failed: i64,
    mean: Option<f64>,
}

fn count_of(status: &str) -> Expr {
    Expr::cust(format!(
        "COALESCE(SUM(CASE WHEN status = '{status}' THEN 1 ELSE 0 END), 0)"
    ))
}

/// The organization's (or one workflow's) execution stats over `range` (MEMBER+).
pub async fn stats(
    state: &AppState,
    viewer: &Viewer,
    range: Range,
    workflow_id: Option<Uuid>,
) -> AppResult<WorkflowStats> {
    viewer.require(Permission::RunWorkflows)?;
    let mut q = we::Entity::find()
        .select_only()
        .expr_as(Expr::cust("COUNT(*)"), "total")
        .expr_as(count_of("RUNNING"), "running")
        .expr_as(count_of("SUCCEEDED"), "succeeded")
        .expr_as(count_of("FAILED"), "failed")
        .expr_as(
            Expr::cust("CAST(AVG(duration_ms) AS DOUBLE PRECISION)"),
            "mean",
        )
        .filter(we::Column::OrgId.eq(viewer.org_id))
        .filter(we::Column::StartedAt.gte(range.from))
        .filter(we::Column::StartedAt.lt(range.to));
    if let Some(id) = workflow_id {
        // NOT_FOUND for another organization's workflow, like every other read.
        let w = get(&state.db, viewer, id).await?;
        q = q.filter(we::Column::WorkflowId.eq(w.id));
    }
    let r = q.into_model::<Row>().one(&state.db).await?;
    let r = r.unwrap_or(Row {
        total: 0,
        running: 0,
        succeeded: 0,
        failed: 0,
        mean: None,
    });
    let finished = r.succeeded + r.failed;
    Ok(WorkflowStats {
        from: range.from,
        to: range.to,
        total: r.total,
        running: r.running,
        succeeded: r.succeeded,
        failed: r.failed,
        success_rate: (finished > 0).then(|| r.succeeded as f64 / finished as f64),
        mean_duration_ms: r.mean,
    })
}
