//! Sequences, part 3 (issue 24): launch under human control. A SEQUENCE approval rule
//! ("recipientCount > 2") holds a large enrollment in PENDING_APPROVAL: nothing is sent, not
//! even the next step of leads enrolled before; another organization cannot approve; approval
//! starts the sends. A rejection pauses the sequence and sends nothing; resuming asks again.
//! An outgoing webhook subscribed to SEQUENCE_ACTIVITY receives a step's `sent`.

use chrono::Utc;
use leadgraph::{auth::Role, domains::sequences};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{insert_leads, member, ok, org_named, template},
    helpers::{code, host_of, wait_for_mail_containing, Options, TestApp},
    sequences::{event_types, wait_until},
    sequences_tracking::mails_to,
};

const CREATE_RULE: &str =
    "mutation($i: ApprovalRuleInput!) { createApprovalRule(input: $i) { id } }";
const CREATE: &str = "mutation($i: CreateSequenceInput!) { createSequence(input: $i) { id } }";
const ENROLL: &str = "mutation($id: ID!, $l: [ID!]!) { enrollInSequence(id: $id, input: {leadIds: $l}) { enrolled skipped pendingApproval } }";
const GET: &str = "query($id: ID!) { sequence(id: $id) { status } }";
const RESUME: &str = "mutation($id: ID!) { resumeSequence(id: $id) { status } }";
const PAUSE: &str = "mutation($id: ID!) { pauseSequence(id: $id) { status } }";
const APPROVE: &str = "mutation($id: ID!) { approveRequest(id: $id) { id status } }";
const REJECT: &str =
    "mutation($id: ID!, $r: String!) { rejectRequest(id: $id, reason: $r) { id status } }";
const PREVIEW: &str =
    "query($id: ID!) { approvalPreview(id: $id) { resourceType recipientCount } }";

async fn rule(app: &TestApp, admin: &str, more_than: i64) {
    ok(
        app,
        admin,
        CREATE_RULE,
        json!({"i": {"name": "Big sequences", "resourceType": "SEQUENCE",
                     "condition": {"all": [{"field": "recipientCount", "operator": "GT", "value": more_than}]},
                     "approverRole": "MANAGER", "requiredApprovals": 1}}),
    )
    .await;
}

async fn sequence(app: &TestApp, token: &str, steps: Value) -> String {
    let v = ok(
        app,
        token,
        CREATE,
        json!({"i": {"name": "Launch", "steps": steps}}),
    )
    .await;
    v["createSequence"]["id"].as_str().unwrap().to_string()
}

async fn status(app: &TestApp, token: &str, seq: &str) -> Value {
    ok(app, token, GET, json!({"id": seq})).await["sequence"]["status"].clone()
}

/// The gated requests about `seq`, oldest first: (id, status).
async fn requests(app: &TestApp, seq: &str) -> Vec<(String, String)> {
    entity::approval_request::Entity::find()
        .filter(entity::approval_request::Column::ResourceType.eq("SEQUENCE"))
        .filter(entity::approval_request::Column::ResourceId.eq(seq))
        .order_by_asc(entity::approval_request::Column::CreatedAt)
        .order_by_asc(entity::approval_request::Column::Id)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id.to_string(), r.status))
        .collect()
}

fn ids(leads: &[Uuid]) -> Vec<String> {
    leads.iter().map(Uuid::to_string).collect()
}

