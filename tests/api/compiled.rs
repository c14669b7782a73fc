//! Compiled reads (`graphql::compiled`): the same documents answered by the compiled statement
//! and by the resolvers (a second app on the same database with `COMPILED_READS=false`) must be
//! the same JSON; on PostgreSQL the compiled ones run one statement, and whatever the compiler
//! does not cover falls back to the resolvers with their errors.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{code, Options, TestApp};

fn sql_logging() -> HashMap<String, String> {
    HashMap::from([("RECORD_SQL".to_string(), "true".to_string())])
}

/// Numbers compared as f64 (PostgreSQL writes `2` where serde writes `2.0`).
fn normalized(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), normalized(v))).collect())
        }
        other => other.clone(),
    }
}

/// Whether the statements are a compiled read's.
pub(crate) fn compiled(stmts: &[String]) -> bool {
    stmts
        .iter()
        .any(|s| s.contains("lg_id") || s.contains("lg_node"))
}

pub(crate) struct Pair {
    pub compiled: TestApp,
    pub resolvers: TestApp,
    pub token_c: String,
    pub token_r: String,
}

impl Pair {
    /// Runs `query` on both apps; asserts the same answer and returns it with the compiled
    /// app's statements.
    pub(crate) async fn both(&self, query: &str, variables: Value) -> (Value, Vec<String>) {
        self.compiled.state.sql_log.take();
        let c = self
            .compiled
            .gql(Some(&self.token_c), query, variables.clone())
            .await;
        let stmts = self.compiled.request_statements();
        let r = self
            .resolvers
            .gql(Some(&self.token_r), query, variables.clone())
            .await;
        assert_eq!(
            normalized(&c),
            normalized(&r),
            "compiled vs resolvers differ for {query} {variables}"
        );
        (c, stmts)
    }
}

pub(crate) fn at(i: i64, nanos: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + i * 3_600, nanos).unwrap()
}

