//! Places: saved locations, `leadsNear` over a fixture of hand-computed great-circle distances
//! (across the antimeridian and over a pole), map pins, heatmaps and clusters over a view that
//! crosses the antimeridian, the spatial index in the query plan, organization isolation,
//! authentication, invalid input, events and statement counts.

use chrono::Utc;
use leadgraph::{
    auth::Role,
    domains::places::service::{geo::Bbox, spatial::within},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait,
    QueryFilter, QueryOrder, QueryTrait, Statement, TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, member, ok, org_named},
    helpers::{code, Options, TestApp},
};

/// One degree of great-circle arc on the mean sphere (R = 6371.0088 km): 2πR / 360.
const DEGREE_KM: f64 = 111.195_080_233_532_9;

/// A lead of `org` at (`lat`, `lng`), written directly (the R*Tree triggers index it).
pub(crate) async fn lead_at(app: &TestApp, org: Uuid, name: &str, lat: f64, lng: f64) -> Uuid {
    let now = Utc::now();
    let id = Uuid::now_v7();
    entity::lead::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        first_name: Set(Some(name.into())),
        last_name: Set(None),
        email: Set(Some(format!("{}@places.test", id.simple()))),
        phone: Set(None),
        company: Set(format!("{name} Co")),
        title: Set(None),
        website: Set(None),
        industry: Set(None),
        city: Set(None),
        region: Set(None),
        country: Set(None),
        latitude: Set(Some(lat)),
        longitude: Set(Some(lng)),
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
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    id
}

const NEAR: &str = "query($p: GeoPointInput!, $r: Float!, $n: Int, $after: String) {
    leadsNear(point: $p, radiusKm: $r, first: $n, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { cursor distanceKm node { id firstName tags owner { id } } } } }";

/// `(first name, distance)` of every edge of a `leadsNear` answer.
fn edges(v: &Value) -> Vec<(String, f64)> {
    v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let name = e["node"]["firstName"].as_str().unwrap().to_string();
            (name, e["distanceKm"].as_f64().unwrap())
        })
        .collect()
}

fn assert_near(got: &[(String, f64)], want: &[(&str, f64)]) {
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    let want_names: Vec<&str> = want.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, want_names, "{got:?}");
    for ((_, d), (n, w)) in got.iter().zip(want) {
        assert!((d - w).abs() < 1e-6, "{n}: {d} km, hand-computed {w} km");
    }
}

async fn near(app: &TestApp, token: &str, lat: f64, lng: f64, r: f64) -> Value {
    let p = json!({ "latitude": lat, "longitude": lng });
    let v = ok(app, token, NEAR, json!({ "p": p, "r": r })).await;
    v["leadsNear"].clone()
}

