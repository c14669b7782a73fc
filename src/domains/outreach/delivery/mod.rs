//! Delivery: the `campaign.send` job (20 attempts) that sends a campaign run exactly once per
//! recipient.
//!
//! Batches of 50 PENDING rows (their leads and suppressions read once per batch), up to
//! `CAMPAIGN_SEND_CONCURRENCY` (4) messages in flight, paced on an absolute schedule at
//! `sendRatePerMinute`. Per recipient: **claim** `PENDING → SENDING, attempts + 1` (a conditional
//! UPDATE, committed) → the **deliverability gate** (a suppressed address, or a lead whose
//! `emailStatus` for this address is UNDELIVERABLE, ends SUPPRESSED with the reason) → render (a template error fails that recipient) → one SMTP transaction
//! through the organization's server or the mailer's pool, with `Message-ID:
//! <recipient.campaign@from-domain>`, `List-Unsubscribe` + `List-Unsubscribe-Post: One-Click`,
//! links rewritten, the open pixel and an unsubscribe footer when the template has none →
//! **record** `SENT` + the lead's `email_sent` timeline entry + `last_contacted_at` in one
//! transaction. The campaign status is read between batches (pause/stop/superseded end the run).
//!
//! *Exactly once, and its one limit*: a crash between claim and record leaves the row SENDING;
//! the next attempt marks such rows UNCERTAIN and never sends them again (plain SMTP cannot say
//! whether an unacknowledged message arrived), so the ≤ `CAMPAIGN_SEND_CONCURRENCY` messages in
//! flight at a crash are at-most-once and everyone else exactly-once. Failures: 5xx → FAILED; 4xx
//! → back to PENDING and the attempt fails as retryable (FAILED after 5); an unreachable server →
//! back to PENDING without using up an attempt. A/B runs go through the phases of
//! `campaigns::service::ab` (test group, decision after the wait, the rest with the winner).
//!
//! Highest outreach sub-domain: may import every lower one (`types`, `templates`, `settings`,
//! `tracking`, `campaigns`) through its `mod.rs` API. No GraphQL types or root objects.

pub mod service;

/// The job kind [`SendCampaign`] handles (enqueued by `campaigns`).
pub use super::campaigns::SEND_KIND as KIND;
pub use service::send_job::{SendCampaign, MAX_RECIPIENT_ATTEMPTS};
pub use service::single::{record_single_sent, send_single, SingleMessage, SingleOutcome};
