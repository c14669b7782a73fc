//! Integrations: the organization's n8n connection and Slack incoming webhooks, and one status
//! list of everything configured.
//!
//! - **Table** `integrations`: kind N8N (one per organization: base URL + API key) or SLACK
//!   (name + incoming-webhook URL, at most [`MAX_SLACK`]); the credential (`X-N8N-API-KEY`, or
//!   the Slack URL, which is the credential) is sealed by the secrets box under
//!   `integrations.secret:<id>` and no query returns it. Each row keeps its last success and
//!   last error, written by every call made with it ([`record_outcome`]).
//! - **Slack** (`sendSlackMessage`): POSTs Slack's incoming-webhook JSON `{text, blocks}`
//!   through the SSRF-guarded client; Slack answers `200 ok`, or a status with a plain-text
//!   code: `invalid_payload`, `invalid_blocks`, `no_text`, `too_many_attachments` are the
//!   message's fault (BAD_USER_INPUT on `input.blocks` / `input.text`); `no_service`,
//!   `channel_not_found`, `channel_is_archived`, `action_prohibited`, `no_team`,
//!   `invalid_token`, `posting_to_general_channel_denied` mean the webhook is dead or refused
//!   (SERVICE_UNAVAILABLE naming the code).
//! - **Status** (`integrations`): SMTP (the organization's server or the deployment's
//!   `SMTP_URL`), n8n, each Slack webhook, outgoing webhooks (any endpoint; the last delivery
//!   that succeeded and the last that failed), in a fixed number of statements. Enrichment keys
//!   are not listed: enrichment sits above webhooks in the domain order.
//! - **Test** (`testIntegration(id)`, `service/probe.rs`): one harmless live call with the
//!   stored credential — n8n `GET /api/v1/workflows?limit=1`, Slack a test message — recorded
//!   as `lastTestedAt` plus the usual outcome; a failure is `ok: false` with the error, the
//!   credential masked out of it.
//! - **Roles**: `ManageIntegrations` (ADMIN) configures, tests and lists; `SendSlackMessages`
//!   (MEMBER) posts. Another organization's integration is NOT_FOUND.

mod resolver;
mod service;
pub mod types;

pub use resolver::{IntegrationMutation, IntegrationQuery};
pub use service::store::{
    n8n_connection, n8n_connection_of, record_outcome, secret_context, N8nConnection, MAX_SLACK,
};
