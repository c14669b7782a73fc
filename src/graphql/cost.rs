//! Query cost: a field's complexity is multiplied by the number of items it can return.
//!
//! async-graphql counts every selected field as 1 unless the field carries a complexity
//! function. That makes `campaigns(first: 200) { nodes { recipients(first: 200) { nodes { lead
//! { campaigns { campaign { recipients(first: 200) … } } } } } } }` look like a dozen fields
//! while it would load millions of rows. [`CostModel`] gives every field a function when the
//! schema is built (one place, so a new connection cannot forget it):
//!
//! - a field with a `first` or `last` argument (every Relay connection) costs
//!   `1 + n × children`, `n` being `last`, else `first`, else [`DEFAULT_PAGE`], clamped to
//!   0..=[`MAX_PAGE`] (an out-of-range value is refused by the resolver with its usual
//!   `BAD_USER_INPUT`; the cost model only must not under-count it);
//! - any other field returning a list of objects (`Lead.campaigns`, `Team.members`) costs
//!   `1 + LIST_ITEMS × children`, an assumed size for lists without paging; the `nodes` and
//!   `edges` of a connection are not multiplied again;
//! - everything else costs `1 + children`.
//!
//! The total is checked against `MAX_QUERY_COMPLEXITY` during validation (both schemas, the
//! WebSocket too); a refusal is a `GRAPHQL_VALIDATION_FAILED` error before anything runs. The
//! compiled SQL path (`graphql::compiled`) skips async-graphql's validation, so it computes the
//! same number with [`selection_cost`] over the table recorded here and falls back to the
//! resolvers (which then refuse) when it is over the limit.
//!
//! Figure (a) (`leads(first: 50) { nodes { owner { id } tags notes(first: 3) { nodes { body } }
//! campaigns { campaign { id name } } } }`) costs 2,151; the same at `first: 200` with `id` and
//! `owner { email }` 8,801.

use std::{
    borrow::Cow,
    collections::{HashMap, HashSet},
    sync::OnceLock,
};

use async_graphql::{
    parser::types::{Field, VariableDefinition},
    registry::{MetaType, Registry},
    ContextSelectionSet, OutputType, Positioned, ServerResult, Value, VisitorContext,
};

use super::{
    compiled::Sel,
    pagination::{DEFAULT_PAGE, MAX_PAGE},
};

/// Assumed number of items of a list of objects without paging arguments.
pub const LIST_ITEMS: usize = 10;

/// How a field's cost is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `first`/`last` multiply.
    Page,
    /// An unpaged list of objects: [`LIST_ITEMS`] multiplies.
    List,
    /// `1 + children`.
    Plain,
}

/// Type name → field name → (cost kind, the field's named result type).
type Table = HashMap<String, HashMap<String, (Kind, String)>>;

static TABLE: OnceLock<Table> = OnceLock::new();

/// Registered on the schema builder (`register_output_type::<CostModel>()`): installs the
/// complexity functions on every object field. It is not a GraphQL type (it adds none).
pub struct CostModel;

impl OutputType for CostModel {
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("CostModel")
    }

    fn create_type_info(registry: &mut Registry) -> String {
        let table = install(registry);
        let _ = TABLE.set(table);
        // Nothing is registered under this name; the builder ignores the return value.
        String::new()
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(Value::Null)
    }
}

/// The named type inside `[Foo!]!` and whether it is a list.
fn named(ty: &str) -> (&str, bool) {
    let list = ty.starts_with('[');
    (ty.trim_matches(|c| c == '[' || c == ']' || c == '!'), list)
}

fn install(registry: &mut Registry) -> Table {
    let composite: HashSet<String> = registry
        .types
        .values()
        .filter(|t| {
            matches!(
                t,
                MetaType::Object { .. } | MetaType::Interface { .. } | MetaType::Union { .. }
            )
        })
        .map(|t| t.name().to_string())
        .collect();
    let mut table = Table::new();
    for ty in registry.types.values_mut() {
        let MetaType::Object { name, fields, .. } = ty else {
            continue;
        };
        let is_connection = name.ends_with("Connection");
        let entry = table.entry(name.clone()).or_default();
        for f in fields.values_mut() {
            let (result, is_list) = named(&f.ty);
            let kind = if f.args.contains_key("first") || f.args.contains_key("last") {
                Kind::Page
            } else if is_list
                && composite.contains(result)
                && !(is_connection && (f.name == "nodes" || f.name == "edges"))
            {
                Kind::List
            } else {
                Kind::Plain
            };
            if f.compute_complexity.is_none() {
                match kind {
                    Kind::Page => f.compute_complexity = Some(page_cost),
                    Kind::List => f.compute_complexity = Some(list_cost),
                    Kind::Plain => {}
                }
            }
            entry.insert(f.name.clone(), (kind, result.to_string()));
        }
    }
    table
}

