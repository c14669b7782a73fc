//! Job rules: organization scoping, cancel and retry transitions.

use chrono::Utc;
use entity::job;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, Select, TransactionTrait};
use uuid::Uuid;

use super::types::JobFilter;
use crate::{
    auth::{Permission, Viewer},
    error::{AppError, AppResult},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    jobs::{queue, JobState},
    state::AppState,
    state::Wakes,
};

/// Every job query starts here, so none can forget the organization.
fn scoped(viewer: &Viewer) -> Select<job::Entity> {
    job::Entity::find().filter(job::Column::OrgId.eq(viewer.org_id))
}

/// One job of the viewer's organization.
pub async fn get(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<Option<job::Model>> {
    viewer.require(Permission::ReadJobs)?;
    Ok(scoped(viewer)
        .filter(job::Column::Id.eq(id))
        .one(&state.db)
        .await?)
}

/// A page of jobs, newest first.
pub async fn list<N: async_graphql::OutputType>(
    state: &AppState,
    viewer: &Viewer,
    filter: JobFilter,
    args: PageArgs,
    to_node: impl Fn(job::Model) -> N,
) -> AppResult<IdConnection<N>> {
    viewer.require(Permission::ReadJobs)?;
    let mut q = scoped(viewer);
    if let Some(states) = filter.states.filter(|s| !s.is_empty()) {
        q = q.filter(job::Column::State.is_in(states.iter().map(|s| s.as_str())));
    }
    if let Some(kind) = filter.kind {
        q = q.filter(job::Column::Kind.eq(kind));
    }
    page_by_id_desc(&state.db, q, job::Column::Id, &args, |m| m.id, to_node).await
}

/// Cancels a queued or running job. A running handler notices at its next heartbeat.
pub async fn cancel(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<job::Model> {
    viewer.require(Permission::ManageJobs)?;
    transition(
        state,
        viewer,
        id,
        &[JobState::Queued, JobState::Running],
        JobState::Cancelled,
    )
    .await
}

/// Puts a failed or cancelled job back in the queue with a fresh attempt budget.
pub async fn retry(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<job::Model> {
    viewer.require(Permission::ManageJobs)?;
    let job = transition(
        state,
        viewer,
        id,
        &[JobState::Failed, JobState::Cancelled],
        JobState::Queued,
    )
    .await?;
    state.job_notify.notify_waiters();
    Ok(job)
}

async fn transition(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    from: &[JobState],
    to: JobState,
) -> AppResult<job::Model> {
    let txn = state.db.begin().await?;
    let current = scoped(viewer)
        .filter(job::Column::Id.eq(id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("job"))?;
    let now = Utc::now();
    let mut update = job::Entity::update_many()
        .col_expr(job::Column::State, Expr::value(to.as_str()))
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .col_expr(job::Column::LeaseUntilMs, Expr::value(Option::<i64>::None))
        .col_expr(job::Column::LockedBy, Expr::value(Option::<String>::None));
    update = if to == JobState::Queued {
        update
            .col_expr(job::Column::Attempts, Expr::value(0))
            .col_expr(job::Column::RunAtMs, Expr::value(queue::now_ms()))
            .col_expr(
                job::Column::FinishedAt,
                Expr::value(Option::<chrono::DateTime<Utc>>::None),
            )
    } else {
        update.col_expr(job::Column::FinishedAt, Expr::value(now))
    };
    // Guarded on the state read above, so a concurrent transition cannot be overwritten.
    let res = update
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::State.is_in(from.iter().map(|s| s.as_str())))
        .exec(&txn)
        .await?;
    if res.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "job is {}; this action needs it to be {}",
            current.state,
            from.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    let fresh = job::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("job"))?;
    queue::record_job_event(&txn, &fresh).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(fresh)
}
