//! Identity: accounts, organizations, sessions and API keys.

pub mod api_keys;
pub mod loader;
pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::{IdentityMutation, IdentityQuery};