/// Items a paged field may return for these arguments.
fn page_items(first: Option<i32>, last: Option<i32>) -> usize {
    last.or(first)
        .unwrap_or(DEFAULT_PAGE)
        .clamp(0, MAX_PAGE)
        .try_into()
        .unwrap_or(0)
}

fn multiply(items: usize, children: usize) -> usize {
    items.saturating_mul(children).saturating_add(1)
}

fn page_cost(
    ctx: &VisitorContext<'_>,
    definitions: &[Positioned<VariableDefinition>],
    field: &Field,
    children: usize,
) -> ServerResult<usize> {
    // A variable the request does not provide is an absent argument here (async-graphql
    // reports it as an error from `param_value`, which would refuse optional `$first`s).
    let arg = |name: &str| {
        ctx.param_value::<Option<i32>>(definitions, field, name, None)
            .ok()
            .flatten()
    };
    Ok(multiply(page_items(arg("first"), arg("last")), children))
}

fn list_cost(
    _ctx: &VisitorContext<'_>,
    _definitions: &[Positioned<VariableDefinition>],
    _field: &Field,
    children: usize,
) -> ServerResult<usize> {
    Ok(multiply(LIST_ITEMS, children))
}

fn table() -> &'static Table {
    if TABLE.get().is_none() {
        // Building any schema records the table.
        let _ = super::schema::export_sdl();
    }
    static EMPTY: OnceLock<Table> = OnceLock::new();
    TABLE.get().unwrap_or_else(|| EMPTY.get_or_init(Table::new))
}

/// The cost of `sels` (fragments inlined, variables substituted) selected on `type_name`,
/// computed as validation does.
pub fn selection_cost(type_name: &str, sels: &[Sel]) -> usize {
    let fields = table().get(type_name);
    sels.iter().fold(0usize, |acc, sel| {
        let (kind, result) = fields
            .and_then(|f| f.get(&sel.name))
            .map(|(k, r)| (*k, r.as_str()))
            .unwrap_or((Kind::Plain, ""));
        let children = selection_cost(result, &sel.children);
        let cost = match kind {
            Kind::Page => {
                let arg = |name: &str| sel.arg::<i32>(name, "Int", true).flatten();
                multiply(page_items(arg("first"), arg("last")), children)
            }
            Kind::List => multiply(LIST_ITEMS, children),
            Kind::Plain => children.saturating_add(1),
        };
        acc.saturating_add(cost)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIGURE_A: &str = "{ leads(first: 50) { nodes { owner { id } tags notes(first: 3) \
                            { nodes { body } } campaigns { campaign { id name } } } } }";
    const FIGURE_B_200: &str = "{ leads(first: 200) { nodes { id owner { id email } tags \
                                notes(first: 3) { nodes { body } } campaigns { campaign { id name } } } } }";

    fn planned_cost(query: &str) -> usize {
        let mut r = async_graphql::Request::new(query);
        let roots =
            crate::graphql::compiled::selection_for_cost(&mut r).expect("a compilable shape");
        selection_cost("Query", &roots)
    }

    /// async-graphql's own number: the smallest limit the document passes validation under.
    async fn validated_cost(query: &str) -> usize {
        let too_complex = |limit: usize| {
            let schema = crate::graphql::schema::limited_schema_for_tests(limit);
            let query = query.to_string();
            async move {
                let res = schema.execute(query.as_str()).await;
                res.errors
                    .iter()
                    .any(|e| e.message == "Query is too complex.")
            }
        };
        let (mut lo, mut hi) = (0usize, 1_000_000usize);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if too_complex(mid).await {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    #[tokio::test]
    async fn lists_multiply_and_both_paths_agree() {
        assert_eq!(validated_cost(FIGURE_A).await, 2_101);
        assert_eq!(planned_cost(FIGURE_A), 2_101);
        assert_eq!(validated_cost(FIGURE_B_200).await, 8_801);
        assert_eq!(planned_cost(FIGURE_B_200), 8_801);
        // No `first`: the default page.
        let q = "{ leads { nodes { id } } }";
        assert_eq!(validated_cost(q).await, 1 + 50 * 2);
        assert_eq!(planned_cost(q), 1 + 50 * 2);
        // An optional `$first` that is not sent counts as the default page, not an error.
        let q = "query($first: Int) { leads(first: $first) { nodes { id } } }";
        assert_eq!(validated_cost(q).await, 1 + 50 * 2);
    }

    #[tokio::test]
    async fn cycles_through_campaigns_cost_millions() {
        let q = "{ campaigns(first: 200) { nodes { recipients(first: 200) { nodes { lead { \
                 campaigns { campaign { recipients(first: 200) { nodes { lead { id } } } } } } } } } } }";
        assert!(validated_cost(q).await > 1_000_000 - 1);
    }
}
