//! Insight's analytics events (`trackEvents`, `analyticsEvents`) and activity feed
//! (`recentActivity`).
//!
//! Expected lists are written by hand next to the fixture (never read back from the code under
//! test). A second organization's rows share the database and must never show up.

use chrono::{DateTime, Duration, DurationRound, Utc};
use leadgraph::auth::Role;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{self, field_errors, ok},
    helpers::{code, Options, TestApp},
};

const TRACK: &str =
    "mutation($e: [TrackEventInput!]!) { trackEvents(events: $e) { accepted duplicates } }";
const EVENTS: &str = "query($f: AnalyticsEventFilter, $n: Int, $a: String) { analyticsEvents(filter: $f, first: $n, after: $a) { totalCount pageInfo { hasNextPage endCursor } edges { node { clientEventId name occurredAt leadId sessionId properties } } } }";
const FEED: &str = "query($n: Int, $a: String, $t: [ActivityType!]) { recentActivity(first: $n, after: $a, types: $t) { pageInfo { hasNextPage endCursor } edges { node { id type action occurredAt title subjectId } } } }";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A minute-aligned time `minutes` after an hour ago (inside `trackEvents`' accepted window).
fn ago(minutes: i64) -> DateTime<Utc> {
    let base = Utc::now().duration_trunc(Duration::minutes(1)).unwrap() - Duration::hours(1);
    base + Duration::minutes(minutes)
}

fn ev(id: &str, name: &str, minute: i64, lead: Option<&str>) -> Value {
    json!({
        "clientEventId": id,
        "name": name,
        "occurredAt": ago(minute).to_rfc3339(),
        "leadId": lead,
        "sessionId": "s-1",
        "properties": {"path": format!("/{id}")},
    })
}

async fn stored(app: &TestApp, org: Uuid) -> u64 {
    entity::analytics_event::Entity::find()
        .filter(entity::analytics_event::Column::OrgId.eq(org))
        .count(&app.state.db)
        .await
        .unwrap()
}

fn ids_of(v: &Value) -> Vec<String> {
    v["analyticsEvents"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["clientEventId"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_batch_is_stored_once_in_one_insert_and_listed_newest_first() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let (org, token) = fixtures::org_with(&app, Role::Member).await;
    let lead = fixtures::lead(
        &app,
        &token,
        json!({"company": "Acme", "email": "a@acme.test"}),
    )
    .await;
    // e4 repeats e1's client id inside the batch: a duplicate, not stored.
    let batch = json!([
        ev("e1", "page_viewed", 1, Some(&lead)),
        ev("e2", "signed_up", 3, None),
        ev("e3", "page_viewed", 2, None),
        ev("e1", "page_viewed", 9, None),
    ]);
    ok(&app, &token, "{ viewer { role } }", json!({})).await;
    app.request_statements();
    let v = ok(&app, &token, TRACK, json!({"e": batch})).await;
    assert_eq!(v["trackEvents"], json!({"accepted": 3, "duplicates": 1}));
    // Every mutation also writes its audit row (the audit extension's, not the batch's cost).
    let statements: Vec<String> = app
        .request_statements()
        .into_iter()
        .filter(|s| !s.contains("\"audit_logs\""))
        .collect();
    let inserts: Vec<&String> = statements
        .iter()
        .filter(|s| s.contains("INSERT INTO \"analytics_events\""))
        .collect();
    assert_eq!(inserts.len(), 1, "one multi-row INSERT: {statements:#?}");
    assert_eq!(
        statements.len(),
        2,
        "the batch's leads + the INSERT: {statements:#?}"
    );

    // The same batch again (a client retrying after a lost answer) stores nothing.
    let v = ok(&app, &token, TRACK, json!({"e": batch})).await;
    assert_eq!(v["trackEvents"], json!({"accepted": 0, "duplicates": 4}));
    assert_eq!(stored(&app, org).await, 3);

    // Newest first by occurredAt: e2 (minute 3), e3 (2), e1 (1).
    app.request_statements();
    let v = ok(&app, &token, EVENTS, json!({"n": 2})).await;
    assert_eq!(app.request_statements().len(), 2, "page + totalCount");
    assert_eq!(ids_of(&v), ["e2", "e3"]);
    assert_eq!(v["analyticsEvents"]["totalCount"], 3);
    assert_eq!(v["analyticsEvents"]["pageInfo"]["hasNextPage"], true);
    let after = v["analyticsEvents"]["pageInfo"]["endCursor"].clone();
    let v = ok(&app, &token, EVENTS, json!({"n": 2, "a": after})).await;
    assert_eq!(ids_of(&v), ["e1"]);
    assert_eq!(v["analyticsEvents"]["pageInfo"]["hasNextPage"], false);
    let e1 = &v["analyticsEvents"]["edges"][0]["node"];
    assert_eq!(e1["leadId"], lead.as_str());
    assert_eq!(e1["properties"], json!({"path": "/e1"}));
    assert_eq!(e1["sessionId"], "s-1");

    // Filters: name, lead, session, time window [minute 2, minute 3).
    let v = ok(&app, &token, EVENTS, json!({"f": {"name": "page_viewed"}})).await;
    assert_eq!(ids_of(&v), ["e3", "e1"]);
    let v = ok(&app, &token, EVENTS, json!({"f": {"leadId": lead}})).await;
    assert_eq!(ids_of(&v), ["e1"]);
    let v = ok(&app, &token, EVENTS, json!({"f": {"sessionId": "other"}})).await;
    assert_eq!(ids_of(&v), Vec::<String>::new());
    let window = json!({"from": ago(2).to_rfc3339(), "to": ago(3).to_rfc3339()});
    let v = ok(&app, &token, EVENTS, json!({"f": window})).await;
    assert_eq!(ids_of(&v), ["e3"]);
    let bad = json!({"from": ago(3).to_rfc3339(), "to": ago(2).to_rfc3339()});
    let v = app.gql(Some(&token), EVENTS, json!({"f": bad})).await;
    assert_eq!(field_errors(&v), ["filter.to"]);
}

#[tokio::test]
async fn batches_are_bounded_and_validated_per_item_storing_nothing_on_error() {
    let app = TestApp::spawn().await;
    let (org, token) = fixtures::org_with(&app, Role::Member).await;
    let many: Vec<Value> = (0..501)
        .map(|i| ev(&format!("e{i}"), "tick", 1, None))
        .collect();
    let v = app.gql(Some(&token), TRACK, json!({"e": many})).await;
    assert_eq!(field_errors(&v), ["events"]);
    let v = app.gql(Some(&token), TRACK, json!({"e": []})).await;
    assert_eq!(field_errors(&v), ["events"]);
    let five_hundred: Vec<Value> = (0..500)
        .map(|i| ev(&format!("e{i}"), "tick", 1, None))
        .collect();
    let v = ok(&app, &token, TRACK, json!({"e": five_hundred})).await;
    assert_eq!(v["trackEvents"], json!({"accepted": 500, "duplicates": 0}));

    let mut bad = vec![
        ev("ok-1", "fine", 1, None),
        ev("ok-2", "bad name!", 1, None),
        ev("ok-3", "fine", 1, None),
        ev("", "fine", 1, None),
        ev("ok-5", "fine", 1, Some("not-an-id")),
        ev("ok-6", "fine", 1, None),
    ];
    bad[2]["occurredAt"] = json!((Utc::now() + Duration::days(2)).to_rfc3339());
    bad[5]["properties"] = json!([1, 2]);
    let v = app.gql(Some(&token), TRACK, json!({"e": bad})).await;
    assert_eq!(
        field_errors(&v),
        [
            "events[1].name",
            "events[2].occurredAt",
            "events[3].clientEventId",
            "events[4].leadId",
            "events[5].properties",
        ]
    );
    assert_eq!(
        stored(&app, org).await,
        500,
        "nothing of the bad batch is stored"
    );
}

#[tokio::test]
async fn another_organizations_lead_fails_the_batch_and_lists_never_mix() {
    let app = TestApp::spawn().await;
    let (org_a, a) = fixtures::org_with(&app, Role::Member).await;
    let (org_b, b) = fixtures::org_with(&app, Role::Member).await;
    let lead_b = fixtures::lead(&app, &b, json!({"company": "Beta", "email": "b@beta.test"})).await;
    let lead_a = fixtures::lead(&app, &a, json!({"company": "Acme", "email": "a@acme.test"})).await;
    let batch = json!([
        ev("a1", "seen", 1, Some(&lead_a)),
        ev("a2", "seen", 2, Some(&lead_b))
    ]);
    let v = app.gql(Some(&a), TRACK, json!({"e": batch})).await;
    assert_eq!(field_errors(&v), ["events[1].leadId"]);
    assert_eq!(stored(&app, org_a).await, 0, "all or nothing");

    // The same client event ids in two organizations are two events.
    let batch = json!([ev("x1", "seen", 1, None)]);
    let v = ok(&app, &a, TRACK, json!({"e": batch})).await;
    assert_eq!(v["trackEvents"]["accepted"], 1);
    let v = ok(&app, &b, TRACK, json!({"e": batch})).await;
    assert_eq!(v["trackEvents"]["accepted"], 1);
    let v = ok(
        &app,
        &b,
        TRACK,
        json!({"e": [ev("x2", "seen", 2, Some(&lead_b))]}),
    )
    .await;
    assert_eq!(v["trackEvents"]["accepted"], 1);
    assert_eq!(
        (stored(&app, org_a).await, stored(&app, org_b).await),
        (1, 2)
    );
    let v = ok(&app, &a, EVENTS, json!({})).await;
    assert_eq!(ids_of(&v), ["x1"]);
    assert_eq!(v["analyticsEvents"]["totalCount"], 1);
    let v = ok(&app, &a, EVENTS, json!({"f": {"leadId": lead_b}})).await;
    assert_eq!(ids_of(&v), Vec::<String>::new());
}

const CREATE_KEY: &str =
    "mutation($r: Role!) { createApiKey(input: {name: \"site\", role: $r}) { secret apiKey { id } } }";

async fn gql_with_key(app: &TestApp, key: &str, query: &str, vars: Value) -> Value {
    app.http
        .post(app.url("/graphql"))
        .header("x-api-key", key)
        .json(&json!({"query": query, "variables": vars}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn api_keys_track_with_a_member_role_and_viewer_keys_only_read() {
    let app = TestApp::spawn().await;
    let (org, admin) = fixtures::org_with(&app, Role::Admin).await;
    let key = |role: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let v = ok(app, &admin, CREATE_KEY, json!({"r": role})).await;
            let k = &v["createApiKey"];
            (
                k["secret"].as_str().unwrap().to_string(),
                k["apiKey"]["id"].as_str().unwrap().to_string(),
            )
        }
    };
    let (member_key, member_key_id) = key("MEMBER").await;
    let (viewer_key, _) = key("VIEWER").await;
    let batch = json!([ev("k1", "partner_sync", 1, None)]);
    let v = gql_with_key(&app, &member_key, TRACK, json!({"e": batch})).await;
    assert_eq!(v["data"]["trackEvents"]["accepted"], 1, "{v}");
    let row = entity::analytics_event::Entity::find()
        .filter(entity::analytics_event::Column::OrgId.eq(org))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.api_key_id.map(|k| k.to_string()), Some(member_key_id));

    let v = gql_with_key(
        &app,
        &viewer_key,
        TRACK,
        json!({"e": [ev("k2", "x", 1, None)]}),
    )
    .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    assert_eq!(stored(&app, org).await, 1);
    let v = gql_with_key(&app, &viewer_key, EVENTS, json!({})).await;
    assert_eq!(v["data"]["analyticsEvents"]["totalCount"], 1, "{v}");
    // A VIEWER person cannot track either.
    let viewer = app.token(org, Role::Viewer).await;
    let v = app
        .gql(Some(&viewer), TRACK, json!({"e": [ev("k3", "x", 1, None)]}))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));
}

#[tokio::test]
async fn unauthenticated_callers_get_nothing() {
    let app = TestApp::spawn().await;
    for (q, vars) in [
        (TRACK, json!({"e": [ev("u1", "x", 1, None)]})),
        (EVENTS, json!({})),
        (FEED, json!({})),
    ] {
        let v = app.gql(None, q, vars).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    }
    assert_eq!(
        entity::analytics_event::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        0
    );
}

/// A lead row written directly (no timeline entry of its own).
async fn lead_row(app: &TestApp, org: Uuid, company: &str) -> Uuid {
    let id = Uuid::now_v7();
    let at = t("2026-03-01T09:00:00Z");
    entity::lead::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        first_name: Set(None),
        last_name: Set(None),
        email: Set(None),
        phone: Set(None),
        company: Set(company.into()),
        title: Set(None),
        website: Set(None),
        industry: Set(None),
        city: Set(None),
        region: Set(None),
        country: Set(None),
        latitude: Set(None),
        longitude: Set(None),
        source: Set("MANUAL".into()),
        status: Set("NEW".into()),
        score: Set(0),
        score_reasons: Set(json!([])),
        custom_fields: Set(json!({})),
        provenance: Set(json!({})),
        owner_id: Set(None),
        last_contacted_at: Set(None),
        email_status: Set(None),
        validated_at: Set(None),
        phone_type: Set(None),
        phone_carrier: Set(None),
        phone_country: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    id
}

async fn timeline_row(app: &TestApp, org: Uuid, lead: Uuid, kind: &str, at: &str) {
    entity::lead_interaction::ActiveModel {
        id: Set(Uuid::now_v7()),
        lead_id: Set(lead),
        org_id: Set(org),
        kind: Set(kind.into()),
        actor_id: Set(None),
        data: Set(json!({})),
        created_at: Set(t(at)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

/// A campaign created at `created`, launched at `launched`, ended at `ended` with `status`.
async fn campaign_row(
    app: &TestApp,
    org: Uuid,
    name: &str,
    created: &str,
    launched: Option<&str>,
    ended: Option<(&str, &str)>,
) -> Uuid {
    let id = Uuid::now_v7();
    entity::campaign::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        name: Set(name.into()),
        template_id: Set(None),
        from_name: Set("Sender".into()),
        from_email: Set("sender@acme.test".into()),
        reply_to: Set(None),
        send_rate_per_minute: Set(None),
        schedule_at: Set(None),
        status: Set(ended.map_or("RUNNING", |e| e.1).into()),
        variants: Set(json!([])),
        content: Set(None),
        job_id: Set(None),
        created_by: Set(None),
        launched_at: Set(launched.map(t)),
        completed_at: Set(ended.map(|e| t(e.0))),
        last_error: Set(None),
        ab_test: Set(None),
        ab_winner: Set(None),
        require_validated_recipients: Set(false),
        created_at: Set(t(created)),
        updated_at: Set(t(created)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    id
}

async fn approval_row(
    app: &TestApp,
    org: Uuid,
    title: &str,
    created: &str,
    resolved: Option<(&str, &str)>,
) -> Uuid {
    let id = Uuid::now_v7();
    entity::approval_request::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        rule_id: Set(None),
        resource_type: Set("OTHER".into()),
        resource_id: Set("x".into()),
        title: Set(title.into()),
        description: Set(None),
        requested_by: Set(None),
        assignee_ids: Set(json!([])),
        assignee_role: Set(Some("ADMIN".into())),
        required_approvals: Set(1),
        approval_count: Set(0),
        status: Set(resolved.map_or("PENDING", |r| r.1).into()),
        priority: Set("NORMAL".into()),
        due_at: Set(None),
        urgent: Set(false),
        escalated_at: Set(None),
        resolved_at: Set(resolved.map(|r| t(r.0))),
        resolution_comment: Set(None),
        gated: Set(false),
        payload: Set(json!({})),
        created_at: Set(t(created)),
        updated_at: Set(t(created)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    id
}

async fn scrape_row(
    app: &TestApp,
    org: Uuid,
    name: &str,
    created: &str,
    finished: Option<(&str, &str)>,
) -> Uuid {
    let id = Uuid::now_v7();
    entity::scrape_job::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        created_by: Set(None),
        source: Set("web".into()),
        name: Set(name.into()),
        params: Set(json!({})),
        status: Set(finished.map_or("queued", |f| f.1).into()),
        seeded: Set(true),
        run_attempt: Set(0),
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
        finished_at: Set(finished.map(|f| t(f.0))),
        created_at: Set(t(created)),
        updated_at: Set(t(created)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    id
}

const CREATE_PIPELINE: &str = "mutation { createPipeline(input: {name: \"Sales\", stages: [{name: \"Lead\", winProbability: 10}]}) { id stages { id } } }";

#[allow(clippy::too_many_arguments)]
async fn deal_row(
    app: &TestApp,
    org: Uuid,
    stage: (Uuid, Uuid),
    lead: Uuid,
    title: &str,
    created: &str,
    closed: Option<(&str, &str)>,
) -> Uuid {
    let id = Uuid::now_v7();
    entity::deal::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        pipeline_id: Set(stage.0),
        stage_id: Set(stage.1),
        lead_id: Set(Some(lead)),
        title: Set(title.into()),
        amount_minor: Set(1000),
        currency: Set("EUR".into()),
        status: Set(closed.map_or("OPEN", |c| c.1).into()),
        lost_reason: Set(None),
        owner_id: Set(None),
        expected_close_date: Set(None),
        closed_at: Set(closed.map(|c| t(c.0))),
        created_by: Set(None),
        created_at: Set(t(created)),
        updated_at: Set(t(created)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    id
}

async fn stage_of(app: &TestApp, token: &str) -> (Uuid, Uuid) {
    let v = ok(app, token, CREATE_PIPELINE, json!({})).await;
    let p = &v["createPipeline"];
    let id = |s: &Value| Uuid::parse_str(s.as_str().unwrap()).unwrap();
    (id(&p["id"]), id(&p["stages"][0]["id"]))
}

/// `(type, action, occurredAt minute, title, subject)` of each item of a feed page.
fn feed_items(v: &Value) -> Vec<Item> {
    v["recentActivity"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            let at = t(n["occurredAt"].as_str().unwrap())
                .format("%H:%M")
                .to_string();
            let s = |k: &str| n[k].as_str().unwrap().to_string();
            (s("type"), s("action"), at, s("title"), s("subjectId"))
        })
        .collect()
}

type Item = (String, String, String, String, String);

/// Every page of the feed in pages of `n` (each one statement): the items and the page count.
async fn walk(app: &TestApp, token: &str, n: i64) -> (Vec<Item>, usize) {
    let mut got = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        app.request_statements();
        let v = ok(app, token, FEED, json!({"n": n, "a": after})).await;
        let statements = app.request_statements();
        assert_eq!(
            statements.len(),
            1,
            "one statement per page: {statements:#?}"
        );
        assert!(statements[0].contains("UNION ALL"), "{}", statements[0]);
        got.extend(feed_items(&v));
        pages += 1;
        let info = &v["recentActivity"]["pageInfo"];
        if info["hasNextPage"] == false {
            return (got, pages);
        }
        after = info["endCursor"].clone();
    }
}

#[tokio::test]
async fn the_feed_merges_every_source_newest_first_with_stable_cursors() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let (org, token) = fixtures::org_with(&app, Role::Viewer).await;
    let manager = app.token(org, Role::Manager).await;
    let stage = stage_of(&app, &manager).await;
    let day = "2026-03-02T";
    let at = |hm: &str| format!("{day}{hm}:00Z");
    let acme = lead_row(&app, org, "Acme").await;
    timeline_row(&app, org, acme, "created", &at("10:00")).await;
    timeline_row(&app, org, acme, "status_changed", &at("10:05")).await;
    let spring = campaign_row(
        &app,
        org,
        "Spring",
        &at("10:01"),
        Some(&at("10:03")),
        Some((&at("10:07"), "COMPLETED")),
    )
    .await;
    let launch = approval_row(
        &app,
        org,
        "Launch Spring",
        &at("10:02"),
        Some((&at("10:03"), "APPROVED")),
    )
    .await;
    let dentists = scrape_row(
        &app,
        org,
        "Dentists",
        &at("10:04"),
        Some((&at("10:06"), "completed")),
    )
    .await;
    let big = deal_row(
        &app,
        org,
        stage,
        acme,
        "Big",
        &at("10:05"),
        Some((&at("10:08"), "WON")),
    )
    .await;
    // Another organization's activity, later than all of the above: never shown.
    let (other, other_token) = fixtures::org_with(&app, Role::Manager).await;
    let other_stage = stage_of(&app, &other_token).await;
    let beta = lead_row(&app, other, "Beta").await;
    timeline_row(&app, other, beta, "created", &at("11:00")).await;
    campaign_row(
        &app,
        other,
        "Theirs",
        &at("11:01"),
        Some(&at("11:02")),
        None,
    )
    .await;
    approval_row(&app, other, "Theirs", &at("11:03"), None).await;
    scrape_row(&app, other, "Theirs", &at("11:04"), None).await;
    deal_row(&app, other, other_stage, beta, "Theirs", &at("11:05"), None).await;

    // By time, newest first; at equal times the consequence first (a deal before its lead's
    // timeline entry, a campaign's launch before the approval that let it).
    let expected: Vec<_> = [
        ("DEAL", "won", "10:08", "Deal Big: won", big),
        (
            "CAMPAIGN",
            "completed",
            "10:07",
            "Campaign Spring: completed",
            spring,
        ),
        (
            "SCRAPE",
            "completed",
            "10:06",
            "Scrape Dentists: completed",
            dentists,
        ),
        ("DEAL", "created", "10:05", "Deal Big: created", big),
        (
            "LEAD",
            "status_changed",
            "10:05",
            "Lead Acme: status changed",
            acme,
        ),
        (
            "SCRAPE",
            "created",
            "10:04",
            "Scrape Dentists: created",
            dentists,
        ),
        (
            "CAMPAIGN",
            "launched",
            "10:03",
            "Campaign Spring: launched",
            spring,
        ),
        (
            "APPROVAL",
            "approved",
            "10:03",
            "Approval Launch Spring: approved",
            launch,
        ),
        (
            "APPROVAL",
            "requested",
            "10:02",
            "Approval Launch Spring: requested",
            launch,
        ),
        (
            "CAMPAIGN",
            "created",
            "10:01",
            "Campaign Spring: created",
            spring,
        ),
        ("LEAD", "created", "10:00", "Lead Acme: created", acme),
    ]
    .iter()
    .map(|(ty, action, hm, title, subject)| {
        let s = |x: &str| x.to_string();
        (s(ty), s(action), s(hm), s(title), subject.to_string())
    })
    .collect();

    // Pages of 4 split the 10:05 tie (4th | 5th item), pages of 7 the 10:03 tie (7th | 8th).
    ok(&app, &token, "{ viewer { role } }", json!({})).await;
    assert_eq!(walk(&app, &token, 4).await, (expected.clone(), 3));
    assert_eq!(walk(&app, &token, 7).await, (expected.clone(), 2));

    // One page of everything equals the paged walk; ids name each item once.
    let v = ok(&app, &token, FEED, json!({"n": 50})).await;
    assert_eq!(feed_items(&v), expected);
    let ids: std::collections::HashSet<&str> = v["recentActivity"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 11);

    // `types` narrows the sources.
    let v = ok(&app, &token, FEED, json!({"t": ["APPROVAL", "SCRAPE"]})).await;
    let only: Vec<_> = expected
        .iter()
        .filter(|r| r.0 == "APPROVAL" || r.0 == "SCRAPE")
        .cloned()
        .collect();
    assert_eq!(feed_items(&v), only);
    let v = ok(&app, &token, FEED, json!({"n": 1, "t": ["DEAL"]})).await;
    assert_eq!(feed_items(&v), expected[..1].to_vec());
    let after = v["recentActivity"]["pageInfo"]["endCursor"].clone();
    let v = ok(
        &app,
        &token,
        FEED,
        json!({"n": 5, "a": after, "t": ["DEAL"]}),
    )
    .await;
    assert_eq!(feed_items(&v), vec![expected[3].clone()]);
    assert_eq!(v["recentActivity"]["pageInfo"]["hasNextPage"], false);

    // The other organization sees only its own five sources.
    let v = ok(&app, &other_token, FEED, json!({})).await;
    let titles: Vec<String> = feed_items(&v).into_iter().map(|r| r.3).collect();
    assert_eq!(
        titles,
        [
            "Deal Theirs: created",
            "Scrape Theirs: created",
            "Approval Theirs: requested",
            "Campaign Theirs: launched",
            "Campaign Theirs: created",
            "Lead Beta: created",
        ]
    );

    // Bad input.
    let v = app.gql(Some(&token), FEED, json!({"t": []})).await;
    assert_eq!(field_errors(&v), ["types"]);
    let v = app.gql(Some(&token), FEED, json!({"a": "garbage"})).await;
    assert_eq!(field_errors(&v), ["after"]);
    let v = app.gql(Some(&token), FEED, json!({"n": 201})).await;
    assert_eq!(field_errors(&v), ["first"]);
}
