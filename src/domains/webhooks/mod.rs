//! Outgoing webhooks: the organization's events POSTed to its endpoints, signed per the
//! Standard Webhooks spec.
//!
//! - **Tables**: `webhook_endpoints` (URL, description, event types as public names, `enabled`,
//!   `ordered`, the `whsec_…` secret sealed by the secrets box under
//!   `webhook_endpoints.secret:<id>`, the previous secret for 24 h after a rotation, the failure
//!   streak's start and why the server disabled it), `webhook_deliveries` (one per event ×
//!   endpoint or test send: `webhook-id`, the exact body signed, status PENDING / SUCCEEDED /
//!   FAILED, attempts, next attempt) and `webhook_attempts` (request headers, response status
//!   and first kilobyte of the body, transport error, duration).
//! - **Roles**: everything is `ManageWebhooks` (ADMIN); another organization's endpoint or
//!   delivery is NOT_FOUND. The secret is shown once, by `createWebhookEndpoint` and
//!   `rotateWebhookSecret`.
//! - **Fan-out** (`service/fanout.rs`): an `events::handlers` handler runs in the transaction
//!   that records an event, stores one delivery per enabled endpoint of the organization that
//!   takes its type and enqueues its first `webhook.deliver` job there: an event committed is a
//!   delivery queued, whatever crashes next. `notification.new` (one person's) is never sent.
//!   A batch writer's events (`record_many`) cost one read of the endpoints, not one per event.
//! - **Delivery** (`service/deliver.rs`): body `{type, timestamp, data}` with `data` the
//!   event's public payload (what the `events` subscription shows); headers `webhook-id`,
//!   `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256(key, "id.ts.body")>` (two
//!   signatures during a rotation). SSRF-guarded client, 10 s timeout, 64 KiB response cap, no
//!   redirects. 408/409/425/429/5xx and transport failures retry on `WEBHOOK_RETRY_SCHEDULE_MS`
//!   (~24 h) with jitter and `Retry-After`; other answers fail at once. `ordered` endpoints get
//!   one delivery at a time, in event order. Failing for `WEBHOOK_DISABLE_AFTER_SECS` (5 days)
//!   since the last success, or answering 410, disables the endpoint and notifies its creator
//!   (notifications, type JOB_FAILED).
//! - **Events**: `schedule.changed` and `schedule.fired` (below); deliveries are not jobs of
//!   the organization (no `job.updated`, so webhooks never feed themselves).
//! - **Schedules** (`service/schedules.rs`, `service/cron.rs`): `schedules` (5-field cron read
//!   in an IANA zone, action EMIT_EVENT with a JSON payload, ACTIVE/PAUSED, `next_run_at`) and
//!   `schedule_runs` (UNIQUE (schedule, occurrence)). The ticker (every 5 s, and
//!   `schedules::tick(state, now)` with an injected clock) claims a due occurrence by advancing
//!   `next_run_at` conditionally, inserting the run and recording `schedule.fired` in one
//!   transaction: any number of instances fire it once, and the fan-out above delivers it to
//!   endpoints taking SCHEDULE_FIRED. Missed occurrences fire once (RUN_ONCE); DST: a fixed
//!   time in the spring-forward gap runs at the end of the gap, in the fall-back overlap once
//!   (the first); interval expressions follow real time (`service/cron.rs`).
//! - **Incoming lead hooks** (`service/incoming.rs`): `incoming_hooks` (sealed `whsec_…`
//!   secret shown once, default tags) and `incoming_hook_receipts` (accepted `webhook-id`s for
//!   10 minutes). `POST /hooks/in/{id}` verifies the Standard Webhooks signature and timestamp
//!   (5 min), refuses replays (409), and creates or merges the lead by email through the leads
//!   API (`create_in`, MERGE) with provenance `webhook:<name>`; a refusal writes nothing.
//!   Kind WORKFLOW_COMPLETE (`createIncomingWebhook(input: {kind})`): the same checks, then
//!   the body marks a workflow execution of the organization finished (sub-domain
//!   `workflows`, once with the poll job). Managed with `ManageWebhooks`; schedules with
//!   `ManageSchedules` (ADMIN).
//! - **Sub-domains**, low → high: [`integrations`] (the n8n connection, Slack incoming
//!   webhooks, the `integrations` status list) and [`workflows`] (the n8n workflow registry and
//!   executions, over the n8n connection). Their roots merge into this domain's.

pub mod integrations;
pub mod resolver;
pub mod service;
pub mod types;
pub mod workflows;

pub use resolver::{WebhookMutation, WebhookQuery};
pub use service::{
    deliver::{DeliverWebhook, KIND as DELIVER_KIND},
    endpoints::{previous_secret_context, secret_context},
    incoming::receive as receive_incoming_hook,
    schedules::{spawn as spawn_schedule_ticker, tick as tick_schedules},
    signing::{sign, signature_header},
};

/// Registers the fan-out handler; called once per start-up (idempotent).
pub fn register() {
    crate::events::handlers::register("webhooks.fanout", service::fanout::FanOut);
}
