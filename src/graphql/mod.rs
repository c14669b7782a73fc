//! The GraphQL layer: schema construction, request context, limits, pagination.
//!
//! Two layers live here:
//! - **Composition (top layer, may name domains):** `roots` merges every domain's root
//!   objects, `schema` builds the schema from them and registers the domains' extensions
//!   (`audit::AuditExtension`), and `compiled` dispatches to the leads SQL compiler.
//! - **Spine (names no domain):** `context` (viewer, request metadata, the type-keyed
//!   [`context::Loaders`] registry that domains fill through [`context::RequestLoader`]),
//!   `cost`, `extension` (request policy: GET/alias/batch limits, error codes, metrics),
//!   `metrics_label` and `pagination`. Domains build on these; these never import a domain.
//!
//! A request runs: transport (`http::graphql` / `http::ws`) → [`prepare_request`] (viewer,
//! meta, loaders) → `schema` extensions (policy, APQ, audit trail) → root resolvers in the
//! domains.

pub mod compiled;
pub mod context;
pub mod cost;
pub mod extension;
pub mod metrics_label;
pub mod pagination;
pub mod roots;
pub mod schema;
pub mod siblings;
pub mod slot;

pub use context::{prepare_request, ContextExt, RequestMeta};
pub use schema::{build_schema, export_sdl, AppSchema};
