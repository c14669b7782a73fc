//! Enrichment: contact validation and the deliverability verdict on leads.
//!
//! **Owns** the `validation_cache` and `enrichment_settings` tables, the `validateContact` /
//! `validateContacts` mutations (MEMBER+, `Permission::ValidateContacts`) and the
//! `enrichmentSettings` / `updateEnrichmentSettings` pair (ADMIN+ to change). Leads own the verdict's columns
//! (`Lead.emailStatus`, `Lead.validatedAt`); enrichment writes them through the leads API
//! (`leads::record_email_status`), so it sits after the domains it reads (leads, and the
//! shared checks in `platform::contact` and `platform::mx`, which scraping uses too).
//!
//! **Rules** (`service/`):
//! - email: syntax (RFC 5322, IDN domains to ASCII) and the normalised form; the domain's MX
//!   answer (MX, implicit MX, null MX per RFC 7505, no MX, NXDOMAIN); disposable domain (the
//!   shipped list plus `DISPOSABLE_DOMAINS_FILE`), role account, no-reply, free provider. The
//!   verdict is DELIVERABLE, RISKY, UNDELIVERABLE or UNKNOWN with its reasons (table in
//!   `service/email.rs`).
//! - mailbox probe (`service/probe.rs`, `platform::smtp_probe`): only where the server allows it
//!   (`SMTP_PROBE_ENABLED`) and the organization opted in; one `RCPT TO` conversation per domain
//!   (never `DATA`), rate-limited per domain; a random address first tells a catch-all domain.
//! - phone: E.164, line type and region (`phonenumber`).
//! - website: one GET through the SSRF-guarded client (status, redirects, TLS), body unread.
//! - cache: each email domain's answer is stored in `validation_cache` for
//!   `VALIDATION_CACHE_TTL_SECS` (unknown answers 5 minutes), shared by every instance; a batch
//!   reads its domains in one statement and resolves each missing one once.
//!
//! **Reacts to** nothing; outreach reads the verdict from the lead (the send gate suppresses
//! UNDELIVERABLE recipients) without naming enrichment.
//!
//! **Events**: none of its own; saving a verdict records `lead.updated` (fields `emailStatus`,
//! `validatedAt`) through the outbox in the same transaction.

pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::{EnrichmentMutation, EnrichmentQuery};
pub use service::{validate_contact, validate_contacts, MAX_CONTACTS};