#[tokio::test]
async fn a_large_enrollment_waits_for_approval_and_sends_once_approved() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Sequences").await;
    let admin = member(&app, org, Role::Admin, "Ada").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let ann = member(&app, org, Role::Manager, "Ann").await;
    let other = org_named(&app, "Other").await;
    let stranger = member(&app, other, Role::Owner, "Stan").await;
    rule(&app, &admin.token, 2).await;
    let domain = format!("l{}.test", Uuid::now_v7().simple());
    let leads = insert_leads(&app, org, &domain, 4).await;
    let t = template(&app, &mel.token, "<p>Launch note</p>", "Launch note").await;
    let seq = sequence(
        &app,
        &mel.token,
        json!([{"templateId": t, "waitDays": 0}, {"templateId": t, "waitDays": 1}]),
    )
    .await;

    // One lead: under the threshold, its first step goes out at once.
    let v = ok(
        &app,
        &mel.token,
        ENROLL,
        json!({"id": seq, "l": ids(&leads[..1])}),
    )
    .await;
    assert_eq!(
        v["enrollInSequence"],
        json!({"enrolled": 1, "skipped": 0, "pendingApproval": false})
    );
    wait_for_mail_containing(&app, &format!("lead0@{domain}"), "Launch note").await;
    wait_until("step 1 recorded", || async {
        sequence_sends(&app, &seq).await == 1
    })
    .await;
    assert!(requests(&app, &seq).await.is_empty());

    // Three more: the rule matches, the sequence waits and sends nothing, not even step 2 of
    // the first lead when it falls due.
    let v = ok(
        &app,
        &mel.token,
        ENROLL,
        json!({"id": seq, "l": ids(&leads[1..])}),
    )
    .await;
    assert_eq!(
        v["enrollInSequence"],
        json!({"enrolled": 3, "skipped": 0, "pendingApproval": true})
    );
    assert_eq!(status(&app, &mel.token, &seq).await, "PENDING_APPROVAL");
    let reqs = requests(&app, &seq).await;
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let (req, req_status) = reqs[0].clone();
    assert_eq!(req_status, "PENDING");
    let p = ok(&app, &ann.token, PREVIEW, json!({"id": req})).await;
    assert_eq!(
        p["approvalPreview"],
        json!({"resourceType": "SEQUENCE", "recipientCount": 4})
    );
    let later = Utc::now() + chrono::Duration::days(2);
    assert_eq!(sequences::run_due(&app.state, later).await.unwrap(), 0);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        sequence_sends(&app, &seq).await,
        1,
        "nothing sent while pending"
    );
    let v = app.gql(Some(&mel.token), RESUME, json!({"id": seq})).await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");

    // Another organization cannot see or approve it; nobody unauthenticated can.
    let v = app
        .gql(Some(&stranger.token), APPROVE, json!({"id": req}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = app.gql(None, APPROVE, json!({"id": req})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app
        .gql(Some(&stranger.token), GET, json!({"id": seq}))
        .await;
    assert!(v["data"]["sequence"].is_null(), "{v}");
    assert_eq!(requests(&app, &seq).await[0].1, "PENDING");

    // A manager approves: the sequence is ACTIVE and the three waiting leads get step 1.
    let v = ok(&app, &ann.token, APPROVE, json!({"id": req})).await;
    assert_eq!(v["approveRequest"]["status"], "APPROVED");
    assert_eq!(status(&app, &mel.token, &seq).await, "ACTIVE");
    for i in 1..4 {
        wait_for_mail_containing(&app, &format!("lead{i}@{domain}"), "Launch note").await;
    }
    wait_until("three more sends", || async {
        sequence_sends(&app, &seq).await == 4
    })
    .await;
    assert_eq!(mails_to(&app, &format!("lead1@{domain}")).len(), 1);
    let types = event_types(&app, org).await;
    let changed: Vec<&String> = types
        .iter()
        .filter(|t| t.starts_with("sequence.changed"))
        .collect();
    assert_eq!(
        changed,
        vec![
            "sequence.changed:created",
            "sequence.changed:pending_approval",
            "sequence.changed:approved"
        ]
    );
    // Approved once: pausing and resuming the same enrollments does not ask again.
    ok(&app, &mel.token, PAUSE, json!({"id": seq})).await;
    let v = ok(&app, &mel.token, RESUME, json!({"id": seq})).await;
    assert_eq!(v["resumeSequence"]["status"], "ACTIVE");
    assert_eq!(requests(&app, &seq).await.len(), 1);
}

async fn sequence_sends(app: &TestApp, seq: &str) -> usize {
    entity::sequence_send::Entity::find()
        .filter(entity::sequence_send::Column::SequenceId.eq(Uuid::parse_str(seq).unwrap()))
        .filter(entity::sequence_send::Column::Status.eq("SENT"))
        .all(&app.state.db)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_rejected_launch_sends_nothing_and_resuming_asks_again() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Rejects").await;
    let admin = member(&app, org, Role::Admin, "Ada").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let ann = member(&app, org, Role::Manager, "Ann").await;
    rule(&app, &admin.token, 0).await;
    let domain = format!("r{}.test", Uuid::now_v7().simple());
    let leads = insert_leads(&app, org, &domain, 2).await;
    let t = template(&app, &mel.token, "<p>Rejected note</p>", "Rejected note").await;
    let seq = sequence(&app, &mel.token, json!([{"templateId": t, "waitDays": 0}])).await;

    let v = ok(
        &app,
        &mel.token,
        ENROLL,
        json!({"id": seq, "l": ids(&leads)}),
    )
    .await;
    assert_eq!(v["enrollInSequence"]["pendingApproval"], true);
    let (req, _) = requests(&app, &seq).await.remove(0);
    let v = ok(&app, &ann.token, REJECT, json!({"id": req, "r": "Not now"})).await;
    assert_eq!(v["rejectRequest"]["status"], "REJECTED");
    assert_eq!(status(&app, &mel.token, &seq).await, "PAUSED");
    let later = Utc::now() + chrono::Duration::days(3);
    assert_eq!(sequences::run_due(&app.state, later).await.unwrap(), 0);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(sequence_sends(&app, &seq).await, 0);
    for i in 0..2 {
        assert!(mails_to(&app, &format!("lead{i}@{domain}")).is_empty());
    }

    // Resuming is a new launch: the rule matches again, a new request waits.
    let v = ok(&app, &mel.token, RESUME, json!({"id": seq})).await;
    assert_eq!(v["resumeSequence"]["status"], "PENDING_APPROVAL");
    let reqs = requests(&app, &seq).await;
    assert_eq!(
        reqs.iter().map(|r| r.1.as_str()).collect::<Vec<_>>(),
        vec!["REJECTED", "PENDING"]
    );
    assert!(event_types(&app, org)
        .await
        .contains(&"sequence.changed:returned".to_string()));
    // Unauthenticated and viewers cannot resume.
    let v = app.gql(None, RESUME, json!({"id": seq})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let vic = member(&app, org, Role::Viewer, "Vic").await;
    let v = app.gql(Some(&vic.token), RESUME, json!({"id": seq})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
}

#[tokio::test]
async fn an_outgoing_webhook_for_sequence_activity_receives_the_sent_step() {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/hook"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let app = TestApp::spawn_with(Options::allowing(&[host_of(&server.uri())])).await;
    let org = org_named(&app, "Acme Hooks").await;
    let ada = member(&app, org, Role::Admin, "Ada").await;
    ok(
        &app,
        &ada.token,
        "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
        json!({"i": {"url": format!("{}/hook", server.uri()), "eventTypes": ["SEQUENCE_ACTIVITY"]}}),
    )
    .await;
    let domain = format!("w{}.test", Uuid::now_v7().simple());
    let leads = insert_leads(&app, org, &domain, 1).await;
    let t = template(&app, &ada.token, "<p>Hooked</p>", "Hooked").await;
    let seq = sequence(&app, &ada.token, json!([{"templateId": t, "waitDays": 0}])).await;
    ok(
        &app,
        &ada.token,
        ENROLL,
        json!({"id": seq, "l": ids(&leads)}),
    )
    .await;
    let mut body = Value::Null;
    for _ in 0..200 {
        if let Some(r) = server.received_requests().await.unwrap().first() {
            body = serde_json::from_slice(&r.body).unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(body["type"], "sequence.activity", "{body}");
    assert_eq!(body["data"]["kind"], "sent", "{body}");
    assert_eq!(body["data"]["sequenceId"], seq.as_str(), "{body}");
    assert_eq!(body["data"]["leadId"], leads[0].to_string(), "{body}");
    assert_eq!(body["data"]["step"], 0, "{body}");
}
