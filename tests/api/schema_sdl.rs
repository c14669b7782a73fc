//! The committed schema.graphql must match the code.

#[test]
fn committed_schema_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql is committed");
    let current = leadgraph::graphql::export_sdl();
    assert!(
        committed == current,
        "schema.graphql is stale: run `cargo run -- export-schema schema.graphql`"
    );
}

/// The roots carry the GraphQL spec's default names, which clients and codegen expect.
#[tokio::test]
async fn root_typenames_are_query_and_mutation() {
    let app = crate::helpers::TestApp::spawn().await;
    let q = app.gql(None, "{ __typename }", serde_json::json!({})).await;
    assert_eq!(q["data"]["__typename"], "Query", "{q}");
    let m = app
        .gql(None, "mutation { __typename }", serde_json::json!({}))
        .await;
    assert_eq!(m["data"]["__typename"], "Mutation", "{m}");
    let sdl = leadgraph::graphql::export_sdl();
    assert!(
        sdl.contains("query: Query\n") && sdl.contains("mutation: Mutation\n"),
        "schema block names the roots Query/Mutation"
    );
    assert!(sdl.contains("subscription: Subscription\n"));
}
