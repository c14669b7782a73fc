//! Unit tests of the compiled read path's walk and argument rules.

use super::*;

fn walk(q: &str, vars: serde_json::Value) -> Option<Vec<Sel>> {
    let mut r = Request::new(q).variables(async_graphql::Variables::from_json(vars));
    selection(&crate::graphql::schema::fixed_limits(), &mut r).map(|(_, roots)| roots)
}

#[test]
fn fragments_are_inlined_with_their_conditions() {
    let s = walk(
        "query { leads { nodes { ...L ... on Lead { email } ... { title } } } } fragment L on Lead { id }",
        serde_json::json!({}),
    )
    .unwrap();
    let nodes = &s[0].children[0].children;
    let keys: Vec<_> = nodes.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(keys, ["id", "email", "title"]);
    assert_eq!(nodes[0].on, ["Lead"]);
    assert!(nodes[2].on.is_empty());
}

#[test]
fn duplicate_keys_and_directives_are_not_compiled() {
    assert!(walk("{ leads { nodes { id id } } }", serde_json::json!({})).is_none());
    assert!(walk(
        "{ leads { nodes { id @skip(if: true) } } }",
        serde_json::json!({})
    )
    .is_none());
}

#[test]
fn arguments_are_type_checked() {
    let s = walk(
        "query($n: Int!, $s: String) { leads(first: $n, after: $s) { totalCount } }",
        serde_json::json!({"n": 5}),
    )
    .unwrap();
    assert_eq!(s[0].arg::<i32>("first", "Int", true), Some(Some(5)));
    assert_eq!(s[0].arg::<String>("after", "String", true), Some(None));
    // Declared with another type than the argument's.
    assert_eq!(s[0].arg::<String>("first", "String", true), None);
    // Literals where input objects are taken: only in canonical form.
    let s = walk("{ leads(first: 3) { totalCount } }", serde_json::json!({})).unwrap();
    assert_eq!(s[0].arg::<i32>("first", "Int", false), Some(Some(3)));
    assert_eq!(s[0].arg::<i32>("first", "Int", true), Some(Some(3)));
    // One value for a list is valid GraphQL (input coercion wraps it) but not canonical.
    assert_eq!(s[0].arg::<Vec<i32>>("first", "Int", false), None);
    assert_eq!(
        s[0].arg::<Vec<i32>>("first", "Int", true),
        Some(Some(vec![3]))
    );
    let s = walk(
        "{ leads(orderBy: {field: SCORE, direction: ASC}, filter: {status: [NEW], city: null}) { totalCount } }",
        serde_json::json!({}),
    )
    .unwrap();
    let order: Option<Option<crate::domains::leads::types::LeadOrder>> =
        s[0].arg("orderBy", "LeadOrder", false);
    assert!(
        matches!(order, Some(Some(_))),
        "a canonical literal compiles"
    );
    let filter: Option<Option<crate::domains::leads::types::LeadFilter>> =
        s[0].arg("filter", "LeadFilter", false);
    assert!(
        matches!(filter, Some(Some(_))),
        "explicit nulls are canonical"
    );
    for doc in [
        // A string where the enum is expected, an unknown field, one value for a list.
        "{ leads(orderBy: {field: \"SCORE\", direction: ASC}) { totalCount } }",
        "{ leads(orderBy: {field: SCORE, direction: ASC, nope: 1}) { totalCount } }",
        "{ leads(filter: {status: NEW}) { totalCount } }",
    ] {
        let s = walk(doc, serde_json::json!({})).unwrap();
        let order: Option<Option<crate::domains::leads::types::LeadOrder>> =
            s[0].arg("orderBy", "LeadOrder", false);
        let filter: Option<Option<crate::domains::leads::types::LeadFilter>> =
            s[0].arg("filter", "LeadFilter", false);
        assert!(order.is_none() || filter.is_none(), "{doc}");
    }
    // Wrong literal kind.
    let s = walk(
        "{ leads(first: \"3\") { totalCount } }",
        serde_json::json!({}),
    )
    .unwrap();
    assert_eq!(s[0].arg::<i32>("first", "Int", true), None);
    // A non-null variable without a value.
    assert!(walk(
        "query($n: Int!) { leads(first: $n) { totalCount } }",
        serde_json::json!({})
    )
    .is_none());
}

#[test]
fn timestamps_format_like_chrono() {
    let sql = timestamp_sql("x");
    assert!(sql.contains("'.MS'") && sql.contains("'.US'") && sql.ends_with("'+00:00' END"));
}
