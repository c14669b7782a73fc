//! The request-policy extension: gives parse/validation errors their codes, enforces the alias
//! limit, refuses mutations over GET, stamps INTERNAL errors with the request id, and records
//! per-operation metrics.

use std::{sync::Arc, time::Instant};

use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery,
        NextPrepareRequest, NextValidation,
    },
    parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet},
    Request, Response, ServerError, ServerResult, ValidationResult, Variables,
};

use super::RequestMeta;

/// Code for unparsable documents.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// Code for documents that fail validation (including depth/complexity limits).
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
/// Code for an unknown APQ hash.
pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
/// Code for a mutation or subscription sent over GET.
pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";

/// Factory registered on the schema.
pub struct RequestPolicy {
    /// Maximum aliased fields per document.
    pub max_aliases: usize,
}

impl ExtensionFactory for RequestPolicy {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestPolicyExt {
            max_aliases: self.max_aliases,
        })
    }
}

struct RequestPolicyExt {
    max_aliases: usize,
}

fn with_code(mut err: ServerError, code: &str) -> ServerError {
    let has_code = err
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some());
    if !has_code {
        err.extensions
            .get_or_insert_with(Default::default)
            .set("code", code);
    }
    err
}

fn count_aliases(doc: &ExecutableDocument) -> usize {
    fn walk(set: &SelectionSet, depth: usize) -> usize {
        if depth > 64 {
            return 0;
        }
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => {
                    usize::from(f.node.alias.is_some())
                        + walk(&f.node.selection_set.node, depth + 1)
                }
                Selection::InlineFragment(fr) => walk(&fr.node.selection_set.node, depth + 1),
                // Fragment definitions are counted once below.
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let ops: usize = doc
        .operations
        .iter()
        .map(|(_, op)| walk(&op.node.selection_set.node, 0))
        .sum();
    let frags: usize = doc
        .fragments
        .values()
        .map(|f| walk(&f.node.selection_set.node, 0))
        .sum();
    ops + frags
}

fn operation_type(doc: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    let mut ops = doc.operations.iter();
    match name {
        Some(n) => ops.find(|(op_name, _)| op_name.map(|x| x.as_str()) == Some(n)),
        None => ops.next(),
    }
    .map(|(_, op)| op.node.ty)
}

#[async_trait::async_trait]
impl Extension for RequestPolicyExt {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = next.run(ctx, request).await.map_err(|e| {
            if e.message.contains("PersistedQueryNotFound") {
                with_code(e, PERSISTED_QUERY_NOT_FOUND)
            } else {
                with_code(e, "BAD_REQUEST")
            }
        })?;
        // Over GET only queries may run. APQ has filled in the query text by now.
        let is_get = request
            .data
            .get(&std::any::TypeId::of::<RequestMeta>())
            .and_then(|d| d.downcast_ref::<RequestMeta>())
            .is_some_and(|m| m.is_get);
        if is_get {
            if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
                let ty = operation_type(&doc, request.operation_name.as_deref());
                if matches!(
                    ty,
                    Some(OperationType::Mutation | OperationType::Subscription)
                ) {
                    return Err(with_code(
                        ServerError::new(
                            "mutations and subscriptions are not allowed over GET; use POST",
                            None,
                        ),
                        METHOD_NOT_ALLOWED,
                    ));
                }
            }
        }
        Ok(request)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next
            .run(ctx, query, variables)
            .await
            .map_err(|e| with_code(e, PARSE_FAILED))?;
        let aliases = count_aliases(&doc);
        if aliases > self.max_aliases {
            return Err(with_code(
                ServerError::new(
                    format!("too many aliases: {aliases} (limit {})", self.max_aliases),
                    None,
                ),
                VALIDATION_FAILED,
            ));
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errs| {
            errs.into_iter()
                .map(|e| with_code(e, VALIDATION_FAILED))
                .collect()
        })
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let started = Instant::now();
        let mut response = next.run(ctx, operation_name).await;
        let op = operation_name.unwrap_or("anonymous").to_string();
        let status = if response.errors.is_empty() {
            "ok"
        } else {
            "error"
        };
        metrics::counter!("graphql_requests_total", "operation" => op.clone(), "status" => status)
            .increment(1);
        metrics::histogram!("graphql_request_duration_seconds", "operation" => op)
            .record(started.elapsed().as_secs_f64());
        if let Some(meta) = ctx.data_opt::<RequestMeta>() {
            for err in &mut response.errors {
                let internal = err
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get("code"))
                    .is_some_and(|c| *c == async_graphql::Value::from("INTERNAL"));
                if internal {
                    err.extensions
                        .get_or_insert_with(Default::default)
                        .set("requestId", meta.request_id.clone());
                }
            }
        }
        // Any error without a code came from the library (e.g. argument coercion): input error.
        for err in &mut response.errors {
            let missing = err
                .extensions
                .as_ref()
                .is_none_or(|e| e.get("code").is_none());
            if missing {
                err.extensions
                    .get_or_insert_with(Default::default)
                    .set("code", "BAD_USER_INPUT");
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_aliases_in_operations_and_fragments() {
        let doc = async_graphql::parser::parse_query(
            "query { a: x b: x y { c: z } ...F } fragment F on Q { d: x }",
        )
        .unwrap();
        assert_eq!(count_aliases(&doc), 4);
        let doc = async_graphql::parser::parse_query("mutation M { x } query Q { y }").unwrap();
        assert_eq!(
            operation_type(&doc, Some("M")),
            Some(OperationType::Mutation)
        );
        assert_eq!(operation_type(&doc, Some("Q")), Some(OperationType::Query));
    }
}
