//! The one keyset pager (`graphql::pagination`) walked through a list in small pages, forward
//! and backward, must give exactly the list one big page gives: no row lost, none twice, the
//! page-info flags right at both ends. Campaigns are newest first by id (`ByColumn` desc).

use serde_json::{json, Value};

use crate::{fixtures, helpers::TestApp};

const PAGE: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
  campaigns(first: $first, after: $after, last: $last, before: $before) {
    nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

fn ids(v: &Value) -> Vec<String> {
    v["campaigns"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn small_pages_forward_and_backward_give_the_whole_list_once() {
    let app = TestApp::spawn().await;
    let (token, _) = fixtures::owner_token(&app).await;
    let template = fixtures::template(&app, &token, "<p>Hi</p>", "Hi").await;
    for _ in 0..5 {
        fixtures::campaign(&app, &token, &template, None).await;
    }
    let all = ids(&fixtures::ok(&app, &token, PAGE, json!({"first": 50})).await);
    assert_eq!(all.len(), 5);

    let (mut forward, mut after, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let v = fixtures::ok(&app, &token, PAGE, json!({"first": 2, "after": after})).await;
        let info = &v["campaigns"]["pageInfo"];
        assert_eq!(info["hasPreviousPage"], json!(pages > 0), "{v}");
        forward.extend(ids(&v));
        pages += 1;
        if info["hasNextPage"] != json!(true) {
            break;
        }
        after = info["endCursor"].clone();
    }
    assert_eq!((forward.clone(), pages), (all.clone(), 3));

    let (mut backward, mut before, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let v = fixtures::ok(&app, &token, PAGE, json!({"last": 2, "before": before})).await;
        let info = &v["campaigns"]["pageInfo"];
        assert_eq!(info["hasNextPage"], json!(pages > 0), "{v}");
        let mut page = ids(&v);
        page.extend(backward);
        backward = page;
        pages += 1;
        if info["hasPreviousPage"] != json!(true) {
            break;
        }
        before = info["startCursor"].clone();
    }
    assert_eq!((backward, pages), (all, 3));
}
