//! Contact validation: `validateContact` / `validateContacts` (at most [`MAX_CONTACTS`]).
//!
//! One call: check the inputs (every bad field reported at once), load the named leads in one
//! statement (another organization's lead is NOT_FOUND), normalise every email, resolve each
//! distinct email domain once through the validation cache ([`cache`]), judge each address
//! ([`email::verdict`]), probe mailboxes when allowed and opted in ([`probe`]), parse phones (`platform::contact::phone_details`), fetch websites
//! through the SSRF guard ([`website`], at most [`WEBSITE_CONCURRENCY`] at once), then save the
//! email verdicts on their leads in one transaction through the leads API
//! (`leads::record_email_status`: `lead.updated` through the outbox).
//!
//! Enrichment: [`provider`] (the trait), [`hunter`], [`apollo`], [`apollo_org`] and
//! [`numverify`] (the clients; `numverify` also holds the keyless local phone provider),
//! [`providers`] (the organization's keys, sealed), [`budget`], [`breaker`] (circuit breaking
//! per provider), [`waterfall`] (one lead),
//! [`enrich`] (`enrichLead`, the history) and [`batch`] (`enrichLeads`, the job).
//!
//! Validation on write: [`on_write`] (the `lead.created`/`lead.updated` reaction and the
//! `enrichment.validate` job).
//!
//! Duplicates: [`matching`] (keys, blocks, score; pure) and [`duplicates`]
//! (`duplicateCandidates`).

pub mod apollo;
pub mod apollo_org;
pub mod batch;
pub mod breaker;
pub mod budget;
pub mod cache;
pub mod duplicates;
pub mod email;
pub mod enrich;
pub mod hunter;
pub mod matching;
pub mod numverify;
pub mod on_write;
pub mod probe;
pub mod provider;
pub mod providers;
pub mod settings;
pub mod waterfall;
pub mod website;

use std::collections::{BTreeSet, HashMap};

use async_graphql::ID;
use chrono::Utc;
use entity::lead;
use futures::StreamExt;
use sea_orm::{ColumnTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer},
    domains::{
        enrichment::types::{
            ContactInput, ContactValidation, EmailValidation, PhoneType, PhoneValidation,
        },
        leads::{self, Check},
    },
    error::{AppError, AppResult},
    platform::contact::{normalise_email, phone_details, NormalisedEmail},
    state::{AppState, Wakes},
};

/// Most contacts in one `validateContacts` call.
pub const MAX_CONTACTS: usize = 200;
/// Websites fetched at once.
pub const WEBSITE_CONCURRENCY: usize = 8;

/// Validates one contact.
pub async fn validate_contact(
    state: &AppState,
    viewer: &Viewer,
    input: ContactInput,
) -> AppResult<ContactValidation> {
    viewer.require(Permission::ValidateContacts)?;
    run(state, viewer, vec![input], |_| "input.".to_string())
        .await?
        .pop()
        .ok_or_else(|| AppError::internal("validation returned no result"))
}

/// Validates 1–[`MAX_CONTACTS`] contacts; one result per input, in order.
pub async fn validate_contacts(
    state: &AppState,
    viewer: &Viewer,
    inputs: Vec<ContactInput>,
) -> AppResult<Vec<ContactValidation>> {
    viewer.require(Permission::ValidateContacts)?;
    if inputs.is_empty() || inputs.len() > MAX_CONTACTS {
        return Err(AppError::invalid(
            "inputs",
            format!("must hold 1–{MAX_CONTACTS} items"),
        ));
    }
    run(state, viewer, inputs, |i| format!("inputs[{i}].")).await
}

/// One input, checked and completed from its lead.
struct Prepared {
    lead: Option<lead::Model>,
    email: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    country: Option<String>,
}

/// Bounds the inputs' fields; returns them with the parsed lead ids.
fn check_inputs(
    inputs: &[ContactInput],
    prefix: impl Fn(usize) -> String,
) -> AppResult<Vec<(Option<Uuid>, Prepared)>> {
    let mut out = Vec::with_capacity(inputs.len());
    let mut errors = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let mut c = Check::new(prefix(i));
        let p = Prepared {
            lead: None,
            email: c.text("email", input.email.as_deref(), 320),
            phone: c.text("phone", input.phone.as_deref(), 64),
            website: c.text("website", input.website.as_deref(), 2048),
            country: c.text("country", input.country.as_deref(), 2),
        };
        let lead_id = match &input.lead_id {
            None => None,
            // A malformed id names no lead of this organization.
            Some(id) => Some(Uuid::parse_str(id.as_str()).map_err(|_| AppError::NotFound("lead"))?),
        };
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        let nothing = blank(&input.email) && blank(&input.phone) && blank(&input.website);
        if lead_id.is_none() && nothing {
            errors.push(crate::error::FieldError {
                field: prefix(i).trim_end_matches('.').to_string(),
                message: "give an email, phone, website or leadId".into(),
            });
        }
        errors.extend(c.errors);
        out.push((lead_id, p));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    Ok(out)
}

