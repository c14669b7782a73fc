//! Live events over WebSocket subscriptions.

pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::RealtimeSubscription;
pub use service::{filter_live, live};
