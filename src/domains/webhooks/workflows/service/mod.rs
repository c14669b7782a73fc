//! Workflows' rules: the n8n client, the definition's checks, the registry's writes, the sync
//! and executions.

pub mod client;
pub mod definition;
pub mod execute;
pub mod registry;
pub mod sync;
