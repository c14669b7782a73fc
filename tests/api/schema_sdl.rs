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
