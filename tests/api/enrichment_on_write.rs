//! Validation on write (`validateOnWrite`): with the organization's setting on, a lead created
//! through `createLead`, through `importLeads` and through an incoming webhook, and a lead whose
//! email is edited, each end with the verdict of its (new) address (the fake DNS answers), its
//! provenance and `lead.updated`; with the setting off, or on in another organization only, no
//! `enrichment.validate` job is queued and the lead keeps no verdict. The setting itself:
//! default off, ADMIN+ to change, unauthenticated refused.

use std::collections::HashMap;

use leadgraph::auth::Role;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fake_dns::FakeDns,
    fixtures::{lead, member},
    helpers::{code, Options, TestApp},
    leads::import,
    webhooks_incoming::{admin, hook, signed},
};

const SET: &str = "mutation($on: Boolean) { updateEnrichmentSettings(input: {smtpProbe: false, validateOnWrite: $on}) { validateOnWrite smtpProbe } }";
const LEAD: &str = "query($id: ID!) { lead(id: $id) { email emailStatus validatedAt provenance { field kind reference } } }";
const KIND: &str = "enrichment.validate";

async fn app(dns: &FakeDns) -> TestApp {
    TestApp::spawn_with(Options {
        env: HashMap::from([
            ("EMAIL_MX_CHECK".to_string(), "true".to_string()),
            ("DNS_NAMESERVER".to_string(), dns.addr.to_string()),
            ("EMAIL_MX_TIMEOUT_MS".to_string(), "300".to_string()),
        ]),
        ..Default::default()
    })
    .await
}

async fn set(app: &TestApp, token: &str, on: bool) {
    let v = app.gql(Some(token), SET, json!({"on": on})).await;
    assert_eq!(
        v["data"]["updateEnrichmentSettings"]["validateOnWrite"], on,
        "{v}"
    );
}

/// `enrichment.validate` jobs of `org` that are not finished.
async fn open_jobs(app: &TestApp, org: Uuid) -> u64 {
    entity::job::Entity::find()
        .filter(entity::job::Column::OrgId.eq(org))
        .filter(entity::job::Column::Kind.eq(KIND))
        .filter(entity::job::Column::State.is_in(["queued", "running"]))
        .count(&app.state.db)
        .await
        .unwrap()
}

async fn jobs(app: &TestApp, org: Uuid) -> u64 {
    entity::job::Entity::find()
        .filter(entity::job::Column::OrgId.eq(org))
        .filter(entity::job::Column::Kind.eq(KIND))
        .count(&app.state.db)
        .await
        .unwrap()
}

