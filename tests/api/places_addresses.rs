//! Saved locations from an address alone: `createLocation` and `updateLocation` geocode the
//! address (the offline gazetteer, or a fake Nominatim on 127.0.0.1:0) and record the geocoder
//! and precision; an address that does not geocode is BAD_USER_INPUT on `input.address` and
//! stores nothing; another organization's location is NOT_FOUND before anything is geocoded;
//! anonymous callers are refused; `location.changed` names the moved point.

use leadgraph::auth::Role;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};

use crate::{
    fixtures::{field_errors, member, ok, org_named},
    helpers::{code, Options, TestApp},
    places_geocoding::{fake_nominatim, Seen},
};

const CREATE: &str = "mutation($i: CreateLocationInput!) { createLocation(input: $i) {
    id name address point { latitude longitude } geocoder precision } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateLocationInput!) {
    updateLocation(id: $id, input: $i) { address point { latitude longitude } geocoder precision } }";

fn assert_at(v: &Value, lat: f64, lng: f64) {
    let p = &v["point"];
    assert!((p["latitude"].as_f64().unwrap() - lat).abs() < 1e-4, "{v}");
    assert!((p["longitude"].as_f64().unwrap() - lng).abs() < 1e-4, "{v}");
}

async fn locations(app: &TestApp) -> u64 {
    entity::location::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap()
}

