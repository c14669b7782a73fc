//! The auto-responder (issue 24): a "pricing" rule answers with its template exactly once
//! although the lead writes three times within the cooldown, and never answers a message
//! carrying `Auto-Submitted: auto-replied`; an AI-reply rule creates an AI_REPLY approval request
//! holding the draft, sends nothing before approval and exactly one mail after it (nothing after
//! a rejection); rules are checked, organization-scoped, audited and announced, and their list
//! costs the same statements at any page size.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, insert_leads, member, ok, org_with, template},
    helpers::{code, Options, TestApp},
    outreach::{free_listener, Sink},
};

const CREATE: &str = "mutation($i: CreateAutoResponderRuleInput!) { createAutoResponderRule(input: $i) { id name keywords action templateId cooldownMinutes enabled priority } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateAutoResponderRuleInput!) { updateAutoResponderRule(id: $id, input: $i) { id name keywords enabled cooldownMinutes } }";
const DELETE: &str = "mutation($id: ID!) { deleteAutoResponderRule(id: $id) }";
const ONE: &str = "query($id: ID!) { autoResponderRule(id: $id) { id name } }";
const LIST: &str = "query($n: Int) { autoResponderRules(first: $n) { totalCount nodes { id name keywords action templateId cooldownMinutes enabled priority createdAt } } }";
const MESSAGES: &str = "query($c: ID!) { messages(conversationId: $c) { nodes { direction authorKind status bodyText inReplyTo } } }";
const CONVS: &str = "{ conversations { nodes { id email } } }";
const REQUESTS: &str = "{ approvalRequests(filter: {resourceType: AI_REPLY}) { nodes { id status title description } } }";

async fn post_mail(app: &TestApp, raw: &str) -> Value {
    let r = reqwest::Client::new()
        .post(app.url("/webhooks/inbound-email"))
        .header("content-type", "message/rfc822")
        .body(raw.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// An app with the SMTP sink, and an organization (token of `role`) with a verified receiving
/// domain; returns the app, the sink, the org, the token and the domain mail is sent to.
async fn app_with_sink(role: Role) -> (TestApp, Sink, Uuid, String, String) {
    let listener = free_listener().await;
    let smtp = format!("smtp://{}", listener.local_addr().unwrap());
    let sink = Sink::start(listener).await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("SMTP_URL".into(), smtp)]),
        ..Default::default()
    })
    .await;
    let (org, token) = org_with(&app, role).await;
    let domain = format!("in{}.test", Uuid::now_v7().simple());
    entity::sending_domain::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org),
        domain: Set(domain.clone()),
        token: Set("tok".into()),
        verified_at: Set(Some(Utc::now())),
        last_checked_at: Set(None),
        last_error: Set(None),
        created_by: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    (app, sink, org, token, domain)
}

fn mail(
    from: &str,
    to: &str,
    id: &str,
    in_reply_to: Option<&str>,
    extra: &str,
    body: &str,
) -> String {
    let irt = in_reply_to
        .map(|i| format!("In-Reply-To: {i}\r\nReferences: {i}\r\n"))
        .unwrap_or_default();
    format!("From: {from}\r\nTo: {to}\r\nSubject: A question\r\nMessage-ID: {id}\r\n{irt}{extra}Content-Type: text/plain\r\n\r\n{body}\r\n")
}

/// Auto-reply jobs that have not finished yet.
async fn auto_jobs_pending(app: &TestApp) -> usize {
    entity::job::Entity::find()
        .filter(entity::job::Column::Kind.eq("conversation.auto_reply"))
        .all(&app.state.db)
        .await
        .unwrap()
        .iter()
        .filter(|j| j.state == "queued" || j.state == "running")
        .count()
}

async fn auto_jobs(app: &TestApp) -> usize {
    entity::job::Entity::find()
        .filter(entity::job::Column::Kind.eq("conversation.auto_reply"))
        .all(&app.state.db)
        .await
        .unwrap()
        .len()
}

fn sent_to(sink: &Sink, to: &str) -> Vec<String> {
    sink.per_recipient().get(to).cloned().unwrap_or_default()
}

async fn event_types(app: &TestApp, org: Uuid) -> Vec<String> {
    entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect()
}

