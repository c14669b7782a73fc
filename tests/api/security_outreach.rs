//! Security review, outreach findings. S6: every path to sending passes the approval gate
//! (launch, resume, recipients added while SCHEDULED/RUNNING/PAUSED, the template or sender
//! changed after approval); an approval covers one snapshot (content + sender + recipient set)
//! and `aiGenerated` is the server's. S14: test emails go to members only; a campaign's
//! `fromEmail` must be on a sending domain the organization verified through DNS.

use std::collections::HashMap;

use chrono::Utc;
use leadgraph::auth::Role;
use sea_orm::EntityTrait;
use serde_json::json;
use uuid::Uuid;

pub(crate) use crate::fixtures::ok;
use crate::helpers::{Options, TestApp};

/// An app whose workers are off: a RUNNING campaign stays RUNNING, nothing is sent.
pub(crate) async fn quiet_app(extra: &[(&str, &str)]) -> TestApp {
    let mut env: HashMap<String, String> =
        HashMap::from([("WORKER_ENABLED".into(), "false".into())]);
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    TestApp::spawn_with(Options {
        env,
        ..Default::default()
    })
    .await
}

/// `n` leads with emails `lead{i}@` a fresh domain, as id strings.
pub(crate) async fn insert_leads(app: &TestApp, org: Uuid, n: usize) -> Vec<String> {
    let domain = format!("d{}.test", Uuid::now_v7().simple());
    crate::fixtures::insert_leads(app, org, &domain, n)
        .await
        .into_iter()
        .map(|id| id.to_string())
        .collect()
}

pub(crate) const CREATE_TEMPLATE: &str =
    "mutation($i: CreateTemplateInput!) { createTemplate(input: $i) { id aiGenerated } }";
const UPDATE_TEMPLATE: &str = "mutation($id: ID!, $i: UpdateTemplateInput!) { updateTemplate(id: $id, input: $i) { id aiGenerated } }";
pub(crate) const CREATE_CAMPAIGN: &str =
    "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id } }";
pub(crate) const UPDATE_CAMPAIGN: &str = "mutation($id: ID!, $i: UpdateCampaignInput!) { updateCampaign(id: $id, input: $i) { id status } }";
pub(crate) const ADD: &str = "mutation($c: ID!, $i: RecipientSourceInput!) { addCampaignRecipients(campaignId: $c, input: $i) { added } }";
pub(crate) const LAUNCH: &str = "mutation($id: ID!) { launchCampaign(id: $id) { id status } }";
const SCHEDULE: &str =
    "mutation($id: ID!, $at: DateTime!) { scheduleCampaign(id: $id, at: $at) { id status } }";
const PAUSE: &str = "mutation($id: ID!) { pauseCampaign(id: $id) { id status } }";
const RESUME: &str = "mutation($id: ID!) { resumeCampaign(id: $id) { id status } }";
const APPROVE: &str = "mutation($id: ID!) { approveRequest(id: $id) { id status } }";
const CREATE_RULE: &str =
    "mutation($i: ApprovalRuleInput!) { createApprovalRule(input: $i) { id } }";
const PENDING: &str = "query { approvalRequests(filter: {status: [PENDING], resourceType: CAMPAIGN}) { nodes { id resourceId } } }";

struct Gate {
    app: TestApp,
    org: Uuid,
    /// MEMBER who writes and launches campaigns.
    sam: String,
    /// MANAGER who approves.
    ann: String,
}

/// An app with the rule "campaigns to more than 3 recipients need one MANAGER approval".
async fn gate(extra: &[(&str, &str)]) -> Gate {
    let app = quiet_app(extra).await;
    let org = Uuid::now_v7();
    let owner = app.token(org, Role::Owner).await;
    let (_, sam) = app.member(org, Role::Member, "Sam").await;
    let (_, ann) = app.member(org, Role::Manager, "Ann").await;
    ok(
        &app,
        &owner,
        CREATE_RULE,
        json!({"i": {"name": "More than 3", "resourceType": "CAMPAIGN",
                     "condition": {"all": [{"field": "recipientCount", "operator": "GT", "value": 3}]},
                     "approverRole": "MANAGER", "requiredApprovals": 1}}),
    )
    .await;
    Gate { app, org, sam, ann }
}

