//! Places geocoding: `searchLocations` on the embedded gazetteer and on a fake Nominatim server
//! (axum on 127.0.0.1:0 speaking `/search?format=jsonv2`), which must see at most one request
//! per second, a User-Agent, and no second request for a cached address; leads created with a
//! city and no coordinates geocoded by the durable job (provenance and precision, timeline,
//! `lead.updated`); organization isolation, authentication and invalid input.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{extract::Query, http::HeaderMap, routing::get, Json, Router};
use leadgraph::{
    auth::Role,
    domains::places::GEOCODE_LEAD_KIND,
    jobs::{queue, NewJob},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, insert_leads, lead, member, ok, org_named},
    helpers::{code, Options, TestApp},
};

const SEARCH: &str = "query($q: String!, $n: Int) { searchLocations(query: $q, limit: $n) {
    label latitude longitude precision geocoder city region country } }";

/// The lead once the geocoding job has given it coordinates (waits up to 30 s).
async fn geocoded(app: &TestApp, id: Uuid) -> entity::lead::Model {
    for _ in 0..300 {
        let l = entity::lead::Entity::find_by_id(id)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap();
        if l.latitude.is_some() {
            return l;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("lead {id} was not geocoded");
}

/// Jobs of `kind` that finished (succeeded or failed), waiting up to 30 s for `n`.
async fn finished_jobs(app: &TestApp, n: usize) -> Vec<entity::job::Model> {
    for _ in 0..300 {
        let jobs = entity::job::Entity::find()
            .filter(entity::job::Column::Kind.eq(GEOCODE_LEAD_KIND))
            .all(&app.state.db)
            .await
            .unwrap();
        let done: Vec<_> = jobs
            .into_iter()
            .filter(|j| j.state == "succeeded" || j.state == "failed")
            .collect();
        if done.len() >= n {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} geocoding jobs finished");
}

#[tokio::test]
async fn offline_gazetteer_answers_austin_tx_and_geocodes_a_lead_given_a_place() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Geo Acme").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let v = ok(&app, &mel.token, SEARCH, json!({"q": "Austin, TX"})).await;
    let found = v["searchLocations"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{v}");
    let austin = &found[0];
    assert!(
        (austin["latitude"].as_f64().unwrap() - 30.26715).abs() < 1e-4,
        "{v}"
    );
    assert!(
        (austin["longitude"].as_f64().unwrap() + 97.74306).abs() < 1e-4,
        "{v}"
    );
    assert_eq!(austin["precision"], "CITY");
    assert_eq!(austin["geocoder"], "gazetteer");
    assert_eq!(austin["region"], "Texas");
    assert_eq!(austin["label"], "Austin, Texas, United States");
    // A bare name: every Austin, most populous first, within the limit.
    let v = ok(&app, &mel.token, SEARCH, json!({"q": "austin", "n": 2})).await;
    let regions: Vec<&str> = v["searchLocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["region"].as_str().unwrap())
        .collect();
    assert_eq!(regions, ["Texas", "Minnesota"]);

    // A lead given a city and no coordinates is geocoded by the job (on the update: creation
    // does not geocode, see `lead_geocoding`); one with a point keeps it.
    let id = lead(&app, &mel.token, json!({"email": "geo@acme.test"})).await;
    let upd = "mutation($id: ID!, $i: UpdateLeadInput!) { updateLead(id: $id, input: $i) { id } }";
    ok(
        &app,
        &mel.token,
        upd,
        json!({"id": id, "i": {"location": {"city": "Austin", "region": "TX", "country": "US"}}}),
    )
    .await;
    let id = Uuid::parse_str(&id).unwrap();
    let pinned = lead(&app, &mel.token, json!({"email": "pin@acme.test"})).await;
    ok(
        &app,
        &mel.token,
        upd,
        json!({"id": pinned, "i": {"location":
        {"city": "Austin", "region": "TX", "country": "US", "latitude": 1.5, "longitude": 2.5}}}),
    )
    .await;
    let l = geocoded(&app, id).await;
    assert!((l.latitude.unwrap() - 30.26715).abs() < 1e-4);
    assert!((l.longitude.unwrap() + 97.74306).abs() < 1e-4);
    assert_eq!(l.provenance["location"]["reference"], "geocoder:gazetteer");
    assert_eq!(l.provenance["location"]["precision"], "CITY");
    assert_eq!(l.provenance["location"]["query"], "Austin, TX, US");
    let p = entity::lead::Entity::find_by_id(Uuid::parse_str(&pinned).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((p.latitude, p.longitude), (Some(1.5), Some(2.5)));
    assert!(
        !p.provenance.to_string().contains("geocoder"),
        "{}",
        p.provenance
    );
    // Events: a `geocoded` timeline entry and `lead.updated` with the location changed.
    let timeline = entity::lead_interaction::Entity::find()
        .filter(entity::lead_interaction::Column::LeadId.eq(id))
        .filter(entity::lead_interaction::Column::Kind.eq("geocoded"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0].data["geocoder"], "geocoder:gazetteer");
    let updated: Vec<Value> = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::EventType.eq("lead.updated"))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload)
        .collect();
    let mine: Vec<&Value> = updated
        .iter()
        .filter(|p| p.to_string().contains(&id.to_string()))
        .collect();
    // The person's update, then the geocoder's (the later one).
    assert_eq!(mine.len(), 2, "{updated:?}");
    let last = mine
        .iter()
        .max_by_key(|p| p["occurred_at"].as_str().unwrap_or_default().to_string())
        .unwrap();
    assert_eq!(last["data"]["changedFields"], json!(["location"]), "{last}");
    // The lead is now found by the spatial queries.
    let near = ok(&app, &mel.token, "query { leadsNear(point: {latitude: 30.27, longitude: -97.74}, radiusKm: 5) { edges { node { id } } } }", json!({})).await;
    assert_eq!(near["leadsNear"]["edges"][0]["node"]["id"], id.to_string());
}

#[tokio::test]
async fn a_job_never_geocodes_another_organizations_lead() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Geo Mine").await;
    let other = org_named(&app, "Geo Theirs").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let theirs = insert_leads(&app, other, "theirs.test", 1).await[0];
    let mut row: entity::lead::ActiveModel = entity::lead::Entity::find_by_id(theirs)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    row.city = sea_orm::ActiveValue::Set(Some("Austin".into()));
    row.country = sea_orm::ActiveValue::Set(Some("US".into()));
    sea_orm::ActiveModelTrait::update(row, &app.state.db)
        .await
        .unwrap();
    // A job naming my organization and their lead (as a forged payload would) finds nothing.
    let payload = json!({"orgId": org, "leadId": theirs, "actorId": mel.id});
    queue::enqueue(&app.state.db, NewJob::new(GEOCODE_LEAD_KIND, payload))
        .await
        .unwrap();
    app.state.job_notify.notify_waiters();
    let jobs = finished_jobs(&app, 1).await;
    assert_eq!(jobs[0].state, "succeeded");
    assert_eq!(jobs[0].result.as_ref().unwrap()["status"], "skipped");
    let l = entity::lead::Entity::find_by_id(theirs)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.latitude, None);
}

#[tokio::test]
async fn search_locations_refuses_anonymous_callers_and_invalid_input() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Geo Checks").await;
    let mel = member(&app, org, Role::Viewer, "Vic").await;
    let v = app.gql(None, SEARCH, json!({"q": "Austin, TX"})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app.gql(Some(&mel.token), SEARCH, json!({"q": "   "})).await;
    assert_eq!(field_errors(&v), ["query"]);
    let long = "x".repeat(301);
    let v = app
        .gql(Some(&mel.token), SEARCH, json!({"q": long, "n": 0}))
        .await;
    assert_eq!(field_errors(&v), ["query", "limit"]);
    let v = app
        .gql(Some(&mel.token), SEARCH, json!({"q": "Austin", "n": 11}))
        .await;
    assert_eq!(field_errors(&v), ["limit"]);
    // Nothing matches: an empty answer, not an error.
    let v = ok(&app, &mel.token, SEARCH, json!({"q": "Qwxzy, TX"})).await;
    assert_eq!(v["searchLocations"], json!([]));
}

/// What the fake Nominatim saw: (arrival, query, User-Agent, format).
pub(crate) type Seen = Arc<Mutex<Vec<(Instant, String, String, String)>>>;

/// A Nominatim-compatible `/search` on 127.0.0.1:0 answering every query with one place
/// (`place_rank` 30, a building) whose latitude is the query's length; its base URL.
pub(crate) async fn fake_nominatim(seen: Seen) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let app = Router::new().route(
        "/search",
        get(
            move |Query(q): Query<std::collections::HashMap<String, String>>, h: HeaderMap| {
                let seen = seen.clone();
                async move {
                    let query = q.get("q").cloned().unwrap_or_default();
                    let ua = h
                        .get("user-agent")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let format = q.get("format").cloned().unwrap_or_default();
                    seen.lock()
                        .unwrap()
                        .push((Instant::now(), query.clone(), ua, format));
                    Json(json!([{
                        "place_id": 1, "licence": "ODbL", "osm_type": "node", "osm_id": 7,
                        "lat": format!("{}.5", query.len()), "lon": "-97.7431",
                        "category": "building", "type": "yes", "place_rank": 30,
                        "importance": 0.5, "addresstype": "building",
                        "name": "", "display_name": format!("{query}, Somewhere"),
                        "address": {"city": "Austin", "state": "Texas", "country_code": "us"},
                        "boundingbox": ["30.2", "30.3", "-97.8", "-97.7"]
                    }]))
                }
            },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test]
async fn nominatim_is_polite_and_cached() {
    let seen: Seen = Arc::default();
    let base = fake_nominatim(seen.clone()).await;
    let app = TestApp::spawn_with(Options::with_env(&[("GEOCODER_URL", &base)])).await;
    let org = org_named(&app, "Geo Remote").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let queries = [
        "1 Main St, Austin",
        "22 Oak Ave, Austin",
        "333 Elm Rd, Austin",
    ];
    let answers = futures::future::join_all(
        queries
            .iter()
            .map(|q| app.gql(Some(&mel.token), SEARCH, json!({"q": q}))),
    )
    .await;
    for (q, v) in queries.iter().zip(&answers) {
        let c = &v["data"]["searchLocations"][0];
        assert_eq!(c["latitude"].as_f64(), Some(q.len() as f64 + 0.5), "{v}");
        assert_eq!(c["precision"], "ROOFTOP");
        assert_eq!(c["geocoder"], "nominatim");
        assert_eq!(c["country"], "US");
    }
    // The same addresses again, spelled differently: answered from the cache.
    let again = ok(
        &app,
        &mel.token,
        SEARCH,
        json!({"q": "  1 main st,   AUSTIN "}),
    )
    .await;
    assert_eq!(
        again["searchLocations"],
        answers[0]["data"]["searchLocations"]
    );
    let mut times = {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "one request per distinct address");
        for (_, _, ua, format) in seen.iter() {
            assert!(ua.starts_with("leadgraph/"), "{ua}");
            assert_eq!(format, "jsonv2");
        }
        seen.iter().map(|s| s.0).collect::<Vec<_>>()
    };
    times.sort();
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_millis(950),
            "{:?}",
            w[1] - w[0]
        );
    }
    let cached = entity::geocode_cache::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(cached.len(), 3);
    assert!(cached
        .iter()
        .all(|c| c.provider == "nominatim" && c.key.starts_with("nominatim:")));

    // A lead geocoded through Nominatim records it as provenance, with its precision.
    let id = lead(&app, &mel.token, json!({"email": "remote@acme.test"})).await;
    ok(
        &app,
        &mel.token,
        "mutation($id: ID!, $i: UpdateLeadInput!) { updateLead(id: $id, input: $i) { id } }",
        json!({"id": id, "i": {"location": {"city": "Austin", "region": "TX", "country": "US"}}}),
    )
    .await;
    let l = geocoded(&app, Uuid::parse_str(&id).unwrap()).await;
    assert_eq!(l.latitude, Some("Austin, TX, US".len() as f64 + 0.5));
    assert_eq!(l.provenance["location"]["reference"], "geocoder:nominatim");
    assert_eq!(l.provenance["location"]["precision"], "ROOFTOP");
    assert_eq!(seen.lock().unwrap().len(), 4);
}
