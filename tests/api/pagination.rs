//! The one keyset pager (`graphql::pagination`) walked through a list in small pages, forward
//! and backward, must give exactly the list one big page gives: no row lost, none twice, the
//! page-info flags right at both ends. Campaigns are newest first by id (`ByColumn` desc); lead
//! lists are ordered by a sort key with the id as tie-break (`ByExprThenId`), walked across ties
//! for several orderings; a scrape job's leads are the same pager over the job's links.

use chrono::{Duration, Utc};
use entity::{lead, scrape_job, scrape_job_lead};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{fixtures, helpers::TestApp};

const CAMPAIGNS: &str = "query($first: Int, $after: String, $last: Int, $before: String) {
  campaigns(first: $first, after: $after, last: $last, before: $before) {
    nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

const LEADS: &str =
    "query($first: Int, $after: String, $last: Int, $before: String, $o: LeadOrder) {
  leads(first: $first, after: $after, last: $last, before: $before, orderBy: $o) {
    nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

const JOB_LEADS: &str = "query($id: ID!, $first: Int, $after: String) {
  scrapeJob(id: $id) { leads(first: $first, after: $after) {
    nodes { id } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }";

/// The connection at `path` in `data`.
fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn ids(v: &Value, path: &[&str]) -> Vec<String> {
    at(v, path)["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

/// Vars with the page arguments set (and the others null).
fn with(vars: &Value, page: Value) -> Value {
    let mut v = vars.clone();
    for (k, x) in page.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// The list at `path` walked forward in pages of `n` (`first`/`after` = `endCursor`), checking
/// `hasPreviousPage` on every page; its ids and the number of pages.
async fn forward(
    app: &TestApp,
    token: &str,
    (q, vars, path): (&str, &Value, &[&str]),
    n: i32,
) -> (Vec<String>, usize) {
    let (mut seen, mut after, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let page = json!({"first": n, "after": after});
        let v = fixtures::ok(app, token, q, with(vars, page)).await;
        let info = &at(&v, path)["pageInfo"];
        assert_eq!(info["hasPreviousPage"], json!(pages > 0), "{v}");
        seen.extend(ids(&v, path));
        pages += 1;
        if info["hasNextPage"] != json!(true) {
            return (seen, pages);
        }
        after = info["endCursor"].clone();
    }
}

/// The list at `path` walked backward from its end in pages of `n` (`last`/`before` =
/// `startCursor`), checking `hasNextPage`; its ids in list order and the number of pages.
async fn backward(
    app: &TestApp,
    token: &str,
    (q, vars, path): (&str, &Value, &[&str]),
    n: i32,
) -> (Vec<String>, usize) {
    let (mut seen, mut before, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let page = json!({"last": n, "before": before});
        let v = fixtures::ok(app, token, q, with(vars, page)).await;
        let info = &at(&v, path)["pageInfo"];
        assert_eq!(info["hasNextPage"], json!(pages > 0), "{v}");
        let mut older = ids(&v, path);
        older.extend(seen);
        seen = older;
        pages += 1;
        if info["hasPreviousPage"] != json!(true) {
            return (seen, pages);
        }
        before = info["startCursor"].clone();
    }
}

#[tokio::test]
async fn small_pages_forward_and_backward_give_the_whole_list_once() {
    let app = TestApp::spawn().await;
    let (token, _) = fixtures::owner_token(&app).await;
    let template = fixtures::template(&app, &token, "<p>Hi</p>", "Hi").await;
    for _ in 0..5 {
        fixtures::campaign(&app, &token, &template, None).await;
    }
    let list = (CAMPAIGNS, &json!({}), &["campaigns"][..]);
    let all = ids(
        &fixtures::ok(&app, &token, CAMPAIGNS, json!({"first": 50})).await,
        list.2,
    );
    assert_eq!(all.len(), 5);
    assert_eq!(forward(&app, &token, list, 2).await, (all.clone(), 3));
    assert_eq!(backward(&app, &token, list, 2).await, (all, 3));
}

/// Nine leads with scores and creation times that tie in runs of two and three, so that pages
/// of two end inside a tie: `(id, score, created_at offset in seconds)`.
async fn tied_leads(app: &TestApp, org: Uuid) -> Vec<(Uuid, i32, i64)> {
    let ids = fixtures::insert_leads(app, org, "tied.test", 9).await;
    let base = Utc::now() - Duration::hours(1);
    let mut leads = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        let (score, secs) = (
            [3, 1, 3, 2, 1, 3, 0, 2, 3][i],
            [0, 0, 0, 5, 5, 9, 9, 9, 12][i],
        );
        lead::Entity::update_many()
            .col_expr(lead::Column::Score, Expr::value(score))
            .col_expr(
                lead::Column::CreatedAt,
                Expr::value(base + Duration::seconds(secs)),
            )
            .filter(lead::Column::Id.eq(id))
            .exec(&app.state.db)
            .await
            .unwrap();
        leads.push((id, score, secs));
    }
    leads
}

/// The ids in the order of `key` then id (both descending when `desc`).
fn sorted<K: Ord>(
    leads: &[(Uuid, i32, i64)],
    key: impl Fn(&(Uuid, i32, i64)) -> K,
    desc: bool,
) -> Vec<String> {
    let mut v: Vec<_> = leads.iter().map(|l| (key(l), l.0)).collect();
    v.sort();
    if desc {
        v.reverse();
    }
    v.into_iter().map(|(_, id)| id.to_string()).collect()
}

#[tokio::test]
async fn lead_lists_in_small_pages_both_ways_for_each_ordering_give_the_big_page() {
    let app = TestApp::spawn().await;
    let (token, org) = fixtures::owner_token(&app).await;
    let leads = tied_leads(&app, org).await;
    let orderings = [
        (
            json!({"field": "SCORE", "direction": "DESC"}),
            sorted(&leads, |l| l.1, true),
        ),
        (
            json!({"field": "SCORE", "direction": "ASC"}),
            sorted(&leads, |l| l.1, false),
        ),
        (
            json!({"field": "CREATED_AT", "direction": "ASC"}),
            sorted(&leads, |l| l.2, false),
        ),
        (
            json!({"field": "CREATED_AT", "direction": "DESC"}),
            sorted(&leads, |l| l.2, true),
        ),
    ];
    for (order, expected) in orderings {
        let vars = json!({ "o": order });
        let list = (LEADS, &vars, &["leads"][..]);
        let big = fixtures::ok(&app, &token, LEADS, with(&vars, json!({"first": 50}))).await;
        let all = ids(&big, list.2);
        assert_eq!(all, expected, "{order}: sort key, then id");
        for n in [1, 2, 4] {
            let pages = all.len().div_ceil(n as usize);
            assert_eq!(
                forward(&app, &token, list, n).await,
                (all.clone(), pages),
                "{order} {n}"
            );
            assert_eq!(
                backward(&app, &token, list, n).await,
                (all.clone(), pages),
                "{order} {n}"
            );
        }
    }
}

#[tokio::test]
async fn a_scrape_jobs_leads_in_small_pages_give_the_big_page() {
    let app = TestApp::spawn().await;
    let (token, org) = fixtures::owner_token(&app).await;
    let leads = tied_leads(&app, org).await;
    let now = Utc::now();
    let job = Uuid::now_v7();
    scrape_job::ActiveModel {
        id: Set(job),
        org_id: Set(org),
        created_by: Set(None),
        source: Set("WEBSITE".into()),
        name: Set("Tied".into()),
        params: Set(json!({})),
        status: Set("succeeded".into()),
        seeded: Set(true),
        run_attempt: Set(1),
        pages_total: Set(0),
        pages_fetched: Set(0),
        pages_failed: Set(0),
        pages_skipped: Set(0),
        leads_found: Set(0),
        leads_created: Set(0),
        leads_updated: Set(0),
        current_url: Set(None),
        error: Set(None),
        job_id: Set(None),
        started_at: Set(None),
        finished_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    // Two of the organization's leads are not the job's.
    let linked = &leads[..7];
    for (id, _, _) in linked {
        scrape_job_lead::ActiveModel {
            scrape_job_id: Set(job),
            lead_id: Set(*id),
            org_id: Set(org),
            outcome: Set("created".into()),
            url: Set("https://tied.test/".into()),
            created_at: Set(now),
            lead_created_at: Set(None),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }
    fixtures::link_lead_order(&app).await;
    let vars = json!({ "id": job.to_string() });
    let list = (JOB_LEADS, &vars, &["scrapeJob", "leads"][..]);
    let big = fixtures::ok(&app, &token, JOB_LEADS, with(&vars, json!({"first": 50}))).await;
    let all = ids(&big, list.2);
    assert_eq!(all, sorted(linked, |l| l.2, true), "newest first, then id");
    for n in [1, 2, 3] {
        let pages = all.len().div_ceil(n as usize);
        assert_eq!(
            forward(&app, &token, list, n).await,
            (all.clone(), pages),
            "{n}"
        );
    }
    // A cursor of another ordering of the leads is refused.
    let by_score = json!({"o": {"field": "SCORE", "direction": "DESC"}, "first": 1});
    let v = fixtures::ok(&app, &token, LEADS, by_score).await;
    let cursor = v["leads"]["pageInfo"]["endCursor"].clone();
    let v = app
        .gql(
            Some(&token),
            JOB_LEADS,
            with(&vars, json!({"first": 2, "after": cursor})),
        )
        .await;
    assert_eq!(crate::helpers::code(&v), Some("BAD_USER_INPUT"), "{v}");
}