impl Gate {
    async fn template(&self, body: &str) -> String {
        ok(
            &self.app,
            &self.sam,
            CREATE_TEMPLATE,
            json!({"i": {"name": "Intro", "subject": "Hi {{ lead.firstName }}", "bodyHtml": body}}),
        )
        .await["createTemplate"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A DRAFT campaign on `template` with `n` recipients.
    async fn campaign(&self, template: &str, n: usize) -> String {
        let c = ok(
            &self.app,
            &self.sam,
            CREATE_CAMPAIGN,
            json!({"i": {"name": "Push", "templateId": template, "fromName": "Sam",
                         "fromEmail": "sam@sender.test"}}),
        )
        .await["createCampaign"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        self.add(&c, n).await;
        c
    }

    async fn add(&self, c: &str, n: usize) {
        let leads = insert_leads(&self.app, self.org, n).await;
        let v = ok(
            &self.app,
            &self.sam,
            ADD,
            json!({"c": c, "i": {"leadIds": leads}}),
        )
        .await;
        assert_eq!(v["addCampaignRecipients"]["added"], n, "{v}");
    }

    async fn act(&self, q: &str, c: &str) -> String {
        let v = ok(&self.app, &self.sam, q, json!({"id": c})).await;
        v.as_object().unwrap().values().next().unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn status(&self, c: &str) -> String {
        self.row(c).await.status
    }

    async fn row(&self, c: &str) -> entity::campaign::Model {
        entity::campaign::Entity::find_by_id(Uuid::parse_str(c).unwrap())
            .one(&self.app.state.db)
            .await
            .unwrap()
            .unwrap()
    }

    /// Pending requests about `c`.
    async fn pending(&self, c: &str) -> Vec<String> {
        ok(&self.app, &self.ann, PENDING, json!({})).await["approvalRequests"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["resourceId"] == c)
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// Approves the one pending request about `c`.
    async fn approve(&self, c: &str) {
        let p = self.pending(c).await;
        assert_eq!(p.len(), 1, "one pending request for {c}: {p:?}");
        let v = ok(&self.app, &self.ann, APPROVE, json!({"id": p[0]})).await;
        assert_eq!(v["approveRequest"]["status"], "APPROVED", "{v}");
    }

    /// A campaign of 4 recipients, launched and approved: RUNNING (workers are off).
    async fn approved_running(&self, template: &str) -> String {
        let c = self.campaign(template, 4).await;
        assert_eq!(self.act(LAUNCH, &c).await, "PENDING_APPROVAL");
        self.approve(&c).await;
        assert_eq!(self.status(&c).await, "RUNNING");
        c
    }
}

#[tokio::test]
async fn s6_resume_after_pause_is_covered_by_the_approval_but_added_recipients_are_not() {
    let g = gate(&[]).await;
    let t = g.template("<p>Hello</p>").await;
    let c = g.approved_running(&t).await;

    // Nothing changed: the approval still covers the campaign.
    assert_eq!(g.act(PAUSE, &c).await, "PAUSED");
    assert_eq!(g.act(RESUME, &c).await, "RUNNING");

    // Recipients added while paused: resuming needs a new approval.
    assert_eq!(g.act(PAUSE, &c).await, "PAUSED");
    g.add(&c, 2).await;
    assert_eq!(g.act(RESUME, &c).await, "PENDING_APPROVAL");
    assert_eq!(g.pending(&c).await.len(), 1);
    g.approve(&c).await;
    assert_eq!(g.status(&c).await, "RUNNING");
}

#[tokio::test]
async fn s6_template_edited_while_paused_needs_a_new_approval_on_resume() {
    let g = gate(&[]).await;
    let t = g.template("<p>Hello</p>").await;
    let c = g.approved_running(&t).await;
    assert_eq!(g.act(PAUSE, &c).await, "PAUSED");
    ok(
        &g.app,
        &g.sam,
        UPDATE_TEMPLATE,
        json!({"id": t, "i": {"bodyHtml": "<p>Buy now, unapproved</p>"}}),
    )
    .await;
    assert_eq!(g.act(RESUME, &c).await, "PENDING_APPROVAL");
    g.approve(&c).await;
    assert_eq!(g.status(&c).await, "RUNNING");
    assert!(g
        .row(&c)
        .await
        .content
        .unwrap()
        .to_string()
        .contains("unapproved"));
}

#[tokio::test]
async fn s6_template_edited_while_waiting_is_not_approved_by_the_older_request() {
    let g = gate(&[]).await;
    let t = g.template("<p>Hello</p>").await;
    let c = g.campaign(&t, 4).await;
    assert_eq!(g.act(LAUNCH, &c).await, "PENDING_APPROVAL");
    let first = g.pending(&c).await;
    // The approver reviews "Hello"; meanwhile the author changes the copy.
    ok(
        &g.app,
        &g.sam,
        UPDATE_TEMPLATE,
        json!({"id": t, "i": {"bodyHtml": "<p>Changed after review</p>"}}),
    )
    .await;
    g.approve(&c).await;
    // The approval covered the old copy: the campaign waits for a new decision.
    assert_eq!(g.status(&c).await, "PENDING_APPROVAL");
    assert!(g.row(&c).await.job_id.is_none(), "nothing was enqueued");
    let second = g.pending(&c).await;
    assert_eq!(second.len(), 1, "a new request was raised");
    assert_ne!(second, first);
    g.approve(&c).await;
    assert_eq!(g.status(&c).await, "RUNNING");
    assert!(g
        .row(&c)
        .await
        .content
        .unwrap()
        .to_string()
        .contains("Changed after review"));
}

#[tokio::test]
async fn s6_recipients_added_to_a_scheduled_campaign_pass_the_gate() {
    let g = gate(&[]).await;
    let t = g.template("<p>Hello</p>").await;
    // Three recipients: no rule applies, the campaign is scheduled without approval.
    let c = g.campaign(&t, 3).await;
    let at = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let v = ok(&g.app, &g.sam, SCHEDULE, json!({"id": c, "at": at})).await;
    assert_eq!(v["scheduleCampaign"]["status"], "SCHEDULED");
    // Two more make five: the rule applies now.
    g.add(&c, 2).await;
    assert_eq!(g.status(&c).await, "PENDING_APPROVAL");
    assert_eq!(g.pending(&c).await.len(), 1);
    g.approve(&c).await;
    assert_eq!(g.status(&c).await, "SCHEDULED");
}

#[tokio::test]
async fn s6_recipients_added_to_a_running_campaign_pass_the_gate() {
    let g = gate(&[]).await;
    let t = g.template("<p>Hello</p>").await;
    let c = g.campaign(&t, 3).await;
    assert_eq!(g.act(LAUNCH, &c).await, "RUNNING");
    g.add(&c, 5).await;
    assert_eq!(g.status(&c).await, "PENDING_APPROVAL");
    assert_eq!(g.pending(&c).await.len(), 1);

    // An approved, running campaign: more recipients need another approval too.
    let c2 = g.approved_running(&t).await;
    g.add(&c2, 1).await;
    assert_eq!(g.status(&c2).await, "PENDING_APPROVAL");
}

#[tokio::test]
async fn s6_sender_changed_on_a_scheduled_campaign_needs_a_new_approval() {
    let g = gate(&[]).await;
    let t = g.template("<p>Hello</p>").await;
    let c = g.campaign(&t, 4).await;
    let at = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let v = ok(&g.app, &g.sam, SCHEDULE, json!({"id": c, "at": at})).await;
    assert_eq!(v["scheduleCampaign"]["status"], "PENDING_APPROVAL");
    g.approve(&c).await;
    assert_eq!(g.status(&c).await, "SCHEDULED");
    // Renaming alone changes nothing that is sent.
    let v = ok(
        &g.app,
        &g.sam,
        UPDATE_CAMPAIGN,
        json!({"id": c, "i": {"name": "Push (renamed)"}}),
    )
    .await;
    assert_eq!(v["updateCampaign"]["status"], "SCHEDULED");
    let v = ok(
        &g.app,
        &g.sam,
        UPDATE_CAMPAIGN,
        json!({"id": c, "i": {"fromEmail": "ceo@sender.test"}}),
    )
    .await;
    assert_eq!(v["updateCampaign"]["status"], "PENDING_APPROVAL");
    assert_eq!(g.pending(&c).await.len(), 1);
}

#[tokio::test]
async fn s6_ai_generated_is_set_by_the_server_not_the_client() {
    let g = gate(&[]).await;
    let owner = g.app.token(g.org, Role::Owner).await;
    // A rule on AI-written copy.
    ok(
        &g.app,
        &owner,
        CREATE_RULE,
        json!({"i": {"name": "AI copy", "resourceType": "CAMPAIGN",
                     "condition": {"all": [{"field": "aiGenerated", "operator": "EQ", "value": false}]},
                     "approverRole": "MANAGER", "requiredApprovals": 1}}),
    )
    .await;
    // A human-written template claiming to be AI-written (or the reverse) is not believed.
    let v = ok(
        &g.app,
        &g.sam,
        CREATE_TEMPLATE,
        json!({"i": {"name": "Mine", "subject": "Hi", "bodyHtml": "<p>x</p>", "aiGenerated": true}}),
    )
    .await;
    assert_eq!(v["createTemplate"]["aiGenerated"], false, "{v}");
    let t = v["createTemplate"]["id"].as_str().unwrap().to_string();
    let v = ok(
        &g.app,
        &g.sam,
        UPDATE_TEMPLATE,
        json!({"id": t, "i": {"aiGenerated": true}}),
    )
    .await;
    assert_eq!(v["updateTemplate"]["aiGenerated"], false, "{v}");
    // So the human-written rule (aiGenerated = false) applies to a small campaign.
    let c = g.campaign(&t, 1).await;
    assert_eq!(g.act(LAUNCH, &c).await, "PENDING_APPROVAL");
    let req = ok(
        &g.app,
        &g.ann,
        "query($id: ID!) { approvalRequest(id: $id) { payload } }",
        json!({"id": g.pending(&c).await[0]}),
    )
    .await;
    assert_eq!(
        req["approvalRequest"]["payload"]["facts"]["aiGenerated"],
        false
    );
}
