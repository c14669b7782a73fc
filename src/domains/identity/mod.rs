//! Identity: accounts, organizations, sessions and API keys.

pub mod api_keys;
pub mod loader;
pub mod org;
pub mod org_resolver;
pub mod password;
pub mod resolver;
pub mod service;
pub mod teams;
pub mod types;

pub use loader::{users_by_id, IdentityLoaders};

use async_graphql::MergedObject;

/// Identity queries.
#[derive(MergedObject, Default)]
pub struct IdentityQuery(resolver::AccountQuery, org_resolver::OrgQuery);

/// Identity mutations.
#[derive(MergedObject, Default)]
pub struct IdentityMutation(resolver::AccountMutation, org_resolver::OrgMutation);
