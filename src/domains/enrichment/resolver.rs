//! Enrichment queries and mutations: guard, parse, call the service, map.

use async_graphql::{Context, Object};

use super::{
    service::{self, settings},
    types::{ContactInput, ContactValidation, EnrichmentSettings, UpdateEnrichmentSettingsInput},
};
use crate::{error::AppResult, graphql::ContextExt};

/// Enrichment queries.
#[derive(Default)]
pub struct EnrichmentQuery;

#[Object]
impl EnrichmentQuery {
    /// The organization's enrichment settings (MEMBER+).
    async fn enrichment_settings(&self, ctx: &Context<'_>) -> AppResult<EnrichmentSettings> {
        let (state, viewer) = ctx.state_and_viewer()?;
        settings::get(state, viewer).await
    }
}

/// Enrichment mutations.
#[derive(Default)]
pub struct EnrichmentMutation;

#[Object]
impl EnrichmentMutation {
    /// Validates an email, phone and website (MEMBER+): email syntax, normal form, MX, null MX,
    /// disposable domain, role account, free provider; phone E.164, type and region; website
    /// reachability, status, redirects and TLS. With `leadId` the lead's missing fields are
    /// validated and the email verdict is saved on the lead.
    async fn validate_contact(
        &self,
        ctx: &Context<'_>,
        input: ContactInput,
    ) -> AppResult<ContactValidation> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::validate_contact(state, viewer, input).await
    }

    /// `validateContact` for 1–200 contacts; one result per input, in order. Each distinct email
    /// domain is resolved once.
    async fn validate_contacts(
        &self,
        ctx: &Context<'_>,
        inputs: Vec<ContactInput>,
    ) -> AppResult<Vec<ContactValidation>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::validate_contacts(state, viewer, inputs).await
    }

    /// Changes the organization's enrichment settings (ADMIN+): the SMTP mailbox probe opt-in
    /// (effective only where the server allows it, `SMTP_PROBE_ENABLED`).
    async fn update_enrichment_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateEnrichmentSettingsInput,
    ) -> AppResult<EnrichmentSettings> {
        let (state, viewer) = ctx.state_and_viewer()?;
        settings::update(state, viewer, input).await
    }
}
