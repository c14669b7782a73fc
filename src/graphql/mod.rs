//! The GraphQL layer: schema construction, request context, limits, pagination.

pub mod compiled;
pub mod context;
pub mod cost;
pub mod extension;
pub mod metrics_label;
pub mod pagination;
pub mod roots;
pub mod schema;
pub mod slot;

pub use context::{prepare_request, ContextExt, RequestMeta};
pub use schema::{build_schema, export_sdl, AppSchema};
