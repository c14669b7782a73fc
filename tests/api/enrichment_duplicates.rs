//! `duplicateCandidates`: a hand-built organization whose expected pairs, scores and reasons are
//! literals, a near miss (two people of one company and website) that must not pair, another
//! organization's look-alike never paired, paging, the `leadId` form, the statement count at
//! two page sizes, feeding a pair to `mergeLeads` (its events), and the usual refusals.

use chrono::Utc;
use leadgraph::auth::Role;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, member, ok, org_named, Person},
    helpers::{code, Options, TestApp},
};

const LIST: &str = "query($l: ID, $n: Int, $a: String) { duplicateCandidates(leadId: $l, first: $n, after: $a) {
  totalCount pageInfo { hasNextPage endCursor }
  edges { cursor node { score reasons lead { id firstName lastName } duplicate { id firstName lastName } } } } }";

/// Inserts a lead of `org`: `(first, last, email, company, website, phone)`; its id.
async fn put(app: &TestApp, org: Uuid, f: (&str, &str, &str, &str, &str, &str)) -> Uuid {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let now = Utc::now();
    let id = Uuid::now_v7();
    let row = entity::lead::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        first_name: Set(opt(f.0)),
        last_name: Set(opt(f.1)),
        email: Set(opt(f.2)),
        phone: Set(opt(f.5)),
        company: Set(f.3.to_string()),
        title: Set(None),
        website: Set(opt(f.4)),
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
        created_at: Set(now),
        updated_at: Set(now),
        email_status: Set(None),
        validated_at: Set(None),
        phone_type: Set(None),
        phone_carrier: Set(None),
        phone_country: Set(None),
    };
    entity::lead::Entity::insert(row)
        .exec(&app.state.db)
        .await
        .unwrap();
    id
}

/// The fixture, in insertion (= id) order.
struct Fixture {
    app: TestApp,
    owner: Person,
    stranger: Person,
    jane: Uuid,
    jane2: Uuid,
    bob: Uuid,
    kim: Uuid,
    luis: Uuid,
    sam: Uuid,
    sam2: Uuid,
    elsewhere: Uuid,
}

async fn fixture(env: &[(&str, &str)]) -> Fixture {
    let app = TestApp::spawn_with(Options::with_env(env)).await;
    let org = org_named(&app, "Dupes").await;
    let owner = member(&app, org, Role::Owner, "Olga").await;
    let other = org_named(&app, "Elsewhere").await;
    let stranger = member(&app, other, Role::Owner, "Stan").await;
    let l = |f| put(&app, org, f);
    let jane = l((
        "Jane",
        "Doe",
        "jane@acme.example",
        "Acme Inc",
        "https://acme.example",
        "",
    ))
    .await;
    let jane2 = l(("Jane", "Doe.", "j.doe@acme.example", "ACME", "", "")).await;
    // The near miss: Jane's colleague, same company and website.
    let bob = l((
        "Bob",
        "Chen",
        "bob@acme.example",
        "Acme",
        "www.acme.example",
        "",
    ))
    .await;
    let kim = l((
        "Kim",
        "Park",
        "kim@gmail.com",
        "Northwind",
        "",
        "+1 415 555 0100",
    ))
    .await;
    let luis = l((
        "Luis",
        "Ortega",
        "luis@gmail.com",
        "Contoso",
        "",
        "(415) 555-0100",
    ))
    .await;
    let sam = l((
        "Sam",
        "Rivers",
        "sam@rivers.example",
        "Rivers Co",
        "rivers.example",
        "",
    ))
    .await;
    let sam2 = l((
        "Sam",
        "Rivera",
        "sam.rivera@globex.example",
        "Globex",
        "https://rivers.example/team",
        "",
    ))
    .await;
    // Jane's twin in another organization.
    let elsewhere = put(
        &app,
        other,
        (
            "Jane",
            "Doe",
            "jane@acme.example",
            "Acme Inc",
            "https://acme.example",
            "",
        ),
    )
    .await;
    Fixture {
        app,
        owner,
        stranger,
        jane,
        jane2,
        bob,
        kim,
        luis,
        sam,
        sam2,
        elsewhere,
    }
}

