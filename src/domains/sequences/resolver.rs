//! Sequence queries and mutations: guard, parse, call the service, map.

use async_graphql::{Context, Object, ID};

use super::{
    service::{self as sequences, enroll, stats},
    types::{
        CreateSequenceInput, EnrollInSequenceInput, EnrollmentResult, Sequence, SequenceStats,
        SequenceStatus, UpdateSequenceInput,
    },
};
use crate::{
    auth::Permission,
    error::{AppError, AppResult},
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// A sequence id argument: malformed reads as missing.
fn sequence_id(id: &ID) -> AppResult<uuid::Uuid> {
    parse_id(id).map_err(|_| AppError::NotFound("sequence"))
}

/// Sequence queries.
#[derive(Default)]
pub struct SequenceQuery;

#[Object]
impl SequenceQuery {
    /// Sequences of the organization, newest first.
    async fn sequences(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Sequence>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        sequences::list(state, viewer, args).await
    }

    /// One sequence; null when it does not exist in the viewer's organization.
    async fn sequence(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Sequence>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadSequences)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match sequences::get(&state.db, viewer, id).await {
            Ok(s) => Ok(Some(s.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Per step: sent, opened, clicked, replied and stopped by reason.
    async fn sequence_stats(&self, ctx: &Context<'_>, id: ID) -> AppResult<SequenceStats> {
        let (state, viewer) = ctx.state_and_viewer()?;
        stats::stats(state, viewer, sequence_id(&id)?).await
    }
}

/// Sequence mutations.
#[derive(Default)]
pub struct SequenceMutation;

#[Object]
impl SequenceMutation {
    /// Creates a sequence of steps (templates of the organization).
    async fn create_sequence(
        &self,
        ctx: &Context<'_>,
        input: CreateSequenceInput,
    ) -> AppResult<Sequence> {
        let (state, viewer) = ctx.state_and_viewer()?;
        Ok(sequences::create(state, viewer, input).await?.into())
    }

    /// Changes a sequence's name or steps (steps an enrollment reached: CONFLICT).
    async fn update_sequence(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateSequenceInput,
    ) -> AppResult<Sequence> {
        let (state, viewer) = ctx.state_and_viewer()?;
        Ok(sequences::update(state, viewer, sequence_id(&id)?, input)
            .await?
            .into())
    }

    /// Deletes a sequence and its enrollments; true when deleted.
    async fn delete_sequence(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        sequences::delete(state, viewer, sequence_id(&id)?).await?;
        Ok(true)
    }

    /// Pauses a sequence: nothing is sent until it resumes.
    async fn pause_sequence(&self, ctx: &Context<'_>, id: ID) -> AppResult<Sequence> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = sequence_id(&id)?;
        Ok(
            sequences::set_status(state, viewer, id, SequenceStatus::Paused)
                .await?
                .into(),
        )
    }

    /// Resumes a paused sequence; steps that fell due meanwhile go out now.
    async fn resume_sequence(&self, ctx: &Context<'_>, id: ID) -> AppResult<Sequence> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = sequence_id(&id)?;
        Ok(
            sequences::set_status(state, viewer, id, SequenceStatus::Active)
                .await?
                .into(),
        )
    }

    /// Enrolls leads (already enrolled or address-less leads are skipped).
    async fn enroll_in_sequence(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: EnrollInSequenceInput,
    ) -> AppResult<EnrollmentResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        enroll::enroll(state, viewer, sequence_id(&id)?, input).await
    }

    /// Stops the given leads' active enrollments (UNENROLLED); how many stopped.
    async fn unenroll_from_sequence(
        &self,
        ctx: &Context<'_>,
        id: ID,
        lead_ids: Vec<ID>,
    ) -> AppResult<i32> {
        let (state, viewer) = ctx.state_and_viewer()?;
        enroll::unenroll(state, viewer, sequence_id(&id)?, &lead_ids).await
    }
}
