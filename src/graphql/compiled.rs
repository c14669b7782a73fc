//! Compiled reads: plain queries answered by one SQL statement per root field.
//!
//! The resolvers load whole rows per relation (a page, then one batch per nested relation) and
//! async-graphql assembles the answer object by object. For the read queries that dominate
//! dashboards and integrations, PostgreSQL can do all of it: the selection is compiled into one
//! statement that returns only the selected columns, nested relations as correlated subqueries,
//! each row's answer already built as JSON (`json_build_object`, which keeps key order). The
//! server then only frames the rows (connection, cursors, page info).
//!
//! Coverage is deliberately narrow and checked up front: a document takes this path only when
//! everything in it is understood here (see [`plan`]); anything else — an unknown field, a
//! directive, a non-canonical literal input object, a mismatched variable type, an argument the resolver would
//! refuse — returns `None`, and the request runs through the resolvers unchanged, which also
//! gives every error its usual code. [`coverage::COVERAGE`] lists what is covered, checked
//! against the schema; `tests/api/compiled.rs` (fixed documents) and `tests/api/compiled_diff.rs`
//! (generated ones) run the same documents both ways and compare the answers. PostgreSQL only
//! (SQLite runs the resolvers); `COMPILED_READS=false` turns it off.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    parser::types::{
        BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
        Type, VariableDefinition,
    },
    InputType, Request, Value,
};
use async_graphql_value::Value as DocValue;

mod approvals;
pub mod coverage;
mod flat;
mod frame;
mod goals;
mod leads;
mod newest;
mod outreach;
mod plan;
mod scrape;
mod single;

pub use plan::{plan, plan_for, Plan, PlanCache};

/// One selected field after fragments are inlined.
#[derive(Debug)]
pub struct Sel {
    /// Response key (alias or name).
    pub key: String,
    /// Field name.
    pub name: String,
    /// Arguments, variables substituted.
    pub args: Vec<Arg>,
    /// Type conditions of the fragments this field was selected through; each must be the
    /// parent's type name for the field to apply (checked by the compiler of that type).
    pub on: Vec<String>,
    /// Sub-selection.
    pub children: Vec<Sel>,
}

/// One argument.
#[derive(Debug)]
pub struct Arg {
    /// Argument name.
    pub name: String,
    /// Value (a variable's value or default when `variable` is set).
    pub value: Value,
    /// The declared type of the variable the argument was given as, if it was one.
    pub variable: Option<Type>,
}

impl Sel {
    /// True when only arguments in `allowed` are present.
    pub fn only_args(&self, allowed: &[&str]) -> bool {
        self.args.iter().all(|a| allowed.contains(&a.name.as_str()))
    }

    /// A scalar leaf: no arguments, no sub-selection.
    pub fn is_leaf(&self) -> bool {
        self.args.is_empty() && self.children.is_empty()
    }

    /// True when every fragment condition on this field names `type_name`.
    pub fn applies_to(&self, type_name: &str) -> bool {
        self.on.iter().all(|t| t == type_name)
    }

    /// The argument `name` coerced to `T` (`Some(None)` when absent or null), or `None` when the
    /// resolvers must handle it: a variable declared with another type than `expected` (the
    /// argument's named type), a value that does not coerce (the resolvers report those
    /// errors), or, where `literal_ok` is false (input objects), a literal not written in the
    /// canonical form of its value: a literal compiles only when coercing it and writing the
    /// result back gives the literal again, nulls aside. Validation would refuse what coercion
    /// alone forgives (a string for an enum, an unknown field), and input coercion's sugar (one
    /// value for a list) is left to the resolvers, so the literals compiled are exactly the
    /// valid ones that mean what they say.
    pub fn arg<T: InputType>(
        &self,
        name: &str,
        expected: &str,
        literal_ok: bool,
    ) -> Option<Option<T>> {
        let Some(a) = self.args.iter().find(|a| a.name == name) else {
            return Some(None);
        };
        match &a.variable {
            Some(t) => match &t.base {
                BaseType::Named(n) if n.as_str() == expected => {}
                _ => return None,
            },
            None if !literal_ok && a.value != Value::Null => {
                let parsed = <Option<T> as InputType>::parse(Some(a.value.clone())).ok()?;
                return same_literal(
                    &without_nulls(parsed.to_value()),
                    &without_nulls(a.value.clone()),
                )
                .then_some(parsed);
            }
            None => {}
        }
        <Option<T> as InputType>::parse(Some(a.value.clone())).ok()
    }
}

