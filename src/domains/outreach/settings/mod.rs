//! Outreach settings of an organization — who we send as, through which server, and to whom
//! never:
//!
//! - SMTP settings ([`smtp`]): `smtpSettings`, `updateSmtpSettings`, `deleteSmtpSettings`,
//!   `testSmtpSettings` (ADMIN, `UpdateOrganization`), and the transport campaign sends use
//!   ([`Sender`]: the organization's server when it has settings, else the server-wide mailer
//!   from `SMTP_URL`). The password is stored encrypted under `SECRETS_KEY`.
//! - Sending domains ([`sending_domains`], S14): a campaign's `fromEmail` must be on a domain the
//!   organization proved it controls with a DNS TXT record; a verified domain covers its
//!   subdomains. `sendTestEmail` goes to members of the organization only.
//! - The suppression list ([`suppressions`]): `suppressions(filter)` (newest first; VIEWER),
//!   `addSuppression(email, reason = MANUAL)` (lowercased, idempotent; MEMBER, since it can only
//!   send less mail) and `removeSuppression(email)` (ADMIN: it makes an unsubscribed or bounced
//!   address reachable again). Tracking adds unsubscribes, hard bounces and complaints; the send
//!   job reads the list per batch, so an address added during a run is skipped (SUPPRESSED).
//!   Both mutations write audit notes (`suppression`).
//!
//! Sub-domain order: above `templates`; imports only `outreach::types` and lower domains.

mod resolver;
pub mod service;
pub mod types;

pub use resolver::{OutreachSettingsMutation, OutreachSettingsQuery};
pub use service::{
    sending_domains::check_from,
    smtp::{password_context, Sender},
    suppressions::insert as insert_suppression,
};
pub use types::{SmtpSecurity, SuppressionReason};