/// The acceptance path for template replies and loop safety.
#[tokio::test]
async fn a_pricing_rule_answers_once_per_cooldown_and_never_an_auto_reply() {
    let (app, sink, org, token, domain) = app_with_sink(Role::Manager).await;
    let leads_domain = format!("p{}.test", Uuid::now_v7().simple());
    insert_leads(&app, org, &leads_domain, 2).await;
    let (lead0, lead1) = (
        format!("lead0@{leads_domain}"),
        format!("lead1@{leads_domain}"),
    );
    let t = template(
        &app,
        &token,
        "<p>Our pricing, {{ lead.firstName }}: 10 EUR.</p>",
        "Our pricing, {{ lead.firstName }}: 10 EUR.",
    )
    .await;
    let rule = ok(
        &app,
        &token,
        CREATE,
        json!({"i": {"name": "Pricing", "keywords": [" Pricing ", "how much"], "action": "REPLY_WITH_TEMPLATE", "templateId": t}}),
    )
    .await;
    let rule = &rule["createAutoResponderRule"];
    assert_eq!(rule["keywords"], json!(["pricing", "how much"]));
    assert_eq!(rule["cooldownMinutes"], 1440);
    assert_eq!(rule["enabled"], true);

    // The lead writes three times within the cooldown: one answer.
    let to = format!("sales@{domain}");
    let first = format!("<q1.{}@lead.test>", Uuid::now_v7().simple());
    post_mail(
        &app,
        &mail(&lead0, &to, &first, None, "", "What is your PRICING?"),
    )
    .await;
    let mut ids = vec![first.clone()];
    for i in 2..=3 {
        let id = format!("<q{i}.{}@lead.test>", Uuid::now_v7().simple());
        let m = mail(
            &lead0,
            &to,
            &id,
            Some(&first),
            "",
            "pricing again, how much?",
        );
        post_mail(&app, &m).await;
        ids.push(id);
    }
    wait_until("the auto reply", || async {
        sent_to(&sink, &lead0).len() == 1
    })
    .await;
    wait_until("every auto-reply job", || async {
        auto_jobs(&app).await == 3 && auto_jobs_pending(&app).await == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = sent_to(&sink, &lead0);
    assert_eq!(got.len(), 1, "one answer within the cooldown");
    let raw = got[0].replace("\r\n ", " ");
    assert!(raw.contains("Auto-Submitted: auto-replied"), "{raw}");
    // Threaded on whichever of the three claimed the window.
    assert!(
        ids.iter()
            .any(|i| raw.contains(&format!("In-Reply-To: {i}"))),
        "{raw}"
    );
    assert!(raw.contains("Our pricing, First0: 10 EUR."), "{raw}");
    assert!(raw.contains("Subject: Re: A question"), "{raw}");
    let convs = ok(&app, &token, CONVS, json!({})).await;
    let conv = convs["conversations"]["nodes"][0]["id"].clone();
    let msgs = ok(&app, &token, MESSAGES, json!({"c": conv})).await;
    let autos: Vec<&Value> = msgs["messages"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["authorKind"] == "AUTOMATION")
        .collect();
    assert_eq!(autos.len(), 1, "{msgs}");
    assert_eq!(autos[0]["status"], "SENT");

    // An automatic message from another lead is never answered, however it matches.
    let auto = mail(
        &lead1,
        &to,
        "<ooo1@lead.test>",
        None,
        "Auto-Submitted: auto-replied\r\n",
        "Out of office. For pricing see our site.",
    );
    post_mail(&app, &auto).await;
    let bulk = mail(
        &lead1,
        &to,
        "<ooo2@lead.test>",
        None,
        "Precedence: bulk\r\n",
        "pricing news",
    );
    post_mail(&app, &bulk).await;
    let ours = mail(
        &to,
        &to,
        "<self1@x.test>",
        None,
        "",
        "pricing from ourselves",
    );
    post_mail(&app, &ours).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(auto_jobs(&app).await, 3, "no job for automatic mail");
    assert!(sent_to(&sink, &lead1).is_empty());
    assert!(sent_to(&sink, &to).is_empty());
    // The same lead writing as a person is answered.
    post_mail(
        &app,
        &mail(
            &lead1,
            &to,
            "<h1@lead.test>",
            None,
            "Auto-Submitted: no\r\n",
            "pricing?",
        ),
    )
    .await;
    wait_until("the answer to a person", || async {
        sent_to(&sink, &lead1).len() == 1
    })
    .await;
    let types = event_types(&app, org).await;
    assert!(
        types.iter().any(|t| t == "auto_responder.rule"),
        "{types:?}"
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "conversation.auto_reply")
            .count(),
        2,
        "{types:?}"
    );
}

/// AI_REPLY: the draft waits for approval; approved → one mail, rejected → none.
#[tokio::test]
async fn an_ai_reply_is_sent_once_after_approval_and_never_after_rejection() {
    let (app, sink, org, token, domain) = app_with_sink(Role::Manager).await;
    let leads_domain = format!("a{}.test", Uuid::now_v7().simple());
    insert_leads(&app, org, &leads_domain, 2).await;
    let approver = member(&app, org, Role::Admin, "approver").await;
    ok(
        &app,
        &token,
        CREATE,
        json!({"i": {"name": "Demo", "keywords": ["demo"], "action": "AI_REPLY", "cooldownMinutes": 60}}),
    )
    .await;
    let to = format!("sales@{domain}");
    let lead0 = format!("lead0@{leads_domain}");
    post_mail(
        &app,
        &mail(
            &lead0,
            &to,
            "<d1@lead.test>",
            None,
            "",
            "Could we book a demo next week?",
        ),
    )
    .await;
    let mut requests = Vec::new();
    for _ in 0..300 {
        let v = ok(&app, &approver.token, REQUESTS, json!({})).await;
        requests = v["approvalRequests"]["nodes"].as_array().unwrap().clone();
        if !requests.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(requests.len(), 1, "one AI_REPLY request");
    let req = &requests[0];
    assert_eq!(req["status"], "PENDING");
    let draft = req["description"].as_str().unwrap().to_string();
    assert!(!draft.is_empty());
    let preview = ok(
        &app,
        &approver.token,
        "query($id: ID!) { approvalPreview(id: $id) { resourceType sampleRecipient email { subject text } } }",
        json!({"id": req["id"]}),
    )
    .await;
    let p = &preview["approvalPreview"];
    assert_eq!(p["resourceType"], "AI_REPLY");
    assert_eq!(p["sampleRecipient"], lead0.as_str());
    assert_eq!(p["email"]["text"], draft.as_str());
    assert_eq!(p["email"]["subject"], "Re: A question");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(sent_to(&sink, &lead0).is_empty(), "nothing before approval");

    ok(
        &app,
        &approver.token,
        "mutation($id: ID!) { approveRequest(id: $id) { status } }",
        json!({"id": req["id"]}),
    )
    .await;
    wait_until("the approved reply", || async {
        sent_to(&sink, &lead0).len() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = sent_to(&sink, &lead0);
    assert_eq!(got.len(), 1, "exactly one mail after approval");
    assert!(got[0].contains("Auto-Submitted: auto-replied"));
    assert!(got[0].contains("In-Reply-To: <d1@lead.test>"), "{}", got[0]);
    let again = app
        .gql(
            Some(&approver.token),
            "mutation($id: ID!) { approveRequest(id: $id) { status } }",
            json!({"id": req["id"]}),
        )
        .await;
    assert_eq!(code(&again), Some("CONFLICT"), "{again}");

    // Another lead's draft is rejected: nothing is sent.
    let lead1 = format!("lead1@{leads_domain}");
    post_mail(
        &app,
        &mail(&lead1, &to, "<d2@lead.test>", None, "", "demo please"),
    )
    .await;
    let mut pending = None;
    for _ in 0..300 {
        let v = ok(&app, &approver.token, REQUESTS, json!({})).await;
        pending = v["approvalRequests"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["status"] == "PENDING")
            .cloned();
        if pending.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pending = pending.expect("a second request");
    ok(
        &app,
        &approver.token,
        "mutation($id: ID!) { rejectRequest(id: $id, reason: \"too pushy\") { status } }",
        json!({"id": pending["id"]}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(sent_to(&sink, &lead1).is_empty(), "nothing after rejection");
    let statuses: Vec<String> = entity::auto_reply::Entity::find()
        .filter(entity::auto_reply::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(statuses.len(), 2);
    assert!(statuses.contains(&"QUEUED".to_string()), "{statuses:?}");
    assert!(statuses.contains(&"REJECTED".to_string()), "{statuses:?}");
}

/// Rule CRUD: roles, unauthenticated access, invalid input, another organization's ids and
/// templates, audit entries, events, and the list's statements.
#[tokio::test]
async fn rules_are_checked_scoped_audited_and_announced() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let (org, token) = org_with(&app, Role::Manager).await;
    let (_, other) = org_with(&app, Role::Owner).await;
    let member_token = member(&app, org, Role::Member, "plain").await.token;
    let t = template(&app, &token, "<p>x</p>", "x").await;
    let foreign_t = template(&app, &other, "<p>y</p>", "y").await;
    let input = |kw: Value, tid: Option<&str>| json!({"i": {"name": "R", "keywords": kw, "action": "REPLY_WITH_TEMPLATE", "templateId": tid}});

    // Unauthenticated, and a MEMBER.
    let v = app.gql(None, CREATE, input(json!(["a"]), Some(&t))).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app.gql(None, LIST, json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app
        .gql(Some(&member_token), CREATE, input(json!(["a"]), Some(&t)))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");

    // Invalid input.
    let v = app
        .gql(Some(&token), CREATE, input(json!([]), Some(&t)))
        .await;
    assert_eq!(field_errors(&v), vec!["input.keywords"]);
    let v = app
        .gql(Some(&token), CREATE, input(json!(["  "]), Some(&t)))
        .await;
    assert_eq!(field_errors(&v), vec!["input.keywords"]);
    let unknown = Uuid::now_v7().to_string();
    let v = app
        .gql(Some(&token), CREATE, input(json!(["a"]), Some(&unknown)))
        .await;
    assert_eq!(field_errors(&v), vec!["input.templateId"]);
    let v = app
        .gql(Some(&token), CREATE, input(json!(["a"]), Some(&foreign_t)))
        .await;
    assert_eq!(field_errors(&v), vec!["input.templateId"]);
    let v = app
        .gql(Some(&token), CREATE, input(json!(["a"]), None))
        .await;
    assert_eq!(field_errors(&v), vec!["input.templateId"]);
    let v = app
        .gql(
            Some(&token),
            CREATE,
            json!({"i": {"name": "", "keywords": ["a"], "action": "AI_REPLY", "cooldownMinutes": 0}}),
        )
        .await;
    let mut f = field_errors(&v);
    f.sort();
    assert_eq!(f, vec!["input.cooldownMinutes", "input.name"]);

    // Happy path.
    let r = ok(&app, &token, CREATE, input(json!(["Price"]), Some(&t))).await;
    let id = r["createAutoResponderRule"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let u = ok(
        &app,
        &token,
        UPDATE,
        json!({"id": id, "i": {"name": "Prices", "enabled": false, "cooldownMinutes": 30}}),
    )
    .await;
    assert_eq!(u["updateAutoResponderRule"]["name"], "Prices");
    assert_eq!(u["updateAutoResponderRule"]["enabled"], false);
    assert_eq!(u["updateAutoResponderRule"]["cooldownMinutes"], 30);
    let v = app
        .gql(
            Some(&token),
            UPDATE,
            json!({"id": id, "i": {"keywords": []}}),
        )
        .await;
    assert_eq!(field_errors(&v), vec!["input.keywords"]);
    let v = app
        .gql(
            Some(&token),
            UPDATE,
            json!({"id": id, "i": {"templateId": foreign_t}}),
        )
        .await;
    assert_eq!(field_errors(&v), vec!["input.templateId"]);

    // Another organization: missing everywhere.
    let v = ok(&app, &other, ONE, json!({"id": id})).await;
    assert!(v["autoResponderRule"].is_null());
    let v = app
        .gql(Some(&other), UPDATE, json!({"id": id, "i": {"name": "x"}}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = app.gql(Some(&other), DELETE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = ok(&app, &other, LIST, json!({})).await;
    assert_eq!(v["autoResponderRules"]["totalCount"], 0);
    let v = ok(&app, &token, ONE, json!({"id": id})).await;
    assert_eq!(v["autoResponderRule"]["name"], "Prices");

    ok(&app, &token, DELETE, json!({"id": id})).await;
    let v = ok(&app, &token, ONE, json!({"id": id})).await;
    assert!(v["autoResponderRule"].is_null());

    // Events and audit entries: created, updated, deleted.
    let kinds: Vec<String> = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("auto_responder.rule"))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            e.payload["data"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(kinds, vec!["created", "updated", "deleted"]);
    wait_until("three audit entries", || async {
        entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::OrgId.eq(org))
            .filter(entity::audit_log::Column::ResourceType.eq("auto_responder_rule"))
            .filter(entity::audit_log::Column::ResourceId.eq(id.as_str()))
            .all(&app.state.db)
            .await
            .unwrap()
            .len()
            == 3
    })
    .await;

    // The list costs the same statements for 5 rules as for 30.
    for i in 0..31 {
        ok(
            &app,
            &token,
            CREATE,
            json!({"i": {"name": format!("r{i}"), "keywords": ["k"], "action": "AI_REPLY"}}),
        )
        .await;
    }
    let mut counts = Vec::new();
    for n in [5, 30] {
        app.state.sql_log.take();
        let v = ok(&app, &token, LIST, json!({"n": n})).await;
        assert_eq!(
            v["autoResponderRules"]["nodes"].as_array().unwrap().len(),
            n
        );
        counts.push(app.request_statements().len());
    }
    assert_eq!(counts[0], counts[1], "statements at 5 / 30");
}