#[tokio::test]
async fn leads_near_returns_hand_computed_distances_across_the_antimeridian_and_a_pole() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Places").await;
    let other = org_named(&app, "Other Places").await;
    let token = app.token(org, Role::Viewer).await;
    // Around (0°, 179.5°E), radius 200 km: every distance is a whole or half number of
    // degrees of arc along the equator or a meridian.
    lead_at(&app, org, "A", 0.0, 179.5).await; // 0
    lead_at(&app, org, "B", 0.0, -179.0).await; // 1.5° over the antimeridian
    lead_at(&app, org, "C", 0.0, 179.0).await; // 0.5°
    lead_at(&app, org, "D", 1.0, 179.5).await; // 1° north
    lead_at(&app, org, "E", 0.0, -178.0).await; // 2.5°: 278 km, outside
    lead_at(&app, org, "F", 0.0, 170.0).await; // 9.5°, outside
    lead_at(&app, other, "X", 0.0, 179.5).await; // another organization's, never shown
                                                 // Around (89°N, 0°), radius 300 km: distances through the pole add up along a meridian.
    lead_at(&app, org, "Pole", 90.0, 0.0).await; // 1°
    lead_at(&app, org, "Q", 87.5, 0.0).await; // 1.5°
    lead_at(&app, org, "R", 89.0, 180.0).await; // 1° + 1° over the pole
    lead_at(&app, org, "S", 87.0, 180.0).await; // 1° + 3°: 445 km, outside
    lead_at(&app, org, "T", 89.0, 90.0).await; // acos(sin²89°) = 1.41°: 157 km, inside

    let v = near(&app, &token, 0.0, 179.5, 200.0).await;
    let want = [
        ("A", 0.0),
        ("C", 0.5 * DEGREE_KM),
        ("D", DEGREE_KM),
        ("B", 1.5 * DEGREE_KM),
    ];
    assert_near(&edges(&v), &want);
    assert_eq!(v["totalCount"], 4);

    let v = near(&app, &token, 89.0, 0.0, 300.0).await;
    let t = (89f64.to_radians().sin().powi(2)).acos().to_degrees() * DEGREE_KM;
    let want = [
        ("Pole", DEGREE_KM),
        ("T", t),
        ("Q", 1.5 * DEGREE_KM),
        ("R", 2.0 * DEGREE_KM),
    ];
    assert_near(&edges(&v), &want);

    // Pages of 1 walk the same order through the (distance, id) cursors.
    let mut after = Value::Null;
    let mut walked = Vec::new();
    loop {
        let p = json!({ "latitude": 0.0, "longitude": 179.5 });
        let vars = json!({ "p": p, "r": 200.0, "n": 1, "after": after });
        let page = ok(&app, &token, NEAR, vars).await["leadsNear"].clone();
        walked.extend(edges(&page).into_iter().map(|(n, _)| n));
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(walked, ["A", "C", "D", "B"]);
}

const CREATE: &str = "mutation($i: CreateLocationInput!) { createLocation(input: $i) {
    id name address point { latitude longitude } radiusKm tags } }";

