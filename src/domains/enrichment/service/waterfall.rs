//! The waterfall for one lead: for each field asked for, the organization's providers in order
//! until one fills it. Each provider is called at most once per lead and pass (its answer serves
//! every field); each call first reserves its cost from the monthly budget ([`super::budget`]),
//! and a used-up budget stops all calls. A 429 is retried after `Retry-After` (at most
//! [`MAX_RETRY_WAIT`], [`MAX_ATTEMPTS`] attempts); any other failure moves on to the next
//! provider. [`seek`] makes the calls; [`apply`] writes their history rows and the values found
//! (through `leads::record_enriched`: provenance names the provider) in the caller's
//! transaction.

use std::{
    collections::{btree_map::Entry, BTreeMap},
    time::{Duration, Instant},
};

use chrono::Utc;
use entity::{enrichment_call, lead};
use sea_orm::{ActiveValue::Set, DatabaseTransaction, EntityTrait};
use uuid::Uuid;

use super::{
    breaker::{self, BreakerSettings},
    budget,
    provider::{CallError, Found, Subject},
    providers::Ready,
};
use crate::{
    auth::Viewer,
    domains::{
        enrichment::types::{
            EnrichmentCallOutcome, EnrichmentField, EnrichmentProviderKind, FieldEnrichment,
            FieldEnrichmentStatus as Status,
        },
        leads::{self, EnrichedValue},
    },
    error::{AppError, AppResult},
    platform::backoff::{backoff, wait_before_retry},
    state::AppState,
};

/// Attempts per provider call when it answers 429.
pub const MAX_ATTEMPTS: u32 = 3;
/// Longest wait before retrying a 429, whatever `Retry-After` says.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// What the waterfall runs with: the organization's ready providers and budget.
pub struct Waterfall<'a> {
    /// The application.
    pub state: &'a AppState,
    /// The organization paying.
    pub org: Uuid,
    /// Enabled providers in order.
    pub providers: &'a [Ready],
    /// The monthly budget (`None`: no limit).
    pub limit: Option<i64>,
    /// Replace values already on the lead.
    pub overwrite: bool,
    /// The batch run making the calls, if any.
    pub run_id: Option<Uuid>,
}

/// One field's result before it is written.
#[derive(Debug, Clone)]
pub struct Sought {
    /// The field.
    pub field: EnrichmentField,
    /// How it ended (FILLED may still become CONFLICT when written).
    pub status: Status,
    /// The winner: provider, value, confidence, reference.
    pub winner: Option<(EnrichmentProviderKind, String, Option<i32>, String)>,
    /// Calls made for it.
    pub calls: i32,
}

/// A lead's waterfall: the fields, the calls to record, whether the budget ran out.
pub struct LeadPass {
    /// The lead.
    pub lead_id: Uuid,
    /// One per field asked for, in order.
    pub fields: Vec<Sought>,
    /// History rows.
    pub calls: Vec<enrichment_call::ActiveModel>,
    /// The budget ran out: no further call may be made.
    pub budget_exhausted: bool,
}

/// The circuit breaker's key of provider `p`: its kind and base URL.
fn circuit(p: &Ready) -> String {
    format!("{}|{}", p.client.kind().as_str(), p.client.base_url())
}

/// One call with its 429 retries; its outcome feeds the provider's circuit breaker.
async fn call(state: &AppState, p: &Ready, s: &Subject) -> Result<Found, String> {
    let name = p.client.kind().as_str();
    let cfg = &state.config.sources;
    let settings = BreakerSettings {
        failures: cfg.enrichment_breaker_failures,
        cooldown: cfg.enrichment_breaker_cooldown,
    };
    let mut attempt = 0;
    let (answer, up) = loop {
        attempt += 1;
        match p.client.look_up(&state.operator_http, &p.key, s).await {
            Ok(found) => break (Ok(found), true),
            Err(CallError::RateLimited(wait)) if attempt < MAX_ATTEMPTS => {
                let wait = wait.unwrap_or_else(|| backoff(attempt)).min(MAX_RETRY_WAIT);
                wait_before_retry(name, attempt, wait).await;
            }
            Err(CallError::RateLimited(_)) => {
                break (
                    Err(format!("{name} answered HTTP 429 {MAX_ATTEMPTS} times")),
                    false,
                )
            }
            Err(CallError::Unavailable(m)) => break (Err(m), false),
            Err(CallError::Failed(m)) => break (Err(m), true),
        }
    };
    breaker::record(&circuit(p), up, settings, Instant::now());
    answer
}

