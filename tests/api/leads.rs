//! Leads: validation, dedupe, scoring, timeline, filters, keyset pages, loaders, isolation, events.

use std::collections::HashMap;

use chrono::Utc;
use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    helpers::{code, Options, TestApp},
    identity::signed_up,
};

const CREATE: &str = "mutation($i: CreateLeadInput!, $c: OnConflict) { createLead(input: $i, onConflict: $c) { id email phone website company score scoreReasons { rule points } tags status provenance { field kind } owner { email } } }";

async fn org_owner(app: &TestApp) -> (String, Uuid, Uuid) {
    let (_, login) = signed_up(app).await;
    let token = login["accessToken"].as_str().unwrap().to_string();
    let org = Uuid::parse_str(login["organization"]["id"].as_str().unwrap()).unwrap();
    let me = app.gql(Some(&token), "{ me { id } }", json!({})).await;
    let user = Uuid::parse_str(me["data"]["me"]["id"].as_str().unwrap()).unwrap();
    (token, org, user)
}

#[tokio::test]
async fn create_validate_dedupe_update_and_timeline() {
    let app = TestApp::spawn().await;
    let (token, _, user) = org_owner(&app).await;
    let v = app
        .gql(
            Some(&token),
            CREATE,
            json!({"i": {"firstName": "Ada", "email": " Ada@Acme.IO ", "phone": "+1 415 555 2671", "website": "acme.io",
                         "company": "Acme", "title": "VP Sales", "tags": ["VIP", "b2b", "vip"], "ownerId": user.to_string()}}),
        )
        .await;
    let lead = &v["data"]["createLead"];
    assert_eq!(lead["email"], "ada@acme.io", "{v}");
    assert_eq!(lead["phone"], "+14155552671");
    assert_eq!(lead["website"], "https://acme.io/");
    assert_eq!(lead["tags"], json!(["b2b", "vip"]));
    assert_eq!(lead["status"], "NEW");
    assert!(lead["owner"]["email"].is_string());
    // email 20 + phone 15 + website 10 + company 10 + VP 20 = 75.
    assert_eq!(lead["score"], 75);
    let rules: Vec<&str> = lead["scoreReasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "has_email",
            "has_phone",
            "has_website",
            "has_company",
            "title_seniority"
        ]
    );
    assert!(lead["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["field"] == "email" && p["kind"] == "manual"));
    let id = lead["id"].as_str().unwrap().to_string();

    // Invalid input lists every bad field.
    let v = app.gql(Some(&token), CREATE, json!({"i": {"email": "nope", "phone": "12", "website": "ftp://x", "location": {"country": "Germany"}}})).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    let fields: Vec<&str> = v["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "input.location.country",
            "input.email",
            "input.phone",
            "input.website"
        ]
    );
    let v = app
        .gql(
            Some(&token),
            CREATE,
            json!({"i": {"ownerId": Uuid::now_v7().to_string(), "company": "X"}}),
        )
        .await;
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "ownerId"
    );

    // Dedupe by email (case-insensitive) and phone.
    let v = app
        .gql(Some(&token), CREATE, json!({"i": {"email": "ADA@acme.io"}}))
        .await;
    assert_eq!(code(&v), Some("CONFLICT"));
    assert!(v["errors"][0]["message"].as_str().unwrap().contains(&id));
    let v = app.gql(Some(&token), CREATE, json!({"i": {"phone": "+14155552671", "industry": "Robotics", "tags": ["new"]}, "c": "MERGE"})).await;
    assert_eq!(v["data"]["createLead"]["id"], id.as_str());
    assert_eq!(
        v["data"]["createLead"]["tags"],
        json!(["b2b", "new", "vip"])
    );
    let v = app
        .gql(
            Some(&token),
            CREATE,
            json!({"i": {"email": "ada@acme.io", "company": "Other"}, "c": "SKIP"}),
        )
        .await;
    assert_eq!(v["data"]["createLead"]["company"], "Acme");

    // Partial update: only present fields change; null clears.
    let upd = "mutation($id: ID!, $i: UpdateLeadInput!) { updateLead(id: $id, input: $i) { title website company status score } }";
    let v = app
        .gql(
            Some(&token),
            upd,
            json!({"id": id, "i": {"website": null, "status": "QUALIFIED"}}),
        )
        .await;
    assert_eq!(
        v["data"]["updateLead"],
        json!({"title": "VP Sales", "website": null, "company": "Acme", "status": "QUALIFIED", "score": 70})
    );
    let v = app
        .gql(Some(&token), upd, json!({"id": id, "i": {"email": "bad"}}))
        .await;
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "input.email"
    );

    // Notes, contact, tags, timeline.
    let v = app.gql(Some(&token), "mutation($id: ID!) { addLeadNote(leadId: $id, body: \"Met at the expo\") { id body } }", json!({"id": id})).await;
    let note_id = v["data"]["addLeadNote"]["id"].as_str().unwrap().to_string();
    app.gql(Some(&token), "mutation($id: ID!) { markLeadContacted(id: $id, channel: \"email\", note: \"intro\") { status } }", json!({"id": id})).await;
    app.gql(
        Some(&token),
        "mutation($id: ID!) { removeLeadTags(id: $id, tags: [\"NEW\"]) { id } }",
        json!({"id": id}),
    )
    .await;
    let v = app
        .gql(Some(&token), "query($id: ID!) { lead(id: $id) { tags lastContactedAt notes { totalCount nodes { body } } timeline(first: 10) { nodes { kind } } } }", json!({"id": id}))
        .await;
    let l = &v["data"]["lead"];
    assert_eq!(l["tags"], json!(["b2b", "vip"]));
    assert!(l["lastContactedAt"].is_string());
    assert_eq!(l["notes"]["totalCount"], 1);
    let kinds: Vec<&str> = l["timeline"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..3], ["tags_removed", "contacted", "note_added"]);
    for k in ["status_changed", "updated", "merged", "created"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }

    // A MEMBER may not edit someone else's note, nor delete leads.
    let org = Uuid::parse_str(
        app.gql(Some(&token), "{ organization { id } }", json!({}))
            .await["data"]["organization"]["id"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let member = app.token(org, Role::Member).await;
    let v = app
        .gql(
            Some(&member),
            "mutation($id: ID!) { updateLeadNote(id: $id, body: \"x\") { id } }",
            json!({"id": note_id}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));
    assert_eq!(
        code(
            &app.gql(
                Some(&member),
                "mutation($id: ID!) { deleteLead(id: $id) }",
                json!({"id": id})
            )
            .await
        ),
        Some("FORBIDDEN")
    );
    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { deleteLead(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(v["data"]["deleteLead"], id.as_str());
    assert!(app
        .gql(
            Some(&token),
            "query($id: ID!) { lead(id: $id) { id } }",
            json!({"id": id})
        )
        .await["data"]["lead"]
        .is_null());
}

#[tokio::test]
async fn batch_mutations_report_per_item() {
    let app = TestApp::spawn().await;
    let (token, _, _) = org_owner(&app).await;
    let v = app
        .gql(
            Some(&token),
            "mutation($i: [CreateLeadInput!]!) { createLeads(inputs: $i) { index lead { email } error { code fields } } }",
            json!({"i": [{"email": "a@x.io"}, {"email": "bad"}, {"email": "a@x.io"}, {"company": "C"}]}),
        )
        .await;
    let r = v["data"]["createLeads"].as_array().unwrap();
    assert_eq!(r[0]["lead"]["email"], "a@x.io");
    assert_eq!(r[1]["error"]["fields"], json!(["inputs[1].email"]));
    assert_eq!(r[2]["error"]["code"], "CONFLICT");
    assert!(r[3]["error"].is_null());
    let v = app
        .gql(Some(&token), "{ leads { nodes { id } } }", json!({}))
        .await;
    let ids: Vec<String> = v["data"]["leads"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    let mut with_bad = ids.clone();
    with_bad.push(Uuid::now_v7().to_string());
    let v = app
        .gql(Some(&token), "mutation($ids: [ID!]!) { updateLeads(ids: $ids, input: {industry: \"SaaS\"}) { index error { code } lead { industry } } }", json!({"ids": with_bad}))
        .await;
    let r = v["data"]["updateLeads"].as_array().unwrap();
    assert!(r[..2].iter().all(|x| x["lead"]["industry"] == "SaaS"));
    assert_eq!(r[2]["error"]["code"], "NOT_FOUND");
    let v = app
        .gql(
            Some(&token),
            "mutation($ids: [ID!]!) { deleteLeads(ids: $ids) { deleted error { code } } }",
            json!({"ids": with_bad}),
        )
        .await;
    let deleted: Vec<bool> = v["data"]["deleteLeads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["deleted"].as_bool().unwrap())
        .collect();
    assert_eq!(deleted, [true, true, false]);
    let v = app
        .gql(
            Some(&token),
            "mutation { createLeads(inputs: []) { index } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
}

async fn insert_lead(
    app: &TestApp,
    org: Uuid,
    owner: Option<Uuid>,
    company: &str,
    score: i32,
    tags: &[&str],
    notes: usize,
) -> Uuid {
    let now = Utc::now();
    let id = Uuid::now_v7();
    entity::lead::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        first_name: Set(Some(format!("F{company}"))),
        last_name: Set(None),
        email: Set(Some(format!(
            "{}@{}.test",
            Uuid::now_v7().simple(),
            company.to_lowercase()
        ))),
        phone: Set(None),
        company: Set(company.to_string()),
        title: Set(None),
        website: Set(None),
        industry: Set(None),
        city: Set(Some(if score % 2 == 0 { "Berlin" } else { "Paris" }.into())),
        region: Set(None),
        country: Set(Some(if score % 2 == 0 { "DE" } else { "FR" }.into())),
        latitude: Set(None),
        longitude: Set(None),
        source: Set(if score % 3 == 0 { "IMPORT" } else { "MANUAL" }.into()),
        status: Set(if score >= 50 { "QUALIFIED" } else { "NEW" }.into()),
        score: Set(score),
        score_reasons: Set(json!([])),
        custom_fields: Set(json!({})),
        provenance: Set(json!({})),
        owner_id: Set(owner),
        last_contacted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        email_status: Set(None),
        validated_at: Set(None),
        phone_type: Set(None),
        phone_carrier: Set(None),
        phone_country: Set(None),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    for t in tags {
        entity::lead_tag::ActiveModel {
            lead_id: Set(id),
            tag: Set(t.to_string()),
            org_id: Set(org),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }
    for i in 0..notes {
        entity::lead_note::ActiveModel {
            id: Set(Uuid::now_v7()),
            lead_id: Set(id),
            org_id: Set(org),
            author_id: Set(owner),
            body: Set(format!("note {i} about {company}")),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }
    id
}

#[tokio::test]
async fn statement_count_does_not_grow_with_page_size() {
    let app = TestApp::spawn_with(Options {
        // The resolvers' statements (compiled reads: tests/api/compiled.rs).
        env: HashMap::from([
            ("RECORD_SQL".to_string(), "true".to_string()),
            ("COMPILED_READS".to_string(), "false".to_string()),
        ]),
        ..Default::default()
    })
    .await;
    let (token, org, user) = org_owner(&app).await;
    for i in 0..200 {
        insert_lead(
            &app,
            org,
            Some(user),
            &format!("Co{i:03}"),
            i % 100,
            &["a", "b"],
            4,
        )
        .await;
    }
    let q = "query($n: Int!) { leads(first: $n) { nodes { owner { id } tags notes(first: 3) { nodes { body } } } } }";
    let mut counts = Vec::new();
    for n in [10, 50, 200] {
        app.state.sql_log.take();
        let v = app.gql(Some(&token), q, json!({"n": n})).await;
        let nodes = v["data"]["leads"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"));
        assert_eq!(nodes.len(), n as usize);
        assert_eq!(nodes[0]["notes"]["nodes"].as_array().unwrap().len(), 3);
        assert_eq!(nodes[0]["tags"], json!(["a", "b"]));
        let stmts = app.request_statements();
        counts.push(stmts.len());
    }
    // One page query + one batch each for owners, tags and notes.
    assert_eq!(counts, [4, 4, 4], "statements per page size 10/50/200");
}

/// Benchmark figure (b): the whole figure (a) query — owner id and email, tags, three newest
/// notes and the lead's campaigns — runs as many statements for 10 leads as for 50 and 200, and
/// at most 3 + one per nested relation (owner, tags, notes, campaigns).
#[tokio::test]
async fn figure_b_full_nested_query_statements_are_constant() {
    let app = TestApp::spawn_with(Options {
        // The resolvers' statements (compiled reads: tests/api/compiled.rs).
        env: HashMap::from([
            ("RECORD_SQL".to_string(), "true".to_string()),
            ("COMPILED_READS".to_string(), "false".to_string()),
        ]),
        ..Default::default()
    })
    .await;
    let (token, org, user) = org_owner(&app).await;
    let now = Utc::now();
    let mut campaigns = Vec::new();
    for k in 0..3 {
        let id = Uuid::now_v7();
        entity::campaign::ActiveModel {
            id: Set(id),
            org_id: Set(org),
            name: Set(format!("Campaign {k}")),
            from_name: Set("Bench".into()),
            from_email: Set("bench@example.com".into()),
            status: Set("COMPLETED".into()),
            variants: Set(json!([])),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&app.state.db)
        .await
        .unwrap();
        campaigns.push((id, format!("Campaign {k}")));
    }
    // Lead i: owned when i is even, four notes, a recipient of i % 3 campaigns (newest first).
    let mut expected: HashMap<String, (bool, Vec<Value>)> = HashMap::new();
    for i in 0..200usize {
        let owner = (i % 2 == 0).then_some(user);
        let lead = insert_lead(&app, org, owner, &format!("Fb{i:03}"), 10, &["a", "b"], 4).await;
        let mut names = Vec::new();
        for (cid, name) in campaigns.iter().take(i % 3) {
            entity::campaign_recipient::ActiveModel {
                id: Set(Uuid::now_v7()),
                campaign_id: Set(*cid),
                org_id: Set(org),
                lead_id: Set(Some(lead)),
                email: Set(format!("{lead}@fb.test")),
                status: Set("SENT".into()),
                message_id: Set(format!("fb-{cid}-{lead}")),
                attempts: Set(1),
                open_count: Set(0),
                click_count: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&app.state.db)
            .await
            .unwrap();
            names.insert(0, json!({"id": cid.to_string(), "name": name}));
        }
        expected.insert(lead.to_string(), (owner.is_some(), names));
    }
    let q = "query($n: Int!) { leads(first: $n) { nodes { id owner { id email } tags notes(first: 3) { nodes { body } } campaigns { campaign { id name } } } } }";
    let mut counts = Vec::new();
    let mut logs = Vec::new();
    for n in [10, 50, 200] {
        app.state.sql_log.take();
        let v = app.gql(Some(&token), q, json!({"n": n})).await;
        let nodes = v["data"]["leads"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"));
        assert_eq!(nodes.len(), n as usize, "{v}");
        for node in nodes {
            let (owned, names) = &expected[node["id"].as_str().unwrap()];
            if *owned {
                assert_eq!(node["owner"]["id"], json!(user.to_string()), "{node}");
                assert!(node["owner"]["email"]
                    .as_str()
                    .is_some_and(|e| e.contains('@')));
            } else {
                assert_eq!(node["owner"], Value::Null, "{node}");
            }
            assert_eq!(node["tags"], json!(["a", "b"]));
            assert_eq!(node["notes"]["nodes"].as_array().unwrap().len(), 3);
            let got: Vec<Value> = node["campaigns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["campaign"].clone())
                .collect();
            assert_eq!(&got, names, "campaigns of {}", node["id"]);
        }
        let stmts = app.request_statements();
        counts.push(stmts.len());
        logs.push(stmts);
    }
    // Printed for docs/BENCHMARKS.md (figure b); `-- --nocapture` shows it.
    eprintln!("figure b: statements at first = 10/50/200: {counts:?}");
    // Nested relations: owner, tags, notes, campaigns.
    assert!(
        counts.iter().all(|&c| c == counts[0]) && counts[0] <= 3 + 4,
        "statements per page size 10/50/200: {counts:?}\n{logs:#?}"
    );
    // Page, owners, tags, newest notes, recipient rows joined with their campaigns.
    assert_eq!(counts[0], 5, "{logs:#?}");
}

#[tokio::test]
async fn filters_search_ordering_and_stable_keyset_pages() {
    let app = TestApp::spawn().await;
    let (token, org, user) = org_owner(&app).await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let tags: &[&str] = match i % 3 {
            0 => &["hot"],
            1 => &["hot", "saas"],
            _ => &["cold"],
        };
        ids.push(
            insert_lead(
                &app,
                org,
                if i < 10 { Some(user) } else { None },
                &format!("Co{i:02}"),
                i * 3,
                tags,
                usize::from(i == 7),
            )
            .await,
        );
    }
    let count = |filter: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            app.gql(
                Some(&token),
                "query($f: LeadFilter) { leads(filter: $f) { totalCount } }",
                json!({"f": filter}),
            )
            .await["data"]["leads"]["totalCount"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(count(json!({})).await, 30);
    assert_eq!(count(json!({"status": ["QUALIFIED"]})).await, 13); // scores 51..87
    assert_eq!(count(json!({"source": ["IMPORT"]})).await, 30);
    assert_eq!(count(json!({"tags": {"any": ["hot"]}})).await, 20);
    assert_eq!(count(json!({"tags": {"all": ["hot", "SaaS"]}})).await, 10);
    assert_eq!(count(json!({"minScore": 30, "maxScore": 60})).await, 11);
    assert_eq!(count(json!({"ownerId": user.to_string()})).await, 10);
    assert_eq!(
        count(json!({"hasPhone": false, "hasEmail": true})).await,
        30
    );
    assert_eq!(count(json!({"search": "co1"})).await, 10);
    assert_eq!(
        count(json!({"search": "NOTE 0 ABOUT"})).await,
        1,
        "notes are searched"
    );
    assert_eq!(count(json!({"city": "berlin", "country": "de"})).await, 15);
    let v = app
        .gql(
            Some(&token),
            "{ leadStats { total byStatus { key count } byScoreBand { key count } } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["leadStats"]["total"], 30);
    assert_eq!(
        v["data"]["leadStats"]["byStatus"],
        json!([{"key": "NEW", "count": 17}, {"key": "QUALIFIED", "count": 13}])
    );

    // Ordering by score ascending, paged forward 7 at a time while new leads arrive.
    let page = "query($a: String, $b: String, $f: Int, $l: Int) { leads(first: $f, last: $l, after: $a, before: $b, orderBy: {field: SCORE, direction: ASC}) { pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { id score } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut round = 0;
    loop {
        let v = app
            .gql(Some(&token), page, json!({"a": after, "f": 7}))
            .await;
        let p = &v["data"]["leads"];
        seen.extend(
            p["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["score"].as_i64().unwrap()),
        );
        // Inserts with a lower score than anything seen must not shift later pages.
        insert_lead(&app, org, None, &format!("Late{round}"), -1, &[], 0).await;
        round += 1;
        if p["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = p["pageInfo"]["endCursor"].clone();
    }
    let expected: Vec<i64> = (0..30).map(|i| i * 3).collect();
    assert_eq!(seen, expected);
    // Backward from the end.
    let v = app.gql(Some(&token), page, json!({"l": 5})).await;
    let last5: Vec<i64> = v["data"]["leads"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["score"].as_i64().unwrap())
        .collect();
    assert_eq!(last5, [75, 78, 81, 84, 87]);
    assert_eq!(v["data"]["leads"]["pageInfo"]["hasPreviousPage"], true);
    let before = v["data"]["leads"]["pageInfo"]["startCursor"].clone();
    let v = app
        .gql(Some(&token), page, json!({"l": 2, "b": before}))
        .await;
    let prev: Vec<i64> = v["data"]["leads"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["score"].as_i64().unwrap())
        .collect();
    assert_eq!(prev, [69, 72]);
    // Company order, descending, and a cursor from another ordering is refused.
    let v = app.gql(Some(&token), "{ leads(first: 2, orderBy: {field: COMPANY, direction: DESC}) { nodes { company } pageInfo { endCursor } } }", json!({})).await;
    assert_eq!(v["data"]["leads"]["nodes"][0]["company"], "Late4");
    let cursor = v["data"]["leads"]["pageInfo"]["endCursor"].clone();
    let v = app
        .gql(Some(&token), page, json!({"a": cursor, "f": 2}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    let _ = ids;
}

#[tokio::test]
async fn another_organizations_leads_read_as_missing() {
    let app = TestApp::spawn().await;
    let (a, _, _) = org_owner(&app).await;
    let (b, b_org, b_user) = org_owner(&app).await;
    let lead = insert_lead(&app, b_org, Some(b_user), "Secret", 10, &["x"], 1)
        .await
        .to_string();
    let note = app
        .gql(
            Some(&b),
            "query($id: ID!) { lead(id: $id) { notes { nodes { id } } } }",
            json!({"id": lead}),
        )
        .await["data"]["lead"]["notes"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let missing = Uuid::now_v7().to_string();
    let cases = [
        ("query($id: ID!) { lead(id: $id) { id } }", "id"),
        (
            "mutation($id: ID!) { updateLead(id: $id, input: {company: \"pwned\"}) { id } }",
            "id",
        ),
        ("mutation($id: ID!) { deleteLead(id: $id) }", "id"),
        (
            "mutation($id: ID!) { setLeadStatus(id: $id, status: LOST) { id } }",
            "id",
        ),
        (
            "mutation($id: ID!) { addLeadTags(id: $id, tags: [\"y\"]) { id } }",
            "id",
        ),
        (
            "mutation($id: ID!) { removeLeadTags(id: $id, tags: [\"x\"]) { id } }",
            "id",
        ),
        (
            "mutation($id: ID!) { addLeadNote(leadId: $id, body: \"x\") { id } }",
            "id",
        ),
        (
            "mutation($id: ID!) { markLeadContacted(id: $id, channel: \"email\") { id } }",
            "id",
        ),
        (
            "mutation($id: ID!) { assignLead(id: $id, userId: null) { id } }",
            "id",
        ),
        ("mutation($id: ID!) { scoreLead(id: $id) { id } }", "id"),
        (
            "mutation($id: ID!) { updateLeadNote(id: $id, body: \"x\") { id } }",
            "note",
        ),
        ("mutation($id: ID!) { deleteLeadNote(id: $id) }", "note"),
    ];
    for (q, which) in cases {
        let theirs = if which == "note" { &note } else { &lead };
        let x = app.gql(Some(&a), q, json!({"id": theirs})).await;
        let y = app.gql(Some(&a), q, json!({"id": missing})).await;
        assert_eq!(
            (
                x["data"].clone(),
                code(&x).map(str::to_string),
                x["errors"][0]["message"].clone()
            ),
            (
                y["data"].clone(),
                code(&y).map(str::to_string),
                y["errors"][0]["message"].clone()
            ),
            "{q}"
        );
    }
    let v = app
        .gql(
            Some(&b),
            "query($id: ID!) { lead(id: $id) { company status tags notes { totalCount } } }",
            json!({"id": lead}),
        )
        .await;
    assert_eq!(
        v["data"]["lead"],
        json!({"company": "Secret", "status": "NEW", "tags": ["x"], "notes": {"totalCount": 1}})
    );
    assert_eq!(
        app.gql(Some(&a), "{ leads { totalCount } }", json!({}))
            .await["data"]["leads"]["totalCount"],
        0
    );
}

#[tokio::test]
async fn lead_events_reach_subscribers() {
    let app = TestApp::spawn().await;
    let (token, _, _) = org_owner(&app).await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&token).await;
    ws.send(json!({"type": "subscribe", "id": "l", "payload": {"query": "subscription { events(types: [LEAD_CREATED, LEAD_UPDATED]) { type data } }"}})).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let v = app
        .gql(Some(&token), CREATE, json!({"i": {"email": "ev@x.io"}}))
        .await;
    let id = v["data"]["createLead"]["id"].as_str().unwrap().to_string();
    app.gql(
        Some(&token),
        "mutation($id: ID!) { setLeadStatus(id: $id, status: QUALIFIED) { id } }",
        json!({"id": id}),
    )
    .await;
    let a = ws.next_json(5).await;
    assert_eq!(a["payload"]["data"]["events"]["type"], "LEAD_CREATED");
    assert_eq!(
        a["payload"]["data"]["events"]["data"]["leadId"],
        id.as_str()
    );
    let b = ws.next_json(5).await;
    assert_eq!(b["payload"]["data"]["events"]["type"], "LEAD_UPDATED");
    assert_eq!(
        b["payload"]["data"]["events"]["data"]["changedFields"],
        json!(["status"])
    );
}

#[tokio::test]
async fn merge_leads_folds_duplicates_into_the_primary() {
    let app = TestApp::spawn().await;
    let (token, org, _) = org_owner(&app).await;
    let primary = insert_lead(&app, org, None, "", 10, &["a"], 1)
        .await
        .to_string();
    let dup = insert_lead(&app, org, None, "DupCo", 20, &["b", "a"], 2)
        .await
        .to_string();
    let m = "mutation($p: ID!, $d: [ID!]!, $dry: Boolean) { mergeLeads(primaryId: $p, duplicateIds: $d, dryRun: $dry) { changedFields addedTags movedNotes dryRun lead { company tags notes { totalCount } } } }";
    let v = app
        .gql(
            Some(&token),
            m,
            json!({"p": primary, "d": [dup], "dry": true}),
        )
        .await;
    let r = &v["data"]["mergeLeads"];
    assert_eq!(r["changedFields"], json!(["company"]), "{v}");
    assert_eq!(
        (
            r["addedTags"].clone(),
            r["movedNotes"].clone(),
            r["dryRun"].clone()
        ),
        (json!(["b"]), json!(2), json!(true))
    );
    assert!(
        app.gql(
            Some(&token),
            "query($id: ID!) { lead(id: $id) { id } }",
            json!({"id": dup})
        )
        .await["data"]["lead"]
            .is_object(),
        "dry run wrote nothing"
    );
    let v = app
        .gql(Some(&token), m, json!({"p": primary, "d": [dup]}))
        .await;
    let l = &v["data"]["mergeLeads"]["lead"];
    assert_eq!(l["company"], "DupCo");
    assert_eq!(l["tags"], json!(["a", "b"]));
    assert_eq!(l["notes"]["totalCount"], 3);
    assert!(app
        .gql(
            Some(&token),
            "query($id: ID!) { lead(id: $id) { id } }",
            json!({"id": dup})
        )
        .await["data"]["lead"]
        .is_null());
    let v = app
        .gql(Some(&token), m, json!({"p": primary, "d": [primary]}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    let v = app
        .gql(
            Some(&token),
            m,
            json!({"p": primary, "d": [Uuid::now_v7().to_string()]}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"));
}

#[tokio::test]
async fn export_streams_csv_for_the_organization_only() {
    let app = TestApp::spawn().await;
    let (token, org, _) = org_owner(&app).await;
    let (_, other_org, _) = org_owner(&app).await;
    for i in 0..2500 {
        insert_lead(
            &app,
            org,
            None,
            &format!("Co{i}"),
            i % 100,
            if i == 0 { &["x", "y"] } else { &[] },
            0,
        )
        .await;
    }
    insert_lead(&app, org, None, "=HYPERLINK(\"evil\")", 1, &[], 0).await;
    insert_lead(&app, other_org, None, "OtherOrgCo", 1, &[], 0).await;
    let v = app
        .gql(
            Some(&token),
            "mutation { exportLeads { url expiresAt } }",
            json!({}),
        )
        .await;
    let url = v["data"]["exportLeads"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"));
    let url = url.replace("http://localhost:8080", &format!("http://{}", app.addr));
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let body = res.text().await.unwrap();
    let mut rdr = csv::Reader::from_reader(body.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2501, "every lead once, across 1,000-row chunks");
    let companies: Vec<&str> = rows.iter().map(|r| &r[5]).collect();
    assert!(
        companies.contains(&"'=HYPERLINK(\"evil\")"),
        "formula escaped"
    );
    assert!(!companies.contains(&"OtherOrgCo"));
    assert!(rows.iter().any(|r| &r[15] == "x;y"));
    // Tampered or foreign links are refused.
    let res = app.http.get(format!("{url}x")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    // Filters apply.
    let v = app
        .gql(
            Some(&token),
            "mutation { exportLeads(filter: {search: \"co249\"}) { url } }",
            json!({}),
        )
        .await;
    let url = v["data"]["exportLeads"]["url"]
        .as_str()
        .unwrap()
        .replace("http://localhost:8080", &format!("http://{}", app.addr));
    let body = app
        .http
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body.lines().count(), 1 + 11, "Co249 and Co2490..Co2499");
}

pub(crate) async fn import(app: &TestApp, token: &str, csv: Vec<u8>, on_conflict: &str) -> Value {
    let ops = json!({
        "query": format!("mutation($file: Upload!) {{ importLeads(file: $file, onConflict: {on_conflict}) {{ id state }} }}"),
        "variables": {"file": null}
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", ops.to_string())
        .text("map", json!({"0": ["variables.file"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(csv)
                .file_name("leads.csv")
                .mime_str("text/csv")
                .unwrap(),
        );
    let v: Value = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = v["data"]["importLeads"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    app.state.jobs_enqueued();
    for _ in 0..1200 {
        let j = app
            .gql(
                Some(token),
                "query($id: ID!) { job(id: $id) { state result lastError } }",
                json!({"id": id}),
            )
            .await;
        match j["data"]["job"]["state"].as_str() {
            Some("SUCCEEDED") => return j["data"]["job"]["result"].clone(),
            Some("FAILED") => panic!("import failed: {j}"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    panic!("import did not finish");
}

#[tokio::test]
async fn csv_import_reports_exactly_the_bad_rows_and_dedupes() {
    let app = TestApp::spawn().await;
    let (token, _, _) = org_owner(&app).await;
    let mut csv = String::from("\u{feff}First Name,Last Name,Email,Company,Tags\n");
    for i in 1..=10_000 {
        match i {
            17 => csv.push_str("Bad,Email,not-an-email,Co,\n"),
            4242 => csv.push_str("Too,Many,x4242@example.com,Co,t,EXTRA\n"),
            9999 => csv.push_str(",,,,\n"),
            _ => csv.push_str(&format!(
                "F{i},L{i},p{i}@example.com,\"Co {i}, Inc.\",a;b\n"
            )),
        }
    }
    let r = import(&app, &token, csv.clone().into_bytes(), "SKIP").await;
    assert_eq!(r["imported"], 9997, "{}", r["errors"]);
    assert_eq!(r["failed"], 3);
    let bad: Vec<i64> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_i64().unwrap())
        .collect();
    assert_eq!(bad, [17, 4242, 9999]);
    assert_eq!(r["errors"][0]["field"], "email");
    // Again: every row is a duplicate now.
    let r = import(&app, &token, csv.into_bytes(), "SKIP").await;
    assert_eq!(
        (r["imported"].as_i64(), r["skipped"].as_i64()),
        (Some(0), Some(9997))
    );
    let v = app.gql(Some(&token), "{ leads(filter: {tags: {all: [\"a\", \"b\"]}}) { totalCount } l: leads(first: 1, filter: {search: \"p17@\"}) { nodes { provenance { field kind reference } } } }", json!({})).await;
    assert_eq!(v["data"]["leads"]["totalCount"], 9997);
}

#[tokio::test]
async fn export_xlsx_is_a_workbook_with_every_row() {
    use std::io::Read;
    let app = TestApp::spawn().await;
    let (token, org, _) = org_owner(&app).await;
    for i in 0..1200 {
        insert_lead(&app, org, None, &format!("X{i}"), i % 100, &[], 0).await;
    }
    let v = app
        .gql(
            Some(&token),
            "mutation { exportLeads(format: XLSX) { url } }",
            json!({}),
        )
        .await;
    let url = v["data"]["exportLeads"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .replace("http://localhost:8080", &format!("http://{}", app.addr));
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("spreadsheetml"));
    let bytes = res.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut sheet = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    assert_eq!(
        sheet.matches("<row ").count(),
        1201,
        "header + 1,200 leads across chunks"
    );
}