/// `(action, changedFields)` of the organization's `location.changed` events, in order.
async fn changes(app: &TestApp, org: uuid::Uuid) -> Vec<(String, Value)> {
    entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("location.changed"))
        .order_by_asc(entity::outbox_event::Column::Seq)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let d = &e.payload["data"];
            (
                d["action"].as_str().unwrap().to_string(),
                d["changedFields"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_address_alone_is_geocoded_by_the_gazetteer_on_create_and_update() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Addr Acme").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let v = ok(
        &app,
        &mel.token,
        CREATE,
        json!({"i": {"name": "HQ", "address": "Austin, TX"}}),
    )
    .await;
    let hq = &v["createLocation"];
    assert_at(hq, 30.26715, -97.74306);
    assert_eq!(
        (&hq["geocoder"], &hq["precision"]),
        (&json!("gazetteer"), &json!("CITY"))
    );
    assert_eq!(hq["address"], "Austin, TX");
    let id = hq["id"].as_str().unwrap().to_string();
    let row = entity::location::Entity::find_by_id(uuid::Uuid::parse_str(&id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.geocoder.as_deref(), Some("gazetteer"));
    assert_eq!(row.geocode_precision.as_deref(), Some("CITY"));

    // A point given with the address wins: nothing is geocoded.
    let both = json!({"i": {"name": "Pin", "address": "Austin, TX",
        "point": {"latitude": 1.25, "longitude": 2.5}}});
    let v = ok(&app, &mel.token, CREATE, both).await;
    assert_at(&v["createLocation"], 1.25, 2.5);
    assert!(
        v["createLocation"]["geocoder"].is_null() && v["createLocation"]["precision"].is_null()
    );

    // A new address moves the point.
    let v = ok(
        &app,
        &mel.token,
        UPDATE,
        json!({"id": id, "i": {"address": "Dallas, TX"}}),
    )
    .await;
    assert_at(&v["updateLocation"], 32.78306, -96.80667);
    assert_eq!(v["updateLocation"]["geocoder"], "gazetteer");
    // A point given by a person clears the provenance, and keeps the address.
    let p = json!({"latitude": -33.9, "longitude": 151.2});
    let v = ok(
        &app,
        &mel.token,
        UPDATE,
        json!({"id": id, "i": {"point": p}}),
    )
    .await;
    assert_at(&v["updateLocation"], -33.9, 151.2);
    assert!(
        v["updateLocation"]["geocoder"].is_null() && v["updateLocation"]["precision"].is_null()
    );
    assert_eq!(v["updateLocation"]["address"], "Dallas, TX");

    assert_eq!(
        changes(&app, org).await,
        [
            ("created".into(), Value::Null),
            ("created".into(), Value::Null),
            ("updated".into(), json!(["address", "point"])),
            ("updated".into(), json!(["point"])),
        ]
    );
}

#[tokio::test]
async fn an_address_that_does_not_geocode_is_bad_input_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Addr Checks").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let v = app
        .gql(
            Some(&mel.token),
            CREATE,
            json!({"i": {"name": "X", "address": "Qwxzy, TX"}}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert_eq!(field_errors(&v), ["input.address"]);
    let v = app
        .gql(
            Some(&mel.token),
            CREATE,
            json!({"i": {"name": "X", "address": "  "}}),
        )
        .await;
    assert_eq!(
        field_errors(&v),
        ["input.point"],
        "neither a point nor an address"
    );
    assert_eq!(locations(&app).await, 0);

    let v = ok(
        &app,
        &mel.token,
        CREATE,
        json!({"i": {"name": "HQ", "address": "Austin, TX"}}),
    )
    .await;
    let id = v["createLocation"]["id"].as_str().unwrap().to_string();
    let v = app
        .gql(
            Some(&mel.token),
            UPDATE,
            json!({"id": id, "i": {"address": "Qwxzy, TX"}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.address"]);
    let q = "query($id: ID!) { location(id: $id) { address point { latitude longitude } } }";
    let v = ok(&app, &mel.token, q, json!({"id": id})).await;
    assert_eq!(v["location"]["address"], "Austin, TX", "unchanged");
    assert_at(&v["location"], 30.26715, -97.74306);
    assert_eq!(changes(&app, org).await.len(), 1, "only the creation");

    let v = app
        .gql(
            None,
            CREATE,
            json!({"i": {"name": "X", "address": "Austin, TX"}}),
        )
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let vic = member(&app, org, Role::Viewer, "Vic").await;
    let v = app
        .gql(
            Some(&vic.token),
            CREATE,
            json!({"i": {"name": "X", "address": "Austin, TX"}}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    assert_eq!(locations(&app).await, 1);
}

#[tokio::test]
async fn nominatim_geocodes_addresses_once_and_never_for_another_organization() {
    let seen: Seen = Default::default();
    let base = fake_nominatim(seen.clone()).await;
    let app = TestApp::spawn_with(Options::with_env(&[("GEOCODER_URL", &base)])).await;
    let org = org_named(&app, "Addr Remote").await;
    let other = org_named(&app, "Addr Other").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let olga = member(&app, other, Role::Member, "Olga").await;
    let addr = "1 Main St, Austin";
    let v = ok(
        &app,
        &mel.token,
        CREATE,
        json!({"i": {"name": "Shop", "address": addr}}),
    )
    .await;
    let shop = &v["createLocation"];
    // The fake answers latitude = the query's length + 0.5, a building (ROOFTOP).
    assert_at(shop, addr.len() as f64 + 0.5, -97.7431);
    assert_eq!(
        (&shop["geocoder"], &shop["precision"]),
        (&json!("nominatim"), &json!("ROOFTOP"))
    );
    // The same address again (spelled differently) comes from the cache.
    let v = ok(
        &app,
        &mel.token,
        CREATE,
        json!({"i": {"name": "Shop 2", "address": " 1 main st,  AUSTIN"}}),
    )
    .await;
    assert_at(&v["createLocation"], addr.len() as f64 + 0.5, -97.7431);
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "one request per distinct address"
    );

    // Another organization's location: NOT_FOUND, and its address is never sent.
    let id = shop["id"].as_str().unwrap();
    let v = app
        .gql(
            Some(&olga.token),
            UPDATE,
            json!({"id": id, "i": {"address": "22 Oak Ave, Austin"}}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    let v = ok(
        &app,
        &mel.token,
        UPDATE,
        json!({"id": id, "i": {"address": "22 Oak Ave, Austin"}}),
    )
    .await;
    assert_at(
        &v["updateLocation"],
        "22 Oak Ave, Austin".len() as f64 + 0.5,
        -97.7431,
    );
    let queries: Vec<String> = seen.lock().unwrap().iter().map(|s| s.1.clone()).collect();
    assert_eq!(queries, [addr, "22 Oak Ave, Austin"]);
}