/// Equality that tells an enum value from a string (`Value`'s own `==` does not).
fn same_literal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Enum(x), Value::Enum(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Enum(_) | Value::String(_), _) | (_, Value::Enum(_) | Value::String(_)) => false,
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_literal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_literal(v, w)))
        }
        (x, y) => x == y,
    }
}

/// `v` with every null-valued object field removed (an omitted field and an explicit null mean
/// the same to an input object).
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .filter(|(_, v)| *v != Value::Null)
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::List(items) => Value::List(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// Limits of the walk (the schema's own limits are enforced by falling back when exceeded).
struct Walk<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a async_graphql::Variables,
    definitions: HashMap<&'a str, &'a VariableDefinition>,
    used_variables: HashSet<String>,
    used_fragments: HashSet<String>,
    fields: usize,
    depth: usize,
}

const MAX_FIELDS: usize = 2_000;

impl<'a> Walk<'a> {
    fn set(&mut self, set: &'a SelectionSet, on: &[String], depth: usize) -> Option<Vec<Sel>> {
        if depth > 32 || self.fields > MAX_FIELDS {
            return None;
        }
        self.depth = self.depth.max(depth);
        let mut out = Vec::new();
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    if !f.directives.is_empty() {
                        return None;
                    }
                    self.fields += 1;
                    let mut args = Vec::with_capacity(f.arguments.len());
                    for (name, value) in &f.arguments {
                        args.push(self.arg(name.node.as_str(), &value.node)?);
                    }
                    let children = if f.selection_set.node.items.is_empty() {
                        Vec::new()
                    } else {
                        self.set(&f.selection_set.node, &[], depth + 1)?
                    };
                    out.push(Sel {
                        key: f.response_key().node.to_string(),
                        name: f.name.node.to_string(),
                        args,
                        on: on.to_vec(),
                        children,
                    });
                }
                Selection::InlineFragment(frag) => {
                    let frag = &frag.node;
                    if !frag.directives.is_empty() {
                        return None;
                    }
                    let mut on = on.to_vec();
                    if let Some(t) = &frag.type_condition {
                        on.push(t.node.on.node.to_string());
                    }
                    out.extend(self.set(&frag.selection_set.node, &on, depth)?);
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    if !spread.directives.is_empty() {
                        return None;
                    }
                    let name = spread.fragment_name.node.as_str();
                    let def = &self.doc.fragments.get(&spread.fragment_name.node)?.node;
                    if !def.directives.is_empty() {
                        return None;
                    }
                    self.used_fragments.insert(name.to_string());
                    let mut on = on.to_vec();
                    on.push(def.type_condition.node.on.node.to_string());
                    out.extend(self.set(&def.selection_set.node, &on, depth)?);
                }
            }
        }
        // Same response key twice would need field merging: left to the resolvers.
        let mut keys = HashSet::with_capacity(out.len());
        if !out.iter().all(|s| keys.insert(s.key.as_str())) {
            return None;
        }
        Some(out)
    }

    fn arg(&mut self, name: &str, value: &DocValue) -> Option<Arg> {
        if let DocValue::Variable(var) = value {
            let def = *self.definitions.get(var.as_str())?;
            self.used_variables.insert(var.to_string());
            let given = self.variables.get(var).cloned();
            let value = match (given, &def.default_value) {
                (Some(Value::Null), _) if !def.var_type.node.nullable => return None,
                (Some(v), _) => v,
                (None, Some(d)) => d.node.clone(),
                (None, None) if def.var_type.node.nullable => Value::Null,
                (None, None) => return None,
            };
            return Some(Arg {
                name: name.to_string(),
                value,
                variable: Some(def.var_type.node.clone()),
            });
        }
        // Variables nested inside a literal: left to the resolvers.
        let value = value
            .clone()
            .into_const_with(|_| Err::<Value, ()>(()))
            .ok()?;
        Some(Arg {
            name: name.to_string(),
            value,
            variable: None,
        })
    }
}

