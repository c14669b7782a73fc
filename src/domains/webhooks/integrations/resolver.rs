//! Integration queries and mutations: guard, parse, call the service, map.

use async_graphql::{Context, Object, ID};
use uuid::Uuid;

use super::{
    service::{probe, slack, status, store},
    types::{
        ConfigureN8nInput, CreateSlackIntegrationInput, Integration, IntegrationStatus,
        IntegrationTestResult, SendSlackMessageInput, SlackMessageResult,
    },
};
use crate::{
    domains::audit::note_ref as note,
    error::{AppError, AppResult},
    graphql::ContextExt,
    ids::parse_id,
};

/// An integration id, or NOT_FOUND.
fn integration_id(id: &ID) -> AppResult<Uuid> {
    parse_id(id).map_err(|_| AppError::NotFound("integration"))
}

/// Integration queries.
#[derive(Default)]
pub struct IntegrationQuery;

#[Object]
impl IntegrationQuery {
    /// Every integration of the organization with `configured`, `lastSuccessAt` and
    /// `lastError`: SMTP, n8n, each Slack webhook, outgoing webhooks (ADMIN+). Credentials are
    /// never shown.
    async fn integrations(&self, ctx: &Context<'_>) -> AppResult<Vec<IntegrationStatus>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        status::list(state, viewer).await
    }
}

/// Integration mutations.
#[derive(Default)]
pub struct IntegrationMutation;

#[Object]
impl IntegrationMutation {
    /// Stores (or replaces) the organization's n8n connection (ADMIN+); the API key is sealed
    /// and never returned.
    #[graphql(name = "configureN8n")]
    async fn configure_n8n(
        &self,
        ctx: &Context<'_>,
        input: ConfigureN8nInput,
    ) -> AppResult<Integration> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let row = store::configure_n8n(state, viewer, input).await?;
        note(ctx, "integration", row.id);
        Ok(Integration(row))
    }

    /// Adds a Slack incoming webhook (ADMIN+); its URL is sealed and never returned.
    async fn create_slack_integration(
        &self,
        ctx: &Context<'_>,
        input: CreateSlackIntegrationInput,
    ) -> AppResult<Integration> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let row = store::create_slack(state, viewer, input).await?;
        note(ctx, "integration", row.id);
        Ok(Integration(row))
    }

    /// Deletes an integration (ADMIN+).
    async fn delete_integration(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = integration_id(&id)?;
        let done = store::delete(state, viewer, id).await?;
        note(ctx, "integration", id);
        Ok(done)
    }

    /// Tests an integration with one harmless live call (ADMIN+): n8n lists one workflow,
    /// Slack gets a test message. Records `lastTestedAt` and the outcome; a failure is
    /// `ok: false` with the error, never showing the credential.
    async fn test_integration(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> AppResult<IntegrationTestResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = integration_id(&id)?;
        let r = probe::run(state, viewer, id).await?;
        note(ctx, "integration", id);
        Ok(r)
    }

    /// Posts a message through a Slack integration (MEMBER+). Slack's refusals are errors
    /// naming its code (`invalid_payload` is BAD_USER_INPUT on `input.blocks`).
    async fn send_slack_message(
        &self,
        ctx: &Context<'_>,
        input: SendSlackMessageInput,
    ) -> AppResult<SlackMessageResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = integration_id(&input.integration_id)?;
        let r = slack::send(state, viewer, id, input).await?;
        note(ctx, "integration", id);
        Ok(r)
    }
}
