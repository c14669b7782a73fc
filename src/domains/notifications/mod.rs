//! Notifications: per-user messages in an organization, created by rules from domain events
//! ([`rules::derive`], called by the outbox) and by administrators (`sendNotification`),
//! delivered per the recipient's preferences to the app (IN_APP), by email (EMAIL) and to a
//! Slack-style incoming webhook (WEBHOOK).

pub mod deliver;
pub mod resolver;
pub mod rules;
pub mod service;
pub mod types;
pub mod webhook_job;

pub use resolver::{NotificationMutation, NotificationQuery, NotificationSubscription};