async fn create_location(app: &TestApp, token: &str, input: Value) -> String {
    let v = ok(app, token, CREATE, json!({ "i": input })).await;
    v["createLocation"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn saved_locations_crud_nearby_stats_location_leads_and_events() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Places").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let boss = member(&app, org, Role::Manager, "Boss").await;
    lead_at(&app, org, "In", 0.0, 179.9).await;
    lead_at(&app, org, "Over", 0.0, -179.8).await; // 0.2°: 22 km from (0, 180)
    lead_at(&app, org, "Out", 0.0, 178.0).await;
    let fiji = create_location(
        &app,
        &mel.token,
        json!({ "name": " Fiji ", "address": "Suva", "point": { "latitude": 0.0, "longitude": 180.0 },
                "radiusKm": 50.0, "tags": ["Pacific", "pacific", "hq_1"] }),
    )
    .await;
    let austin = create_location(
        &app,
        &mel.token,
        json!({ "name": "Austin", "point": { "latitude": 30.27, "longitude": -97.74 } }),
    )
    .await;
    let q = "query($id: ID!) { location(id: $id) { name address radiusKm tags } }";
    let v = ok(&app, &mel.token, q, json!({ "id": fiji })).await;
    assert_eq!(
        v["location"],
        json!({"name": "Fiji", "address": "Suva", "radiusKm": 50.0, "tags": ["pacific", "hq_1"]})
    );
    let v = ok(&app, &mel.token, q, json!({ "id": austin })).await;
    assert_eq!(v["location"]["radiusKm"], 10.0, "the default radius");

    let list = "query($f: LocationFilter) { locations(filter: $f) { totalCount nodes { name } } }";
    let names = |v: &Value| {
        v["locations"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let v = ok(&app, &mel.token, list, json!({})).await;
    assert_eq!(names(&v), ["Austin", "Fiji"], "newest first");
    let v = ok(&app, &mel.token, list, json!({ "f": { "tag": "HQ_1" } })).await;
    assert_eq!(names(&v), ["Fiji"]);
    let v = ok(&app, &mel.token, list, json!({ "f": { "tag": "hq%1" } })).await;
    assert_eq!(
        names(&v),
        Vec::<String>::new(),
        "LIKE wildcards are literal"
    );
    let v = ok(&app, &mel.token, list, json!({ "f": { "search": "aus" } })).await;
    assert_eq!(names(&v), ["Austin"]);

    let nearby =
        "query($p: GeoPointInput!, $r: Float!) { nearbyLocations(point: $p, radiusKm: $r) {
        distanceKm location { name } } }";
    let p = json!({ "latitude": 0.0, "longitude": -179.0 });
    let v = ok(&app, &mel.token, nearby, json!({ "p": p, "r": 120.0 })).await;
    assert_eq!(v["nearbyLocations"][0]["location"]["name"], "Fiji", "{v}");
    let d = v["nearbyLocations"][0]["distanceKm"].as_f64().unwrap();
    assert!((d - DEGREE_KM).abs() < 1e-6, "{d}");
    assert_eq!(v["nearbyLocations"].as_array().unwrap().len(), 1);

    let leads_q = "query($id: ID!) { locationLeads(id: $id) { totalCount edges { distanceKm node { firstName } } } }";
    let v = ok(&app, &mel.token, leads_q, json!({ "id": fiji })).await;
    let got: Vec<&str> = v["locationLeads"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["firstName"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["In", "Over"]);

    let stats = "{ locationStats { leads location { name } } }";
    let v = ok(&app, &mel.token, stats, json!({})).await;
    assert_eq!(
        v["locationStats"],
        json!([{"leads": 0, "location": {"name": "Austin"}}, {"leads": 2, "location": {"name": "Fiji"}}])
    );

    let upd = "mutation($id: ID!, $i: UpdateLocationInput!) { updateLocation(id: $id, input: $i) { name radiusKm address } }";
    let v = ok(
        &app,
        &mel.token,
        upd,
        json!({ "id": fiji, "i": { "radiusKm": 300.0, "address": "" } }),
    )
    .await;
    assert_eq!(
        v["updateLocation"],
        json!({"name": "Fiji", "radiusKm": 300.0, "address": null})
    );
    let v = ok(&app, &mel.token, stats, json!({})).await;
    assert_eq!(v["locationStats"][1]["leads"], 3, "{v}");

    let del = "mutation($id: ID!) { deleteLocation(id: $id) }";
    let v = app
        .gql(Some(&mel.token), del, json!({ "id": austin }))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "a MEMBER may not delete: {v}");
    let v = ok(&app, &boss.token, del, json!({ "id": austin })).await;
    assert_eq!(v["deleteLocation"], austin.as_str());
    let v = ok(&app, &mel.token, q, json!({ "id": austin })).await;
    assert!(v["location"].is_null());

    let events: Vec<Value> = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("location.changed"))
        .order_by_asc(entity::outbox_event::Column::Seq)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload["data"].clone())
        .collect();
    let summary: Vec<(String, String, Value)> = events
        .iter()
        .map(|d| {
            let id = d["locationId"].as_str().unwrap().to_string();
            let who = if id == fiji { "fiji" } else { "austin" };
            (
                who.into(),
                d["action"].as_str().unwrap().into(),
                d["changedFields"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("fiji".into(), "created".into(), Value::Null),
            ("austin".into(), "created".into(), Value::Null),
            (
                "fiji".into(),
                "updated".into(),
                json!(["address", "radiusKm"])
            ),
            ("austin".into(), "deleted".into(), Value::Null),
        ]
    );
}

const MAP: &str = "query($b: BoundingBoxInput!, $z: Int!) {
    mapLeads(bbox: $b) { truncated pins { id point { latitude longitude } name } }
    heatmap(bbox: $b, zoom: $z) { precision total cells { geohash count weight } }
    clusters(bbox: $b, zoom: $z) { precision total clusters { geohash count
        centroid { latitude longitude } bounds { north south east west } } } }";

