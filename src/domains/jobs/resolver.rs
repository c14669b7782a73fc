//! Job queries and mutations: guard, parse, call the service, map.

use async_graphql::{Context, Object, ID};

use super::{
    service,
    types::{Job, JobFilter},
};
use crate::{
    domains::audit,
    error::AppResult,
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// Job queries.
#[derive(Default)]
pub struct JobQuery;

#[Object]
impl JobQuery {
    /// A background job of the viewer's organization; null when it does not exist there.
    async fn job(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Job>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let Some(id) = parse_id(&id).ok() else {
            return Ok(None);
        };
        Ok(service::get(state, viewer, id).await?.map(Job::from))
    }

    /// Background jobs of the viewer's organization, newest first.
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        filter: Option<JobFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Job>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        service::list(state, viewer, filter.unwrap_or_default(), args, Job::from).await
    }
}

/// Job mutations.
#[derive(Default)]
pub struct JobMutation;

#[Object]
impl JobMutation {
    /// Cancels a queued or running job (MANAGER+). CONFLICT when it already finished.
    async fn cancel_job(&self, ctx: &Context<'_>, id: ID) -> AppResult<Job> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let job = service::cancel(state, viewer, parse_id(&id)?).await?;
        audit::note_ref(ctx, "job", job.id);
        Ok(job.into())
    }

    /// Re-queues a failed or cancelled job with a fresh attempt budget (MANAGER+).
    async fn retry_job(&self, ctx: &Context<'_>, id: ID) -> AppResult<Job> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let job = service::retry(state, viewer, parse_id(&id)?).await?;
        audit::note_ref(ctx, "job", job.id);
        Ok(job.into())
    }
}
