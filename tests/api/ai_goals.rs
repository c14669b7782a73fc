//! Running search goals: the saga over fixture websites on loopback with the local provider
//! (scrape jobs, skipped sources, ranked and validated leads, `search_goal.progress` events),
//! running twice, cancelling, a goal none of whose sources can run, authentication, roles and
//! isolation.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    http::{header, StatusCode, Uri},
    response::IntoResponse,
    Router,
};
use leadgraph::auth::Role;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{data, signed_up_org},
    helpers::{code, host_of, Options, TestApp, Ws},
};

const CREATE_GOAL: &str = "mutation($i: CreateSearchGoalInput!) { createSearchGoal(input: $i) { id status strategy { industries locations exclusions sources { source query } } } }";
const UPDATE_STRATEGY: &str = "mutation($id: ID!, $s: SearchStrategyInput!) { updateSearchStrategy(id: $id, strategy: $s) { id } }";
const RUN: &str = "mutation($id: ID!) { runSearchGoal(id: $id) { id status startedAt } }";
const CANCEL: &str = "mutation($id: ID!) { cancelSearchGoal(id: $id) { id status } }";
const GOAL: &str = "query($id: ID!) { searchGoal(id: $id) { id status error jobsTotal jobsDone sourcesSkipped leadsFound ranked valid finishedAt
    jobs(first: 50) { totalCount nodes { position source query skippedReason scrapeJob { id status } } }
    results(first: 50) { totalCount nodes { rank score validationStatus reasons provider model lead { id email phone company } } } } }";