#[tokio::test]
async fn map_pins_heatmaps_and_clusters_over_a_view_across_the_antimeridian() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Places").await;
    let other = org_named(&app, "Other Places").await;
    let token = app.token(org, Role::Viewer).await;
    let inside = [
        (1.0, 171.0),
        (1.2, 171.1),
        (-5.0, 179.99),
        (0.0, 180.0),
        (0.0, -180.0),
        (2.0, -179.5),
        (2.1, -179.4),
        (9.9, -170.5),
        (-9.9, 175.0),
    ];
    for (i, (lat, lng)) in inside.iter().enumerate() {
        lead_at(&app, org, &format!("In{i}"), *lat, *lng).await;
    }
    for (lat, lng) in [(0.0, 169.0), (0.0, -169.0), (11.0, 175.0), (0.0, 0.0)] {
        lead_at(&app, org, "Out", lat, lng).await;
    }
    lead_at(&app, other, "Theirs", 1.0, 171.0).await;
    let view = json!({ "north": 10.0, "south": -10.0, "west": 170.0, "east": -170.0 });
    let v = ok(&app, &token, MAP, json!({ "b": view, "z": 4 })).await;
    let pins = v["mapLeads"]["pins"].as_array().unwrap();
    assert_eq!(pins.len(), inside.len(), "{v}");
    assert!(pins
        .iter()
        .all(|p| p["name"].as_str().unwrap().starts_with("In")));
    assert_eq!(v["mapLeads"]["truncated"], false);
    for root in ["heatmap", "clusters"] {
        let list = if root == "heatmap" {
            "cells"
        } else {
            "clusters"
        };
        let sum: u64 = v[root][list]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["count"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, inside.len() as u64, "{root}: {v}");
        assert_eq!(v[root]["total"], inside.len() as u64, "{root}");
    }
    for c in v["clusters"]["clusters"].as_array().unwrap() {
        let (lat, lng) = (
            c["centroid"]["latitude"].as_f64().unwrap(),
            c["centroid"]["longitude"].as_f64().unwrap(),
        );
        let b = &c["bounds"];
        assert!(
            lat >= b["south"].as_f64().unwrap() && lat <= b["north"].as_f64().unwrap(),
            "{c}"
        );
        assert!(
            lng >= b["west"].as_f64().unwrap() && lng <= b["east"].as_f64().unwrap(),
            "{c}"
        );
    }
    let max_weight = v["heatmap"]["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["weight"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert_eq!(max_weight, 1.0);

    // Panning (same zoom, same view size) keeps every cluster whose leads stay in view.
    let clusters_of = |v: &Value| {
        let mut c: Vec<(String, u64)> = v["clusters"]["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["geohash"].as_str().unwrap().to_string(),
                    c["count"].as_u64().unwrap(),
                )
            })
            .collect();
        c.sort();
        c
    };
    let wide = json!({ "north": 12.0, "south": -12.0, "west": 168.5, "east": -168.5 });
    let panned = json!({ "north": 12.5, "south": -11.5, "west": 168.7, "east": -168.3 });
    let a = ok(&app, &token, MAP, json!({ "b": wide, "z": 4 })).await;
    let b = ok(&app, &token, MAP, json!({ "b": panned, "z": 4 })).await;
    assert_eq!(a["clusters"]["precision"], b["clusters"]["precision"]);
    assert_eq!(clusters_of(&a), clusters_of(&b));
    assert_eq!(
        a["clusters"]["total"], 12,
        "the 9 inside and 3 more within the wider view"
    );
}

