//! Identity: accounts, organizations, sessions and API keys.

pub mod loader;
pub mod organizations;
pub mod resolver;
pub mod service;
pub mod types;

pub use loader::{users_by_id, IdentityLoaders};
pub use organizations::service::{org_timezone, parse_timezone};
pub use resolver::{IdentityMutation, IdentityQuery};