/// Waits until `org` has no unfinished validation job; then the lead as the API shows it.
async fn settled(app: &TestApp, token: &str, org: Uuid, id: &str) -> Value {
    app.state.jobs_enqueued();
    for _ in 0..200 {
        if open_jobs(app, org).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(open_jobs(app, org).await, 0, "validation jobs still open");
    let v = app.gql(Some(token), LEAD, json!({"id": id})).await;
    v["data"]["lead"].clone()
}

fn status_reference(lead: &Value) -> Option<String> {
    lead["provenance"]
        .as_array()?
        .iter()
        .find(|p| p["field"] == "emailStatus")
        .map(|p| format!("{} {}", p["kind"].as_str().unwrap(), p["reference"]))
}

/// The ids of `org`'s leads with `email`.
async fn lead_id(app: &TestApp, org: Uuid, email: &str) -> String {
    entity::lead::Entity::find()
        .filter(entity::lead::Column::OrgId.eq(org))
        .filter(entity::lead::Column::Email.eq(email))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no lead {email}"))
        .id
        .to_string()
}

#[tokio::test]
async fn every_write_path_validates_when_the_setting_is_on_and_only_then() {
    let dns = FakeDns::start().await;
    let app = app(&dns).await;
    let (org, ada) = admin(&app).await;
    let (other, bob) = admin(&app).await;
    set(&app, &ada.token, true).await;
    // Another organization's setting is off (the default): its writes queue nothing.
    let (_, path, secret) = hook(&app, &ada, "Form").await;
    let (_, other_path, other_secret) = hook(&app, &bob, "Form").await;

    // createLead.
    let manual = lead(&app, &ada.token, json!({"email": "jane@acme.mx-ok.test"})).await;
    let l = settled(&app, &ada.token, org, &manual).await;
    assert_eq!(l["emailStatus"], "DELIVERABLE", "{l}");
    assert!(l["validatedAt"].is_string(), "{l}");
    assert_eq!(
        status_reference(&l).as_deref(),
        Some("enrichment \"validation: MX_FOUND\"")
    );
    // importLeads.
    let csv = "Email,Company\nann@nomx.test,Nomx\ninfo@acme.mx-ok.test,Acme\n";
    let r = import(&app, &ada.token, csv.as_bytes().to_vec(), "SKIP").await;
    assert_eq!(r["imported"], 2, "{r}");
    let ann = lead_id(&app, org, "ann@nomx.test").await;
    let l = settled(&app, &ada.token, org, &ann).await;
    assert_eq!(l["emailStatus"], "UNDELIVERABLE", "{l}");
    assert_eq!(
        status_reference(&l).as_deref(),
        Some("enrichment \"validation: NO_MX\"")
    );
    let info = lead_id(&app, org, "info@acme.mx-ok.test").await;
    let l = settled(&app, &ada.token, org, &info).await;
    assert_eq!(l["emailStatus"], "RISKY", "{l}");
    // The incoming webhook.
    let (status, v) = signed(&app, &path, &secret, &json!({"email": "kim@nx.test"})).await;
    assert_eq!(status, 201, "{v}");
    let hooked = v["leadId"].as_str().unwrap().to_string();
    let l = settled(&app, &ada.token, org, &hooked).await;
    assert_eq!(l["emailStatus"], "UNDELIVERABLE", "{l}");
    assert_eq!(jobs(&app, org).await, 4, "one job per written lead");

    // The same three paths in the organization whose setting is off.
    let manual = lead(&app, &bob.token, json!({"email": "jane@acme.mx-ok.test"})).await;
    let csv = "Email,Company\nann@nomx.test,Nomx\n";
    let r = import(&app, &bob.token, csv.as_bytes().to_vec(), "SKIP").await;
    assert_eq!(r["imported"], 1, "{r}");
    let ann = lead_id(&app, other, "ann@nomx.test").await;
    let (status, v) = signed(
        &app,
        &other_path,
        &other_secret,
        &json!({"email": "kim@nx.test"}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    let hooked = v["leadId"].as_str().unwrap().to_string();
    assert_eq!(
        jobs(&app, other).await,
        0,
        "the setting is off: nothing queued"
    );
    for id in [manual, ann, hooked] {
        let l = settled(&app, &bob.token, other, &id).await;
        assert_eq!(l["emailStatus"], Value::Null, "{l}");
        assert_eq!(l["validatedAt"], Value::Null, "{l}");
    }
    // Turned off again: no more jobs for this organization either.
    set(&app, &ada.token, false).await;
    lead(&app, &ada.token, json!({"email": "late@acme.mx-ok.test"})).await;
    assert_eq!(jobs(&app, org).await, 4);
}

#[tokio::test]
async fn an_email_edit_revalidates_and_records_the_verdict_event() {
    let dns = FakeDns::start().await;
    let app = app(&dns).await;
    let (org, ada) = admin(&app).await;
    set(&app, &ada.token, true).await;
    let id = lead(
        &app,
        &ada.token,
        json!({"email": "jane@nomx.test", "firstName": "Jane"}),
    )
    .await;
    let l = settled(&app, &ada.token, org, &id).await;
    assert_eq!(l["emailStatus"], "UNDELIVERABLE", "{l}");
    // A change of another field queues nothing.
    let upd = "mutation($id: ID!, $i: UpdateLeadInput!) { updateLead(id: $id, input: $i) { email emailStatus } }";
    let v = app
        .gql(
            Some(&ada.token),
            upd,
            json!({"id": id, "i": {"title": "CTO"}}),
        )
        .await;
    assert_eq!(
        v["data"]["updateLead"]["emailStatus"], "UNDELIVERABLE",
        "{v}"
    );
    assert_eq!(jobs(&app, org).await, 1);
    let v = app
        .gql(
            Some(&ada.token),
            upd,
            json!({"id": id, "i": {"email": "jane@acme.mx-ok.test"}}),
        )
        .await;
    assert_eq!(v["data"]["updateLead"]["emailStatus"], Value::Null, "{v}");
    let l = settled(&app, &ada.token, org, &id).await;
    assert_eq!(l["email"], "jane@acme.mx-ok.test");
    assert_eq!(l["emailStatus"], "DELIVERABLE", "{l}");
    assert_eq!(jobs(&app, org).await, 2, "the edit queued one validation");
    // Each verdict went out as lead.updated naming emailStatus and validatedAt.
    let verdicts = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.payload["type"] == "lead.updated"
                && e.payload["data"]["leadId"] == id.as_str()
                && e.payload["data"]["changedFields"] == json!(["emailStatus", "validatedAt"])
        })
        .count();
    assert_eq!(verdicts, 2);
}

#[tokio::test]
async fn the_setting_defaults_off_needs_an_admin_and_a_viewer() {
    let dns = FakeDns::start().await;
    let app = app(&dns).await;
    let (org, ada) = admin(&app).await;
    let get = "{ enrichmentSettings { validateOnWrite } }";
    let v = app.gql(Some(&ada.token), get, json!({})).await;
    assert_eq!(
        v["data"]["enrichmentSettings"]["validateOnWrite"], false,
        "{v}"
    );
    let mia = member(&app, org, Role::Member, "Mia").await;
    let v = app.gql(Some(&mia.token), SET, json!({"on": true})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app.gql(None, SET, json!({"on": true})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    // Left out: unchanged.
    set(&app, &ada.token, true).await;
    let v = app.gql(Some(&ada.token), SET, json!({})).await;
    assert_eq!(
        v["data"]["updateEnrichmentSettings"]["validateOnWrite"], true,
        "{v}"
    );
    let v = app.gql(Some(&mia.token), get, json!({})).await;
    assert_eq!(
        v["data"]["enrichmentSettings"]["validateOnWrite"], true,
        "{v}"
    );
}

/// A CSV of `n` leads whose addresses start with `tag`.
fn csv(tag: &str, n: usize) -> Vec<u8> {
    let rows: String = (0..n)
        .map(|i| format!("{tag}{i}@acme.mx-ok.test,Acme {i}\n"))
        .collect();
    format!("Email,Company\n{rows}").into_bytes()
}

/// Reads of the settings table among the statements recorded since the last call.
fn settings_reads(app: &TestApp) -> usize {
    app.state
        .sql_log
        .take()
        .iter()
        .filter(|s| s.starts_with("SELECT") && s.contains("\"enrichment_settings\""))
        .count()
}

#[tokio::test]
async fn the_setting_costs_no_statement_per_created_lead() {
    let dns = FakeDns::start().await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("RECORD_SQL".to_string(), "true".to_string()),
            ("DNS_NAMESERVER".to_string(), dns.addr.to_string()),
        ]),
        ..Default::default()
    })
    .await;
    let (org, ada) = admin(&app).await;
    let (other, bob) = admin(&app).await;
    settings_reads(&app);
    // Off (the default): the first import reads the setting once, whatever its size; later
    // imports not at all.
    let r = import(&app, &ada.token, csv("a", 5), "SKIP").await;
    assert_eq!(r["imported"], 5, "{r}");
    assert_eq!(settings_reads(&app), 1, "one read for 5 leads");
    let r = import(&app, &ada.token, csv("b", 60), "SKIP").await;
    assert_eq!(r["imported"], 60, "{r}");
    assert_eq!(settings_reads(&app), 0, "no read for 60 more leads");
    assert_eq!(jobs(&app, org).await, 0);
    // Turned on: the change is seen at once by this instance, one read again, one job a lead.
    set(&app, &ada.token, true).await;
    settings_reads(&app);
    let r = import(&app, &ada.token, csv("c", 7), "SKIP").await;
    assert_eq!(r["imported"], 7, "{r}");
    assert!(settings_reads(&app) <= 1, "at most one read for 7 leads");
    assert_eq!(jobs(&app, org).await, 7, "one validation per created lead");
    // Another organization keeps its own (default) answer.
    let r = import(&app, &bob.token, csv("d", 3), "SKIP").await;
    assert_eq!(r["imported"], 3, "{r}");
    assert_eq!(jobs(&app, other).await, 0);
    // Off again: nothing more queued.
    set(&app, &ada.token, false).await;
    let r = import(&app, &ada.token, csv("e", 4), "SKIP").await;
    assert_eq!(r["imported"], 4, "{r}");
    assert_eq!(jobs(&app, org).await, 7);
}