async fn seed(app: &TestApp, org: Uuid) -> Vec<Uuid> {
    let db = &app.state.db;
    let owner = Uuid::now_v7();
    entity::user::ActiveModel {
        id: Set(owner),
        email: Set(format!("owner-{}@example.com", owner.simple())),
        name: Set("Olga \"O\" Owner".into()),
        password_hash: Set("x".into()),
        email_verified_at: Set(Some(at(0, 0))),
        avatar_file_id: Set(None),
        created_at: Set(at(0, 123_456_000)),
        updated_at: Set(at(0, 0)),
    }
    .insert(db)
    .await
    .unwrap();
    let campaign = Uuid::now_v7();
    entity::campaign::ActiveModel {
        id: Set(campaign),
        org_id: Set(org),
        name: Set("Spring \\ launch".into()),
        from_name: Set("Us".into()),
        from_email: Set("us@example.com".into()),
        status: Set("RUNNING".into()),
        variants: Set(json!([])),
        created_at: Set(at(0, 0)),
        updated_at: Set(at(0, 0)),
        ..Default::default()
    }
    .insert(db)
    .await
    .unwrap();
    // Fraction digits the output must reproduce: none, milliseconds, microseconds.
    let fractions = [0, 120_000_000, 123_456_000, 5_000];
    let mut ids = Vec::new();
    for i in 0..24i64 {
        let id = Uuid::now_v7();
        let k = i as usize;
        entity::lead::ActiveModel {
            id: Set(id),
            org_id: Set(org),
            first_name: Set((i % 4 != 0).then(|| format!("Ann{i}"))),
            last_name: Set((i % 3 == 0).then(|| "O'Neil \"Q\"".to_string())),
            email: Set((i % 5 != 0).then(|| format!("lead{i}@acme{}.test", i % 2))),
            phone: Set((i % 2 == 0).then(|| format!("+1415555{:04}", i))),
            company: Set(if i % 6 == 0 {
                String::new()
            } else {
                format!("Acme {}", i % 7)
            }),
            title: Set((i % 3 == 1).then(|| "VP Ünïcode\nline".to_string())),
            website: Set(Some(format!("https://acme{i}.test/"))),
            industry: Set(None),
            city: Set(Some(if i % 2 == 0 { "Berlin" } else { "Paris" }.into())),
            region: Set(None),
            country: Set(Some("DE".into())),
            latitude: Set((i % 2 == 0).then_some(52.5 + i as f64 / 8.0)),
            longitude: Set((i % 2 == 0).then_some(13.0)),
            source: Set(["MANUAL", "IMPORT", "WEBSITE", "legacy"][k % 4].into()),
            status: Set(["NEW", "QUALIFIED", "CONTACTED", "weird"][k % 4].into()),
            score: Set((i * 37 % 100) as i32),
            score_reasons: Set(json!([])),
            custom_fields: Set(json!({})),
            provenance: Set(json!({})),
            owner_id: Set((i % 2 == 1).then_some(owner)),
            last_contacted_at: Set((i % 3 == 2).then(|| at(i, fractions[(k + 1) % 4]))),
            created_at: Set(at(i / 2, fractions[k % 4])),
            updated_at: Set(at(i, fractions[(k + 2) % 4])),
            email_status: Set(None),
            validated_at: Set(None),
            phone_type: Set(None),
            phone_carrier: Set(None),
            phone_country: Set(None),
        }
        .insert(db)
        .await
        .unwrap();
        for t in ["b2b", "alpha", "zeta"].iter().take(k % 4) {
            entity::lead_tag::ActiveModel {
                lead_id: Set(id),
                tag: Set(t.to_string()),
                org_id: Set(org),
            }
            .insert(db)
            .await
            .unwrap();
        }
        for n in 0..(k % 5) {
            entity::lead_note::ActiveModel {
                id: Set(Uuid::now_v7()),
                lead_id: Set(id),
                org_id: Set(org),
                author_id: Set((n % 2 == 0).then_some(owner)),
                body: Set(format!("note {n} of {i}: \"quoted\" \t tab")),
                created_at: Set(at(i, fractions[n % 4])),
                updated_at: Set(at(i, 0) + Duration::microseconds(7)),
            }
            .insert(db)
            .await
            .unwrap();
        }
        if i % 3 == 0 {
            entity::campaign_recipient::ActiveModel {
                id: Set(Uuid::now_v7()),
                campaign_id: Set(campaign),
                org_id: Set(org),
                lead_id: Set(Some(id)),
                email: Set(format!("{id}@r.test")),
                status: Set(if i % 2 == 0 { "SENT" } else { "PENDING" }.into()),
                message_id: Set(format!("m-{id}")),
                attempts: Set(1),
                open_count: Set(0),
                click_count: Set(0),
                sent_at: Set((i % 2 == 0).then(|| at(i, 0))),
                created_at: Set(at(i, 0)),
                updated_at: Set(at(i, 0)),
                ..Default::default()
            }
            .insert(db)
            .await
            .unwrap();
        }
        ids.push(id);
    }
    ids
}

async fn pair() -> (Pair, Uuid) {
    let (p, org, _) = pair_with_other().await;
    (p, org)
}

pub(crate) async fn pair_with_other() -> (Pair, Uuid, Uuid) {
    let compiled = TestApp::spawn_with(Options {
        env: sql_logging(),
        ..Default::default()
    })
    .await;
    let resolvers = TestApp::spawn_with(Options {
        db_url: Some(compiled.db_url.clone()),
        env: HashMap::from([("COMPILED_READS".to_string(), "false".to_string())]),
        ..Default::default()
    })
    .await;
    let org = Uuid::now_v7();
    let other = Uuid::now_v7();
    for o in [org, other] {
        entity::organization::ActiveModel {
            id: Set(o),
            name: Set(format!("Org {o}")),
            slug: Set(format!("org-{}", o.simple())),
            timezone: Set("UTC".into()),
            logo_file_id: Set(None),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
        }
        .insert(&compiled.state.db)
        .await
        .unwrap();
    }
    seed(&compiled, org).await;
    // Another organization's leads never show.
    seed(&compiled, other).await;
    let token_c = compiled.token(org, Role::Owner).await;
    let token_r = resolvers.token(org, Role::Owner).await;
    (
        Pair {
            compiled,
            resolvers,
            token_c,
            token_r,
        },
        org,
        other,
    )
}

