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

/// async-graphql's message for a document over the complexity limit.
const TOO_COMPLEX: &str = "Query is too complex.";

/// Says how the cost is counted (`graphql::cost`) when the complexity limit refused a document.
fn explain(mut err: ServerError) -> ServerError {
    if err.message == TOO_COMPLEX {
        err.message = "Query is too complex: every field costs 1 plus its children, a field with \
                       first/last (default 50) counts its children that many times and an unpaged \
                       list 10 times; the total is over MAX_QUERY_COMPLEXITY. Ask for smaller pages \
                       or fewer nested lists."
            .into();
    }
    err
}

pub(crate) fn count_aliases(doc: &ExecutableDocument) -> usize {
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
                .map(|e| with_code(explain(e), VALIDATION_FAILED))
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
        record_metrics(operation_name, &response, started);
        finish_errors(&mut response, ctx.data_opt::<RequestMeta>(), false);
        response
    }
}

/// Per-operation request counter and latency histogram.
pub fn record_metrics(operation_name: Option<&str>, response: &Response, started: Instant) {
    let op = super::metrics_label::operation_label(operation_name);
    let status = if response.errors.is_empty() {
        "ok"
    } else {
        "error"
    };
    metrics::counter!("graphql_requests_total", "operation" => op, "status" => status).increment(1);
    metrics::histogram!("graphql_request_duration_seconds", "operation" => op)
        .record(started.elapsed().as_secs_f64());
}

/// Stamps INTERNAL errors with the request id and gives every error without a code one: with
/// `pathless_is_validation`, an error without a path (the document failed validation before any
/// field ran) is VALIDATION_FAILED; any other error without a code came from the library (e.g.
/// argument coercion) and is an input error.
pub fn finish_errors(
    response: &mut Response,
    meta: Option<&RequestMeta>,
    pathless_is_validation: bool,
) {
    for err in &mut response.errors {
        let code = err.extensions.as_ref().and_then(|e| e.get("code"));
        match code {
            Some(c) if *c == async_graphql::Value::from("INTERNAL") => {
                if let Some(meta) = meta {
                    err.extensions
                        .get_or_insert_with(Default::default)
                        .set("requestId", meta.request_id.clone());
                }
            }
            Some(_) => {}
            None => {
                if pathless_is_validation && err.path.is_empty() {
                    *err = explain(std::mem::replace(err, ServerError::new("", None)));
                }
                let code = if pathless_is_validation && err.path.is_empty() {
                    VALIDATION_FAILED
                } else {
                    "BAD_USER_INPUT"
                };
                err.extensions
                    .get_or_insert_with(Default::default)
                    .set("code", code);
            }
        }
    }
}

/// Whether `request` can run on the extension-free query schema (see
/// `schema::build_query_schema`): a parsable query operation (not a mutation or subscription),
/// not an APQ request, within the alias limit, at most `MAX_FAST_DEPTH` selection sets deep and
/// without directives. Everything else goes through the full schema and this extension, which
/// gives those cases their codes. Parses the document once and keeps it in the request.
/// `Some(name)` when eligible, with the name of the operation that will run (the request's, else
/// the document's first operation's), which the metrics are labelled with as the extension would.
pub fn fast_path_eligible(request: &mut Request, max_aliases: usize) -> Option<Option<String>> {
    if request.extensions.contains_key("persistedQuery") {
        return None;
    }
    let operation_name = request.operation_name.clone();
    let doc = request.parsed_query().ok()?;
    if operation_type(doc, operation_name.as_deref()) != Some(OperationType::Query) {
        return None;
    }
    let shape = shape(doc, operation_name.as_deref());
    let eligible = !shape.exceeded() && !shape.directives && count_aliases(doc) <= max_aliases;
    if !eligible {
        return None;
    }
    Some(operation_name.or_else(|| {
        doc.operations
            .iter()
            .next()
            .and_then(|(name, _)| name.map(|n| n.to_string()))
    }))
}

/// Deepest document the fast path takes (the schema's recursion limit is 32).
const MAX_FAST_DEPTH: usize = 24;

