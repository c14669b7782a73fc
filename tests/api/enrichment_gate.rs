//! The deliverability gate seen from a campaign: a recipient whose validated address is
//! UNDELIVERABLE is SUPPRESSED with the verdict's reason while the others reach the SMTP sink;
//! `requireValidatedRecipients` suppresses the never-validated ones too (never validated on the
//! fly); the approval preview counts both before anything is sent.

use std::{collections::HashMap, time::Duration};

use leadgraph::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fake_dns::FakeDns,
    fixtures::{insert_leads, member, ok, org_named, template, Person},
    helpers::{code, Options, TestApp},
    outreach::{campaign_status, free_listener, recipients_by_status, Sink, ADD, LAUNCH},
};

const VALIDATE_MANY: &str = "mutation($i: [ContactInput!]!) { validateContacts(inputs: $i) { savedOnLead email { verdict } } }";
const CREATE: &str = "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id status requireValidatedRecipients } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateCampaignInput!) { updateCampaign(id: $id, input: $i) { id requireValidatedRecipients } }";
const RULE: &str = "mutation($i: ApprovalRuleInput!) { createApprovalRule(input: $i) { id } }";
const PENDING: &str = "query { approvalRequests(filter: {status: [PENDING], resourceType: CAMPAIGN}) { nodes { id resourceId } } }";
const PREVIEW: &str =
    "query($id: ID!) { approvalPreview(id: $id) { recipientCount skippedRecipientCount } }";
const APPROVE: &str = "mutation($id: ID!) { approveRequest(id: $id) { id status } }";

/// An app with the fake DNS and an SMTP sink; its owner and a manager (the approver) of one
/// organization, where every campaign needs one manager's approval.
struct Gate {
    app: TestApp,
    sink: Sink,
    org: Uuid,
    owner: Person,
    manager: Person,
    _dns: FakeDns,
}

async fn gate() -> Gate {
    let dns = FakeDns::start().await;
    let listener = free_listener().await;
    let smtp = format!("smtp://{}", listener.local_addr().unwrap());
    let sink = Sink::start(listener).await;
    let env = HashMap::from([
        ("EMAIL_MX_CHECK".to_string(), "true".to_string()),
        ("DNS_NAMESERVER".to_string(), dns.addr.to_string()),
        ("EMAIL_MX_TIMEOUT_MS".to_string(), "300".to_string()),
        ("SMTP_URL".to_string(), smtp),
    ]);
    let app = TestApp::spawn_with(Options {
        env,
        ..Default::default()
    })
    .await;
    let org = org_named(&app, "Gatekeepers").await;
    let owner = member(&app, org, Role::Owner, "Olga").await;
    let manager = member(&app, org, Role::Manager, "Max").await;
    ok(
        &app,
        &owner.token,
        RULE,
        json!({"i": {"name": "Every send", "resourceType": "CAMPAIGN",
                     "condition": {"all": [{"field": "recipientCount", "operator": "GT", "value": 0}]},
                     "approverRole": "MANAGER", "requiredApprovals": 1, "slaHours": 24}}),
    )
    .await;
    Gate {
        app,
        sink,
        org,
        owner,
        manager,
        _dns: dns,
    }
}

impl Gate {
    /// Validates the leads `ids` (their verdicts saved on them).
    async fn validate(&self, ids: &[Uuid]) {
        let inputs: Vec<Value> = ids.iter().map(|id| json!({"leadId": id})).collect();
        let v = ok(
            &self.app,
            &self.owner.token,
            VALIDATE_MANY,
            json!({"i": inputs}),
        )
        .await;
        let out = v["validateContacts"].as_array().unwrap();
        assert!(out.iter().all(|r| r["savedOnLead"] == true), "{v}");
    }

    /// A DRAFT campaign to the leads `ids`.
    async fn campaign(&self, ids: &[Uuid], require: Option<bool>) -> (String, Value) {
        let t = template(&self.app, &self.owner.token, "", "Hi {{ lead.firstName }}").await;
        let v = ok(
            &self.app,
            &self.owner.token,
            CREATE,
            json!({"i": {"name": "Gate", "templateId": t, "fromName": "Sam Sender",
                         "fromEmail": "sam@sender.test", "requireValidatedRecipients": require}}),
        )
        .await;
        let c = v["createCampaign"].clone();
        let id = c["id"].as_str().unwrap().to_string();
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        let v = ok(
            &self.app,
            &self.owner.token,
            ADD,
            json!({"c": id, "i": {"leadIds": ids}}),
        )
        .await;
        assert_eq!(v["addCampaignRecipients"]["added"], ids.len() as i64, "{v}");
        (id, c)
    }

    /// Launches `c` (held for approval) and returns the approval preview.
    async fn launch_for_approval(&self, c: &str) -> (String, Value) {
        let v = ok(&self.app, &self.owner.token, LAUNCH, json!({"id": c})).await;
        assert_eq!(v["launchCampaign"]["status"], "PENDING_APPROVAL", "{v}");
        let v = ok(&self.app, &self.manager.token, PENDING, json!({})).await;
        let req = v["approvalRequests"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["resourceId"] == c)
            .unwrap_or_else(|| panic!("{v}"))["id"]
            .as_str()
            .unwrap()
            .to_string();
        let p = ok(&self.app, &self.manager.token, PREVIEW, json!({"id": req})).await;
        (req, p["approvalPreview"].clone())
    }

