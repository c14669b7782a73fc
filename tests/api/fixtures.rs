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
        timezone: Set("UTC".into()),
        logo_file_id: Set(None),
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
            email_status: Set(None),
            validated_at: Set(None),
            phone_type: Set(None),
            phone_carrier: Set(None),
            phone_country: Set(None),
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

/// Rows written with `insert_many` in chunks (SQLite's bind-parameter limit).
async fn insert_chunks<A>(app: &TestApp, rows: Vec<A>)
where
    A: sea_orm::ActiveModelTrait + Send + Clone,
{
    for chunk in rows.chunks(100) {
        <A::Entity as EntityTrait>::insert_many(chunk.to_vec())
            .exec(&app.state.db)
            .await
            .unwrap();
    }
}

/// A dataset where every list and nested list the schema exposes is longer than `per` (the
/// statement-walk test, `statement_walk.rs`, reads pages of up to `per - 1` and wants them
/// full): `per` leads, each with `per` notes, `per` timeline entries and a recipient of every
/// one of `per` campaigns (each with its template, `per` recipients and `per` email events);
/// `per` audiences (matching every lead), scrape jobs (each linked to every lead, `per`
/// pages), search goals (`per` strategy jobs, `per` ranked results), approval rules and
/// requests (made by a MEMBER, two history entries each, assigned to `owner`), notifications for `owner`, audit
/// rows, teams (with `owner`), suppressions and sending domains. Written directly (fast).
pub async fn rich_dataset(app: &TestApp, org: Uuid, owner: Uuid, per: usize) {
    let leads = insert_leads(app, org, "rich.test", per).await;
    rich_lead_children(app, org, owner, &leads).await;
    let templates = rich_templates(app, org, owner, per).await;
    let campaigns = rich_campaigns(app, org, owner, &templates, &leads).await;
    rich_scraping(app, org, owner, &leads).await;
    rich_goals(app, org, owner, &leads).await;
    let requester = member(app, org, Role::Member, "requester").await.id;
    rich_approvals(app, org, owner, requester, &campaigns).await;
    rich_org_lists(app, org, owner, per).await;
}

async fn rich_lead_children(app: &TestApp, org: Uuid, owner: Uuid, leads: &[Uuid]) {
    let now = Utc::now();
    let mut notes = Vec::new();
    let mut events = Vec::new();
    for lead in leads {
        for k in 0..leads.len() {
            notes.push(entity::lead_note::ActiveModel {
                id: Set(Uuid::now_v7()),
                lead_id: Set(*lead),
                org_id: Set(org),
                author_id: Set(Some(owner)),
                body: Set(format!("note {k}")),
                created_at: Set(now),
                updated_at: Set(now),
            });
            events.push(entity::lead_interaction::ActiveModel {
                id: Set(Uuid::now_v7()),
                lead_id: Set(*lead),
                org_id: Set(org),
                kind: Set("manual".into()),
                actor_id: Set(Some(owner)),
                data: Set(json!({"k": k})),
                created_at: Set(now),
            });
        }
    }
    insert_chunks(app, notes).await;
    insert_chunks(app, events).await;
}

async fn rich_templates(app: &TestApp, org: Uuid, owner: Uuid, per: usize) -> Vec<Uuid> {
    let now = Utc::now();
    let ids: Vec<Uuid> = (0..per).map(|_| Uuid::now_v7()).collect();
    let rows = ids
        .iter()
        .enumerate()
        .map(|(i, id)| entity::email_template::ActiveModel {
            id: Set(*id),
            org_id: Set(org),
            name: Set(format!("Template {i}")),
            category: Set(Some("intro".into())),
            subject: Set("Hello {{first_name}}".into()),
            body_html: Set("<p>Hi {{first_name}}</p>".into()),
            body_text: Set("Hi {{first_name}}".into()),
            favorite: Set(i % 2 == 0),
            ai_generated: Set(false),
            created_by: Set(Some(owner)),
            created_at: Set(now),
            updated_at: Set(now),
        });
    insert_chunks(app, rows.collect()).await;
    ids
}

