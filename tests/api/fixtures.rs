//! Fixture builders: the organizations, people, leads, templates, campaigns and scrape jobs that
//! tests build again and again, each made one way, plus the small readers of GraphQL answers
//! (`ok`, `data`, `field_errors`, `token_of`) that tests used to copy.
//!
//! Rows that only set the stage are written directly (fast); what a test exercises goes through
//! GraphQL, as a client would. [`TestApp`]'s own `token`, `member`, `ensure_org` and
//! `session_token` stay in helpers.rs: these builders use them.

use chrono::Utc;
use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{member_email, TestApp};

/// A member of an organization as tests use one: id, access token (live session) and email.
pub struct Person {
    pub token: String,
    pub id: Uuid,
    pub email: String,
}

/// A new organization row named `name` (no members). Its name appears in emails.
pub async fn org_named(app: &TestApp, name: &str) -> Uuid {
    let org = Uuid::now_v7();
    entity::organization::ActiveModel {
        id: Set(org),
        name: Set(name.into()),
        slug: Set(format!("acme-{}", org.simple())),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    org
}

/// An organization row named "Acme Outreach" and a token of `role` in it.
pub async fn org_with(app: &TestApp, role: Role) -> (Uuid, String) {
    let org = org_named(app, "Acme Outreach").await;
    (org, app.token(org, role).await)
}

/// A new organization signed up by its owner through GraphQL (register, verify, log in).
pub async fn signed_up_org(app: &TestApp) -> Uuid {
    owner_token(app).await.1
}

/// A signed-up OWNER's token and organization.
pub async fn owner_token(app: &TestApp) -> (String, Uuid) {
    let (_, login) = crate::identity::signed_up(app).await;
    (token_of(&login), org_of(&login))
}

/// A signed-up OWNER (through GraphQL) and their organization.
pub async fn owner(app: &TestApp) -> (Person, Uuid) {
    let (email, login) = crate::identity::signed_up(app).await;
    let (token, org) = (token_of(&login), org_of(&login));
    let me = app.gql(Some(&token), "{ me { id } }", json!({})).await;
    let id = Uuid::parse_str(me["data"]["me"]["id"].as_str().unwrap()).unwrap();
    (Person { token, id, email }, org)
}

/// A new user named `name`, member of the existing organization `org` with `role` (rows written
/// directly, with a live session).
pub async fn member(app: &TestApp, org: Uuid, role: Role, name: &str) -> Person {
    let (id, token) = app.member(org, role, name).await;
    let email = member_email(name, id);
    Person { token, id, email }
}

/// `n` leads inserted directly (fast): `lead{i}@{domain}`, first name `First{i}`, company `Co{i}`.
pub async fn insert_leads(app: &TestApp, org: Uuid, domain: &str, n: usize) -> Vec<Uuid> {
    let now = Utc::now();
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    let rows: Vec<entity::lead::ActiveModel> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| entity::lead::ActiveModel {
            id: Set(*id),
            org_id: Set(org),
            first_name: Set(Some(format!("First{i}"))),
            last_name: Set(None),
            email: Set(Some(format!("lead{i}@{domain}"))),
            phone: Set(None),
            company: Set(format!("Co{i}")),
            title: Set(None),
            website: Set(None),
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
        })
        .collect();
    for chunk in rows.chunks(200) {
        entity::lead::Entity::insert_many(chunk.to_vec())
            .exec(&app.state.db)
            .await
            .unwrap();
    }
    ids
}

/// A lead created through GraphQL (`createLead` with `input`); its id.
pub async fn lead(app: &TestApp, token: &str, input: Value) -> String {
    let v = app
        .gql(
            Some(token),
            "mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await;
    v["data"]["createLead"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createLead failed: {v}"))
        .to_string()
}

pub const CREATE_TEMPLATE: &str = "mutation($i: CreateTemplateInput!) { createTemplate(input: $i) { id name category favorite variables } }";
pub const CREATE_CAMPAIGN: &str =
    "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) { id status } }";

/// A template "Intro" with the subject `Hi {{ lead.firstName }} from {{ organization.name }}`.
pub async fn template(app: &TestApp, token: &str, html: &str, text: &str) -> String {
    let v = app
        .gql(
            Some(token),
            CREATE_TEMPLATE,
            json!({"i": {"name": "Intro", "category": "Intro", "subject": "Hi {{ lead.firstName }} from {{ organization.name }}",
                         "bodyHtml": html, "bodyText": text}}),
        )
        .await;
    v["data"]["createTemplate"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string()
}

/// A DRAFT campaign "Launch" on `template` from sam@sender.test, `rate` messages a minute.
pub async fn campaign(app: &TestApp, token: &str, template: &str, rate: Option<i32>) -> String {
    let v = app
        .gql(
            Some(token),
            CREATE_CAMPAIGN,
            json!({"i": {"name": "Launch", "templateId": template, "fromName": "Sam Sender",
                         "fromEmail": "sam@sender.test", "replyTo": "replies@sender.test", "sendRatePerMinute": rate}}),
        )
        .await;
    let c = &v["data"]["createCampaign"];
    assert_eq!(c["status"], "DRAFT", "{v}");
    c["id"].as_str().unwrap().to_string()
}

/// The campaign's row.
pub async fn campaign_row(app: &TestApp, id: &str) -> entity::campaign::Model {
    entity::campaign::Entity::find_by_id(Uuid::parse_str(id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

/// A scrape job started through GraphQL (`createScrapeJob` with `input`); its id.
pub async fn scrape_job(app: &TestApp, token: &str, input: Value) -> String {
    let v = app
        .gql(
            Some(token),
            "mutation($i: CreateScrapeJobInput!) { createScrapeJob(input: $i) { id } }",
            json!({ "i": input }),
        )
        .await;
    v["data"]["createScrapeJob"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createScrapeJob failed: {v}"))
        .to_string()
}

/// Runs `q` as `token`, asserts it has no errors and returns its `data`.
pub async fn ok(app: &TestApp, token: &str, q: &str, vars: Value) -> Value {
    let v = app.gql(Some(token), q, vars).await;
    assert!(v["errors"].is_null(), "{q}: {v}");
    v["data"].clone()
}

/// `data.<field>` of an answer that must have no errors.
pub fn data<'a>(v: &'a Value, field: &str) -> &'a Value {
    assert!(v["errors"].is_null(), "{v}");
    &v["data"][field]
}

/// The access token of a `login` (or `signUp`) payload.
pub fn token_of(login: &Value) -> String {
    login["accessToken"].as_str().unwrap().to_string()
}

/// The organization id of a `login` (or `signUp`) payload.
pub fn org_of(login: &Value) -> Uuid {
    Uuid::parse_str(login["organization"]["id"].as_str().unwrap()).unwrap()
}

/// The input fields that the first error, a BAD_USER_INPUT, names (`extensions.fields[].field`);
/// panics when it names none.
pub fn field_errors(v: &Value) -> Vec<String> {
    assert_eq!(crate::helpers::code(v), Some("BAD_USER_INPUT"), "{v}");
    v["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no field errors: {v}"))
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect()
}