/// Loads the named leads (one statement) and fills the fields the inputs left out.
async fn complete(
    state: &AppState,
    viewer: &Viewer,
    checked: Vec<(Option<Uuid>, Prepared)>,
) -> AppResult<Vec<Prepared>> {
    let ids: Vec<Uuid> = checked.iter().filter_map(|(id, _)| *id).collect();
    let mut found: HashMap<Uuid, lead::Model> = HashMap::new();
    if !ids.is_empty() {
        let rows = leads::scoped(viewer)
            .filter(lead::Column::Id.is_in(ids))
            .all(&state.db)
            .await?;
        found = rows.into_iter().map(|l| (l.id, l)).collect();
    }
    let mut out = Vec::with_capacity(checked.len());
    for (id, mut p) in checked {
        if let Some(id) = id {
            let l = found.get(&id).cloned().ok_or(AppError::NotFound("lead"))?;
            p.email = p.email.or_else(|| l.email.clone());
            p.phone = p.phone.or_else(|| l.phone.clone());
            p.website = p.website.or_else(|| l.website.clone());
            p.country = p.country.or_else(|| l.country.clone());
            p.lead = Some(l);
        }
        out.push(p);
    }
    Ok(out)
}

fn phone(raw: &str, country: Option<&str>) -> PhoneValidation {
    let d = phone_details(raw, country);
    PhoneValidation {
        input: raw.to_string(),
        valid: d.is_some(),
        e164: d.as_ref().map(|d| d.e164.clone()),
        kind: d.as_ref().and_then(|d| PhoneType::parse(d.kind)),
        region: d.and_then(|d| d.region),
    }
}

/// The email verdicts of `items`, each distinct domain resolved once.
async fn emails(state: &AppState, items: &[Prepared]) -> AppResult<Vec<Option<EmailValidation>>> {
    let norms: Vec<Option<Result<NormalisedEmail, &'static str>>> = items
        .iter()
        .map(|p| p.email.as_deref().map(normalise_email))
        .collect();
    let domains: BTreeSet<String> = norms
        .iter()
        .filter_map(|n| n.as_ref()?.as_ref().ok().map(|n| n.domain.clone()))
        .collect();
    let answers = cache::answers(state, domains).await?;
    let cfg = &state.config.sources;
    Ok(items
        .iter()
        .zip(norms)
        .map(|(p, n)| {
            let (raw, n) = (p.email.as_deref()?, n?);
            let domain = n.as_ref().ok().and_then(|n| answers.get(&n.domain));
            let n = n.as_ref().map_err(|e| *e);
            Some(email::verdict(
                raw,
                n,
                domain,
                &cfg.disposable_domains,
                cfg.mx_check,
            ))
        })
        .collect())
}

async fn run(
    state: &AppState,
    viewer: &Viewer,
    inputs: Vec<ContactInput>,
    prefix: impl Fn(usize) -> String,
) -> AppResult<Vec<ContactValidation>> {
    let checked = check_inputs(&inputs, prefix)?;
    let items = complete(state, viewer, checked).await?;
    let mut emails = emails(state, &items).await?;
    if let Some(probe_settings) = &state.config.sources.smtp_probe {
        if settings::probe_enabled(&state.db, state, viewer.org_id).await? {
            probe::apply(state, probe_settings, &mut emails).await;
        }
    }
    let checks: Vec<_> = items
        .iter()
        .map(|p| {
            let url = p.website.clone();
            let http = &state.http;
            async move {
                match url {
                    Some(w) => Some(website::check(http, &w).await),
                    None => None,
                }
            }
        })
        .collect();
    let websites: Vec<_> = futures::stream::iter(checks)
        .buffered(WEBSITE_CONCURRENCY)
        .collect()
        .await;
    let saved = save(state, viewer, &items, &emails).await?;
    Ok(items
        .iter()
        .zip(emails)
        .zip(websites)
        .zip(saved)
        .map(|(((p, email), website), saved_on_lead)| ContactValidation {
            email,
            phone: p.phone.as_deref().map(|r| phone(r, p.country.as_deref())),
            website,
            lead_id: p.lead.as_ref().map(|l| ID(l.id.to_string())),
            saved_on_lead,
        })
        .collect())
}

/// Saves each email verdict on its lead when it judged the lead's current email; one
/// transaction for the call.
async fn save(
    state: &AppState,
    viewer: &Viewer,
    items: &[Prepared],
    emails: &[Option<EmailValidation>],
) -> AppResult<Vec<bool>> {
    let mut saved = vec![false; items.len()];
    let targets: Vec<(usize, &lead::Model, &EmailValidation)> = items
        .iter()
        .zip(emails)
        .enumerate()
        .filter_map(|(i, (p, e))| Some((i, p.lead.as_ref()?, e.as_ref()?)))
        .filter(|(_, l, e)| {
            let current = l.email.as_deref();
            current.is_some()
                && (current == e.normalized.as_deref()
                    || current == Some(e.input.trim().to_lowercase().as_str()))
        })
        .collect();
    if targets.is_empty() {
        return Ok(saved);
    }
    let at = Utc::now();
    let txn = state.db.begin().await?;
    for (i, l, e) in targets {
        let reasons: Vec<String> = e.reasons.iter().map(|r| r.as_str().to_string()).collect();
        let address = l.email.as_deref().unwrap_or_default();
        let done = leads::record_email_status(&txn, viewer, l.id, address, e.verdict, &reasons, at)
            .await?;
        saved[i] = done.is_some();
    }
    state.commit(txn, Wakes::Events).await?;
    Ok(saved)
}