/// `(lead, duplicate, score, reasons)` of each edge.
fn pairs(v: &Value) -> Vec<(String, String, f64, Vec<String>)> {
    v["duplicateCandidates"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                n["lead"]["id"].as_str().unwrap().to_string(),
                n["duplicate"]["id"].as_str().unwrap().to_string(),
                n["score"].as_f64().unwrap(),
                n["reasons"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn pair(a: Uuid, b: Uuid, score: f64, reasons: &[&str]) -> (String, String, f64, Vec<String>) {
    (
        a.to_string(),
        b.to_string(),
        score,
        reasons.iter().map(|r| r.to_string()).collect(),
    )
}

#[tokio::test]
async fn the_expected_pairs_with_their_reasons_and_no_near_miss() {
    let f = fixture(&[]).await;
    let t = &f.owner.token;
    let v = ok(&f.app, t, LIST, json!({"n": 10})).await;
    assert_eq!(
        pairs(&v),
        vec![
            pair(f.jane, f.jane2, 0.8, &["SIMILAR_NAME", "SAME_COMPANY"]),
            pair(f.sam, f.sam2, 0.68, &["SIMILAR_NAME", "SAME_WEBSITE"]),
            pair(f.kim, f.luis, 0.6, &["SAME_PHONE"]),
        ],
        "{v}"
    );
    assert_eq!(v["duplicateCandidates"]["totalCount"], 3);
    let all = pairs(&v);
    for (a, b, ..) in &all {
        for id in [a, b] {
            assert_ne!(id, &f.bob.to_string(), "the near miss paired");
            assert_ne!(id, &f.elsewhere.to_string(), "another organization's lead");
        }
    }
    // Paging: one by one, the same pairs in the same order.
    let mut after: Option<String> = None;
    let mut paged = Vec::new();
    loop {
        let v = ok(&f.app, t, LIST, json!({"n": 1, "a": after})).await;
        paged.extend(pairs(&v));
        let info = &v["duplicateCandidates"]["pageInfo"];
        if info["hasNextPage"] != true {
            break;
        }
        after = info["endCursor"].as_str().map(str::to_string);
    }
    assert_eq!(paged, all);
    // One lead's pairs: it comes first.
    let v = ok(&f.app, t, LIST, json!({"l": f.jane2})).await;
    assert_eq!(
        pairs(&v),
        vec![pair(
            f.jane2,
            f.jane,
            0.8,
            &["SIMILAR_NAME", "SAME_COMPANY"]
        )]
    );
    let v = ok(&f.app, t, LIST, json!({"l": f.bob})).await;
    assert_eq!(pairs(&v), vec![]);
    // The other organization sees its own lead alone.
    let v = ok(&f.app, &f.stranger.token, LIST, json!({})).await;
    assert_eq!(pairs(&v), vec![]);
}

#[tokio::test]
async fn refusals_other_organizations_and_invalid_input() {
    let f = fixture(&[]).await;
    let v = f.app.gql(None, LIST, json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = f
        .app
        .gql(Some(&f.stranger.token), LIST, json!({"l": f.jane}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = f
        .app
        .gql(Some(&f.owner.token), LIST, json!({"l": f.elsewhere}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = f
        .app
        .gql(Some(&f.owner.token), LIST, json!({"n": 500}))
        .await;
    assert_eq!(field_errors(&v), vec!["first"]);
    let v = f
        .app
        .gql(Some(&f.owner.token), LIST, json!({"a": "not-a-cursor"}))
        .await;
    assert_eq!(field_errors(&v), vec!["after"]);
    let v = f
        .app
        .gql(Some(&f.owner.token), LIST, json!({"l": "nope"}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
}

#[tokio::test]
async fn statements_do_not_grow_with_the_page_size() {
    let f = fixture(&[("RECORD_SQL", "true"), ("COMPILED_READS", "false")]).await;
    let doc = "query($n: Int) { duplicateCandidates(first: $n) { nodes { score
        lead { id tags owner { id } } duplicate { id tags owner { id } } } } }";
    // Warm the viewer's caches first.
    ok(&f.app, &f.owner.token, doc, json!({"n": 1})).await;
    let mut counts = Vec::new();
    for n in [1, 3] {
        f.app.request_statements();
        let v = ok(&f.app, &f.owner.token, doc, json!({"n": n})).await;
        let nodes = v["duplicateCandidates"]["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), n as usize, "{v}");
        counts.push(f.app.request_statements());
    }
    assert_eq!(counts[0].len(), counts[1].len(), "{counts:#?}");
}

/// A candidate pair goes straight into `mergeLeads`; the merge's events are in the outbox and
/// the pair is gone.
#[tokio::test]
async fn a_pair_feeds_merge_leads() {
    let f = fixture(&[]).await;
    let t = &f.owner.token;
    let v = ok(
        &f.app,
        t,
        "mutation($p: ID!, $d: [ID!]!) { mergeLeads(primaryId: $p, duplicateIds: $d) { lead { id email } } }",
        json!({"p": f.jane, "d": [f.jane2]}),
    )
    .await;
    assert_eq!(v["mergeLeads"]["lead"]["email"], "jane@acme.example");
    let deleted = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::EventType.eq("lead.deleted"))
        .all(&f.app.state.db)
        .await
        .unwrap();
    assert!(
        deleted
            .iter()
            .any(|e| e.payload.to_string().contains(&f.jane2.to_string())),
        "{deleted:?}"
    );
    let v = ok(&f.app, t, LIST, json!({})).await;
    assert_eq!(
        pairs(&v),
        vec![
            pair(f.sam, f.sam2, 0.68, &["SIMILAR_NAME", "SAME_WEBSITE"]),
            pair(f.kim, f.luis, 0.6, &["SAME_PHONE"]),
        ]
    );
}
