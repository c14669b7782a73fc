//! Scrape jobs that target a saved location (`createScrapeJob(input: {locationId})`):
//! GOOGLE_MAPS sends the location's point and radius as the bias to a fake Places API
//! (wiremock on 127.0.0.1 speaking `places:searchText`), SEARCH sends the query with the
//! location's name to a fake Brave API; another organization's location is NOT_FOUND, other
//! sources refuse `locationId`, and anonymous callers are refused.

use std::collections::HashMap;

use leadgraph::auth::Role;
use serde_json::{json, Value};
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

use crate::{
    fixtures::{field_errors, member, ok, org_named, scrape_job},
    helpers::{code, Options, TestApp},
};

const CREATE_LOCATION: &str =
    "mutation($i: CreateLocationInput!) { createLocation(input: $i) { id } }";
const CREATE_JOB: &str =
    "mutation($i: CreateScrapeJobInput!) { createScrapeJob(input: $i) { id } }";

/// Waits until the scrape job has ended; its status.
async fn ended(app: &TestApp, token: &str, id: &str) -> String {
    for _ in 0..300 {
        let v = ok(
            app,
            token,
            "query($id: ID!) { scrapeJob(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
        let s = v["scrapeJob"]["status"].as_str().unwrap().to_string();
        if s == "SUCCEEDED" || s == "FAILED" {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("scrape job {id} did not end");
}

async fn fakes() -> (MockServer, MockServer) {
    let places = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/places:searchText"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"places": []})))
        .mount(&places)
        .await;
    let brave = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/res/v1/web/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"web": {"results": []}})))
        .mount(&brave)
        .await;
    (places, brave)
}

#[tokio::test]
async fn scrape_jobs_target_a_saved_location_of_the_organization_only() {
    let (places, brave) = fakes().await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("GOOGLE_PLACES_API_KEY".into(), "places-test-key".into()),
            ("GOOGLE_PLACES_BASE_URL".into(), places.uri()),
            ("BRAVE_API_KEY".into(), "brave-test-key".into()),
            ("BRAVE_BASE_URL".into(), brave.uri()),
        ]),
        ..Default::default()
    })
    .await;
    let org = org_named(&app, "Target Acme").await;
    let other = org_named(&app, "Target Other").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let olga = member(&app, other, Role::Member, "Olga").await;
    let loc = json!({"i": {"name": "Downtown Austin", "radiusKm": 12.5,
        "point": {"latitude": 30.2672, "longitude": -97.7431}}});
    let v = ok(&app, &mel.token, CREATE_LOCATION, loc).await;
    let austin = v["createLocation"]["id"].as_str().unwrap().to_string();

    // GOOGLE_MAPS: the location's point and radius (metres) are the bias sent.
    let maps = json!({"source": "GOOGLE_MAPS", "locationId": austin,
        "googleMaps": {"query": "dentists"}});
    let id = scrape_job(&app, &mel.token, maps.clone()).await;
    assert_eq!(ended(&app, &mel.token, &id).await, "SUCCEEDED");
    let sent = places.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    let circle = &body["locationBias"]["circle"];
    assert_eq!(
        circle["center"],
        json!({"latitude": 30.2672, "longitude": -97.7431}),
        "{body}"
    );
    assert_eq!(circle["radius"], 12_500.0);
    assert_eq!(body["textQuery"], "dentists");

    // SEARCH: the location's name goes with the query.
    let search = json!({"source": "SEARCH", "locationId": austin,
        "search": {"query": "dentists", "count": 5}});
    let id = scrape_job(&app, &mel.token, search).await;
    assert_eq!(ended(&app, &mel.token, &id).await, "SUCCEEDED");
    let sent = brave.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let q: HashMap<String, String> = sent[0].url.query_pairs().into_owned().collect();
    assert_eq!(q["q"], "dentists Downtown Austin");

    // Another organization's location is NOT_FOUND, and nothing is sent.
    let v = app
        .gql(Some(&olga.token), CREATE_JOB, json!({"i": maps}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = app
        .gql(
            Some(&mel.token),
            CREATE_JOB,
            json!({"i": {"source": "GOOGLE_MAPS",
            "locationId": uuid::Uuid::now_v7(), "googleMaps": {"query": "dentists"}}}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    assert_eq!(places.received_requests().await.unwrap().len(), 1);
    // Sources without a place refuse it; anonymous callers are refused.
    let web = json!({"source": "WEBSITE", "locationId": austin,
        "website": {"urls": ["https://acme.example/"]}});
    let v = app
        .gql(Some(&mel.token), CREATE_JOB, json!({"i": web}))
        .await;
    assert_eq!(field_errors(&v), ["input.locationId"], "{v}");
    let v = app.gql(None, CREATE_JOB, json!({"i": maps})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
}