    /// Approves `req` and waits for campaign `c` to complete.
    async fn approve_and_finish(&self, req: &str, c: &str) {
        ok(&self.app, &self.manager.token, APPROVE, json!({"id": req})).await;
        for _ in 0..300 {
            if campaign_status(&self.app, c).await == "COMPLETED" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(campaign_status(&self.app, c).await, "COMPLETED");
    }

    /// `(email, reason)` of the campaign's SUPPRESSED recipients, sorted.
    async fn suppressed(&self, c: &str) -> Vec<(String, String)> {
        let done = recipients_by_status(&self.app, c).await;
        let mut why: Vec<(String, String)> = done
            .get("SUPPRESSED")
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|r| (r.email.clone(), r.error.clone().unwrap_or_default()))
            .collect();
        why.sort();
        why
    }
}

#[tokio::test]
async fn one_undeliverable_recipient_is_suppressed_and_the_preview_counts_it() {
    let g = gate().await;
    let mut ids = insert_leads(&g.app, g.org, "good.mx-ok.test", 3).await;
    ids.extend(insert_leads(&g.app, g.org, "nomx.test", 1).await);
    g.validate(&ids).await;
    let (c, created) = g.campaign(&ids, None).await;
    assert_eq!(created["requireValidatedRecipients"], false);
    let (req, preview) = g.launch_for_approval(&c).await;
    assert_eq!(
        preview,
        json!({"recipientCount": 4, "skippedRecipientCount": 1})
    );
    g.approve_and_finish(&req, &c).await;
    assert_eq!(g.sink.count(), 3, "the other three were sent");
    assert_eq!(
        g.suppressed(&c).await,
        vec![(
            "lead0@nomx.test".to_string(),
            "email UNDELIVERABLE (validation: NO_MX)".to_string()
        )]
    );
    let per = g.sink.per_recipient();
    assert!(
        per.keys().all(|to| to.ends_with("@good.mx-ok.test")),
        "{per:?}"
    );
}

#[tokio::test]
async fn require_validated_recipients_suppresses_the_unvalidated_ones() {
    let g = gate().await;
    let ids = insert_leads(&g.app, g.org, "good.mx-ok.test", 3).await;
    let undeliverable = insert_leads(&g.app, g.org, "nullmx.test", 1).await;
    // lead0 and lead1 validated (DELIVERABLE), lead2 never; the null-MX lead validated.
    g.validate(&[ids[0], ids[1], undeliverable[0]]).await;
    let all: Vec<Uuid> = ids.iter().chain(&undeliverable).copied().collect();
    let (c, created) = g.campaign(&all, Some(false)).await;
    assert_eq!(created["requireValidatedRecipients"], false);
    // Off, then on: the setting is part of the campaign.
    let v = ok(
        &g.app,
        &g.owner.token,
        UPDATE,
        json!({"id": c, "i": {"requireValidatedRecipients": true}}),
    )
    .await;
    assert_eq!(v["updateCampaign"]["requireValidatedRecipients"], true);
    let (req, preview) = g.launch_for_approval(&c).await;
    assert_eq!(
        preview,
        json!({"recipientCount": 4, "skippedRecipientCount": 2}),
        "the never-validated lead2 and the null-MX lead"
    );
    g.approve_and_finish(&req, &c).await;
    assert_eq!(g.sink.count(), 2);
    assert_eq!(
        g.suppressed(&c).await,
        vec![
            (
                "lead0@nullmx.test".to_string(),
                "email UNDELIVERABLE (validation: NULL_MX)".to_string()
            ),
            (
                "lead2@good.mx-ok.test".to_string(),
                leadgraph::domains::leads::NOT_VALIDATED.to_string()
            ),
        ]
    );
}

#[tokio::test]
async fn the_setting_needs_a_viewer_and_stays_in_its_organization() {
    let g = gate().await;
    let (c, _) = g
        .campaign(
            &insert_leads(&g.app, g.org, "good.mx-ok.test", 1).await,
            Some(true),
        )
        .await;
    let set = json!({"id": c, "i": {"requireValidatedRecipients": false}});
    let v = g.app.gql(None, UPDATE, set.clone()).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let other = org_named(&g.app, "Elsewhere").await;
    let stranger = member(&g.app, other, Role::Owner, "Stan").await;
    let v = g.app.gql(Some(&stranger.token), UPDATE, set.clone()).await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = g
        .app
        .gql(
            Some(&g.owner.token),
            "query($id: ID!) { campaign(id: $id) { requireValidatedRecipients } }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(
        v["data"]["campaign"]["requireValidatedRecipients"], true,
        "{v}"
    );
    assert_eq!(g.sink.count(), 0, "nothing was launched");
}