/// Serves `pages` (path, html, delay) on 127.0.0.1:0; returns the base URL.
async fn site(pages: Vec<(&'static str, String, u64)>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let pages: Arc<HashMap<String, (String, u64)>> = Arc::new(
        pages
            .into_iter()
            .map(|(p, h, d)| (p.to_string(), (h.replace("{base}", &base), d)))
            .collect(),
    );
    let app = Router::new().fallback(move |uri: Uri| {
        let pages = pages.clone();
        async move {
            match pages.get(uri.path()).cloned() {
                None => StatusCode::NOT_FOUND.into_response(),
                Some((html, delay)) => {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
                }
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A Berlin dental practice (an email on the home page, a phone number on /team).
async fn dental_site() -> String {
    site(vec![
        (
            "/",
            r#"<html><head><title>Berlin Dental Implants</title><script type="application/ld+json">{"@context":"https://schema.org","@type":"LocalBusiness","name":"Berlin Dental Implants",
               "address":{"@type":"PostalAddress","addressLocality":"Berlin","addressCountry":"DE"}}</script></head>
               <body><p>Appointments: anna@berlin-dental-fixture.com</p><a href="/team">Team</a></body></html>"#
                .into(),
            0,
        ),
        (
            "/team",
            "<html><head><title>Team</title></head><body><p>Berlin desk: +49 30 901820</p></body></html>".into(),
            0,
        ),
    ])
    .await
}

/// A dental chain (excluded by the goal).
async fn chain_site() -> String {
    site(vec![(
        "/",
        r#"<html><head><title>Smile Chains Dental</title><meta property="og:site_name" content="Smile Chains Dental"></head>
           <body><p>bob@smile-chains-fixture.com</p></body></html>"#
            .into(),
        0,
    )])
    .await
}

/// rank, email, phone, score, validation status.
type ResultRow<'a> = (i64, Option<&'a str>, Option<&'a str>, i64, &'a str);

async fn goal(app: &TestApp, token: &str, id: &str) -> Value {
    let v = app.gql(Some(token), GOAL, json!({"id": id})).await;
    data(&v, "searchGoal").clone()
}

async fn wait_goal(app: &TestApp, token: &str, id: &str, statuses: &[&str], secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let g = goal(app, token, id).await;
        if statuses.iter().any(|s| g["status"] == *s) {
            return g;
        }
        assert!(
            Instant::now() < deadline,
            "goal never reached {statuses:?}: {g}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn create_goal(app: &TestApp, token: &str, text: &str) -> Value {
    let v = app
        .gql(Some(token), CREATE_GOAL, json!({"i": {"text": text}}))
        .await;
    data(&v, "createSearchGoal").clone()
}

async fn subscribe(app: &TestApp, token: &str) -> Ws {
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(token).await;
    ws.send(json!({"type": "subscribe", "id": "g", "payload": {
        "query": "subscription { events(types: [SEARCH_GOAL_PROGRESS]) { id type data } }"}}))
        .await;
    ws
}

/// `search_goal.progress` payloads until one with a final status.
async fn progress_until_final(ws: &mut Ws, secs: u64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut out = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "no final progress; got {out:?}");
        let m = ws.next_json(secs).await;
        assert_eq!(m["type"], "next", "{m}");
        let e = &m["payload"]["data"]["events"];
        assert_eq!(e["type"], "SEARCH_GOAL_PROGRESS");
        let d = e["data"].clone();
        let done = ["COMPLETED", "FAILED", "CANCELLED"].contains(&d["status"].as_str().unwrap());
        out.push(d);
        if done {
            return out;
        }
    }
}

#[tokio::test]
async fn a_goal_over_fixture_sites_yields_ranked_validated_leads_and_progress_events() {
    let (a, b) = (dental_site().await, chain_site().await);
    let app = TestApp::spawn_with(Options::allowing(&[host_of(&a), host_of(&b)])).await;
    let org = signed_up_org(&app).await;
    let token = app.token(org, Role::Member).await;

    // The local provider turns the goal into a strategy with both sites as WEBSITE sources.
    let g = create_goal(
        &app,
        &token,
        &format!("Dental practices in Berlin excluding chains, e.g. {a}/ and {b}/"),
    )
    .await;
    let id = g["id"].as_str().unwrap().to_string();
    assert_eq!(g["status"], "DRAFT");
    let sources = g["strategy"]["sources"].as_array().unwrap();
    assert!(
        sources.contains(&json!({"source": "WEBSITE", "query": format!("{a}/")})),
        "{g}"
    );
    assert!(
        sources.contains(&json!({"source": "WEBSITE", "query": format!("{b}/")})),
        "{g}"
    );
    assert_eq!(g["strategy"]["exclusions"], json!(["chains"]));
    // A precise strategy, so the scores below are exact.
    let v = app
        .gql(
            Some(&token),
            UPDATE_STRATEGY,
            json!({"id": id, "s": {
            "industries": ["Dental"], "keywords": ["implants"], "jobTitles": [],
            "locations": ["Berlin"], "exclusions": ["chains"],
            "sources": [
                {"source": "WEBSITE", "query": format!("{a}/")},
                {"source": "SEARCH", "query": "dentists berlin"},
                {"source": "WEBSITE", "query": format!("{b}/")},
                {"source": "GOOGLE_MAPS", "query": "dentists in Berlin"}
            ]}}),
        )
        .await;
    data(&v, "updateSearchStrategy");

    let mut ws = subscribe(&app, &token).await;
    let v = app.gql(Some(&token), RUN, json!({"id": id})).await;
    assert_eq!(data(&v, "runSearchGoal")["status"], "RUNNING");
    let events = progress_until_final(&mut ws, 60).await;
    let g = wait_goal(&app, &token, &id, &["COMPLETED"], 10).await;

    // Two scrape jobs; SEARCH and GOOGLE_MAPS skipped for want of API keys.
    let jobs = g["jobs"]["nodes"].as_array().unwrap();
    assert_eq!(g["jobs"]["totalCount"], 4);
    let by_pos = |p: i64| jobs.iter().find(|j| j["position"] == p).unwrap();
    assert_eq!(by_pos(0)["scrapeJob"]["status"], "SUCCEEDED");
    assert_eq!(by_pos(2)["scrapeJob"]["status"], "SUCCEEDED");
    assert!(by_pos(1)["scrapeJob"].is_null());
    assert!(
        by_pos(1)["skippedReason"]
            .as_str()
            .unwrap()
            .contains("Brave API key"),
        "{jobs:?}"
    );
    assert!(by_pos(3)["skippedReason"]
        .as_str()
        .unwrap()
        .contains("Google Places API key"));
    assert_eq!(
        (&g["jobsTotal"], &g["jobsDone"], &g["sourcesSkipped"]),
        (&json!(2), &json!(2), &json!(2))
    );
    assert_eq!(
        (&g["leadsFound"], &g["ranked"], &g["valid"]),
        (&json!(3), &json!(3), &json!(2)),
        "{g}"
    );
    assert!(g["error"].is_null());
    assert!(!g["finishedAt"].is_null());

    // Ranked: valid leads first, by score; every point has a reason.
    let results = g["results"]["nodes"].as_array().unwrap();
    let summary: Vec<ResultRow> = results
        .iter()
        .map(|r| {
            (
                r["rank"].as_i64().unwrap(),
                r["lead"]["email"].as_str(),
                r["lead"]["phone"].as_str(),
                r["score"].as_i64().unwrap(),
                r["validationStatus"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, Some("anna@berlin-dental-fixture.com"), None, 70, "VALID"),
            (2, None, Some("+4930901820"), 50, "VALID"),
            (
                3,
                Some("bob@smile-chains-fixture.com"),
                None,
                45,
                "REJECTED"
            ),
        ],
        "{results:?}"
    );
    assert_eq!(
        results[0]["reasons"],
        json!([
            "+35 industry Dental",
            "+10 keywords: implants",
            "+15 located in Berlin",
            "+10 has an email address"
        ])
    );
    assert_eq!(
        results[2]["reasons"].as_array().unwrap().last().unwrap(),
        "rejected: matches the exclusion \"chains\""
    );
    assert_eq!(results[0]["provider"], "local");
    assert_eq!(results[0]["model"], "heuristic-v1");
    assert_eq!(results[0]["lead"]["company"], "Berlin Dental Implants");

    // The progress events: RUNNING (run, then launched), RANKING, COMPLETED with the counts.
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.first(), Some(&"RUNNING"), "{events:?}");
    assert!(statuses.contains(&"RANKING"), "{events:?}");
    let launched = events
        .iter()
        .find(|e| e["jobsTotal"] == 2)
        .expect("a launch event");
    assert_eq!(launched["sourcesSkipped"], 2);
    let last = events.last().unwrap();
    assert_eq!(last["searchGoalId"], id.as_str());
    assert_eq!(
        (
            &last["status"],
            &last["jobsDone"],
            &last["leadsFound"],
            &last["ranked"],
            &last["valid"]
        ),
        (
            &json!("COMPLETED"),
            &json!(2),
            &json!(3),
            &json!(3),
            &json!(2)
        )
    );

    // A goal runs once: again is CONFLICT, and nothing was duplicated.
    let v = app.gql(Some(&token), RUN, json!({"id": id})).await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
    let v = app
        .gql(Some(&token), UPDATE_STRATEGY, json!({"id": id, "s": {"industries": [], "keywords": [], "jobTitles": [], "locations": [], "exclusions": [], "sources": []}}))
        .await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
    let v = app.gql(Some(&token), CANCEL, json!({"id": id})).await;
    assert_eq!(
        code(&v),
        Some("CONFLICT"),
        "a finished goal cannot be cancelled: {v}"
    );
    let db = &app.state.db;
    assert_eq!(
        entity::search_goal_result::Entity::find()
            .count(db)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        entity::search_goal_job::Entity::find()
            .count(db)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        entity::scrape_job::Entity::find().count(db).await.unwrap(),
        2
    );
}

#[tokio::test]
async fn a_repeated_saga_step_creates_no_second_job_or_result() {
    use leadgraph::{
        domains::ai::service::saga::{Payload, SearchGoalRun},
        jobs::{queue, JobRegistry, NewJob, Worker},
    };
    let a = dental_site().await;
    let app = TestApp::spawn_with(Options::allowing(&[host_of(&a)])).await;
    let org = signed_up_org(&app).await;
    let token = app.token(org, Role::Owner).await;
    let g = create_goal(
        &app,
        &token,
        &format!("Dental practices in Berlin, see {a}/"),
    )
    .await;
    let id = g["id"].as_str().unwrap().to_string();
    let v = app.gql(Some(&token), RUN, json!({"id": id})).await;
    data(&v, "runSearchGoal");
    let g = wait_goal(&app, &token, &id, &["COMPLETED"], 60).await;
    let results = g["ranked"].as_i64().unwrap();
    assert_eq!(results, 2, "{g}");
    // A stray extra step (as after a crash between its effects and its completion), run by a
    // worker of our own: it changes nothing.
    let goal_id = Uuid::parse_str(&id).unwrap();
    let user_id = entity::search_goal::Entity::find_by_id(goal_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .created_by
        .unwrap();
    let p = Payload {
        goal_id,
        user_id,
        role: Role::Owner,
        check: 0,
    };
    queue::enqueue(
        &app.state.db,
        NewJob {
            org_id: Some(org),
            ..NewJob::new("test.search_goal.run", serde_json::to_value(&p).unwrap())
        },
    )
    .await
    .unwrap();
    let mut registry = JobRegistry::new();
    registry.register("test.search_goal.run", SearchGoalRun(app.state.clone()));
    let worker = Worker::new(app.state.db.clone(), registry, Duration::from_secs(30));
    assert!(worker.run_once().await);
    let g2 = goal(&app, &token, &id).await;
    assert_eq!(g2["status"], "COMPLETED");
    assert_eq!(g2["results"]["totalCount"], 2);
    assert_eq!(g2["jobs"]["totalCount"], g["jobs"]["totalCount"]);
    assert_eq!(
        entity::scrape_job::Entity::find()
            .count(&app.state.db)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn cancel_stops_the_goal_and_its_jobs_and_unrunnable_goals_fail() {
    let slow = site(vec![(
        "/",
        "<html><body><p>slow@slow-fixture.com</p></body></html>".into(),
        4_000,
    )])
    .await;
    let app = TestApp::spawn_with(Options::allowing(&[host_of(&slow)])).await;
    let org = signed_up_org(&app).await;
    let token = app.token(org, Role::Member).await;

    // Cancel: the goal and its running scrape job.
    let g = create_goal(&app, &token, &format!("Software companies, see {slow}/")).await;
    let id = g["id"].as_str().unwrap().to_string();
    let v = app.gql(Some(&token), CANCEL, json!({"id": id})).await;
    assert_eq!(
        code(&v),
        Some("CONFLICT"),
        "a DRAFT goal is not running: {v}"
    );
    data(
        &app.gql(Some(&token), RUN, json!({"id": id})).await,
        "runSearchGoal",
    );
    // Wait until its scrape job exists.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let g = goal(&app, &token, &id).await;
        if g["jobsTotal"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "never launched: {g}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v = app.gql(Some(&token), CANCEL, json!({"id": id})).await;
    assert_eq!(data(&v, "cancelSearchGoal")["status"], "CANCELLED");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let g = goal(&app, &token, &id).await;
    assert_eq!(g["status"], "CANCELLED", "the saga stopped: {g}");
    let job = g["jobs"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["source"] == "WEBSITE")
        .unwrap()
        .clone();
    assert_eq!(job["scrapeJob"]["status"], "CANCELLED", "{g}");
    assert_eq!(g["results"]["totalCount"], 0);

    // A goal none of whose sources can run (no API keys): FAILED with the reasons.
    let g = create_goal(&app, &token, "Dentists in Berlin").await;
    let id = g["id"].as_str().unwrap().to_string();
    let sources: Vec<&str> = g["strategy"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["SEARCH", "GOOGLE_MAPS"]);
    data(
        &app.gql(Some(&token), RUN, json!({"id": id})).await,
        "runSearchGoal",
    );
    let g = wait_goal(&app, &token, &id, &["FAILED", "COMPLETED"], 20).await;
    assert_eq!(g["status"], "FAILED");
    let error = g["error"].as_str().unwrap();
    assert!(
        error.starts_with("no source could run: SEARCH dental berlin"),
        "{error}"
    );
    assert!(error.contains("Brave API key") && error.contains("Google Places API key"));
    assert_eq!(g["sourcesSkipped"], 2);
    assert_eq!(g["jobsTotal"], 0);
}

#[tokio::test]
async fn run_and_cancel_are_authenticated_authorized_and_scoped() {
    let app = TestApp::spawn().await;
    let org = signed_up_org(&app).await;
    let member = app.token(org, Role::Member).await;
    let viewer = app.token(org, Role::Viewer).await;
    let stranger = app.token(signed_up_org(&app).await, Role::Owner).await;
    let g = create_goal(&app, &member, "Dentists in Berlin").await;
    let id = g["id"].as_str().unwrap().to_string();

    for q in [RUN, CANCEL] {
        let v = app.gql(None, q, json!({"id": id})).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
        let v = app.gql(Some(&stranger), q, json!({"id": id})).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
        let v = app.gql(Some(&viewer), q, json!({"id": id})).await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
        let v = app.gql(Some(&member), q, json!({"id": "not-an-id"})).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    }
    let v = app.gql(Some(&stranger), GOAL, json!({"id": id})).await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    // A VIEWER reads the goal (and its, here empty, jobs and results).
    let v = app.gql(Some(&viewer), GOAL, json!({"id": id})).await;
    assert_eq!(data(&v, "searchGoal")["status"], "DRAFT");
    assert_eq!(v["data"]["searchGoal"]["results"]["totalCount"], 0);
    // Bad page arguments are BAD_USER_INPUT.
    let v = app
        .gql(
            Some(&member),
            "query($id: ID!) { searchGoal(id: $id) { results(first: 500) { totalCount } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    let v = app
        .gql(
            Some(&member),
            "query($id: ID!) { searchGoal(id: $id) { results(after: \"garbage\") { totalCount } } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    // The stranger sees no progress events of this organization.
    let mut ws = subscribe(&app, &stranger).await;
    data(
        &app.gql(Some(&member), RUN, json!({"id": id})).await,
        "runSearchGoal",
    );
    wait_goal(&app, &member, &id, &["FAILED"], 20).await;
    assert!(
        ws.next_frame(1).await.is_none(),
        "another organization's event leaked"
    );
}

/// `SearchGoal.jobs` and `.results` (with the results' leads) load for the whole page of goals:
/// the statement count does not grow with the page size (issue 22).
#[tokio::test]
async fn nested_goal_jobs_and_results_cost_the_same_statements_at_any_page_size() {
    let app = TestApp::spawn_with(Options::with_env(&[
        ("RECORD_SQL", "true"),
        ("COMPILED_READS", "false"),
        ("MAX_QUERY_COMPLEXITY", "100000000"),
    ]))
    .await;
    let (me, org) = crate::fixtures::owner(&app).await;
    crate::fixtures::rich_dataset(&app, org, me.id, 12).await;
    let doc = "query($n: Int!) { searchGoals(first: $n) { nodes { id
        jobs(first: $n) { nodes { id position } }
        results(first: $n) { nodes { rank lead { id tags owner { id } } } } } } }";
    let mut counts = Vec::new();
    for n in [4, 10] {
        app.state.sql_log.take();
        let v = app.gql(Some(&me.token), doc, json!({ "n": n })).await;
        assert!(v.get("errors").is_none(), "{v}");
        let nodes = v["data"]["searchGoals"]["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), n);
        let results = nodes[n - 1]["results"]["nodes"]
            .as_array()
            .expect("results");
        assert_eq!(results.len(), n);
        assert!(results[0]["lead"]["id"].is_string(), "{v}");
        counts.push(app.request_statements().len());
    }
    assert_eq!(counts[0], counts[1], "statements at 4 / 10 goals");
}
