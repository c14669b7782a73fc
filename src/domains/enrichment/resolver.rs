//! Enrichment queries and mutations: guard, parse, call the service, map.

use async_graphql::{Context, Object, ID};

use super::{
    service::{self, batch, duplicates, enrich, providers, settings},
    types::{
        ConfigureEnrichmentProviderInput, ContactInput, ContactValidation,
        DuplicateCandidateConnection, EnrichLeadInput, EnrichLeadPayload, EnrichLeadsInput,
        EnrichmentCall, EnrichmentProviderConfig, EnrichmentProviderKind, EnrichmentRun,
        EnrichmentSettings, UpdateEnrichmentSettingsInput,
    },
};
use crate::{
    error::{AppError, AppResult},
    graphql::{
        pagination::{IdConnection, KeysetArgs, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

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

    /// The organization's enrichment providers in waterfall order (MEMBER+). Keys never come
    /// back; `keyConfigured` says whether one is stored.
    async fn enrichment_providers(
        &self,
        ctx: &Context<'_>,
    ) -> AppResult<Vec<EnrichmentProviderConfig>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        providers::list(state, viewer).await
    }

    /// A batch enrichment run (MEMBER+).
    async fn enrichment_run(&self, ctx: &Context<'_>, id: ID) -> AppResult<EnrichmentRun> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = parse_id(&id).map_err(|_| AppError::NotFound("enrichment run"))?;
        batch::get(state, viewer, id).await
    }

    /// A lead's enrichment provider calls, newest first (MEMBER+).
    async fn enrichment_history(
        &self,
        ctx: &Context<'_>,
        lead_id: ID,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<EnrichmentCall>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = parse_id(&lead_id).map_err(|_| AppError::NotFound("lead"))?;
        let args = PageArgs::new(first, after, last, before)?;
        enrich::history(state, viewer, id, args).await
    }

    /// Likely duplicate pairs (VIEWER+), best first: the same email or phone, alike person
    /// names, the same normalised company with a shared domain, the same website; each with a
    /// score (0.6–1) and its reasons, for `mergeLeads`. With `leadId`, that lead's pairs only.
    async fn duplicate_candidates(
        &self,
        ctx: &Context<'_>,
        lead_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<DuplicateCandidateConnection> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = lead_id
            .map(|id| parse_id(&id).map_err(|_| AppError::NotFound("lead")))
            .transpose()?;
        let args = KeysetArgs::new(first, after, last, before)?;
        duplicates::candidates(state, viewer, id, args).await
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
    /// (effective only where the server allows it, `SMTP_PROBE_ENABLED`) and the monthly
    /// enrichment budget.
    async fn update_enrichment_settings(
        &self,
        ctx: &Context<'_>,
        input: UpdateEnrichmentSettingsInput,
    ) -> AppResult<EnrichmentSettings> {
        let (state, viewer) = ctx.state_and_viewer()?;
        settings::update(state, viewer, input).await
    }

    /// Adds or changes an enrichment provider (ADMIN+): its API key (sealed; never returned),
    /// place in the waterfall and cost per call.
    async fn configure_enrichment_provider(
        &self,
        ctx: &Context<'_>,
        input: ConfigureEnrichmentProviderInput,
    ) -> AppResult<EnrichmentProviderConfig> {
        let (state, viewer) = ctx.state_and_viewer()?;
        providers::configure(state, viewer, input).await
    }

    /// Removes an enrichment provider and its key (ADMIN+); false when it was not configured.
    async fn remove_enrichment_provider(
        &self,
        ctx: &Context<'_>,
        provider: EnrichmentProviderKind,
    ) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        providers::remove(state, viewer, provider).await
    }

    /// Enriches one lead now (MEMBER+): for each field, the providers in order until one fills
    /// it; every call is in `enrichmentHistory` and charged to the monthly budget.
    async fn enrich_lead(
        &self,
        ctx: &Context<'_>,
        input: EnrichLeadInput,
    ) -> AppResult<EnrichLeadPayload> {
        let (state, viewer) = ctx.state_and_viewer()?;
        enrich::enrich_lead(state, viewer, input).await
    }

    /// Enriches up to 10000 leads in a durable background run (MEMBER+); progress on the
    /// event stream (`enrichment.progress`).
    async fn enrich_leads(
        &self,
        ctx: &Context<'_>,
        input: EnrichLeadsInput,
    ) -> AppResult<EnrichmentRun> {
        let (state, viewer) = ctx.state_and_viewer()?;
        batch::enrich_leads(state, viewer, input).await
    }
}
