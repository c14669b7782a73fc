//! Compiled reads of `approvalRequests` (rule, history) and `searchGoals` (ranked results and
//! their leads): answered by one statement and equal to the resolvers' answers (key order
//! included) on data with NULLs and stored values outside the enums, a request without a rule,
//! one whose rule belongs to another organization (null), history entries of another
//! organization (never shown), results whose lead was deleted (gone with it), a result whose
//! lead belongs to another organization (null), unique ranks paged by cursor, cursors both ways, every role.
//! PostgreSQL only (the compiled path is).

use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    compiled::{at, compiled, pair_with_other, Pair},
    helpers::TestApp,
};

async fn rule(app: &TestApp, org: Uuid, k: usize) -> Uuid {
    let id = Uuid::now_v7();
    entity::approval_rule::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        name: Set(format!("Rule {k} \"q\" ✓")),
        resource_type: Set(["CAMPAIGN", "weird"][k % 2].into()),
        condition: Set(json!({"field": "recipientCount", "operator": "GT", "value": 10})),
        approver_role: Set([Some("MANAGER"), None, Some("bogus")][k % 3].map(String::from)),
        approver_ids: Set(json!([])),
        required_approvals: Set(1 + k as i32),
        sla_hours: Set(k.is_multiple_of(2).then_some(24)),
        enabled: Set(k != 1),
        created_by: Set(None),
        created_at: Set(at(k as i64, 123_456_000)),
        updated_at: Set(at(k as i64 + 1, 0)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    id
}

/// Requests of `org`: with a rule of the organization, without one, with a rule of `other`
/// (must read as null); every status and priority, odd stored values, NULLs; histories of
/// 0–6 entries, one entry stored under `other` (never shown).
pub(crate) async fn seed_requests(app: &TestApp, org: Uuid, other: Uuid) {
    let db = &app.state.db;
    let (actor, _) = app.member(org, Role::Admin, "Actor").await;
    let mine = rule(app, org, 0).await;
    let mine2 = rule(app, org, 2).await;
    let theirs = rule(app, other, 1).await;
    let rules = [
        Some(mine),
        None,
        Some(theirs),
        Some(mine2),
        Some(mine),
        None,
        None,
    ];
    let statuses = [
        "PENDING",
        "APPROVED",
        "REJECTED",
        "CHANGES_REQUESTED",
        "weird",
        "CANCELLED",
        "EXPIRED",
    ];
    let fractions = [0, 120_000_000, 123_456_000, 5_000];
    for (k, status) in statuses.iter().enumerate() {
        let id = Uuid::now_v7();
        entity::approval_request::ActiveModel {
            id: Set(id),
            org_id: Set(org),
            rule_id: Set(rules[k]),
            resource_type: Set(["CAMPAIGN", "AI_REPLY", "odd", "OTHER"][k % 4].into()),
            resource_id: Set(format!("res-{k} \"q\"")),
            title: Set(format!("Request {k} \\ ü\n")),
            description: Set(k.is_multiple_of(2).then(|| "tab\there".to_string())),
            requested_by: Set((k % 3 != 0).then_some(actor)),
            assignee_ids: Set(json!([])),
            assignee_role: Set(
                [Some("MEMBER"), None, Some("OWNER"), Some("nope")][k % 4].map(String::from)
            ),
            required_approvals: Set(1 + (k as i32 % 3)),
            approval_count: Set(k as i32 % 2),
            status: Set(status.to_string()),
            priority: Set(["LOW", "NORMAL", "HIGH", "URGENT", "meh"][k % 5].into()),
            due_at: Set((k % 3 == 1).then(|| at(k as i64 + 10, fractions[k % 4]))),
            urgent: Set(k % 2 == 1),
            escalated_at: Set((k == 3).then(|| at(5, 999_999_000))),
            resolved_at: Set((k > 0).then(|| at(k as i64 + 2, fractions[(k + 1) % 4]))),
            resolution_comment: Set((k == 2).then(|| "no \"way\"".to_string())),
            gated: Set(k.is_multiple_of(2)),
            payload: Set(json!({"recipientCount": k})),
            created_at: Set(at(k as i64, fractions[k % 4])),
            updated_at: Set(at(k as i64, 0)),
        }
        .insert(db)
        .await
        .unwrap();
        let actions = [
            "CREATE", "APPROVE", "weird", "DELEGATE", "ESCALATE", "REJECT",
        ];
        for n in 0..(k % 7) {
            entity::approval_action::ActiveModel {
                id: Set(Uuid::now_v7()),
                request_id: Set(id),
                org_id: Set(if k == 4 && n == 1 { other } else { org }),
                actor_id: Set((n % 2 == 0).then_some(actor)),
                action: Set(actions[n % actions.len()].into()),
                comment: Set((n % 3 == 1).then(|| format!("c{n} \"x\""))),
                to_user_id: Set(None),
                created_at: Set(at(k as i64 + n as i64, fractions[n % 4])),
            }
            .insert(db)
            .await
            .unwrap();
        }
    }
}

async fn goal(app: &TestApp, org: Uuid, k: usize) -> Uuid {
    let id = Uuid::now_v7();
    entity::search_goal::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        created_by: Set(None),
        text: Set(format!("Find dentists {k} \"q\" ✓")),
        target_market: Set(k.is_multiple_of(2).then(|| "SMB\tEU".to_string())),
        locations: Set(json!(["Berlin"])),
        max_leads: Set(10 * (k as i32 + 1)),
        strategy: Set(
            json!({"industries": ["dental"], "keywords": ["dentist \"q\""],
            "jobTitles": [], "locations": ["Berlin"], "sources": [], "exclusions": []}),
        ),
        status: Set(["draft", "running", "ranking", "completed", "weird"][k % 5].into()),
        provider: Set("local".into()),
        model: Set("m-1".into()),
        created_at: Set(at(k as i64, 120_000_000)),
        updated_at: Set(at(k as i64, 0)),
        progress: Set(None),
        error: Set((k == 4).then(|| "ranking failed: \"x\"".to_string())),
        started_at: Set((k > 0).then(|| at(k as i64 + 1, 5_000))),
        finished_at: Set((k == 3).then(|| at(9, 0))),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    id
}

async fn result(app: &TestApp, goal: Uuid, org: Uuid, lead: Uuid, rank: i32) {
    entity::search_goal_result::ActiveModel {
        id: Set(Uuid::now_v7()),
        goal_id: Set(goal),
        org_id: Set(org),
        lead_id: Set(lead),
        rank: Set(rank),
        score: Set(100 - rank * 3),
        validation: Set(if rank % 3 == 0 { "rejected" } else { "valid" }.into()),
        reasons: Set(json!(["fits"])),
        provider: Set("local".into()),
        model: Set("m-1".into()),
        created_at: Set(at(rank as i64, 0)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

async fn leads_of(app: &TestApp, org: Uuid) -> Vec<Uuid> {
    entity::lead::Entity::find()
        .filter(entity::lead::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect()
}

/// Goals of `org` (and one of `other`, never shown): 20 results ranked out of insertion
/// order on the first (more than a page), one whose lead is of `other` (null), a result whose
/// lead is then deleted (gone with it); ranks inserted out of order on the one returned (see
/// [`pg_only_pages_by_rank_reach_every_result_once`]). Returns that goal.
pub(crate) async fn seed_goals(app: &TestApp, org: Uuid, other: Uuid) -> Uuid {
    let mine = leads_of(app, org).await;
    let theirs = leads_of(app, other).await;
    let g: Vec<Uuid> = {
        let mut g = Vec::new();
        for k in 0..5 {
            g.push(goal(app, org, k).await);
        }
        g
    };
    goal(app, other, 0).await;
    for (i, lead) in mine.iter().take(20).enumerate() {
        result(app, g[0], org, *lead, ((i * 7) % 20) as i32 + 1).await;
    }
    for (i, lead) in mine.iter().take(3).enumerate() {
        result(app, g[1], org, *lead, i as i32 + 1).await;
    }
    // A lead of another organization in a result of this one: never shown.
    result(app, g[1], org, theirs[0], 4).await;
    // A result of the other organization on this goal: never shown.
    result(app, g[1], other, theirs[1], 5).await;
    // A result whose lead is deleted: gone with it (the foreign key cascades).
    result(app, g[3], org, mine[21], 1).await;
    result(app, g[3], org, mine[22], 2).await;
    entity::lead::Entity::delete_by_id(mine[21])
        .exec(&app.state.db)
        .await
        .unwrap();
    // Ranks inserted out of order (ranks are unique per goal: migration 043).
    for (i, lead) in mine.iter().skip(7).take(6).enumerate() {
        result(app, g[2], org, *lead, [4, 1, 6, 2, 5, 3][i]).await;
    }
    g[2]
}

const SHAPE_10: &str = "{ approvalRequests(first: 20) { nodes { id title status priority resourceId rule { id name } history { action at } } } }";
const SHAPE_14: &str = "{ searchGoals(first: 5) { nodes { id text results(first: 20) { nodes { rank score lead { id email company } } } } } }";

const EVERY_REQUEST_FIELD: &str = "query($n: Int, $a: String, $b: String, $l: Int, $f: ApprovalRequestFilter) { \
    approvalRequests(first: $n, after: $a, before: $b, last: $l, filter: $f) { __typename totalCount \
    pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } \
    edges { __typename cursor node { id title } } \
    nodes { __typename id resourceType resourceId title description status priority dueAt urgent \
      escalatedAt requiredApprovals approvalCount assigneeRole gated resolvedAt resolutionComment \
      createdAt updatedAt \
      rule { __typename id name resourceType approverRole requiredApprovals slaHours enabled createdAt updatedAt } \
      history { __typename id requestId action comment at } } } }";

const EVERY_GOAL_FIELD: &str = "query($n: Int, $r: Int, $a: String, $b: String, $l: Int) { \
    searchGoals(first: $n, after: $a, before: $b, last: $l) { __typename totalCount \
    pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } \
    edges { __typename cursor node { id } } \
    nodes { __typename id text targetMarket maxLeads status error startedAt finishedAt provider \
      model createdAt updatedAt \
      results(first: $r) { __typename totalCount pageInfo { __typename hasNextPage hasPreviousPage } \
        nodes { __typename id rank score validationStatus leadId provider model \
          lead { __typename id fullName email company tags owner { id } } } } } } }";

/// `query` on both apps with one token each (the same member), compared; the compiled app's
/// statements.
async fn both_as(p: &Pair, tokens: &(String, String), query: &str, vars: Value) -> Value {
    p.compiled.state.sql_log.take();
    let c = p.compiled.gql(Some(&tokens.0), query, vars.clone()).await;
    let stmts = p.compiled.request_statements();
    let r = p.resolvers.gql(Some(&tokens.1), query, vars.clone()).await;
    assert_eq!(c, r, "{query} {vars}");
    assert!(compiled(&stmts), "{query}: {stmts:#?}");
    c
}

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_compiled_approval_requests_match_the_resolvers() {
    crate::helpers::require_postgres();
    let (p, org, other) = pair_with_other().await;
    seed_requests(&p.compiled, org, other).await;

    let (v, stmts) = p.both(SHAPE_10, json!({})).await;
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(stmts.len(), 1, "{stmts:#?}");
    assert!(compiled(&stmts));
    let nodes = v["data"]["approvalRequests"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 7);
    // Rules: 3 of the organization; the other organization's and the missing ones are null.
    let rules = nodes.iter().filter(|n| !n["rule"].is_null()).count();
    assert_eq!(rules, 3, "{v}");
    // The history entry stored under the other organization is not shown: 0+1+…+6 − 1.
    let entries: usize = nodes
        .iter()
        .map(|n| n["history"].as_array().unwrap().len())
        .sum();
    assert_eq!(entries, 21 - 1, "{v}");

    for n in [json!(null), json!(0), json!(3), json!(7)] {
        let (v, stmts) = p.both(EVERY_REQUEST_FIELD, json!({"n": n})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(compiled(&stmts));
        assert_eq!(stmts.len(), 2, "the page and its totalCount: {stmts:#?}");
    }
    // Keyset pages through the root's cursors, both directions.
    let (v, _) = p.both(EVERY_REQUEST_FIELD, json!({"n": 2})).await;
    let end = v["data"]["approvalRequests"]["pageInfo"]["endCursor"].clone();
    let (v, stmts) = p.both(EVERY_REQUEST_FIELD, json!({"n": 2, "a": end})).await;
    assert!(compiled(&stmts));
    let page = &v["data"]["approvalRequests"]["pageInfo"];
    assert_eq!(page["hasPreviousPage"], true, "{v}");
    let start = page["startCursor"].clone();
    let (v, stmts) = p
        .both(EVERY_REQUEST_FIELD, json!({"l": 1, "b": start}))
        .await;
    assert!(compiled(&stmts));
    assert_eq!(
        v["data"]["approvalRequests"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (v, _) = p.both(EVERY_REQUEST_FIELD, json!({"l": 3})).await;
    assert_eq!(
        v["data"]["approvalRequests"]["pageInfo"]["hasPreviousPage"],
        true
    );
    for f in [
        json!({"status": ["PENDING", "APPROVED"]}),
        json!({"status": []}),
        json!({"resourceType": "CAMPAIGN"}),
        json!({"urgent": true}),
        json!({"assignedToMe": true, "urgent": false}),
    ] {
        let (v, stmts) = p.both(EVERY_REQUEST_FIELD, json!({"n": 10, "f": f})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(compiled(&stmts), "{f}");
    }

    // Left to the resolvers (same answers): users, the viewer's rights, JSON, a non-canonical
    // literal; refused input gets the resolvers' errors.
    for q in [
        "{ approvalRequests { nodes { canAct } } }",
        "{ approvalRequests { nodes { requestedBy { id } assignees { id } } } }",
        "{ approvalRequests { nodes { payload } } }",
        "{ approvalRequests { nodes { rule { condition } } } }",
        "{ approvalRequests { nodes { history { actor { id } } } } }",
        "{ approvalRequests(filter: {status: PENDING}) { nodes { id } } }",
    ] {
        let (v, stmts) = p.both(q, json!({})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(!compiled(&stmts), "{q}: {stmts:#?}");
    }
    for q in [
        "{ approvalRequests(first: 500) { nodes { id } } }",
        "{ approvalRequests(after: \"nope\") { nodes { id } } }",
    ] {
        let (v, _) = p.both(q, json!({})).await;
        assert_eq!(crate::helpers::code(&v), Some("BAD_USER_INPUT"), "{q}: {v}");
    }
}

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_compiled_search_goals_match_the_resolvers() {
    crate::helpers::require_postgres();
    let (p, org, other) = pair_with_other().await;
    seed_goals(&p.compiled, org, other).await;

    // SHAPE_14 over every goal (ranks are unique: the rank order is total).
    let q = "{ searchGoals(first: 5) { nodes { id text results(first: 20) { nodes { rank score lead { id email company } } } } } }";
    let (v, stmts) = p.both(q, json!({})).await;
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(stmts.len(), 1, "{stmts:#?}");
    assert!(compiled(&stmts));
    let goals = v["data"]["searchGoals"]["nodes"].as_array().unwrap();
    // Newest first: the fifth goal (no results), then the fourth (its other result's lead was
    // deleted: one left).
    assert_eq!(goals[1]["results"]["nodes"].as_array().unwrap().len(), 1);

    for (n, r) in [
        (json!(null), json!(2)),
        (json!(2), json!(0)),
        (json!(5), json!(1)),
    ] {
        let (v, stmts) = p.both(EVERY_GOAL_FIELD, json!({"n": n, "r": r})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(compiled(&stmts));
        assert_eq!(stmts.len(), 2, "the page and its totalCount: {stmts:#?}");
    }
    // The first goal: 20 results in rank order over several page sizes.
    let last = "query($r: Int) { searchGoals(last: 1) { nodes { id results(first: $r) { totalCount pageInfo { hasNextPage } nodes { rank validationStatus lead { id } } } } } }";
    for r in [json!(null), json!(3), json!(20), json!(21)] {
        let (v, stmts) = p.both(last, json!({"r": r})).await;
        assert!(compiled(&stmts), "{stmts:#?}");
        let results = &v["data"]["searchGoals"]["nodes"][0]["results"];
        assert_eq!(results["totalCount"], 20, "{v}");
        let ranks: Vec<i64> = results["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["rank"].as_i64().unwrap())
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
    }
    // The second goal: the lead of another organization reads as null, the other
    // organization's result is not shown.
    let second = "{ searchGoals(last: 2) { nodes { results { totalCount nodes { rank leadId lead { id } } } } } }";
    let (v, _) = p.both(second, json!({})).await;
    let results = &v["data"]["searchGoals"]["nodes"][0]["results"];
    assert_eq!(results["totalCount"], 4, "{v}");
    assert!(results["nodes"][3]["lead"].is_null(), "{v}");

    // Cursors on the root, both ways.
    let (v, _) = p.both(EVERY_GOAL_FIELD, json!({"n": 2, "r": 1})).await;
    let end = v["data"]["searchGoals"]["pageInfo"]["endCursor"].clone();
    let (v, stmts) = p
        .both(EVERY_GOAL_FIELD, json!({"n": 2, "r": 1, "a": end}))
        .await;
    assert!(compiled(&stmts));
    let start = v["data"]["searchGoals"]["pageInfo"]["startCursor"].clone();
    let (v, _) = p
        .both(EVERY_GOAL_FIELD, json!({"l": 1, "r": 1, "b": start}))
        .await;
    assert_eq!(
        v["data"]["searchGoals"]["nodes"].as_array().unwrap().len(),
        1
    );

    for q in [
        "{ searchGoals { nodes { results(first: 2) { edges { cursor } } } } }",
        "{ searchGoals { nodes { results(last: 2) { nodes { rank } } } } }",
        "{ searchGoals { nodes { results { nodes { reasons } } } } }",
        "{ searchGoals { nodes { locations strategy { keywords } } } }",
        "{ searchGoals { nodes { jobs { totalCount } jobsTotal } } }",
    ] {
        let (v, stmts) = p.both(q, json!({})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(!compiled(&stmts), "{q}: {stmts:#?}");
    }
    for q in [
        "{ searchGoals(first: 500) { nodes { id } } }",
        "{ searchGoals { nodes { results(first: -1) { nodes { rank } } } } }",
    ] {
        let (v, _) = p.both(q, json!({})).await;
        assert_eq!(crate::helpers::code(&v), Some("BAD_USER_INPUT"), "{q}: {v}");
    }
}

/// Ranks are unique per goal (migration 043), so a rank cursor never skips a result: paging
/// the goal's results two at a time with `after` reaches each result exactly once, in rank
/// order, the same on both paths; a second result with a taken rank is refused.
#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_pages_by_rank_reach_every_result_once() {
    crate::helpers::require_postgres();
    let (p, org, other) = pair_with_other().await;
    let goal = seed_goals(&p.compiled, org, other).await;
    let spare = leads_of(&p.compiled, org).await[0];
    let tied = entity::search_goal_result::ActiveModel {
        id: Set(Uuid::now_v7()),
        goal_id: Set(goal),
        org_id: Set(org),
        lead_id: Set(spare),
        rank: Set(2),
        score: Set(1),
        validation: Set("valid".into()),
        reasons: Set(json!([])),
        provider: Set("local".into()),
        model: Set("m-1".into()),
        created_at: Set(at(0, 0)),
    }
    .insert(&p.compiled.state.db)
    .await;
    assert!(tied.is_err(), "a tied rank must be refused");
    let q = "query($g: ID!, $a: String) { searchGoal(id: $g) { results(first: 2, after: $a) { pageInfo { hasNextPage endCursor } nodes { id rank } } } }";
    let mut seen: Vec<(i64, String)> = Vec::new();
    let mut after = Value::Null;
    for _ in 0..10 {
        let vars = json!({"g": goal.to_string(), "a": after});
        let (v, _) = p.both(q, vars).await;
        let page = &v["data"]["searchGoal"]["results"];
        for n in page["nodes"].as_array().unwrap() {
            seen.push((
                n["rank"].as_i64().unwrap(),
                n["id"].as_str().unwrap().into(),
            ));
        }
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let ranks: Vec<i64> = seen.iter().map(|(r, _)| *r).collect();
    assert_eq!(ranks, vec![1, 2, 3, 4, 5, 6], "{seen:?}");
}

/// Every role reads both roots the same way on both paths (every role may read them:
/// `ReadApprovals` and `ReadAi` are VIEWER permissions); without a token both answer the
/// resolvers' UNAUTHENTICATED.
#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_every_role_reads_the_same_both_ways() {
    crate::helpers::require_postgres();
    let (p, org, other) = pair_with_other().await;
    seed_requests(&p.compiled, org, other).await;
    seed_goals(&p.compiled, org, other).await;
    for role in [Role::Viewer, Role::Member, Role::Manager, Role::Admin] {
        let (user, token) = p.compiled.member(org, role, "Role").await;
        let tokens = (token, p.resolvers.session_token(user, org, role).await);
        for q in [SHAPE_10, EVERY_REQUEST_FIELD, EVERY_GOAL_FIELD] {
            let v = both_as(&p, &tokens, q, json!({"r": 2})).await;
            assert!(v.get("errors").is_none(), "{role:?}: {v}");
        }
        let f = json!({"f": {"assignedToMe": true}});
        both_as(&p, &tokens, EVERY_REQUEST_FIELD, f).await;
    }
    // The other organization sees its own (none of these).
    let (user, token) = p.compiled.member(other, Role::Owner, "Other").await;
    let tokens = (
        token,
        p.resolvers.session_token(user, other, Role::Owner).await,
    );
    let v = both_as(&p, &tokens, SHAPE_10, json!({})).await;
    assert_eq!(v["data"]["approvalRequests"]["nodes"], json!([]));
    let v = both_as(&p, &tokens, SHAPE_14, json!({})).await;
    assert_eq!(
        v["data"]["searchGoals"]["nodes"].as_array().unwrap().len(),
        1
    );
    for q in [SHAPE_10, SHAPE_14] {
        let c = p.compiled.gql(None, q, json!({})).await;
        let r = p.resolvers.gql(None, q, json!({})).await;
        assert_eq!(c, r);
        assert_eq!(crate::helpers::code(&c), Some("UNAUTHENTICATED"), "{c}");
    }
}

/// One statement whatever the page sizes.
#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_compiled_approvals_and_goals_cost_one_statement_at_every_page_size() {
    crate::helpers::require_postgres();
    let (p, org, other) = pair_with_other().await;
    seed_requests(&p.compiled, org, other).await;
    seed_goals(&p.compiled, org, other).await;
    let requests = "query($n: Int!) { approvalRequests(first: $n) { nodes { id rule { name } history { action at } } } }";
    let goals = "query($n: Int!, $r: Int!) { searchGoals(first: $n) { nodes { id results(first: $r) { pageInfo { hasNextPage } nodes { rank lead { id tags } } } } } }";
    for (n, r) in [(1, 1), (3, 10), (7, 50)] {
        for q in [requests, goals] {
            let (v, stmts) = p.both(q, json!({"n": n, "r": r})).await;
            assert!(v.get("errors").is_none(), "{v}");
            assert_eq!(stmts.len(), 1, "{stmts:#?}");
        }
    }
}