#[tokio::test]
async fn the_spatial_index_keeps_up_with_lead_changes_and_is_in_the_plan() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Places").await;
    let token = app.token(org, Role::Member).await;
    let id = lead_at(&app, org, "Mover", 10.0, 10.0).await;
    assert_eq!(near(&app, &token, 10.0, 10.0, 1.0).await["totalCount"], 1);
    let upd = "mutation($id: ID!, $l: LocationInput!) { updateLead(id: $id, input: { location: $l }) { id } }";
    let l = json!({ "latitude": -45.0, "longitude": 170.0 });
    ok(&app, &token, upd, json!({ "id": id.to_string(), "l": l })).await;
    assert_eq!(near(&app, &token, 10.0, 10.0, 1.0).await["totalCount"], 0);
    assert_eq!(near(&app, &token, -45.0, 170.0, 1.0).await["totalCount"], 1);
    entity::lead::Entity::delete_by_id(id)
        .exec(&app.state.db)
        .await
        .unwrap();
    assert_eq!(near(&app, &token, -45.0, 170.0, 1.0).await["totalCount"], 0);

    // The candidate filter is answered by the spatial index (sequential scans disabled, so
    // the plan shows the index whenever the planner can use it).
    let backend = app.state.db.get_database_backend();
    let b = Bbox {
        south: -10.0,
        north: 10.0,
        west: 170.0,
        east: -170.0,
    };
    let stmt = within(backend, entity::lead::Entity::find(), &[b]).build(backend);
    let values = stmt.values.map(|v| v.0).unwrap_or_default();
    let txn = app.state.db.begin().await.unwrap();
    let (sql, index) = match backend {
        DatabaseBackend::Postgres => {
            txn.execute_unprepared("SET LOCAL enable_seqscan = off")
                .await
                .unwrap();
            (format!("EXPLAIN {}", stmt.sql), "idx_leads_earth")
        }
        _ => (
            format!("EXPLAIN QUERY PLAN {}", stmt.sql),
            "lead_geo VIRTUAL TABLE INDEX",
        ),
    };
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap();
    let plan: Vec<String> = rows
        .iter()
        .map(|r| {
            let col = if backend == DatabaseBackend::Postgres {
                0
            } else {
                3
            };
            r.try_get_by_index::<String>(col).unwrap()
        })
        .collect();
    assert!(plan.iter().any(|l| l.contains(index)), "{plan:#?}");
}

