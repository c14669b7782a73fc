//! The suppression list, the organization's SMTP settings and its sending domains: queries and
//! mutations.

use async_graphql::{Context, Object, ID};

use super::{
    service::{sending_domains, smtp, suppressions},
    types::{
        SendingDomain, SmtpSettings, SmtpSettingsInput, SmtpTestResult, Suppression,
        SuppressionFilter, SuppressionReason,
    },
};
use crate::{
    domains::audit::note_ref as note,
    error::AppResult,
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// Suppression and SMTP queries.
#[derive(Default)]
pub struct OutreachSettingsQuery;

#[Object]
impl OutreachSettingsQuery {
    /// The organization's suppression list (addresses never emailed), newest first.
    async fn suppressions(
        &self,
        ctx: &Context<'_>,
        filter: Option<SuppressionFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Suppression>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        suppressions::list(state, viewer, filter.unwrap_or_default(), args).await
    }

    /// The domains the organization may send campaigns from (verified) or is verifying, newest
    /// first (VIEWER+).
    async fn sending_domains(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<SendingDomain>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        sending_domains::list(state, viewer, args).await
    }

    /// The organization's own SMTP server (ADMIN+); null = campaigns use the server default.
    async fn smtp_settings(&self, ctx: &Context<'_>) -> AppResult<Option<SmtpSettings>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        smtp::get(state, viewer).await
    }
}

/// Suppression and SMTP mutations.
#[derive(Default)]
pub struct OutreachSettingsMutation;

#[Object]
impl OutreachSettingsMutation {
    /// Puts an address on the suppression list (MEMBER+; `reason` defaults to MANUAL). An
    /// address already on it keeps its entry.
    async fn add_suppression(
        &self,
        ctx: &Context<'_>,
        email: String,
        reason: Option<SuppressionReason>,
    ) -> AppResult<Suppression> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let row = suppressions::add(state, viewer, &email, reason).await?;
        note(ctx, "suppression", row.id);
        Ok(Suppression(row))
    }

    /// Takes an address off the suppression list (ADMIN+), so campaigns may email it again.
    async fn remove_suppression(&self, ctx: &Context<'_>, email: String) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let row = suppressions::remove(state, viewer, &email).await?;
        note(ctx, "suppression", row.id);
        Ok(true)
    }

    /// Adds a domain to send campaigns from (ADMIN+). It is usable once `verifySendingDomain`
    /// finds the TXT record `txtValue` at `txtName` (or at the domain itself). CONFLICT when the
    /// organization already has it; BAD_USER_INPUT naming `domain` when it is not a domain name.
    async fn add_sending_domain(
        &self,
        ctx: &Context<'_>,
        domain: String,
    ) -> AppResult<SendingDomain> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let d = sending_domains::add(state, viewer, &domain).await?;
        note(ctx, "sending_domain", d.id);
        Ok(SendingDomain(d))
    }

    /// Looks up the domain's TXT record now (ADMIN+): `verified` when found, otherwise
    /// `lastError` says what was missing.
    async fn verify_sending_domain(&self, ctx: &Context<'_>, id: ID) -> AppResult<SendingDomain> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = parse_id(&id).map_err(|_| crate::error::AppError::NotFound("sending domain"))?;
        let d = sending_domains::verify(state, viewer, id).await?;
        note(ctx, "sending_domain", d.id);
        Ok(SendingDomain(d))
    }

    /// Removes a sending domain (ADMIN+); campaigns from it can no longer launch or resume.
    async fn remove_sending_domain(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = parse_id(&id).map_err(|_| crate::error::AppError::NotFound("sending domain"))?;
        sending_domains::remove(state, viewer, id).await?;
        note(ctx, "sending_domain", id);
        Ok(true)
    }

    /// Saves the organization's SMTP server (ADMIN+); campaign sends use it from the next run.
    /// An absent `password` keeps the saved one.
    async fn update_smtp_settings(
        &self,
        ctx: &Context<'_>,
        input: SmtpSettingsInput,
    ) -> AppResult<SmtpSettings> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let s = smtp::update(state, viewer, input).await?;
        note(ctx, "smtp_settings", viewer.org_id);
        Ok(s)
    }

    /// Removes the organization's SMTP server (ADMIN+): campaigns go back to the server default.
    async fn delete_smtp_settings(&self, ctx: &Context<'_>) -> AppResult<bool> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let done = smtp::delete(state, viewer).await?;
        note(ctx, "smtp_settings", viewer.org_id);
        Ok(done)
    }

    /// Connects with `input` (or the saved settings), says EHLO and, when `to` is given, sends a
    /// test message (ADMIN+). Connection and SMTP failures come back as `ok: false` + `error`.
    async fn test_smtp_settings(
        &self,
        ctx: &Context<'_>,
        input: Option<SmtpSettingsInput>,
        to: Option<String>,
    ) -> AppResult<SmtpTestResult> {
        let (state, viewer) = ctx.state_and_viewer()?;
        smtp::test(state, viewer, input, to).await
    }
}
