//! Enrichment: contact validation, the deliverability verdict on leads, and filling lead fields
//! from paid providers (Hunter, Apollo, Numverify) through a waterfall, one lead or in durable batches.
//!
//! **Owns** the `validation_cache`, `enrichment_settings`, `enrichment_providers`,
//! `enrichment_calls`, `enrichment_usage`, `enrichment_runs` and `enrichment_run_items` tables;
//! the `validateContact` / `validateContacts` mutations (MEMBER+, `Permission::ValidateContacts`),
//! the `enrichmentSettings` / `updateEnrichmentSettings` pair (ADMIN+ to change; it holds the
//! monthly budget), `enrichmentProviders` / `configureEnrichmentProvider` /
//! `removeEnrichmentProvider` (ADMIN+ to change), and `enrichLead`, `enrichLeads`,
//! `enrichmentRun`, `enrichmentHistory` (MEMBER+, `Permission::EnrichLeads`). Leads own the
//! columns enrichment writes (`Lead.emailStatus`, `Lead.validatedAt`, and the enriched fields
//! with their provenance); enrichment writes them through the leads API
//! (`leads::record_email_status`, `leads::record_enriched`), so it sits after the domains it
//! reads (leads, and the shared checks in `platform::contact` and `platform::mx`).
//!
//! **Validation rules** (`service/`):
//! - email: syntax (RFC 5322, IDN domains to ASCII) and the normalised form; the domain's MX
//!   answer (MX, implicit MX, null MX per RFC 7505, no MX, NXDOMAIN); disposable domain (the
//!   shipped list plus `DISPOSABLE_DOMAINS_FILE`), role account, no-reply, free provider. The
//!   verdict is DELIVERABLE, RISKY, UNDELIVERABLE or UNKNOWN with its reasons (table in
//!   `service/email.rs`).
//! - mailbox probe (`service/probe.rs`, `platform::smtp_probe`): only where the server allows it
//!   (`SMTP_PROBE_ENABLED`) and the organization opted in; one `RCPT TO` conversation per domain
//!   (never `DATA`), rate-limited per domain; a random address first tells a catch-all domain.
//! - phone: E.164, line type and region (`phonenumber`); website: one GET through the
//!   SSRF-guarded client (status, redirects, TLS), body unread.
//! - cache: each email domain's answer is stored in `validation_cache` for
//!   `VALIDATION_CACHE_TTL_SECS` (unknown answers 5 minutes), shared by every instance.
//!
//! **Enrichment rules**:
//! - providers implement `service::provider::EnrichmentProvider` with real HTTP clients for the
//!   documented APIs (Hunter v2 email finder, Apollo people match, Apollo organization
//!   enrichment by domain for company, website and industry, Numverify phone validation for
//!   the phone's type, carrier and country) over `operator_http` (`HUNTER_BASE_URL`,
//!   `APOLLO_BASE_URL`, `NUMVERIFY_BASE_URL`). Keys are per organization, sealed with
//!   `SECRETS_KEY` (`rotate-secrets` re-seals them); no query returns them. `LOCAL` has no key
//!   and makes no call: the phone's type and country from the numbering plan (`phonenumber`).
//! - the waterfall (`service/waterfall.rs`): per field, the enabled providers in the
//!   organization's order until one fills it; each provider called at most once per lead and
//!   pass; every call recorded in `enrichment_calls` (provider, field, outcome, cost); the
//!   winner written as the field's provenance (`enrichment`, `<provider>: <reference>`); manual
//!   values win unless `overwrite`. A 429 is retried after `Retry-After` (capped); other errors
//!   move on to the next provider.
//! - circuit breaking (`service/breaker.rs`): per provider endpoint and per instance (process
//!   memory, not shared between instances), `ENRICHMENT_BREAKER_FAILURES` (5) consecutive
//!   failures (5xx, timeouts, 429 after its retries) open the circuit for
//!   `ENRICHMENT_BREAKER_COOLDOWN_MS` (60000): the provider is skipped without a call or a
//!   charge; then one trial call (half-open) closes it or opens it again.
//! - the budget (`service/budget.rs`): each call reserves its cost from the month's budget
//!   first (one conditional `UPDATE`); a used-up budget stops every call (BUDGET_EXHAUSTED).
//! - batches (`service/batch.rs`): `enrichLeads` fixes the leads and enqueues `enrichment.run`;
//!   the job commits each lead's results with its `enrichment_run_items`, so a crashed run
//!   resumes without repeating a call for a finished lead × field.
//!
//! **Duplicates** (`service/matching.rs`, `service/duplicates.rs`): `duplicateCandidates`
//! (VIEWER+, `Permission::ReadLeads`) pairs the organization's leads that share a blocking key
//! (normalised email, non-webmail email domain, website host, normalised company, phone digits),
//! compares each block's members with their nearest neighbours by name only (never all pairs),
//! and scores the same email or phone, alike names (Jaro-Winkler), the same company with a shared
//! domain and the same website; each pair with its score and reasons feeds `mergeLeads`. The
//! same in-process blocking on both backends (no `pg_trgm`).
//!
//! **Reacts to** `lead.created` and `lead.updated` naming `email` (`service/on_write.rs`,
//! registered as `enrichment.validate_on_write`): when the organization's `validateOnWrite` is
//! on, it enqueues an `enrichment.validate` job in the writer's transaction, so every lead path
//! (manual, import, API, incoming webhook, scrape) validates on write; the job saves the
//! verdict like `validateContact` (skipping a lead whose email changed since). The setting is
//! cached per instance (`settings::validates_on_write`, 30 s, forgotten at once by
//! `updateEnrichmentSettings` on its instance), so with it off a created lead costs no statement.
//! Outreach reads the verdict from the lead without naming enrichment:
//! the send gate (`leads::send_gate_reason`) suppresses UNDELIVERABLE recipients with the
//! verdict's reasons and, when the campaign sets `requireValidatedRecipients`, the recipients
//! whose address was never validated (they are skipped, not validated on the fly: validation is
//! a MEMBER's explicit act or the organization's `validateOnWrite`, and a send job must not
//! wait on DNS or probes); the approval preview
//! counts them (`skippedRecipientCount`).
//!
//! **Events**: `enrichment.progress` (a batch run's status and counters: when queued, started,
//! every 10 leads, finished); saving a verdict or an enriched value records `lead.updated`
//! through the outbox in the same transaction.

pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::{EnrichmentMutation, EnrichmentQuery};
pub use service::{
    batch::{EnrichLeadsJob, KIND as RUN_KIND},
    on_write::{ValidateLeadJob, ValidateOnWrite, KIND as VALIDATE_KIND},
    providers::key_context,
    validate_contact, validate_contacts, MAX_CONTACTS,
};

/// Registers validation on write in the event-handler registry; called once per start-up.
pub fn register() {
    crate::events::handlers::register("enrichment.validate_on_write", ValidateOnWrite);
}