/// Plans are cached per document, variables and viewer: the same document for another
/// organization (or the same one again) never gets a cached plan built for someone else.
#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_cached_plans_stay_with_their_viewer() {
    crate::helpers::require_postgres();
    let (p, _, other) = pair_with_other().await;
    let q = "{ leads(first: 50) { nodes { id } } }";
    let ids = |v: &Value| -> Vec<String> {
        v["data"]["leads"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect()
    };
    let mine = ids(&p.compiled.gql(Some(&p.token_c), q, json!({})).await);
    let token_other = p.compiled.token(other, Role::Owner).await;
    let theirs = ids(&p.compiled.gql(Some(&token_other), q, json!({})).await);
    assert_eq!(mine.len(), 24);
    assert_eq!(theirs.len(), 24);
    assert!(mine.iter().all(|id| !theirs.contains(id)));
    assert_eq!(
        ids(&p.compiled.gql(Some(&p.token_c), q, json!({})).await),
        mine
    );
    assert_eq!(
        ids(&p.compiled.gql(Some(&token_other), q, json!({})).await),
        theirs
    );
    // Same document, other variables: its own plan.
    let qv = "query($n: Int) { leads(first: $n) { nodes { id } } }";
    let v5 = p.compiled.gql(Some(&p.token_c), qv, json!({"n": 5})).await;
    let v7 = p.compiled.gql(Some(&p.token_c), qv, json!({"n": 7})).await;
    assert_eq!((ids(&v5).len(), ids(&v7).len()), (5, 7));
}

const FIGURE_A: &str = "{ leads(first: 50) { nodes { owner { id email } tags notes(first: 3) { nodes { body } } campaigns { campaign { id name } } } } }";

