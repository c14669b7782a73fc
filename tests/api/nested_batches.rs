//! Nested connections loaded for a whole page at once (`graphql::siblings`) answer exactly as
//! each parent reading its own page: a differential test of the two paths.
//!
//! Two apps share one database: one with page-wide nested batches (the default), one with
//! `NESTED_BATCHES=false` (every parent runs the ordinary pager). For every root connection of
//! the schema (the statement walk's documents, so a connection added tomorrow is covered), with
//! nested connections asked as a first page, a last page, a page longer than the data and an
//! empty page, each with `pageInfo` and `totalCount`, both must give the same JSON. The batched app must also really batch (fewer statements on the nested-heavy
//! roots), so the comparison cannot pass with both apps on the slow path.

use serde_json::json;

use crate::{
    fixtures::{owner, rich_dataset},
    helpers::{Options, TestApp},
    statement_walk::Walk,
};

/// Children per parent in the dataset; the nested pages below are shorter, longer and empty.
const PER: usize = 12;
const NESTED: &[&str] = &["first: 5", "last: 4", "first: 30", "first: 0"];

fn env(batches: bool) -> Vec<(&'static str, &'static str)> {
    vec![
        ("NESTED_BATCHES", if batches { "true" } else { "false" }),
        ("COMPILED_READS", "false"),
        ("RECORD_SQL", "true"),
        (
            "JWT_SECRET",
            "nested-batches-differential-secret-0123456789",
        ),
        ("MAX_QUERY_COMPLEXITY", "100000000"),
        ("RATE_LIMIT_VIEWER_PER_MINUTE", "100000"),
    ]
}

#[tokio::test]
async fn batched_nested_pages_answer_as_each_parent_reading_its_own() {
    let batched = TestApp::spawn_with(Options::with_env(&env(true))).await;
    let mut single = Options::with_env(&env(false));
    single.db_url = Some(batched.db_url.clone());
    let single = TestApp::spawn_with(single).await;
    let (me, org) = owner(&batched).await;
    rich_dataset(&batched, org, me.id, PER).await;

    let mut compared = 0;
    let mut fewer = Vec::new();
    for nested in NESTED {
        let walk = Walk::with_nested(nested, true);
        for root in walk.roots() {
            let doc = walk.document(&root);
            let vars = json!({ "n": 6 });
            batched.state.sql_log.take();
            let a = batched.gql(Some(&me.token), &doc, vars.clone()).await;
            let a_statements = batched.request_statements().len();
            single.state.sql_log.take();
            let b = single.gql(Some(&me.token), &doc, vars).await;
            let b_statements = single.request_statements().len();
            // Both apps run the resolvers, so key order is async-graphql's on both; the values
            // must be equal.
            assert_eq!(
                a.to_string(),
                b.to_string(),
                "{root} with nested ({nested}): batched vs per parent\n{doc}"
            );
            assert!(a.get("errors").is_none(), "{root} ({nested}): {a}");
            compared += 1;
            if a_statements < b_statements {
                fewer.push(format!("{root}({nested})"));
            }
        }
    }
    assert!(compared >= 80, "compared {compared} documents");
    // These roots have nested connections batched by `graphql::siblings` (or one `UNION ALL`
    // statement, `scraping::service::lead_pages`) or per-node lookups shared by the page
    // (`ApprovalRequestPage`): the batched app must have taken that path (fewer statements),
    // or the comparison proves nothing.
    for root in [
        "campaigns",
        "scrapeJobs",
        "audiences",
        "searchGoals",
        "approvalRequests",
        "pendingApprovals",
        "urgentApprovals",
    ] {
        assert!(
            fewer.iter().any(|r| r.starts_with(&format!("{root}("))),
            "{root} ran no fewer statements batched: {fewer:?}"
        );
    }
    // Every nested connection of a campaign (recipients, events) is batched, whatever the shape
    // of the nested page.
    for nested in NESTED {
        assert!(
            fewer.contains(&format!("campaigns({nested})")),
            "campaigns ({nested}) ran no fewer statements batched: {fewer:?}"
        );
    }
}
