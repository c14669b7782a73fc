//! Approvals: the campaign launch gate (N distinct approvals from a role, the requester refused,
//! live events), delegation, reject / changes requested returning the campaign to DRAFT, SLA
//! escalation and expiry with a controlled clock, rule CRUD / toggle / test and condition
//! errors, requests made by hand, isolation between organizations, authentication and roles.

use std::time::Duration;

use chrono::Utc;
use leadgraph::{auth::Role, domains::approvals::sla};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{campaign_row, field_errors, insert_leads, member, ok, org_named},
    helpers::{code, TestApp},
};

/// A DRAFT campaign of `n` fresh leads (template by `token`'s user), ready to launch.
async fn campaign_with(app: &TestApp, org: Uuid, token: &str, n: usize) -> String {
    let domain = format!("d{}.test", Uuid::now_v7().simple());
    let leads: Vec<String> = insert_leads(app, org, &domain, n)
        .await
        .iter()
        .map(Uuid::to_string)
        .collect();
    let t = ok(
        app,
        token,
        "mutation($i: CreateTemplateInput!) { createTemplate(input: $i) { id } }",
        json!({"i": {"name": "Intro", "subject": "Hi {{ lead.firstName }}",
                     "bodyHtml": "<p>Hello {{ lead.firstName }} at {{ lead.company }}</p>",
                     "bodyText": "Hello {{ lead.firstName }}"}}),
    )
    .await["createTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = ok(
        app,
        token,
        "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id } }",
        json!({"i": {"name": "Big push", "templateId": t, "fromName": "Rita",
                     "fromEmail": "rita@sender.test"}}),
    )
    .await["createCampaign"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = ok(
        app,
        token,
        "mutation($c: ID!, $i: RecipientSourceInput!) { addCampaignRecipients(campaignId: $c, input: $i) { added } }",
        json!({"c": c, "i": {"leadIds": leads}}),
    )
    .await;
    assert_eq!(v["addCampaignRecipients"]["added"], n, "{v}");
    c
}

const CREATE_RULE: &str = "mutation($i: ApprovalRuleInput!) { createApprovalRule(input: $i) { id name enabled requiredApprovals approverRole slaHours approvers { id } condition } }";
const LAUNCH: &str = "mutation($id: ID!) { launchCampaign(id: $id) { id status } }";
const APPROVE: &str = "mutation($id: ID!, $c: String) { approveRequest(id: $id, comment: $c) { id status approvalCount requiredApprovals } }";
const REJECT: &str =
    "mutation($id: ID!, $r: String!) { rejectRequest(id: $id, reason: $r) { id status resolutionComment } }";
const CHANGES: &str =
    "mutation($id: ID!, $c: String!) { requestChanges(id: $id, comment: $c) { id status } }";
const DELEGATE: &str = "mutation($id: ID!, $to: ID!, $c: String) { delegateApproval(id: $id, toUserId: $to, comment: $c) { id status assigneeRole assignees { id } } }";
const REQUEST: &str = "query($id: ID!) { approvalRequest(id: $id) { id status urgent approvalCount requiredApprovals resourceType resourceId title gated payload canAct dueAt assigneeRole assignees { id } requestedBy { id } rule { id } history { action comment actor { id } toUser { id } } } }";
const PENDING_REQS: &str = "query($f: ApprovalRequestFilter) { approvalRequests(filter: $f) { totalCount nodes { id status resourceId requiredApprovals } } }";
const NOTIFS: &str = "{ notifications { nodes { type title body resourceType resourceId } } }";

async fn launch(app: &TestApp, token: &str, c: &str) -> String {
    let v = ok(app, token, LAUNCH, json!({"id": c})).await;
    v["launchCampaign"]["status"].as_str().unwrap().to_string()
}

/// The only pending request about campaign `c`.
async fn request_for(app: &TestApp, token: &str, c: &str) -> String {
    let v = ok(
        app,
        token,
        PENDING_REQS,
        json!({"f": {"status": ["PENDING"], "resourceType": "CAMPAIGN"}}),
    )
    .await;
    let nodes: Vec<&Value> = v["approvalRequests"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["resourceId"] == c)
        .collect();
    assert_eq!(nodes.len(), 1, "{v}");
    nodes[0]["id"].as_str().unwrap().to_string()
}

async fn notifications(app: &TestApp, token: &str) -> Vec<Value> {
    ok(app, token, NOTIFS, json!({})).await["notifications"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

fn has(notes: &[Value], ty: &str, title_part: &str) -> bool {
    notes
        .iter()
        .any(|n| n["type"] == ty && n["title"].as_str().unwrap().contains(title_part))
}

async fn next_approval_event(ws: &mut crate::helpers::Ws) -> Value {
    let m = ws.next_json(10).await;
    assert_eq!(m["type"], "next", "{m}");
    m["payload"]["data"]["approvalEvents"].clone()
}

/// The acceptance scenario: "campaign recipients > 500 needs 2 approvals from MANAGER+".
#[tokio::test]
async fn a_600_recipient_campaign_needs_two_manager_approvals_then_launches() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Approvals").await;
    let owner = member(&app, org, Role::Owner, "Olga").await;
    let rita = member(&app, org, Role::Manager, "Rita").await; // requester, a manager herself
    let ann = member(&app, org, Role::Manager, "Ann").await;
    let bob = member(&app, org, Role::Admin, "Bob").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let vic = member(&app, org, Role::Viewer, "Vic").await;

    let rule = ok(
        &app,
        &owner.token,
        CREATE_RULE,
        json!({"i": {"name": "Big sends", "resourceType": "CAMPAIGN",
                     "condition": {"all": [{"field": "recipientCount", "operator": "GT", "value": 500}]},
                     "approverRole": "MANAGER", "requiredApprovals": 2, "slaHours": 24}}),
    )
    .await;
    let r = &rule["createApprovalRule"];
    assert_eq!(r["enabled"], true);
    assert_eq!(r["approverRole"], "MANAGER");
    assert_eq!(r["requiredApprovals"], 2);

    // A subscriber (a viewer may read approvals) sees the events live.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&vic.token).await;
    ws.send(json!({"type": "subscribe", "id": "a", "payload": {"query":
        "subscription { approvalEvents { kind reason requestId status approvalCount requiredApprovals resourceType resourceId request { title } } }"}}))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // A small campaign is not gated.
    let small = campaign_with(&app, org, &rita.token, 3).await;
    assert_eq!(launch(&app, &rita.token, &small).await, "RUNNING");

    let c = campaign_with(&app, org, &rita.token, 600).await;
    assert_eq!(launch(&app, &rita.token, &c).await, "PENDING_APPROVAL");
    let id = request_for(&app, &ann.token, &c).await;
    let ev = next_approval_event(&mut ws).await;
    assert_eq!(ev["kind"], "PENDING", "{ev}");
    assert_eq!(ev["reason"], "created");
    assert_eq!(ev["requestId"], id.as_str());
    assert_eq!(ev["resourceType"], "CAMPAIGN");
    assert_eq!(ev["resourceId"], c.as_str());
    assert_eq!(ev["requiredApprovals"], 2);
    assert!(ev["request"]["title"]
        .as_str()
        .unwrap()
        .contains("Big push"));

    let req = ok(&app, &ann.token, REQUEST, json!({"id": id})).await["approvalRequest"].clone();
    assert_eq!(req["status"], "PENDING");
    assert_eq!(req["gated"], true);
    assert_eq!(req["requiredApprovals"], 2);
    assert_eq!(req["assigneeRole"], "MANAGER");
    assert_eq!(req["payload"]["facts"]["recipientCount"], 600);
    assert_eq!(
        req["payload"]["facts"]["firstCampaign"], false,
        "the small one launched first"
    );
    assert_eq!(req["requestedBy"]["id"], rita.id.to_string());
    assert_eq!(req["rule"]["id"], r["id"]);
    assert_eq!(req["canAct"], true);
    assert!(req["dueAt"].is_string());

    // Assignees (MANAGER+ but not the requester) were notified; the requester was not.
    for p in [&ann, &bob, &owner] {
        assert!(
            has(
                &notifications(&app, &p.token).await,
                "APPROVAL_PENDING",
                "Approval needed"
            ),
            "assignee not notified"
        );
    }
    // (Rita's first, small campaign completed: its CAMPAIGN_FINISHED is hers; nothing else.)
    assert!(notifications(&app, &rita.token)
        .await
        .iter()
        .all(|n| n["type"] == "CAMPAIGN_FINISHED"));
    assert!(notifications(&app, &mel.token).await.is_empty());

    // The queue of each person.
    let pending = "{ pendingApprovals { totalCount nodes { id } } }";
    assert_eq!(
        ok(&app, &ann.token, pending, json!({})).await["pendingApprovals"]["totalCount"],
        1
    );
    assert_eq!(
        ok(&app, &rita.token, pending, json!({})).await["pendingApprovals"]["totalCount"],
        0
    );
    assert_eq!(
        ok(&app, &mel.token, pending, json!({})).await["pendingApprovals"]["totalCount"],
        0
    );

    // The preview shows what would go out.
    let p = ok(
        &app,
        &ann.token,
        "query($id: ID!) { approvalPreview(id: $id) { resourceType recipientCount sampleRecipient facts email { subject html text } } }",
        json!({"id": id}),
    )
    .await["approvalPreview"]
        .clone();
    assert_eq!(p["recipientCount"], 600);
    let sample = p["sampleRecipient"].as_str().unwrap();
    let i: String = sample
        .trim_start_matches("lead")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(p["email"]["subject"], format!("Hi First{i}"));
    assert!(p["email"]["html"]
        .as_str()
        .unwrap()
        .contains(&format!("Hello First{i} at Co{i}")));

    // Nobody decides on their own request, not even a manager; members and viewers may not act.
    let v = app.gql(Some(&rita.token), APPROVE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app.gql(Some(&mel.token), APPROVE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app.gql(Some(&vic.token), APPROVE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app.gql(Some(&rita.token), REQUEST, json!({"id": id})).await;
    assert_eq!(v["data"]["approvalRequest"]["canAct"], false);

    // One approval keeps it pending; the same person cannot count twice.
    let v = ok(
        &app,
        &ann.token,
        APPROVE,
        json!({"id": id, "c": "Looks fine"}),
    )
    .await;
    assert_eq!(v["approveRequest"]["status"], "PENDING");
    assert_eq!(v["approveRequest"]["approvalCount"], 1);
    assert_eq!(campaign_row(&app, &c).await.status, "PENDING_APPROVAL");
    let v = app.gql(Some(&ann.token), APPROVE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");

    // The second distinct approval launches the campaign.
    let v = ok(&app, &bob.token, APPROVE, json!({"id": id})).await;
    assert_eq!(v["approveRequest"]["status"], "APPROVED");
    assert_eq!(v["approveRequest"]["approvalCount"], 2);
    let status = campaign_row(&app, &c).await.status;
    assert!(status == "RUNNING" || status == "COMPLETED", "{status}");
    let ev = next_approval_event(&mut ws).await;
    assert_eq!(ev["kind"], "RESOLVED", "{ev}");
    assert_eq!(ev["reason"], "approved");
    assert_eq!(ev["status"], "APPROVED");
    assert_eq!(ev["approvalCount"], 2);

    // The mails go out: all 600 recipients sent.
    let cid = Uuid::parse_str(&c).unwrap();
    let mut sent = 0;
    for _ in 0..600 {
        sent = entity::campaign_recipient::Entity::find()
            .filter(entity::campaign_recipient::Column::CampaignId.eq(cid))
            .filter(entity::campaign_recipient::Column::Status.eq("SENT"))
            .count(&app.state.db)
            .await
            .unwrap();
        if sent == 600 && campaign_row(&app, &c).await.status == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sent, 600);
    assert_eq!(campaign_row(&app, &c).await.status, "COMPLETED");

    // The requester hears the outcome; a decided request takes no more actions.
    assert!(has(
        &notifications(&app, &rita.token).await,
        "APPROVAL_RESOLVED",
        "Approved"
    ));
    let v = app
        .gql(Some(&owner.token), REJECT, json!({"id": id, "r": "late"}))
        .await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");

    // History with actors and comments.
    let req = ok(&app, &vic.token, REQUEST, json!({"id": id})).await["approvalRequest"].clone();
    let h = req["history"].as_array().unwrap();
    let actions: Vec<&str> = h.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["CREATE", "APPROVE", "APPROVE"]);
    assert_eq!(h[0]["actor"]["id"], rita.id.to_string());
    assert_eq!(h[1]["actor"]["id"], ann.id.to_string());
    assert_eq!(h[1]["comment"], "Looks fine");
    assert_eq!(h[2]["actor"]["id"], bob.id.to_string());
    let hist = ok(
        &app,
        &vic.token,
        "query($id: ID) { approvalHistory(requestId: $id) { totalCount nodes { action } } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(hist["approvalHistory"]["totalCount"], 3);
    assert_eq!(hist["approvalHistory"]["nodes"][0]["action"], "APPROVE");

    // Statistics.
    let s = ok(
        &app,
        &vic.token,
        "{ approvalStats { pending approved rejected medianHoursToDecision byApprover { approved user { id } } } }",
        json!({}),
    )
    .await["approvalStats"]
        .clone();
    assert_eq!(s["pending"], 0);
    assert_eq!(s["approved"], 1);
    assert_eq!(s["rejected"], 0);
    assert!(s["medianHoursToDecision"].as_f64().unwrap() >= 0.0);
    let by = s["byApprover"].as_array().unwrap();
    assert_eq!(by.len(), 2);
    let ids: Vec<&str> = by
        .iter()
        .map(|b| b["user"]["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&ann.id.to_string().as_str()) && ids.contains(&bob.id.to_string().as_str())
    );
    assert!(by.iter().all(|b| b["approved"] == 1));
}

#[tokio::test]
async fn delegation_moves_the_request_reject_and_changes_return_the_campaign_to_draft() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Approvals").await;
    let owner = member(&app, org, Role::Owner, "Olga").await;
    let rita = member(&app, org, Role::Member, "Rita").await;
    let ann = member(&app, org, Role::Manager, "Ann").await;
    let carl = member(&app, org, Role::Member, "Carl").await;
    let vic = member(&app, org, Role::Viewer, "Vic").await;
    let other_org = org_named(&app, "Acme Approvals").await;
    let stranger = member(&app, other_org, Role::Manager, "Stan").await;

    ok(
        &app,
        &owner.token,
        CREATE_RULE,
        json!({"i": {"name": "Everything", "resourceType": "CAMPAIGN",
                     "condition": {"field": "recipientCount", "operator": "GTE", "value": 1},
                     "approverIds": [ann.id.to_string()]}}),
    )
    .await;
    let c = campaign_with(&app, org, &rita.token, 3).await;
    assert_eq!(launch(&app, &rita.token, &c).await, "PENDING_APPROVAL");
    let id = request_for(&app, &ann.token, &c).await;

    // Carl (a member, not assigned) may not act yet.
    let v = app.gql(Some(&carl.token), APPROVE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");

    // Invalid delegates.
    for (to, why) in [
        (rita.id.to_string(), "requester"),
        (vic.id.to_string(), "viewer"),
        (stranger.id.to_string(), "other organization"),
        ("not-an-id".to_string(), "garbage"),
        (ann.id.to_string(), "self"),
    ] {
        let v = app
            .gql(Some(&ann.token), DELEGATE, json!({"id": id, "to": to}))
            .await;
        assert_eq!(field_errors(&v), ["toUserId"], "{why}: {v}");
    }

    // Ann hands it to Carl.
    let v = ok(
        &app,
        &ann.token,
        DELEGATE,
        json!({"id": id, "to": carl.id.to_string(), "c": "Carl knows this client"}),
    )
    .await;
    assert_eq!(v["delegateApproval"]["status"], "PENDING");
    assert_eq!(
        v["delegateApproval"]["assignees"],
        json!([{"id": carl.id.to_string()}])
    );
    assert!(has(
        &notifications(&app, &carl.token).await,
        "APPROVAL_PENDING",
        "delegated to you"
    ));
    // Ann no longer holds it.
    let v = app.gql(Some(&ann.token), APPROVE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let req = ok(&app, &carl.token, REQUEST, json!({"id": id})).await["approvalRequest"].clone();
    let d = &req["history"][1];
    assert_eq!(d["action"], "DELEGATE");
    assert_eq!(d["actor"]["id"], ann.id.to_string());
    assert_eq!(d["toUser"]["id"], carl.id.to_string());
    assert_eq!(d["comment"], "Carl knows this client");

    // A reason is required; then Carl rejects and the campaign returns to DRAFT with it.
    let v = app
        .gql(Some(&carl.token), REJECT, json!({"id": id, "r": "  "}))
        .await;
    assert_eq!(field_errors(&v), ["reason"]);
    let v = ok(
        &app,
        &carl.token,
        REJECT,
        json!({"id": id, "r": "Tone is off"}),
    )
    .await;
    assert_eq!(v["rejectRequest"]["status"], "REJECTED");
    assert_eq!(v["rejectRequest"]["resolutionComment"], "Tone is off");
    let row = campaign_row(&app, &c).await;
    assert_eq!(row.status, "DRAFT");
    assert_eq!(row.last_error.as_deref(), Some("Tone is off"));
    let notes = notifications(&app, &rita.token).await;
    assert!(has(&notes, "APPROVAL_RESOLVED", "Rejected"), "{notes:?}");
    assert!(notes
        .iter()
        .any(|n| n["body"].as_str().unwrap().contains("Tone is off")));

    // Launching again asks again (Ann, per the rule); changes requested → DRAFT with the comment.
    assert_eq!(launch(&app, &rita.token, &c).await, "PENDING_APPROVAL");
    let id2 = request_for(&app, &ann.token, &c).await;
    assert_ne!(id, id2);
    let v = app
        .gql(Some(&ann.token), CHANGES, json!({"id": id2, "c": ""}))
        .await;
    assert_eq!(field_errors(&v), ["comment"]);
    let v = ok(
        &app,
        &ann.token,
        CHANGES,
        json!({"id": id2, "c": "Add an unsubscribe line"}),
    )
    .await;
    assert_eq!(v["requestChanges"]["status"], "CHANGES_REQUESTED");
    let row = campaign_row(&app, &c).await;
    assert_eq!(row.status, "DRAFT");
    assert_eq!(row.last_error.as_deref(), Some("Add an unsubscribe line"));

    // Withdrawing a third request (by its requester) returns the campaign too.
    assert_eq!(launch(&app, &rita.token, &c).await, "PENDING_APPROVAL");
    let id3 = request_for(&app, &ann.token, &c).await;
    let del = "mutation($id: ID!) { deleteApprovalRequest(id: $id) }";
    let v = app.gql(Some(&carl.token), del, json!({"id": id3})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "not the requester: {v}");
    ok(&app, &rita.token, del, json!({"id": id3})).await;
    let v = ok(&app, &ann.token, REQUEST, json!({"id": id3})).await;
    assert_eq!(v["approvalRequest"]["status"], "CANCELLED");
    assert_eq!(campaign_row(&app, &c).await.status, "DRAFT");
    let v = app.gql(Some(&rita.token), del, json!({"id": id3})).await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
}

#[tokio::test]
async fn an_overdue_request_becomes_urgent_notifies_and_later_expires() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Approvals").await;
    let owner = member(&app, org, Role::Owner, "Olga").await;
    let rita = member(&app, org, Role::Member, "Rita").await;
    let ann = member(&app, org, Role::Member, "Ann").await; // the approver
    let mara = member(&app, org, Role::Manager, "Mara").await; // Ann's team manager
    let zed = member(&app, org, Role::Manager, "Zed").await; // manager of another team
    let now = Utc::now();
    let team = Uuid::now_v7();
    entity::team::ActiveModel {
        id: Set(team),
        org_id: Set(org),
        name: Set("Sales".into()),
        description: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    for u in [ann.id, mara.id] {
        entity::team_member::ActiveModel {
            id: Set(Uuid::now_v7()),
            team_id: Set(team),
            user_id: Set(u),
            org_id: Set(org),
            created_at: Set(now),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }

    ok(
        &app,
        &owner.token,
        CREATE_RULE,
        json!({"i": {"name": "SLA", "resourceType": "CAMPAIGN",
                     "condition": {"all": []}, "approverIds": [ann.id.to_string()], "slaHours": 2}}),
    )
    .await;
    let c = campaign_with(&app, org, &rita.token, 2).await;
    assert_eq!(launch(&app, &rita.token, &c).await, "PENDING_APPROVAL");
    let id = request_for(&app, &ann.token, &c).await;

    // Not due yet.
    let r = sla::sweep(&app.state, now + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(r.escalated, 0);
    // Overdue.
    let r = sla::sweep(&app.state, now + chrono::Duration::hours(3))
        .await
        .unwrap();
    assert_eq!((r.escalated, r.expired), (1, 0));
    let req = ok(&app, &ann.token, REQUEST, json!({"id": id})).await["approvalRequest"].clone();
    assert_eq!(req["urgent"], true);
    assert_eq!(req["status"], "PENDING");
    assert_eq!(req["history"][1]["action"], "ESCALATE");
    assert!(req["history"][1]["actor"].is_null());
    let urgent = "{ urgentApprovals { totalCount nodes { id } } }";
    let v = ok(&app, &zed.token, urgent, json!({})).await;
    assert_eq!(v["urgentApprovals"]["nodes"][0]["id"], id.as_str());
    // The assignee, her team's manager and the organization's owner hear about it; a manager of
    // another team and the requester do not.
    for p in [&ann, &mara, &owner] {
        assert!(has(
            &notifications(&app, &p.token).await,
            "APPROVAL_PENDING",
            "Overdue approval"
        ));
    }
    assert!(!has(
        &notifications(&app, &zed.token).await,
        "APPROVAL_PENDING",
        "Overdue"
    ));
    assert!(!has(
        &notifications(&app, &rita.token).await,
        "APPROVAL_PENDING",
        "Overdue"
    ));
    // A second sweep changes nothing.
    let r = sla::sweep(&app.state, now + chrono::Duration::hours(4))
        .await
        .unwrap();
    assert_eq!((r.escalated, r.expired), (0, 0));

    // After APPROVAL_EXPIRE_HOURS (168 by default) it expires; the campaign returns to DRAFT.
    let r = sla::sweep(&app.state, now + chrono::Duration::hours(169))
        .await
        .unwrap();
    assert_eq!((r.escalated, r.expired), (0, 1));
    let req = ok(&app, &ann.token, REQUEST, json!({"id": id})).await["approvalRequest"].clone();
    assert_eq!(req["status"], "EXPIRED");
    assert_eq!(req["history"][2]["action"], "EXPIRE");
    let row = campaign_row(&app, &c).await;
    assert_eq!(row.status, "DRAFT");
    assert!(row.last_error.unwrap().contains("expired"));
    assert!(has(
        &notifications(&app, &rita.token).await,
        "APPROVAL_RESOLVED",
        "Expired"
    ));
}

#[tokio::test]
async fn rules_crud_toggle_test_and_condition_errors() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Approvals").await;
    let admin = member(&app, org, Role::Admin, "Ada").await;
    let manager = member(&app, org, Role::Manager, "Max").await;
    let viewer = member(&app, org, Role::Viewer, "Vic").await;
    let rita = member(&app, org, Role::Member, "Rita").await;
    let stranger = member(
        &app,
        org_named(&app, "Acme Approvals").await,
        Role::Admin,
        "Stan",
    )
    .await;

    // Condition parse errors name their path; every bad field is reported.
    let v = app
        .gql(
            Some(&admin.token),
            CREATE_RULE,
            json!({"i": {"name": "", "resourceType": "CAMPAIGN",
                         "condition": {"all": [{"field": "recipientCount", "operator": "BIGGER", "value": 1}]},
                         "approverRole": "VIEWER", "requiredApprovals": 0, "slaHours": 0}}),
        )
        .await;
    let mut fields = field_errors(&v);
    fields.sort();
    assert_eq!(
        fields,
        [
            "input.approverRole",
            "input.condition.all[0].operator",
            "input.name",
            "input.requiredApprovals",
            "input.slaHours"
        ]
    );
    for (cond, path) in [
        (
            json!({"any": [{"all": [{"operator": "EQ", "value": 1}]}]}),
            "input.condition.any[0].all[0].field",
        ),
        (
            json!({"field": "n", "operator": "IN", "value": 1}),
            "input.condition.value",
        ),
        (json!("recipientCount > 500"), "input.condition"),
    ] {
        let v = app
            .gql(
                Some(&admin.token),
                CREATE_RULE,
                json!({"i": {"name": "x", "resourceType": "CAMPAIGN", "condition": cond, "approverRole": "MANAGER"}}),
            )
            .await;
        assert_eq!(field_errors(&v), [path], "{v}");
    }
    // Exactly one of approverRole / approverIds; named approvers must be members; no more
    // required approvals than named approvers.
    let v = app
        .gql(
            Some(&admin.token),
            CREATE_RULE,
            json!({"i": {"name": "x", "resourceType": "CAMPAIGN", "condition": {"all": []}}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.approverRole"]);
    let v = app
        .gql(
            Some(&admin.token),
            CREATE_RULE,
            json!({"i": {"name": "x", "resourceType": "CAMPAIGN", "condition": {"all": []},
                         "approverIds": [manager.id.to_string(), stranger.id.to_string()], "requiredApprovals": 3}}),
        )
        .await;
    let mut f = field_errors(&v);
    f.sort();
    assert_eq!(f, ["input.approverIds[1]", "input.requiredApprovals"]);

    // Only ADMIN+ manage rules; everyone may read them.
    let good = json!({"i": {"name": "Any launch", "resourceType": "CAMPAIGN",
        "condition": {"all": [{"field": "recipientCount", "operator": "GTE", "value": 1},
                              {"any": [{"field": "aiGenerated", "operator": "EQ", "value": true},
                                       {"field": "fromDomain", "operator": "IN", "value": ["sender.test"]}]}]},
        "approverRole": "MANAGER"}});
    let v = app
        .gql(Some(&manager.token), CREATE_RULE, good.clone())
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let rule =
        ok(&app, &admin.token, CREATE_RULE, good.clone()).await["createApprovalRule"].clone();
    let rid = rule["id"].as_str().unwrap().to_string();
    let v = ok(
        &app,
        &viewer.token,
        "{ approvalRules { totalCount nodes { id name } } }",
        json!({}),
    )
    .await;
    assert_eq!(v["approvalRules"]["totalCount"], 1);

    // testApprovalRule: by id, and an unsaved rule; explanations per comparison.
    let test = "query($id: ID, $i: ApprovalRuleInput, $s: JSON!) { testApprovalRule(id: $id, input: $i, sample: $s) { matched explanation { path field operator expected actual matched reason } } }";
    let v = ok(
        &app,
        &viewer.token,
        test,
        json!({"id": rid, "s": {"recipientCount": 600, "aiGenerated": false, "fromDomain": "sender.test"}}),
    )
    .await["testApprovalRule"]
        .clone();
    assert_eq!(v["matched"], true);
    let ex = v["explanation"].as_array().unwrap();
    assert_eq!(ex.len(), 3);
    assert_eq!(ex[0]["path"], "condition.all[0]");
    assert_eq!(ex[0]["actual"], 600);
    assert_eq!(ex[0]["matched"], true);
    assert_eq!(ex[1]["path"], "condition.all[1].any[0]");
    assert_eq!(ex[1]["matched"], false);
    assert_eq!(ex[2]["operator"], "IN");
    assert_eq!(ex[2]["matched"], true);
    let v = ok(
        &app,
        &viewer.token,
        test,
        json!({"id": rid, "s": {"recipientCount": 0}}),
    )
    .await["testApprovalRule"]
        .clone();
    assert_eq!(v["matched"], false);
    assert!(v["explanation"][1]["reason"]
        .as_str()
        .unwrap()
        .contains("missing"));
    let v = ok(
        &app,
        &viewer.token,
        test,
        json!({"i": {"name": "t", "resourceType": "CAMPAIGN",
                     "condition": {"field": "firstCampaign", "operator": "EQ", "value": true},
                     "approverRole": "ADMIN"}, "s": {"firstCampaign": true}}),
    )
    .await["testApprovalRule"]
        .clone();
    assert_eq!(v["matched"], true);
    let v = app.gql(Some(&viewer.token), test, json!({"s": {}})).await;
    assert_eq!(field_errors(&v), ["id"]);
    let v = app
        .gql(Some(&viewer.token), test, json!({"id": rid, "s": [1]}))
        .await;
    assert_eq!(field_errors(&v), ["sample"]);

    // The rule gates a launch from sender.test; toggled off, the same launch proceeds.
    let c = campaign_with(&app, org, &rita.token, 2).await;
    assert_eq!(launch(&app, &rita.token, &c).await, "PENDING_APPROVAL");
    let toggle = "mutation($id: ID!) { toggleApprovalRule(id: $id) { enabled } }";
    let v = ok(&app, &admin.token, toggle, json!({"id": rid})).await;
    assert_eq!(v["toggleApprovalRule"]["enabled"], false);
    let c2 = campaign_with(&app, org, &rita.token, 2).await;
    assert_eq!(launch(&app, &rita.token, &c2).await, "RUNNING");
    let v = ok(&app, &admin.token, toggle, json!({"id": rid})).await;
    assert_eq!(v["toggleApprovalRule"]["enabled"], true);

    // Update and delete.
    let upd = "mutation($id: ID!, $i: UpdateApprovalRuleInput!) { updateApprovalRule(id: $id, input: $i) { name requiredApprovals approverRole approvers { id } } }";
    let v = ok(
        &app,
        &admin.token,
        upd,
        json!({"id": rid, "i": {"name": "Renamed", "approverIds": [manager.id.to_string()]}}),
    )
    .await;
    assert_eq!(v["updateApprovalRule"]["name"], "Renamed");
    assert!(v["updateApprovalRule"]["approverRole"].is_null());
    assert_eq!(
        v["updateApprovalRule"]["approvers"],
        json!([{"id": manager.id.to_string()}])
    );
    let v = app
        .gql(
            Some(&admin.token),
            upd,
            json!({"id": rid, "i": {"requiredApprovals": 2}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.requiredApprovals"]);
    let v = app
        .gql(
            Some(&admin.token),
            upd,
            json!({"id": rid, "i": {"condition": {"all": [{"field": "x", "operator": "NOPE", "value": 1}]}}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.condition.all[0].operator"]);
    let del = "mutation($id: ID!) { deleteApprovalRule(id: $id) }";
    ok(&app, &admin.token, del, json!({"id": rid})).await;
    let v = ok(
        &app,
        &admin.token,
        "query($id: ID!) { approvalRule(id: $id) { id } }",
        json!({"id": rid}),
    )
    .await;
    assert!(v["approvalRule"].is_null());
    // The request it created stays, without its rule.
    let id = request_for(&app, &manager.token, &c).await;
    let v = ok(&app, &manager.token, REQUEST, json!({"id": id})).await;
    assert!(v["approvalRequest"]["rule"].is_null());
}

#[tokio::test]
async fn manual_requests_isolation_authentication_and_roles() {
    let app = TestApp::spawn().await;
    let org_a = org_named(&app, "Acme Approvals").await;
    let mel = member(&app, org_a, Role::Member, "Mel").await;
    let ann = member(&app, org_a, Role::Member, "Ann").await;
    let carl = member(&app, org_a, Role::Member, "Carl").await;
    let vic = member(&app, org_a, Role::Viewer, "Vic").await;
    let admin_a = member(&app, org_a, Role::Admin, "Ada").await;
    let org_b = org_named(&app, "Acme Approvals").await;
    let admin_b = member(&app, org_b, Role::Owner, "Bea").await;

    let create = "mutation($i: CreateApprovalRequestInput!) { createApprovalRequest(input: $i) { id status gated priority assignees { id } requiredApprovals } }";
    // Invalid input: every field reported.
    let v = app
        .gql(
            Some(&mel.token),
            create,
            json!({"i": {"resourceType": "CAMPAIGN", "resourceId": Uuid::now_v7().to_string(), "title": " ",
                         "assigneeIds": [mel.id.to_string()], "dueAt": "2001-01-01T00:00:00Z", "requiredApprovals": 11}}),
        )
        .await;
    let mut f = field_errors(&v);
    f.sort();
    assert_eq!(
        f,
        [
            "input.assigneeIds[0]",
            "input.dueAt",
            "input.requiredApprovals",
            "input.resourceId",
            "input.title"
        ]
    );
    let v = app
        .gql(
            Some(&vic.token),
            create,
            json!({"i": {"resourceType": "OTHER", "resourceId": "doc-1", "title": "Read me", "assigneeIds": [ann.id.to_string()]}}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = ok(
        &app,
        &mel.token,
        create,
        json!({"i": {"resourceType": "OTHER", "resourceId": "doc-1", "title": "Contract draft",
                     "description": "Please check clause 4", "assigneeIds": [ann.id.to_string()], "priority": "HIGH"}}),
    )
    .await["createApprovalRequest"]
        .clone();
    assert_eq!(v["status"], "PENDING");
    assert_eq!(v["gated"], false);
    assert_eq!(v["priority"], "HIGH");
    let id = v["id"].as_str().unwrap().to_string();
    assert!(has(
        &notifications(&app, &ann.token).await,
        "APPROVAL_PENDING",
        "Contract draft"
    ));

    // assignedToMe.
    let mine = json!({"f": {"assignedToMe": true}});
    assert_eq!(
        ok(&app, &ann.token, PENDING_REQS, mine.clone()).await["approvalRequests"]["totalCount"],
        1
    );
    assert_eq!(
        ok(&app, &carl.token, PENDING_REQS, mine.clone()).await["approvalRequests"]["totalCount"],
        0
    );
    assert_eq!(
        ok(&app, &mel.token, PENDING_REQS, mine).await["approvalRequests"]["totalCount"],
        0
    );

    // Update: only the requester (or ADMIN+).
    let upd = "mutation($id: ID!, $i: UpdateApprovalRequestInput!) { updateApprovalRequest(id: $id, input: $i) { title priority } }";
    let v = app
        .gql(
            Some(&carl.token),
            upd,
            json!({"id": id, "i": {"title": "Hijack"}}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = ok(
        &app,
        &mel.token,
        upd,
        json!({"id": id, "i": {"title": "Contract v2", "priority": "URGENT"}}),
    )
    .await;
    assert_eq!(v["updateApprovalRequest"]["title"], "Contract v2");
    let v = app
        .gql(Some(&mel.token), upd, json!({"id": id, "i": {"title": ""}}))
        .await;
    assert_eq!(field_errors(&v), ["input.title"]);

    // Unauthenticated.
    for q in [
        "{ approvalRequests { totalCount } }",
        "{ approvalStats { pending } }",
        "{ approvalRules { totalCount } }",
    ] {
        let v = app.gql(None, q, json!({})).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{q}: {v}");
    }
    let v = app.gql(None, APPROVE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");

    // Another organization's ids behave exactly like missing ids.
    let rule = ok(
        &app,
        &admin_a.token,
        CREATE_RULE,
        json!({"i": {"name": "A", "resourceType": "OTHER", "condition": {"all": []}, "approverRole": "MEMBER"}}),
    )
    .await["createApprovalRule"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let missing = Uuid::now_v7().to_string();
    for target in [&id, &missing] {
        let v = ok(&app, &admin_b.token, REQUEST, json!({"id": target})).await;
        assert!(v["approvalRequest"].is_null());
        for (q, vars) in [
            (APPROVE, json!({"id": target})),
            (REJECT, json!({"id": target, "r": "no"})),
            (CHANGES, json!({"id": target, "c": "no"})),
            (DELEGATE, json!({"id": target, "to": admin_b.id.to_string()})),
            ("mutation($id: ID!) { deleteApprovalRequest(id: $id) }", json!({"id": target})),
            ("mutation($id: ID!) { updateApprovalRequest(id: $id, input: {title: \"x\"}) { id } }", json!({"id": target})),
            ("query($id: ID!) { approvalPreview(id: $id) { title } }", json!({"id": target})),
            ("query($id: ID) { approvalHistory(requestId: $id) { totalCount } }", json!({"id": target})),
        ] {
            let v = app.gql(Some(&admin_b.token), q, vars).await;
            assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
        }
    }
    for target in [&rule, &missing] {
        let v = ok(
            &app,
            &admin_b.token,
            "query($id: ID!) { approvalRule(id: $id) { id } }",
            json!({"id": target}),
        )
        .await;
        assert!(v["approvalRule"].is_null());
        for q in [
            "mutation($id: ID!) { toggleApprovalRule(id: $id) { id } }",
            "mutation($id: ID!) { deleteApprovalRule(id: $id) }",
            "mutation($id: ID!) { updateApprovalRule(id: $id, input: {name: \"x\"}) { id } }",
            "query($id: ID!) { testApprovalRule(id: $id, sample: {}) { matched } }",
        ] {
            let v = app
                .gql(Some(&admin_b.token), q, json!({"id": target}))
                .await;
            assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
        }
    }
    let v = ok(&app, &admin_b.token, "{ approvalRequests { totalCount } approvalRules { totalCount } approvalStats { pending } }", json!({})).await;
    assert_eq!(v["approvalRequests"]["totalCount"], 0);
    assert_eq!(v["approvalRules"]["totalCount"], 0);
    assert_eq!(v["approvalStats"]["pending"], 0);
    // Naming a member of another organization as assignee is invalid input.
    let v = app
        .gql(
            Some(&admin_b.token),
            create,
            json!({"i": {"resourceType": "OTHER", "resourceId": "x", "title": "t", "assigneeIds": [ann.id.to_string()]}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.assigneeIds[0]"]);

    // An ADMIN of the organization may decide any request (not their own).
    let v = ok(&app, &admin_a.token, APPROVE, json!({"id": id})).await;
    assert_eq!(v["approveRequest"]["status"], "APPROVED");
}

/// Each role × each guarded approval operation: FORBIDDEN exactly below the role table's
/// minimum (objects are random ids, so allowed roles get NOT_FOUND and change nothing).
#[tokio::test]
async fn the_role_table_is_enforced_for_every_approval_operation() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Acme Approvals").await;
    let r = || Uuid::now_v7().to_string();
    let rule = json!({"name": "r", "resourceType": "OTHER", "condition": {"all": []}, "approverRole": "MEMBER"});
    let ops: Vec<(&str, Value, Role)> = vec![
        ("{ approvalRequests { totalCount } }", json!({}), Role::Viewer),
        ("{ approvalStats { pending } }", json!({}), Role::Viewer),
        ("{ approvalRules { totalCount } }", json!({}), Role::Viewer),
        ("{ approvalHistory { totalCount } }", json!({}), Role::Viewer),
        ("{ pendingApprovals { totalCount } urgentApprovals { totalCount } }", json!({}), Role::Viewer),
        ("query($id: ID!) { approvalPreview(id: $id) { title } }", json!({"id": r()}), Role::Viewer),
        (APPROVE, json!({"id": r()}), Role::Member),
        (REJECT, json!({"id": r(), "r": "x"}), Role::Member),
        (CHANGES, json!({"id": r(), "c": "x"}), Role::Member),
        (DELEGATE, json!({"id": r(), "to": r()}), Role::Member),
        ("mutation($id: ID!) { deleteApprovalRequest(id: $id) }", json!({"id": r()}), Role::Member),
        ("mutation($id: ID!) { updateApprovalRequest(id: $id, input: {title: \"t\"}) { id } }", json!({"id": r()}), Role::Member),
        ("mutation { createApprovalRequest(input: {resourceType: OTHER, resourceId: \"x\", title: \"t\", assigneeRole: MANAGER}) { id } }", json!({}), Role::Member),
        (CREATE_RULE, json!({"i": rule}), Role::Admin),
        ("mutation($id: ID!) { updateApprovalRule(id: $id, input: {name: \"n\"}) { id } }", json!({"id": r()}), Role::Admin),
        ("mutation($id: ID!) { deleteApprovalRule(id: $id) }", json!({"id": r()}), Role::Admin),
        ("mutation($id: ID!) { toggleApprovalRule(id: $id) { id } }", json!({"id": r()}), Role::Admin),
    ];
    for role in [
        Role::Viewer,
        Role::Member,
        Role::Manager,
        Role::Admin,
        Role::Owner,
    ] {
        let p = member(&app, org, role, role.as_str()).await;
        for (q, vars, min) in &ops {
            let v = app.gql(Some(&p.token), q, vars.clone()).await;
            let forbidden = code(&v) == Some("FORBIDDEN");
            assert_eq!(forbidden, role < *min, "{role:?} {q}: {v}");
        }
    }
}

/// `n` rule + request + two history entries (CREATE by `requester`, DELEGATE by `actor` to
/// `delegate`), written directly.
async fn insert_requests(app: &TestApp, org: Uuid, people: [Uuid; 3], n: usize) {
    let [requester, actor, delegate] = people;
    let now = Utc::now();
    for i in 0..n {
        let (rule, request) = (Uuid::now_v7(), Uuid::now_v7());
        entity::approval_rule::ActiveModel {
            id: Set(rule),
            org_id: Set(org),
            name: Set(format!("Rule {i}")),
            resource_type: Set("OTHER".into()),
            condition: Set(json!({})),
            approver_role: Set(None),
            approver_ids: Set(json!([actor, delegate])),
            required_approvals: Set(1),
            sla_hours: Set(None),
            enabled: Set(false),
            created_by: Set(Some(actor)),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
        entity::approval_request::ActiveModel {
            id: Set(request),
            org_id: Set(org),
            rule_id: Set(Some(rule)),
            resource_type: Set("OTHER".into()),
            resource_id: Set(format!("doc-{i}")),
            title: Set(format!("Request {i}")),
            requested_by: Set(Some(requester)),
            assignee_ids: Set(json!([actor, delegate])),
            required_approvals: Set(1),
            approval_count: Set(0),
            status: Set("PENDING".into()),
            priority: Set("URGENT".into()),
            urgent: Set(true),
            gated: Set(false),
            payload: Set(json!({})),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&app.state.db)
        .await
        .unwrap();
        for (action, by, to) in [
            ("CREATE", requester, None),
            ("DELEGATE", actor, Some(delegate)),
        ] {
            entity::approval_action::ActiveModel {
                id: Set(Uuid::now_v7()),
                request_id: Set(request),
                org_id: Set(org),
                actor_id: Set(Some(by)),
                action: Set(action.into()),
                comment: Set(None),
                to_user_id: Set(to),
                created_at: Set(now),
            }
            .insert(&app.state.db)
            .await
            .unwrap();
        }
    }
}

/// Issue 22: a page of requests with their requester, assignees, rule (with its approvers and
/// author) and history (with actors and delegates) costs the same statements for 5 requests as
/// for 30, on every request list: each relation is loaded once for the whole page.
#[tokio::test]
async fn request_lists_cost_the_same_statements_at_any_page_size() {
    let app =
        TestApp::spawn_with(crate::helpers::Options::with_env(&[("RECORD_SQL", "true")])).await;
    let org = org_named(&app, "Acme Approvals").await;
    let ada = member(&app, org, Role::Admin, "Ada").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let ann = member(&app, org, Role::Member, "Ann").await;
    insert_requests(&app, org, [mel.id, ada.id, ann.id], 31).await;
    let nodes = "nodes { id requestedBy { id } assignees { id } \
        rule { id approvers { id } createdBy { id } } \
        history { action actor { id } toUser { id } } }";
    for root in ["approvalRequests", "pendingApprovals", "urgentApprovals"] {
        let q = format!("query($n: Int!) {{ {root}(first: $n) {{ {nodes} }} }}");
        let mut counts = Vec::new();
        for n in [5, 30] {
            app.state.sql_log.take();
            let v = ok(&app, &ada.token, &q, json!({ "n": n })).await;
            let got = v[root]["nodes"].as_array().unwrap();
            assert_eq!(got.len(), n, "{root}: {v}");
            let first = &got[0];
            assert_eq!(first["requestedBy"]["id"], mel.id.to_string(), "{first}");
            let assignees = json!([{"id": ada.id.to_string()}, {"id": ann.id.to_string()}]);
            assert_eq!(first["assignees"], assignees, "{first}");
            assert_eq!(first["rule"]["approvers"], assignees, "{first}");
            assert_eq!(first["rule"]["createdBy"]["id"], ada.id.to_string());
            assert_eq!(
                first["history"],
                json!([
                    {"action": "CREATE", "actor": {"id": mel.id.to_string()}, "toUser": null},
                    {"action": "DELEGATE", "actor": {"id": ada.id.to_string()},
                     "toUser": {"id": ann.id.to_string()}},
                ]),
            );
            counts.push(app.request_statements().len());
        }
        assert_eq!(counts[0], counts[1], "{root}: statements at first = 5 / 30");
    }
}
