//! Integrations' rules: storing the credentials sealed, Slack's incoming-webhook call, and the
//! status list.

pub mod probe;
pub mod slack;
pub mod status;
pub mod store;
