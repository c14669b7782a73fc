//! Notifications: per-user messages in an organization, created by rules from domain events and
//! by administrators (`sendNotification`), delivered per the recipient's preferences to the app
//! (IN_APP), by email (EMAIL) and to a Slack-style incoming webhook (WEBHOOK).
//!
//! - **Tables**: `notifications` (one row per recipient: org, user, `type`, title, body, link,
//!   `resource_type`/`resource_id`, `read_at`; indexes `(user_id, org_id, id)` for the
//!   newest-first keyset list and `(user_id, read_at)` for the unread count) and
//!   `notification_preferences` (unique `(user_id, org_id, type, channel)`, `enabled`, and for
//!   WEBHOOK rows the webhook URL, sealed). A missing preference row means the default: IN_APP
//!   on, EMAIL off, WEBHOOK off. The webhook URL is a secret: the API only shows its host.
//! - **Scope**: every query is the viewer's own notifications in the current organization; anybody
//!   else's id is NOT_FOUND. `sendNotification` (ADMIN+, `Permission::SendNotifications`)
//!   addresses exactly one of a member, a team (its members still in the organization) or
//!   everybody (sender included) and returns how many members it addressed;
//!   `notificationStats` counts stored (in-app) notifications per type, the viewer's own or, with
//!   `organizationWide` (ADMIN+), the organization's.
//! - **Rules**: notifications are derived from events inside the transaction that records them,
//!   through the event-handler registry (`crate::events::handlers`). [`register`] registers
//!   notifications' own rules (LEAD_ASSIGNED, IMPORT_FINISHED, JOB_FAILED; `service/rules.rs`);
//!   higher domains register theirs from their own `register()` and call [`deliver`]: approvals
//!   (APPROVAL_PENDING, APPROVAL_RESOLVED), outreach (CAMPAIGN_FINISHED). Every handler matches
//!   the event first (`wants`), so events that notify nobody cost no query. SCRAPE_FINISHED
//!   exists in the enum and gets a rule with its domain.
//! - **Delivery** ([`deliver`]), per recipient (current members only) and per their preferences,
//!   in the caller's transaction: IN_APP inserts the row and records `notification.new` addressed
//!   to the recipient (only they receive it; `notificationReceived` streams it and loads the row,
//!   skipping deleted ones); EMAIL enqueues a `mail.send` job; WEBHOOK enqueues a
//!   `notification.webhook` job (`service/webhook_job.rs`) that reads the URL when it runs and
//!   POSTs `{"text": …}` (Slack escaping of `&`, `<`, `>`); transport errors, 408, 429 and 5xx
//!   retry with the queue's backoff, other answers fail the job. Delivery jobs carry no
//!   organization (a user's private message stays out of the organization's job list, and a
//!   failing delivery cannot notify — and so re-trigger — itself).
//! - **Events**: records `notification.new` (visible only to its recipient).

pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::{NotificationMutation, NotificationQuery, NotificationSubscription};
pub use service::{
    deliver::{deliver, Delivered, NewNotification},
    webhook_job::{PostWebhook, KIND as WEBHOOK_KIND},
    webhook_url_context,
};

/// Registers notifications' event handler (its own rules); called once per start-up.
pub fn register() {
    crate::events::handlers::register("notifications.rules", service::rules::NotificationRules);
}