#[tokio::test]
async fn other_organizations_unauthenticated_and_invalid_input() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Places").await;
    let theirs = org_named(&app, "Other Places").await;
    let mine = app.token(org, Role::Member).await;
    let other = app.token(theirs, Role::Owner).await;
    lead_at(&app, org, "Mine", 0.0, 179.5).await;
    let id = create_location(
        &app,
        &mine,
        json!({ "name": "Fiji", "point": { "latitude": 0.0, "longitude": 179.5 } }),
    )
    .await;
    // Another organization: the location is missing, and no place query shows the lead.
    let v = ok(
        &app,
        &other,
        "query($id: ID!) { location(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    assert!(v["location"].is_null());
    for (q, vars) in [
        (
            "mutation($id: ID!) { deleteLocation(id: $id) }",
            json!({ "id": id }),
        ),
        (
            "mutation($id: ID!) { updateLocation(id: $id, input: { name: \"X\" }) { id } }",
            json!({ "id": id }),
        ),
        (
            "query($id: ID!) { locationLeads(id: $id) { totalCount } }",
            json!({ "id": id }),
        ),
    ] {
        let v = app.gql(Some(&other), q, vars).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
    }
    let v = near(&app, &other, 0.0, 179.5, 100.0).await;
    assert_eq!(v["totalCount"], 0);
    let view = json!({ "north": 1.0, "south": -1.0, "west": 179.0, "east": -179.0 });
    let v = ok(&app, &other, MAP, json!({ "b": view, "z": 3 })).await;
    assert_eq!(v["mapLeads"]["pins"], json!([]));
    assert_eq!(
        (
            v["heatmap"]["total"].clone(),
            v["clusters"]["total"].clone()
        ),
        (json!(0), json!(0))
    );
    let v = ok(
        &app,
        &other,
        "{ locations { totalCount } locationStats { leads } }",
        json!({}),
    )
    .await;
    assert_eq!(
        v,
        json!({"locations": {"totalCount": 0}, "locationStats": []})
    );
    let p = json!({ "latitude": 0.0, "longitude": 179.5 });
    let nearby =
        "query($p: GeoPointInput!) { nearbyLocations(point: $p, radiusKm: 10) { distanceKm } }";
    let v = ok(&app, &other, nearby, json!({ "p": p })).await;
    assert_eq!(v["nearbyLocations"], json!([]));

    // Unauthenticated.
    for q in [
        "{ locations { totalCount } }",
        "{ locationStats { leads } }",
        "{ leadsNear(point: {latitude: 0, longitude: 0}, radiusKm: 1) { totalCount } }",
    ] {
        let v = app.gql(None, q, json!({})).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{q}: {v}");
    }
    let v = app
        .gql(None, CREATE, json!({ "i": { "name": "X", "point": p } }))
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");

    // Invalid input, each naming its field.
    let bad_near = |lat: f64, r: f64| json!({ "p": { "latitude": lat, "longitude": 0.0 }, "r": r });
    let v = app.gql(Some(&mine), NEAR, bad_near(91.0, 1.0)).await;
    assert_eq!(field_errors(&v), ["point.latitude"]);
    let v = app.gql(Some(&mine), NEAR, bad_near(0.0, 0.0)).await;
    assert_eq!(field_errors(&v), ["radiusKm"]);
    let v = app.gql(Some(&mine), NEAR, bad_near(0.0, -5.0)).await;
    assert_eq!(field_errors(&v), ["radiusKm"]);
    let bad_view = json!({ "north": -1.0, "south": 1.0, "west": 0.0, "east": 181.0 });
    let v = app
        .gql(Some(&mine), MAP, json!({ "b": bad_view, "z": 3 }))
        .await;
    assert_eq!(field_errors(&v), ["bbox.east", "bbox.south"]);
    let v = app
        .gql(Some(&mine), MAP, json!({ "b": view, "z": 23 }))
        .await;
    assert_eq!(field_errors(&v), ["zoom"]);
    let v = app
        .gql(
            Some(&mine),
            CREATE,
            json!({ "i": { "name": " ", "address": "Suva" } }),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.name"]);
    let far =
        json!({ "name": "X", "point": { "latitude": 0.0, "longitude": -180.5 }, "radiusKm": 0.0 });
    let v = app.gql(Some(&mine), CREATE, json!({ "i": far })).await;
    assert_eq!(
        field_errors(&v),
        ["input.point.longitude", "input.radiusKm"]
    );
    let viewer = app.token(org, Role::Viewer).await;
    let v = app
        .gql(
            Some(&viewer),
            CREATE,
            json!({ "i": { "name": "X", "point": p } }),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
}

/// `leadsNear` (with nested lead fields) and `locations` cost the same statements at 2 and 10
/// items per page.
#[tokio::test]
async fn place_lists_cost_the_same_statements_at_any_page_size() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let org = org_named(&app, "Acme Places").await;
    let token = app.token(org, Role::Member).await;
    for i in 0..12 {
        lead_at(
            &app,
            org,
            &format!("L{i}"),
            0.0,
            179.9 + f64::from(i) * 0.001,
        )
        .await;
        let p = json!({ "latitude": 0.0, "longitude": 179.0 });
        create_location(&app, &token, json!({ "name": format!("P{i}"), "point": p })).await;
    }
    let locations = "query($n: Int) { locations(first: $n) { totalCount nodes { id name tags } } }";
    for (q, root) in [(NEAR, "leadsNear"), (locations, "locations")] {
        let mut counts = Vec::new();
        for n in [2, 10] {
            app.state.sql_log.take();
            let p = json!({ "latitude": 0.0, "longitude": 179.9 });
            let v = ok(&app, &token, q, json!({ "p": p, "r": 50.0, "n": n })).await;
            let items = if root == "leadsNear" {
                "edges"
            } else {
                "nodes"
            };
            assert_eq!(v[root][items].as_array().unwrap().len(), n as usize, "{v}");
            counts.push(app.request_statements().len());
        }
        assert_eq!(counts[0], counts[1], "{root}: statements at 2 / 10");
    }
}
