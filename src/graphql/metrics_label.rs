//! The `operation` label of the GraphQL metrics, bounded by the schema.
//!
//! The operation name is whatever the client writes, so using it as a Prometheus label lets any
//! client create unbounded series. The label is the name only when it is one of the schema's
//! root fields (`leads`, `createLead`, …: a finite set fixed at build time); an unnamed
//! operation is `anonymous` and every other name is `other`.

use std::{collections::HashSet, sync::LazyLock};

use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

/// Root field names of the query, mutation and subscription types.
static ROOT_FIELDS: LazyLock<HashSet<String>> =
    LazyLock::new(|| root_fields(&super::schema::export_sdl()));

/// The label for an operation named `name`.
pub fn operation_label(name: Option<&str>) -> &'static str {
    match name {
        None => "anonymous",
        Some(n) => ROOT_FIELDS.get(n).map_or("other", String::as_str),
    }
}

fn root_fields(sdl: &str) -> HashSet<String> {
    let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
        return HashSet::new();
    };
    let mut roots: Vec<String> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Schema(s) => Some(s),
            _ => None,
        })
        .flat_map(|s| {
            let s = &s.node;
            [&s.query, &s.mutation, &s.subscription]
                .into_iter()
                .flatten()
                .map(|n| n.node.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    if roots.is_empty() {
        roots = ["Query", "Mutation", "Subscription"]
            .map(String::from)
            .to_vec();
    }
    doc.definitions
        .iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Type(t) if roots.contains(&t.node.name.node.to_string()) => {
                match &t.node.kind {
                    TypeKind::Object(o) => Some(o),
                    _ => None,
                }
            }
            _ => None,
        })
        .flat_map(|o| o.fields.iter().map(|f| f.node.name.node.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_field_names_become_labels() {
        assert_eq!(operation_label(Some("leads")), "leads");
        assert_eq!(operation_label(Some("createLead")), "createLead");
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("MyDashboardQuery")), "other");
        assert_eq!(operation_label(Some("x".repeat(500).as_str())), "other");
        // A field that exists, but not at the root, is not a label either.
        assert_eq!(operation_label(Some("firstName")), "other");
    }
}
