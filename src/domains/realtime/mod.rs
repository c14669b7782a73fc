//! Live events over WebSocket subscriptions.

pub mod resolver;
pub mod stream;

pub use resolver::{live, RealtimeSubscription};
