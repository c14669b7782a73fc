//! Outreach: email templates, campaigns with an approval gate at launch, exactly-once SMTP
//! delivery through the `campaign.send` job, tracking (open pixel, click redirects, unsubscribe
//! with RFC 8058 one-click), provider and inbound-email webhooks (bounces, complaints,
//! replies), the suppression list and statistics.
//!
//! Tables: `email_templates`, `campaigns` (settings, status, `variants` JSON, `content` = the
//! template frozen at launch/resume, `job_id` = the send job currently responsible, `ab_test`,
//! `ab_winner`), `campaign_recipients` (one row per lead per campaign, unique
//! `(campaign_id, lead_id)`, the address as it was when added, status, attempts, first event
//! times, counts, unique derived `message_id`; `lead_id` is set NULL when the lead is deleted so
//! statistics stay), `email_events`, `email_suppressions` (unique `(org_id, lowercase email)`),
//! `sending_domains`, `smtp_settings`, `webhook_receipts`. Roles: `ReadOutreach` (VIEWER),
//! `WriteOutreach` (MEMBER: templates, campaigns, recipients, test sends, the lifecycle),
//! `DeleteOutreach` (MANAGER). Everything is scoped by organization; another organization's
//! template, campaign or lead reads as missing.
//!
//! Sub-domains, low → high (a sub-domain imports lower ones only through their `mod.rs` API):
//! 1. [`types`] — the status enums every sub-domain shares;
//! 2. [`templates`] — template CRUD, rendering (sandboxed minijinja), test sends;
//! 3. [`settings`] — SMTP settings and the transport, sending domains, the suppression list;
//! 4. [`tracking`] — tokens, open/click/unsubscribe endpoints, provider webhooks, inbound
//!    email, [`tracking::record`], per-campaign event lists;
//! 5. [`campaigns`] — campaigns, recipients, lifecycle and approval gate, A/B, statistics,
//!    `campaignEvents`;
//! 6. [`delivery`] — the `campaign.send` job and message building.
//!
//! Outreach sits above approvals in the domain order and imports only lower domains.

pub mod campaigns;
pub mod delivery;
mod resolver;
pub mod service;
pub mod settings;
pub mod templates;
pub mod tracking;
pub mod types;

pub use resolver::{OutreachMutation, OutreachQuery, OutreachSubscription};

/// Registers outreach's start-up handlers: the CAMPAIGN approval subject and the notification
/// rules.
pub fn register() {
    service::approval_subject::register();
    service::notify::register();
}

/// Contributes `Lead.campaigns` to the leads domain (`graphql::slot`); called before any
/// schema is built.
pub fn register_lead_fields() {
    service::lead_fields::register();
}
