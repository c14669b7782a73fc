//! The tracking rules: tokens and instrumented HTML, the HTTP endpoints, provider webhooks and
//! inbound email, [`record`] (every event's one transaction) and the per-campaign event lists.

pub mod events;
pub mod http;
pub mod inbound;
pub mod others;
pub mod record;
pub mod sink;
pub mod token;
pub mod webhooks;