async fn rich_campaigns(
    app: &TestApp,
    org: Uuid,
    owner: Uuid,
    templates: &[Uuid],
    leads: &[Uuid],
) -> Vec<Uuid> {
    let now = Utc::now();
    let ids: Vec<Uuid> = templates.iter().map(|_| Uuid::now_v7()).collect();
    let rows =
        ids.iter()
            .zip(templates)
            .enumerate()
            .map(|(i, (id, t))| entity::campaign::ActiveModel {
                id: Set(*id),
                org_id: Set(org),
                name: Set(format!("Campaign {i}")),
                template_id: Set(Some(*t)),
                from_name: Set("Rich".into()),
                from_email: Set("rich@example.com".into()),
                status: Set("COMPLETED".into()),
                variants: Set(json!([])),
                created_by: Set(Some(owner)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
    insert_chunks(app, rows.collect()).await;
    let (mut recipients, mut events) = (Vec::new(), Vec::new());
    for c in &ids {
        for lead in leads {
            let rid = Uuid::now_v7();
            recipients.push(entity::campaign_recipient::ActiveModel {
                id: Set(rid),
                campaign_id: Set(*c),
                org_id: Set(org),
                lead_id: Set(Some(*lead)),
                email: Set(format!("{lead}@rich.test")),
                status: Set("OPENED".into()),
                message_id: Set(format!("rich-{rid}")),
                attempts: Set(1),
                open_count: Set(1),
                click_count: Set(0),
                sent_at: Set(Some(now)),
                opened_at: Set(Some(now)),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
            events.push(entity::email_event::ActiveModel {
                id: Set(Uuid::now_v7()),
                recipient_id: Set(rid),
                campaign_id: Set(*c),
                org_id: Set(org),
                lead_id: Set(Some(*lead)),
                kind: Set("open".into()),
                data: Set(json!({})),
                at: Set(now),
            });
        }
    }
    insert_chunks(app, recipients).await;
    insert_chunks(app, events).await;
    ids
}

async fn rich_scraping(app: &TestApp, org: Uuid, owner: Uuid, leads: &[Uuid]) {
    let now = Utc::now();
    let (mut jobs, mut links, mut pages) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..leads.len() {
        let job = Uuid::now_v7();
        jobs.push(entity::scrape_job::ActiveModel {
            id: Set(job),
            org_id: Set(org),
            created_by: Set(Some(owner)),
            source: Set("WEBSITE".into()),
            name: Set(format!("Scrape {i}")),
            params: Set(json!({"urls": ["https://example.com/"]})),
            status: Set("succeeded".into()),
            seeded: Set(true),
            run_attempt: Set(1),
            pages_total: Set(leads.len() as i32),
            pages_fetched: Set(leads.len() as i32),
            pages_failed: Set(0),
            pages_skipped: Set(0),
            leads_found: Set(leads.len() as i32),
            leads_created: Set(leads.len() as i32),
            leads_updated: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        for (k, lead) in leads.iter().enumerate() {
            links.push(entity::scrape_job_lead::ActiveModel {
                scrape_job_id: Set(job),
                lead_id: Set(*lead),
                org_id: Set(org),
                outcome: Set("created".into()),
                url: Set(format!("https://example.com/{k}")),
                created_at: Set(now),
                lead_created_at: Set(None),
            });
            pages.push(entity::scrape_page::ActiveModel {
                id: Set(Uuid::now_v7()),
                scrape_job_id: Set(job),
                org_id: Set(org),
                url: Set(format!("https://example.com/{k}")),
                depth: Set(1),
                status: Set("done".into()),
                http_status: Set(Some(200)),
                leads_found: Set(1),
                fetched_at: Set(Some(now)),
                created_at: Set(now),
                ..Default::default()
            });
        }
    }
    insert_chunks(app, jobs).await;
    insert_chunks(app, links).await;
    link_lead_order(app).await;
    insert_chunks(app, pages).await;
}

async fn rich_goals(app: &TestApp, org: Uuid, owner: Uuid, leads: &[Uuid]) {
    let now = Utc::now();
    let strategy = json!({"industries": ["saas"], "keywords": ["crm"], "jobTitles": ["CTO"],
        "locations": ["Berlin"], "sources": [], "exclusions": []});
    let (mut goals, mut jobs, mut results) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..leads.len() {
        let goal = Uuid::now_v7();
        goals.push(entity::search_goal::ActiveModel {
            id: Set(goal),
            org_id: Set(org),
            created_by: Set(Some(owner)),
            text: Set(format!("CTOs of SaaS companies {i}")),
            locations: Set(json!(["Berlin"])),
            max_leads: Set(100),
            strategy: Set(strategy.clone()),
            status: Set("completed".into()),
            provider: Set("local".into()),
            model: Set("local".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        for (k, lead) in leads.iter().enumerate() {
            jobs.push(entity::search_goal_job::ActiveModel {
                id: Set(Uuid::now_v7()),
                goal_id: Set(goal),
                org_id: Set(org),
                position: Set(k as i32),
                source: Set("WEBSITE".into()),
                query: Set(format!("query {k}")),
                created_at: Set(now),
                ..Default::default()
            });
            results.push(entity::search_goal_result::ActiveModel {
                id: Set(Uuid::now_v7()),
                goal_id: Set(goal),
                org_id: Set(org),
                lead_id: Set(*lead),
                rank: Set(k as i32 + 1),
                score: Set(90 - k as i32 % 50),
                validation: Set("valid".into()),
                reasons: Set(json!(["fits"])),
                provider: Set("local".into()),
                model: Set("local".into()),
                created_at: Set(now),
            });
        }
    }
    insert_chunks(app, goals).await;
    insert_chunks(app, jobs).await;
    insert_chunks(app, results).await;
}

async fn rich_approvals(
    app: &TestApp,
    org: Uuid,
    owner: Uuid,
    requester: Uuid,
    campaigns: &[Uuid],
) {
    let now = Utc::now();
    let (mut rules, mut requests, mut actions) = (Vec::new(), Vec::new(), Vec::new());
    for (i, campaign) in campaigns.iter().enumerate() {
        let (rule, request) = (Uuid::now_v7(), Uuid::now_v7());
        rules.push(entity::approval_rule::ActiveModel {
            id: Set(rule),
            org_id: Set(org),
            name: Set(format!("Rule {i}")),
            resource_type: Set("CAMPAIGN".into()),
            condition: Set(json!({})),
            approver_role: Set(None),
            approver_ids: Set(json!([owner])),
            required_approvals: Set(1),
            sla_hours: Set(Some(24)),
            enabled: Set(false),
            created_by: Set(Some(owner)),
            created_at: Set(now),
            updated_at: Set(now),
        });
        requests.push(entity::approval_request::ActiveModel {
            id: Set(request),
            org_id: Set(org),
            rule_id: Set(Some(rule)),
            resource_type: Set("CAMPAIGN".into()),
            resource_id: Set(campaign.to_string()),
            title: Set(format!("Launch campaign {i}")),
            requested_by: Set(Some(requester)),
            assignee_ids: Set(json!([owner])),
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
        });
        for action in ["CREATE", "UPDATE"] {
            actions.push(entity::approval_action::ActiveModel {
                id: Set(Uuid::now_v7()),
                request_id: Set(request),
                org_id: Set(org),
                actor_id: Set(Some(owner)),
                action: Set(action.into()),
                comment: Set(None),
                to_user_id: Set(None),
                created_at: Set(now),
            });
        }
    }
    insert_chunks(app, rules).await;
    insert_chunks(app, requests).await;
    insert_chunks(app, actions).await;
}

async fn rich_org_lists(app: &TestApp, org: Uuid, owner: Uuid, per: usize) {
    let now = Utc::now();
    let (mut audiences, mut notes, mut audit, mut teams, mut members) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut suppressions, mut domains) = (Vec::new(), Vec::new());
    for i in 0..per {
        audiences.push(entity::audience::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org),
            name: Set(format!("Audience {i}")),
            filter: Set(json!({})),
            created_by: Set(Some(owner)),
            created_at: Set(now),
            updated_at: Set(now),
        });
        notes.push(entity::notification::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org),
            user_id: Set(owner),
            notification_type: Set("ANNOUNCEMENT".into()),
            title: Set(format!("Notice {i}")),
            body: Set("body".into()),
            created_at: Set(now),
            ..Default::default()
        });
        audit.push(entity::audit_log::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org),
            actor_user_id: Set(Some(owner)),
            action: Set("lead.update".into()),
            resource_type: Set(Some("lead".into())),
            resource_id: Set(Some(format!("{i}"))),
            outcome: Set("success".into()),
            created_at: Set(now),
            ..Default::default()
        });
        let team = Uuid::now_v7();
        teams.push(entity::team::ActiveModel {
            id: Set(team),
            org_id: Set(org),
            name: Set(format!("Team {i}")),
            description: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        });
        members.push(entity::team_member::ActiveModel {
            id: Set(Uuid::now_v7()),
            team_id: Set(team),
            user_id: Set(owner),
            org_id: Set(org),
            created_at: Set(now),
        });
        suppressions.push(entity::email_suppression::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org),
            email: Set(format!("gone{i}@rich.test")),
            reason: Set("manual".into()),
            data: Set(json!({})),
            created_at: Set(now),
        });
        domains.push(entity::sending_domain::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org),
            domain: Set(format!("mail{i}.rich.test")),
            token: Set(format!("tok{i}")),
            created_by: Set(Some(owner)),
            created_at: Set(now),
            ..Default::default()
        });
    }
    insert_chunks(app, audiences).await;
    insert_chunks(app, notes).await;
    insert_chunks(app, audit).await;
    insert_chunks(app, teams).await;
    insert_chunks(app, members).await;
    insert_chunks(app, suppressions).await;
    insert_chunks(app, domains).await;
    crate::conversations::seed(app, org, per).await;
}

/// Fills `scrape_job_leads.lead_created_at` (the lead's creation time, which the scraper writes
/// with each link) for links a fixture inserted without it.
pub async fn link_lead_order(app: &TestApp) {
    use sea_orm::ConnectionTrait;
    app.state
        .db
        .execute_unprepared(
            r#"UPDATE "scrape_job_leads" SET "lead_created_at" = (SELECT "created_at" FROM "leads" WHERE "leads"."id" = "scrape_job_leads"."lead_id") WHERE "lead_created_at" IS NULL"#,
        )
        .await
        .unwrap();
}