impl Waterfall<'_> {
    /// Runs the waterfall for `fields` of `lead`; makes the provider calls, writes nothing but
    /// the budget reservations.
    pub async fn seek(
        &self,
        lead: &lead::Model,
        fields: &[EnrichmentField],
    ) -> AppResult<LeadPass> {
        let subject = Subject::of(lead);
        let mut answers: BTreeMap<usize, Result<Found, String>> = BTreeMap::new();
        let mut pass = LeadPass {
            lead_id: lead.id,
            fields: Vec::with_capacity(fields.len()),
            calls: Vec::new(),
            budget_exhausted: false,
        };
        for &field in fields {
            let mut sought = Sought {
                field,
                status: Status::NoProvider,
                winner: None,
                calls: 0,
            };
            if !self.overwrite && leads::enrichable_value(lead, field.lead_field()).is_some() {
                sought.status = Status::AlreadyFilled;
                pass.fields.push(sought);
                continue;
            }
            for (i, p) in self.providers.iter().enumerate() {
                if !p.client.supports(field) || !p.client.can_look_up(&subject) {
                    continue;
                }
                if let Entry::Vacant(slot) = answers.entry(i) {
                    if !breaker::admit(&circuit(p), Instant::now()) {
                        // Open circuit: skipped without a call, for this whole pass.
                        slot.insert(Err(format!("{} circuit open", p.client.kind().as_str())));
                        if sought.status != Status::NotFound {
                            sought.status = Status::Failed;
                        }
                        continue;
                    }
                    if pass.budget_exhausted
                        || !budget::reserve(&self.state.db, self.org, self.limit, p.cost_cents)
                            .await?
                    {
                        pass.budget_exhausted = true;
                        sought.status = Status::BudgetExhausted;
                        break;
                    }
                    let answer = call(self.state, p, &subject).await;
                    if answer.is_err() {
                        budget::refund(&self.state.db, self.org, p.cost_cents).await?;
                    }
                    sought.calls += 1;
                    pass.calls
                        .push(self.history_row(lead.id, p, field, &answer));
                    slot.insert(answer);
                }
                match answers.get(&i) {
                    Some(Ok(found)) => match found.values.get(&field) {
                        Some((value, confidence)) => {
                            let kind = p.client.kind();
                            let reference =
                                format!("{}: {}", kind.as_str().to_lowercase(), found.reference);
                            sought.winner = Some((kind, value.clone(), *confidence, reference));
                            sought.status = Status::Filled;
                            break;
                        }
                        None => sought.status = Status::NotFound,
                    },
                    Some(Err(_)) if sought.status != Status::NotFound => {
                        sought.status = Status::Failed
                    }
                    _ => {}
                }
            }
            pass.fields.push(sought);
        }
        Ok(pass)
    }

    fn history_row(
        &self,
        lead_id: Uuid,
        p: &Ready,
        field: EnrichmentField,
        answer: &Result<Found, String>,
    ) -> enrichment_call::ActiveModel {
        let (outcome, cost, returned, detail) = match answer {
            Ok(f) => {
                let outcome = if f.values.contains_key(&field) {
                    EnrichmentCallOutcome::Found
                } else {
                    EnrichmentCallOutcome::NotFound
                };
                let returned: Vec<&str> = f.values.keys().map(|k| k.as_str()).collect();
                (outcome, p.cost_cents, returned, f.reference.clone())
            }
            Err(e) => (EnrichmentCallOutcome::Error, 0, Vec::new(), e.clone()),
        };
        enrichment_call::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(self.org),
            lead_id: Set(lead_id),
            run_id: Set(self.run_id),
            provider: Set(p.client.kind().as_str().into()),
            field: Set(field.as_str().into()),
            outcome: Set(outcome.as_str().into()),
            cost_cents: Set(cost),
            filled: Set(serde_json::json!(returned)),
            detail: Set(Some(detail.chars().take(300).collect())),
            at: Set(Utc::now()),
        }
    }
}

/// Writes `pass` inside `txn`: its history rows, then each value found on the lead (a value
/// another lead already has becomes CONFLICT; an unusable one NOT_FOUND).
pub async fn apply(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    pass: &LeadPass,
    overwrite: bool,
) -> AppResult<Vec<FieldEnrichment>> {
    if !pass.calls.is_empty() {
        enrichment_call::Entity::insert_many(pass.calls.clone())
            .exec_without_returning(txn)
            .await?;
    }
    let mut out = Vec::with_capacity(pass.fields.len());
    for s in &pass.fields {
        let mut status = s.status;
        let mut provider = None;
        if let Some((kind, value, confidence, reference)) = &s.winner {
            let v = EnrichedValue {
                field: s.field.lead_field(),
                value,
                reference: reference.clone(),
                confidence: *confidence,
                overwrite,
            };
            match leads::record_enriched(txn, viewer, pass.lead_id, v).await {
                Ok(Some(_)) => provider = Some(*kind),
                Ok(None) => status = Status::NotFound,
                Err(AppError::Conflict(_)) => status = Status::Conflict,
                Err(e) => return Err(e),
            }
        }
        out.push(FieldEnrichment {
            field: s.field,
            status,
            provider,
            calls: s.calls,
        });
    }
    Ok(out)
}