/// The operation's name (the request's, else the document's) and its root fields with
/// fragments inlined and variables substituted; `None` when the document is not one the
/// compiler takes (see the module docs).
fn selection(
    limits: &crate::config::GraphqlLimits,
    request: &mut Request,
) -> Option<(Option<String>, Vec<Sel>)> {
    if request.extensions.contains_key("persistedQuery") {
        return None;
    }
    let operation_name = request.operation_name.clone();
    let variables = request.variables.clone();
    let doc = request.parsed_query().ok()?;
    // One operation per document (named or not); the others in a document are validated too.
    let (name, op) = match (&doc.operations, operation_name.as_deref()) {
        (DocumentOperations::Single(op), None) => (None, &op.node),
        (DocumentOperations::Multiple(ops), name) if ops.len() == 1 => {
            let (op_name, op) = ops.iter().next()?;
            if name.is_some_and(|n| n != op_name.as_str()) {
                return None;
            }
            (Some(op_name.to_string()), &op.node)
        }
        _ => return None,
    };
    if op.ty != OperationType::Query
        || !op.directives.is_empty()
        || super::extension::count_aliases(doc) > limits.max_aliases
    {
        return None;
    }
    let mut definitions = HashMap::new();
    for d in &op.variable_definitions {
        if !d.node.directives.is_empty() {
            return None;
        }
        definitions.insert(d.node.name.node.as_str(), &d.node);
    }
    let mut walk = Walk {
        doc,
        variables: &variables,
        definitions,
        used_variables: HashSet::new(),
        used_fragments: HashSet::new(),
        fields: 0,
        depth: 0,
    };
    let roots = walk.set(&op.selection_set.node, &[], 1)?;
    // Unused variables or fragments are validation errors: the resolvers report them.
    if walk.used_variables.len() != walk.definitions.len()
        || walk.used_fragments.len() != doc.fragments.len()
        || walk.depth >= limits.max_depth
        // The resolvers refuse it (GRAPHQL_VALIDATION_FAILED) with the same number.
        || super::cost::selection_cost("Query", &roots) > limits.max_complexity
    {
        return None;
    }
    Some((operation_name.or(name), roots))
}

/// The root selection of a compilable document, for the cost model's tests.
#[cfg(test)]
pub(crate) fn selection_for_cost(request: &mut Request) -> Option<Vec<Sel>> {
    let mut limits = crate::graphql::schema::fixed_limits();
    limits.max_complexity = usize::MAX;
    selection(&limits, request).map(|(_, roots)| roots)
}

/// `"key":` (keys are GraphQL names: nothing to escape).
pub fn push_key(out: &mut String, key: &str) {
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

/// A `json_build_object(…)` over `fields` of an object of type `type_name`: each field's SQL
/// from `field`, `__typename` as a constant. `None` when any field is not covered.
pub fn object_sql(
    fields: &[Sel],
    type_name: &str,
    mut field: impl FnMut(&Sel) -> Option<String>,
) -> Option<String> {
    // json_build_object takes at most 100 arguments.
    if fields.is_empty() || fields.len() > 50 {
        return None;
    }
    let mut sql = String::from("json_build_object(");
    for (i, f) in fields.iter().enumerate() {
        if !f.applies_to(type_name) {
            return None;
        }
        let value = if f.name == "__typename" {
            if !f.is_leaf() {
                return None;
            }
            format!("'{type_name}'")
        } else {
            field(f)?
        };
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('\'');
        sql.push_str(&f.key);
        sql.push_str("', ");
        sql.push_str(&value);
    }
    sql.push(')');
    Some(sql)
}

/// [`object_sql`] over an object whose covered fields are all scalars: `column` gives a field
/// name's SQL; a field with arguments or a sub-selection is not covered.
pub fn leaf_object_sql(
    fields: &[Sel],
    type_name: &str,
    column: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    object_sql(fields, type_name, |f| {
        if f.is_leaf() {
            column(&f.name)
        } else {
            None
        }
    })
}

/// SQL for a `DateTime` output of timestamptz `expr`, formatted as async-graphql formats
/// `chrono::DateTime<Utc>` (`to_rfc3339`: seconds, then 3 or 6 fraction digits when non-zero,
/// then `+00:00`).
pub fn timestamp_sql(expr: &str) -> String {
    format!(
        "CASE WHEN {e} IS NULL THEN NULL ELSE to_char({e} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') \
         || CASE WHEN date_part('microseconds', {e} AT TIME ZONE 'UTC')::bigint % 1000000 = 0 THEN '' \
         WHEN date_part('microseconds', {e} AT TIME ZONE 'UTC')::bigint % 1000 = 0 THEN to_char({e} AT TIME ZONE 'UTC', '.MS') \
         ELSE to_char({e} AT TIME ZONE 'UTC', '.US') END || '+00:00' END",
        e = expr
    )
}

/// SQL for an enum output: the stored value when it is one of `all`, else `fallback` (as the
/// resolvers' `parse(…).unwrap_or(…)`).
pub fn enum_sql(expr: &str, all: &[&str], fallback: &str) -> String {
    let list = all
        .iter()
        .map(|v| format!("'{v}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("CASE WHEN {expr} IN ({list}) THEN {expr} ELSE '{fallback}' END")
}

#[cfg(test)]
mod tests;