/// Selections the fast-path check visits at most (fragment spreads are followed, so a document
/// of mutually spreading fragments could otherwise fan out exponentially).
const MAX_FAST_VISITS: usize = 20_000;

#[derive(Default)]
struct Shape {
    depth: usize,
    directives: bool,
    visits: usize,
}

impl Shape {
    /// True when the walk stopped early: the document is treated as not eligible.
    fn exceeded(&self) -> bool {
        self.depth > MAX_FAST_DEPTH || self.visits > MAX_FAST_VISITS
    }
}

/// Directives and selection depth of the operation, following fragment spreads the way
/// the library's recursion-depth check does.
fn shape(doc: &ExecutableDocument, operation_name: Option<&str>) -> Shape {
    fn walk(doc: &ExecutableDocument, set: &SelectionSet, depth: usize, out: &mut Shape) {
        out.depth = out.depth.max(depth);
        if out.exceeded() {
            return;
        }
        for item in &set.items {
            out.visits += 1;
            match &item.node {
                Selection::Field(f) => {
                    out.directives |= !f.node.directives.is_empty();
                    if !f.node.selection_set.node.items.is_empty() {
                        walk(doc, &f.node.selection_set.node, depth + 1, out);
                    }
                }
                Selection::InlineFragment(fr) => {
                    out.directives |= !fr.node.directives.is_empty();
                    walk(doc, &fr.node.selection_set.node, depth + 1, out);
                }
                Selection::FragmentSpread(sp) => {
                    out.directives |= !sp.node.directives.is_empty();
                    if let Some(f) = doc.fragments.get(&sp.node.fragment_name.node) {
                        out.directives |= !f.node.directives.is_empty();
                        walk(doc, &f.node.selection_set.node, depth + 1, out);
                    }
                }
            }
            if out.exceeded() {
                return;
            }
        }
    }
    let mut out = Shape::default();
    let mut ops = doc.operations.iter();
    let op = match operation_name {
        Some(n) => ops.find(|(name, _)| name.map(|x| x.as_str()) == Some(n)),
        None => ops.next(),
    };
    if let Some((_, op)) = op {
        out.directives |= !op.node.directives.is_empty();
        walk(doc, &op.node.selection_set.node, 1, &mut out);
    }
    out
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

    fn eligible(query: &str, name: Option<&str>) -> Option<Option<String>> {
        let mut r = Request::new(query);
        if let Some(n) = name {
            r = r.operation_name(n);
        }
        fast_path_eligible(&mut r, 3)
    }

    #[test]
    fn fast_path_takes_plain_queries_only() {
        // Plain queries, named by the request or by the document.
        assert_eq!(eligible("{ a b { c } }", None), Some(None));
        assert_eq!(
            eligible("query Probe { a }", None),
            Some(Some("Probe".into()))
        );
        assert_eq!(
            eligible("query A { a } query B { b }", Some("B")),
            Some(Some("B".into()))
        );
        assert_eq!(
            eligible("{ ...F } fragment F on Query { x: a }", None),
            Some(None)
        );
        // Everything else takes the full schema.
        assert_eq!(eligible("mutation { a }", None), None);
        assert_eq!(eligible("subscription { a }", None), None);
        assert_eq!(eligible("query A { a } mutation B { b }", Some("B")), None);
        assert_eq!(eligible("{ a(", None), None, "parse errors");
        assert_eq!(eligible("{ a @skip(if: true) }", None), None);
        assert_eq!(eligible("{ a: x b: x c: x }", None), Some(None));
        assert_eq!(eligible("{ a: x b: x c: x d: x }", None), None, "aliases");
        let deep = format!("{}{}", "{ a ".repeat(30), "}".repeat(30));
        assert_eq!(eligible(&deep, None), None, "depth");
        // Mutually spreading fragments do not make the check explode.
        let cyclic = "{ ...A } fragment A on Query { a ...B } fragment B on Query { b ...A }";
        assert_eq!(eligible(cyclic, None), None);
        let mut apq = Request::new("{ a }");
        apq.extensions.insert(
            "persistedQuery".into(),
            async_graphql::Value::from_json(serde_json::json!({"version": 1})).unwrap(),
        );
        assert_eq!(fast_path_eligible(&mut apq, 3), None);
    }
}
