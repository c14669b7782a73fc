//! Workflows' rules: the n8n client, the definition's checks, the registry's writes, the sync,
//! executions, their completion, stats and `validateWorkflow`.

pub mod callback;
pub mod client;
pub mod complete;
pub mod definition;
pub mod execute;
pub mod registry;
pub mod stats;
pub mod sync;
pub mod validate;