const EVERYTHING: &str = "query Everything($n: Int, $notes: Int) { leads(first: $n) { __typename totalCount \
    pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } \
    edges { __typename cursor node { id } } \
    nodes { __typename id firstName lastName fullName email phone company title website industry \
      source status score createdAt updatedAt lastContactedAt tags \
      location { __typename city region country latitude longitude } \
      owner { __typename id email name emailVerified createdAt } \
      notes(first: $notes) { __typename totalCount pageInfo { hasNextPage hasPreviousPage } \
        nodes { __typename id body authorId createdAt updatedAt } } \
      campaigns { __typename status sentAt lastEventAt campaign { __typename id name status } } } } }";

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_compiled_answers_match_the_resolvers() {
    crate::helpers::require_postgres();
    let (p, _) = pair().await;

    let (v, stmts) = p.both(FIGURE_A, json!({})).await;
    assert_eq!(
        v["data"]["leads"]["nodes"].as_array().unwrap().len(),
        24,
        "{v}"
    );
    assert_eq!(
        stmts.len(),
        1,
        "figure (a) query in one statement: {stmts:#?}"
    );
    assert!(compiled(&stmts));

    for (n, notes) in [(5, 0), (24, 2), (10, 50), (0, 3)] {
        let (v, stmts) = p.both(EVERYTHING, json!({"n": n, "notes": notes})).await;
        assert!(v.get("errors").is_none(), "{v}");
        // The page, and the count for totalCount.
        assert_eq!(stmts.len(), 2, "{stmts:#?}");
    }
    let (v, _) = p.both(EVERYTHING, json!({"n": 30})).await;
    assert_eq!(v["data"]["leads"]["totalCount"], 24, "{v}");

    // Keyset pages forward and backward, in every order, through variables.
    for order in [
        json!(null),
        json!({"field": "SCORE", "direction": "ASC"}),
        json!({"field": "COMPANY", "direction": "DESC"}),
        json!({"field": "LAST_CONTACTED_AT", "direction": "ASC"}),
        json!({"field": "UPDATED_AT", "direction": "DESC"}),
    ] {
        let q = "query($o: LeadOrder, $a: String, $b: String, $f: Int, $l: Int) { leads(orderBy: $o, after: $a, before: $b, first: $f, last: $l) { edges { cursor node { id score company } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
        let (v, _) = p.both(q, json!({"o": order, "f": 7})).await;
        let end = v["data"]["leads"]["pageInfo"]["endCursor"].clone();
        assert!(end.is_string(), "{v}");
        let (v, _) = p.both(q, json!({"o": order, "f": 7, "a": end})).await;
        let start = v["data"]["leads"]["pageInfo"]["startCursor"].clone();
        assert_eq!(
            v["data"]["leads"]["pageInfo"]["hasPreviousPage"], true,
            "{v}"
        );
        p.both(q, json!({"o": order, "l": 5, "b": start})).await;
    }

    // Filters through a variable.
    for filter in [
        json!({"status": ["NEW", "QUALIFIED"]}),
        json!({"tags": {"any": ["zeta"]}, "hasPhone": true}),
        json!({"search": "acme1", "minScore": 10}),
        json!({"source": ["OTHER"]}),
    ] {
        let q = "query($f: LeadFilter) { leads(filter: $f, first: 50) { totalCount nodes { id status source tags } } }";
        let (v, stmts) = p.both(q, json!({"f": filter})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert_eq!(stmts.len(), 2, "{stmts:#?}");
    }

    // Fragments, inline fragments and a named operation.
    let q = "query Named { leads(first: 4) { ...Conn } } fragment Conn on LeadConnection { nodes { ...on Lead { id } ... { email } ...L } } fragment L on Lead { owner { ... on User { id } } }";
    let (v, stmts) = p.both(q, json!({})).await;
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(stmts.len(), 1, "{stmts:#?}");
}

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_uncovered_documents_fall_back_to_the_resolvers() {
    crate::helpers::require_postgres();
    let (p, _) = pair().await;

    // Errors come from the resolvers, with their codes.
    let (v, _) = p
        .both("{ leads(first: 500) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    let (v, _) = p
        .both("{ leads(after: \"nope\") { nodes { id } } }", json!({}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    let (v, _) = p.both("{ leads { nodes { idd } } }", json!({})).await;
    assert!(v.get("errors").is_some(), "{v}");
    let (v, _) = p
        .both(
            "query($n: String) { leads(first: $n) { nodes { id } } }",
            json!({"n": "3"}),
        )
        .await;
    assert!(v.get("errors").is_some(), "{v}");
    let (v, _) = p
        .both(
            "query($n: Int, $unused: Int) { leads(first: $n) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert!(v.get("errors").is_some(), "{v}");
    let unauthenticated = p
        .compiled
        .gql(None, "{ leads { nodes { id } } }", json!({}))
        .await;
    assert_eq!(
        code(&unauthenticated),
        Some("UNAUTHENTICATED"),
        "{unauthenticated}"
    );

    // Literal input objects in canonical form compile, with the same answer.
    for q in [
        "{ leads(first: 5, filter: {status: [NEW]}) { nodes { id } } }",
        "{ leads(first: 5, orderBy: {field: SCORE, direction: DESC}) { nodes { id score } } }",
        "{ leads(first: 5, filter: {tags: {any: [\"b2b\"]}, city: null}) { nodes { id } } }",
    ] {
        let (v, stmts) = p.both(q, json!({})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(compiled(&stmts), "{q}: {stmts:#?}");
    }

    // Covered by the resolvers only: answered by them (more statements), same answer.
    for q in [
        "{ leads(first: 5, filter: {status: NEW}) { nodes { id } } }",
        "{ leads(first: 5) { nodes { id scoreReasons { rule } } } }",
        "{ leads(first: 5) { nodes { id id2: id @include(if: true) } } }",
        "{ leads(first: 5) { nodes { notes(first: 2) { edges { cursor } } } } }",
        "{ leads(first: 5) { nodes { id } } organization { id } }",
    ] {
        let (v, stmts) = p.both(q, json!({})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(!compiled(&stmts), "{q}: {stmts:#?}");
    }
}

/// Benchmark figure (b) on the compiled path: one statement whatever the page size.
#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_compiled_statement_count_is_one_at_every_page_size() {
    crate::helpers::require_postgres();
    let (p, _) = pair().await;
    let q = "query($n: Int!) { leads(first: $n) { nodes { id owner { id email } tags notes(first: 3) { nodes { body } } campaigns { campaign { id name } } } } }";
    let mut counts = Vec::new();
    for n in [10, 20, 24] {
        let (v, stmts) = p.both(q, json!({"n": n})).await;
        assert_eq!(
            v["data"]["leads"]["nodes"].as_array().unwrap().len(),
            n as usize
        );
        counts.push(stmts.len());
    }
    assert_eq!(counts, [1, 1, 1]);
}
