//! A/B winner selection: the test fraction is sent first (split across the variants), the
//! winner is chosen by the recorded opens after the wait (a delayed job on the queue), recorded
//! on the campaign with a `campaign.status` event, and every other recipient gets the winner
//! only; nobody gets two messages. Validation of `abTest`.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;

use leadgraph::{auth::Role, domains::outreach::tracking};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::{
    fixtures::{campaign_row, insert_leads, org_with, template},
    helpers::{code, Options, TestApp},
    outreach::{free_listener, recipients_by_status, Sink, ADD, LAUNCH},
};

const CREATE: &str = "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id status abTest { testFraction metric waitMinutes } } }";

#[tokio::test]
async fn ab_test_sends_the_fraction_then_the_winner_by_opens_to_the_rest() {
    let listener = free_listener().await;
    let smtp = format!("smtp://{}", listener.local_addr().unwrap());
    let sink = Sink::start(listener).await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("SMTP_URL".into(), smtp)]),
        ..Default::default()
    })
    .await;
    let (org, token) = org_with(&app, Role::Member).await;
    let domain = format!("ab{}.test", Uuid::now_v7().simple());
    let ids = insert_leads(&app, org, &domain, 40).await;
    let t = template(&app, &token, "<p>Hi {{ lead.firstName }}</p>", "Hi").await;
    let v = app
        .gql(
            Some(&token),
            CREATE,
            json!({"i": {"name": "AB", "templateId": t, "fromName": "Sam", "fromEmail": "sam@sender.test",
                "variants": [{"name": "A", "subject": "Subject A {{ lead.firstName }}", "weight": 1},
                             {"name": "B", "subject": "Subject B {{ lead.firstName }}", "weight": 1}],
                "abTest": {"testFraction": 0.25, "metric": "OPEN_RATE", "waitMinutes": 1}}}),
        )
        .await;
    let c = v["data"]["createCampaign"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string();
    assert_eq!(
        v["data"]["createCampaign"]["abTest"],
        json!({"testFraction": 0.25, "metric": "OPEN_RATE", "waitMinutes": 1})
    );
    let ids_s: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let v = app
        .gql(Some(&token), ADD, json!({"c": c, "i": {"leadIds": ids_s}}))
        .await;
    assert_eq!(v["data"]["addCampaignRecipients"]["added"], 40, "{v}");

    // Live events of the campaign.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&token).await;
    ws.send(json!({"type": "subscribe", "id": "c", "payload": {"query": "subscription($c: ID!) { campaignEvents(campaignId: $c) { kind status abWinner } }", "variables": {"c": c}}})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let v = app.gql(Some(&token), LAUNCH, json!({"id": c})).await;
    assert_eq!(v["data"]["launchCampaign"]["status"], "RUNNING", "{v}");

    // Test phase: ceil(40 × 0.25) = 10 messages, 5 per variant; then the job hands over to a
    // delayed run (testSentAt recorded) and nothing else is sent.
    let mut waiting = false;
    for _ in 0..200 {
        if campaign_row(&app, &c).await.ab_test.unwrap()["testSentAt"].is_string() {
            waiting = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(waiting, "the test phase did not finish");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.count(), 10);
    let by = recipients_by_status(&app, &c).await;
    let sent = by["SENT"].clone();
    assert_eq!(sent.len(), 10);
    assert_eq!(by["PENDING"].len(), 30);
    assert!(by["PENDING"].iter().all(|r| r.variant.is_none()));
    let a: Vec<_> = sent
        .iter()
        .filter(|r| r.variant.as_deref() == Some("A"))
        .collect();
    let b: Vec<_> = sent
        .iter()
        .filter(|r| r.variant.as_deref() == Some("B"))
        .collect();
    assert_eq!((a.len(), b.len()), (5, 5));
    let per = sink.per_recipient();
    for r in &sent {
        let raw = &per[&r.email][0];
        let subject = format!("Subject {}", r.variant.as_deref().unwrap());
        assert!(raw.contains(&subject), "{raw}");
    }
    let c_row = campaign_row(&app, &c).await;
    assert_eq!(c_row.status, "RUNNING");
    assert!(c_row.ab_winner.is_none());
    // The decision waits on the queue: one job, due a minute after the test.
    let job = entity::job::Entity::find_by_id(c_row.job_id.unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.state, "queued");
    assert!(job.run_at_ms > Utc::now().timestamp_millis() + 30_000);

    // Opens: 1 of A's five, 3 of B's five (B's open rate 0.6 beats A's 0.2), one of them twice.
    let secret = app.state.config.jwt_secret.clone();
    let http = reqwest::Client::new();
    let opens: Vec<Uuid> = [a[0].id, b[0].id, b[1].id, b[2].id, b[2].id].into();
    for r in opens {
        let tok = tracking::sign(&secret, tracking::TokenKind::Open, r, None);
        let resp = http
            .get(app.url(&format!("/t/o/{tok}.gif")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    // Time passes: the test was sent two minutes ago, the delayed job is due.
    let mut ab_test = campaign_row(&app, &c).await.ab_test.unwrap();
    ab_test["testSentAt"] = json!(Utc::now() - chrono::Duration::minutes(2));
    entity::campaign::Entity::update_many()
        .col_expr(
            entity::campaign::Column::AbTest,
            sea_orm::sea_query::Expr::value(ab_test),
        )
        .filter(entity::campaign::Column::Id.eq(c_row.id))
        .exec(&app.state.db)
        .await
        .unwrap();
    entity::job::Entity::update_many()
        .col_expr(
            entity::job::Column::RunAtMs,
            sea_orm::sea_query::Expr::value(Utc::now().timestamp_millis()),
        )
        .filter(entity::job::Column::Id.eq(job.id))
        .exec(&app.state.db)
        .await
        .unwrap();
    app.state.jobs_enqueued();
    for _ in 0..300 {
        if campaign_row(&app, &c).await.status == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(campaign_row(&app, &c).await.status, "COMPLETED");

    // The winner and its rates.
    let v = app
        .gql(
            Some(&token),
            "query($id: ID!) { campaign(id: $id) { abWinner { variantId metric decidedAt rates { variantId sent opens clicks rate } } } }",
            json!({"id": c}),
        )
        .await;
    let w = &v["data"]["campaign"]["abWinner"];
    assert_eq!(w["variantId"], "B", "{v}");
    assert_eq!(w["metric"], "OPEN_RATE");
    assert_eq!(
        w["rates"],
        json!([
            {"variantId": "A", "sent": 5, "opens": 1, "clicks": 0, "rate": 0.2},
            {"variantId": "B", "sent": 5, "opens": 3, "clicks": 0, "rate": 0.6}
        ])
    );
    // Everybody got exactly one message; the 30 others got B.
    assert_eq!(sink.count(), 40);
    let per = sink.per_recipient();
    assert_eq!(per.len(), 40);
    assert!(per.values().all(|m| m.len() == 1));
    let rows = recipients_by_status(&app, &c).await;
    let rest: Vec<_> = rows
        .values()
        .flatten()
        .filter(|r| !sent.iter().any(|s| s.id == r.id))
        .collect();
    assert_eq!(rest.len(), 30);
    for r in rest {
        assert_eq!(r.variant.as_deref(), Some("B"));
        assert!(r.sent_at.is_some());
        assert!(
            per[&r.email][0].contains("Subject B"),
            "{}",
            per[&r.email][0]
        );
    }
    // The decision was announced live.
    let mut announced = false;
    for _ in 0..50 {
        let m = ws.next_json(5).await;
        if m["payload"]["data"]["campaignEvents"]["abWinner"] == "B" {
            assert_eq!(m["payload"]["data"]["campaignEvents"]["status"], "RUNNING");
            announced = true;
            break;
        }
    }
    assert!(announced);
}

/// Tie → the first variant; CLICK_RATE counts clicks. The decision function on recorded rows.
#[tokio::test]
async fn ab_test_tie_goes_to_the_first_variant_and_click_rate_counts_clicks() {
    let app = TestApp::spawn().await;
    let (org, token) = org_with(&app, Role::Member).await;
    let domain = format!("tie{}.test", Uuid::now_v7().simple());
    let ids = insert_leads(&app, org, &domain, 8).await;
    let t = template(&app, &token, "<p>x</p>", "x").await;
    let v = app
        .gql(
            Some(&token),
            CREATE,
            json!({"i": {"name": "AB", "templateId": t, "fromName": "Sam", "fromEmail": "sam@sender.test",
                "variants": [{"name": "Z", "subject": "Z", "weight": 1}, {"name": "Y", "subject": "Y", "weight": 1}],
                "abTest": {"testFraction": 0.5, "metric": "CLICK_RATE", "waitMinutes": 0}}}),
        )
        .await;
    let c = v["data"]["createCampaign"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids_s: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    app.gql(Some(&token), ADD, json!({"c": c, "i": {"leadIds": ids_s}}))
        .await;
    // waitMinutes 0 and no clicks at all: a tie at 0 → Z, the first variant (not alphabetical).
    app.gql(Some(&token), LAUNCH, json!({"id": c})).await;
    for _ in 0..200 {
        if campaign_row(&app, &c).await.status == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let row = campaign_row(&app, &c).await;
    assert_eq!(row.status, "COMPLETED");
    let w = row.ab_winner.unwrap();
    assert_eq!(w["variantId"], "Z", "{w}");
    assert_eq!(w["metric"], "CLICK_RATE");
    let rows = entity::campaign_recipient::Entity::find()
        .filter(entity::campaign_recipient::Column::CampaignId.eq(row.id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 8);
    assert!(rows.iter().all(|r| r.status == "SENT"));
    let z = rows
        .iter()
        .filter(|r| r.variant.as_deref() == Some("Z"))
        .count();
    let y = rows
        .iter()
        .filter(|r| r.variant.as_deref() == Some("Y"))
        .count();
    // 4 in the test (2 + 2), the other 4 got Z.
    assert_eq!((z, y), (6, 2));
}

#[tokio::test]
async fn ab_test_input_is_validated() {
    let app = TestApp::spawn().await;
    let (_org, token) = org_with(&app, Role::Member).await;
    let t = template(&app, &token, "<p>x</p>", "x").await;
    let base = |ab: serde_json::Value, variants: serde_json::Value| {
        json!({"i": {"name": "AB", "templateId": t, "fromName": "Sam", "fromEmail": "sam@sender.test",
            "variants": variants, "abTest": ab}})
    };
    let two = json!([{"name": "A", "weight": 1}, {"name": "B", "weight": 1}]);
    let v = app
        .gql(
            Some(&token),
            CREATE,
            base(
                json!({"testFraction": 0.7, "metric": "OPEN_RATE", "waitMinutes": -5}),
                two.clone(),
            ),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    let fields: Vec<&str> = v["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec!["input.abTest.testFraction", "input.abTest.waitMinutes"]
    );
    let v = app
        .gql(
            Some(&token),
            CREATE,
            base(
                json!({"testFraction": 0.2, "metric": "OPEN_RATE", "waitMinutes": 5}),
                json!([]),
            ),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "input.abTest"
    );
    // Valid, then variants cannot drop below two while the test is set.
    let v = app
        .gql(
            Some(&token),
            CREATE,
            base(
                json!({"testFraction": 0.2, "metric": "CLICK_RATE", "waitMinutes": 5}),
                two,
            ),
        )
        .await;
    let id = v["data"]["createCampaign"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!, $i: UpdateCampaignInput!) { updateCampaign(id: $id, input: $i) { id abTest { metric } } }",
            json!({"id": id, "i": {"variants": []}}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!, $i: UpdateCampaignInput!) { updateCampaign(id: $id, input: $i) { id abTest { metric } } }",
            json!({"id": id, "i": {"variants": [], "abTest": null}}),
        )
        .await;
    assert!(v["data"]["updateCampaign"]["abTest"].is_null(), "{v}");
}
