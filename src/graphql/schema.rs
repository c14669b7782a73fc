//! Schema construction with limits on by default. Top-level composition (beside `roots`): the
//! one place that registers a domain's schema extension (`audit::AuditExtension`).

use async_graphql::{
    extensions::apollo_persisted_queries::{ApolloPersistedQueries, LruCacheStorage},
    SDLExportOptions, Schema,
};

use super::{
    extension::RequestPolicy,
    roots::{MutationRoot, QueryRoot, SubscriptionRoot},
};
use crate::{config::GraphqlLimits, domains::audit::AuditExtension, state::AppState};

/// The application schema.
pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

type Builder = async_graphql::SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The roots, after the field slots are registered (every schema needs both).
fn roots() -> Builder {
    super::roots::register_slots();
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
}

fn builder(limits: &GraphqlLimits, introspection: bool) -> Builder {
    limited(
        roots()
            // Registered first so it wraps the others and sees their errors.
            .extension(RequestPolicy {
                max_aliases: limits.max_aliases,
            })
            .extension(ApolloPersistedQueries::new(LruCacheStorage::new(1024)))
            .extension(AuditExtension),
        limits,
        introspection,
    )
}

/// The limits and introspection settings on `b`.
fn limited(b: Builder, limits: &GraphqlLimits, introspection: bool) -> Builder {
    let b = b
        // Installs the list-multiplying complexity functions (`graphql::cost`).
        .register_output_type::<super::cost::CostModel>()
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        .limit_recursive_depth(32)
        .limit_directives(10);
    if introspection {
        b
    } else {
        b.disable_introspection().disable_suggestions()
    }
}

/// Builds the schema for a running application.
pub fn build_schema(state: AppState) -> AppSchema {
    let limits = state.config.limits.clone();
    builder(&limits, state.config.introspection_enabled)
        .data(state)
        .finish()
}

/// The same schema without extensions, for plain query operations over HTTP.
///
/// With any extension registered, async-graphql sends every field of every object through the
/// extension chain (boxed futures and registry lookups per field: about a fifth of the server's
/// instructions for a 50-lead nested query). Queries need none of them: APQ, GET refusals and
/// parse errors are handled before a request is routed here (`extension::fast_path_eligible`),
/// audit rows are only written for mutations, and the HTTP handler applies the error codes and
/// metrics the policy extension would (`extension::finish_errors`, `record_metrics`).
pub fn build_query_schema(state: AppState) -> AppSchema {
    let limits = state.config.limits.clone();
    limited(roots(), &limits, state.config.introspection_enabled)
        .data(state)
        .finish()
}

/// Default `MAX_QUERY_COMPLEXITY` (see `graphql::cost`): figure (a) costs 2,101, a 200-lead
/// page with owners, tags, notes and campaigns 8,801; a client fanning out through
/// campaign → recipients → lead → campaigns reaches millions.
pub const DEFAULT_MAX_COMPLEXITY: usize = 50_000;

/// A schema without data or extensions with complexity `limit` (cost tests).
#[cfg(test)]
pub(crate) fn limited_schema_for_tests(limit: usize) -> AppSchema {
    let mut limits = fixed_limits();
    limits.max_complexity = limit;
    limited(roots(), &limits, true).finish()
}

/// Fixed limits for work done without a configuration (the SDL export, unit tests).
pub(crate) fn fixed_limits() -> GraphqlLimits {
    GraphqlLimits {
        max_depth: 15,
        max_complexity: DEFAULT_MAX_COMPLEXITY,
        max_aliases: 30,
        max_batch_size: 10,
        max_body_bytes: 1 << 20,
        max_upload_bytes: 1 << 20,
        max_upload_files: 1,
        dashboard_update_window: std::time::Duration::from_secs(2),
    }
}

/// The SDL of the schema, sorted, as committed in `schema.graphql`.
pub fn export_sdl() -> String {
    builder(&fixed_limits(), true).finish().sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}
