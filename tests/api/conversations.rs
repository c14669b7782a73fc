//! Conversations (issue 24): a raw RFC 822 reply to a campaign email lands in one conversation
//! with the campaign email; `sendMessage` delivers through the SMTP sink with In-Reply-To =
//! the lead's Message-ID; a second reply lands in the same conversation and reaches a
//! `conversationEvents` subscriber; new mail to a verified domain opens a conversation; notes,
//! reactions, read markers, search; another organization's ids read as missing; inputs are
//! checked; the list's statements do not grow with the page.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{campaign, field_errors, insert_leads, ok, org_with, template},
    helpers::{code, Options, TestApp},
    outreach::{free_listener, recipients_by_status, Sink, ADD, LAUNCH},
};

const MESSAGES: &str = "query($c: ID!) { messages(conversationId: $c) { totalCount nodes { id direction authorKind private subject bodyText messageId inReplyTo references campaignId status reactions { emoji count } edits { bodyText } } } }";
const SEND: &str = "mutation($c: ID!, $i: SendMessageInput!) { sendMessage(conversationId: $c, input: $i) { id status subject inReplyTo references messageId private } }";
const LIST: &str = "query($f: ConversationFilter) { conversations(filter: $f) { totalCount nodes { id leadId email subject status channel unreadCount mailbox labels assigneeId } } }";
const CREATE: &str = "mutation($i: CreateConversationInput!) { createConversation(input: $i) { id status subject email } }";

/// Seeds `per` conversations with a message each for `org` (the statement walk's dataset).
pub async fn seed(app: &TestApp, org: Uuid, per: usize) {
    let now = Utc::now();
    for i in 0..per {
        let id = Uuid::now_v7();
        conversation_row(id, org, &format!("seed{i}@rich.test"), now)
            .insert(&app.state.db)
            .await
            .unwrap();
    }
}

fn conversation_row(
    id: Uuid,
    org: Uuid,
    email: &str,
    now: chrono::DateTime<Utc>,
) -> entity::conversation::ActiveModel {
    entity::conversation::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        lead_id: Set(None),
        email: Set(email.into()),
        subject: Set("Seeded".into()),
        status: Set("OPEN".into()),
        channel: Set("EMAIL".into()),
        assignee_id: Set(None),
        labels: Set(json!(["a"])),
        unread_count: Set(1),
        mailbox: Set(None),
        mailbox_name: Set(None),
        last_message_at: Set(Some(now)),
        created_by: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

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

fn nodes(v: &Value, root: &str) -> Vec<Value> {
    v[root]["nodes"].as_array().unwrap().clone()
}

/// Unfolds header continuation lines.
fn unfold(raw: &str) -> String {
    raw.replace("\r\n ", " ").replace("\r\n\t", " ")
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// The acceptance path: campaign email → raw reply → one conversation with both messages →
/// `sendMessage` threaded in the sink → a second reply in the same conversation, delivered
/// live to a `conversationEvents` subscriber.
#[tokio::test]
async fn a_campaign_reply_becomes_a_conversation_answered_in_the_thread() {
    let listener = free_listener().await;
    let smtp = format!("smtp://{}", listener.local_addr().unwrap());
    let sink = Sink::start(listener).await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("SMTP_URL".into(), smtp)]),
        ..Default::default()
    })
    .await;
    let (org, token) = org_with(&app, Role::Member).await;
    let domain = format!("t{}.test", Uuid::now_v7().simple());
    let leads = insert_leads(&app, org, &domain, 1).await;
    let lead_email = format!("lead0@{domain}");
    let t = template(&app, &token, "<p>Hi {{ lead.firstName }}</p>", "Hi").await;
    let c = campaign(&app, &token, &t, None).await;
    let ids = vec![leads[0].to_string()];
    ok(&app, &token, ADD, json!({"c": c, "i": {"leadIds": ids}})).await;
    ok(&app, &token, LAUNCH, json!({"id": c})).await;
    wait_until("the campaign email", || async {
        recipients_by_status(&app, &c).await.contains_key("SENT")
    })
    .await;
    let rec = recipients_by_status(&app, &c).await["SENT"][0].clone();

    // The lead replies (raw RFC 822, In-Reply-To = the campaign email's Message-ID).
    let raw = format!("From: First0 <{lead_email}>\r\nTo: Sam Sender <sam@sender.test>\r\nSubject: Re: Hi First0 from Acme Outreach\r\nIn-Reply-To: {mid}\r\nReferences: {mid}\r\nMessage-ID: <reply1@lead.test>\r\nContent-Type: text/plain\r\n\r\nInterested! What is the pricing?\r\n", mid = rec.message_id);
    let r = post_mail(&app, &raw).await;
    assert_eq!(r["matched"], true, "{r}");
    assert_eq!(recipients_by_status(&app, &c).await["REPLIED"].len(), 1);

    let list = ok(
        &app,
        &token,
        LIST,
        json!({"f": {"leadId": leads[0].to_string()}}),
    )
    .await;
    let convs = nodes(&list, "conversations");
    assert_eq!(convs.len(), 1, "{list}");
    let conv = &convs[0];
    assert_eq!(conv["email"], lead_email.as_str());
    assert_eq!(conv["subject"], "Hi First0 from Acme Outreach");
    assert_eq!(
        (conv["status"].as_str(), conv["unreadCount"].as_i64()),
        (Some("OPEN"), Some(1))
    );
    assert_eq!(conv["mailbox"], "sam@sender.test");
    let conv_id = conv["id"].as_str().unwrap().to_string();
    let msgs = ok(&app, &token, MESSAGES, json!({"c": conv_id})).await;
    let m = nodes(&msgs, "messages");
    assert_eq!(m.len(), 2, "{msgs}");
    assert_eq!(m[0]["direction"], "INBOUND");
    assert_eq!(m[0]["authorKind"], "LEAD");
    assert_eq!(m[0]["messageId"], "<reply1@lead.test>");
    assert!(
        m[0]["bodyText"].as_str().unwrap().contains("pricing"),
        "{m:?}"
    );
    assert_eq!(m[1]["direction"], "OUTBOUND");
    assert_eq!(m[1]["campaignId"], c.as_str());
    assert_eq!(m[1]["messageId"], rec.message_id.as_str());
    assert_eq!(m[1]["status"], "SENT");

    // The answer: threaded, `Re:`, sent once through the sink.
    let sent = ok(
        &app,
        &token,
        SEND,
        json!({"c": conv_id, "i": {"bodyText": "It is 10 EUR a month."}}),
    )
    .await;
    let sent = &sent["sendMessage"];
    assert_eq!(sent["status"], "QUEUED");
    assert_eq!(sent["subject"], "Re: Hi First0 from Acme Outreach");
    assert_eq!(sent["inReplyTo"], "<reply1@lead.test>");
    assert_eq!(
        sent["references"],
        json!([rec.message_id, "<reply1@lead.test>"])
    );
    let our_mid = sent["messageId"].as_str().unwrap().to_string();
    wait_until("the reply in the sink", || async {
        sink.per_recipient().get(&lead_email).map(Vec::len) == Some(2)
    })
    .await;
    let mail = unfold(&sink.per_recipient()[&lead_email][1]);
    assert!(mail.contains("In-Reply-To: <reply1@lead.test>"), "{mail}");
    assert!(
        mail.contains(&format!(
            "References: {} <reply1@lead.test>",
            rec.message_id
        )),
        "{mail}"
    );
    assert!(mail.contains(&format!("Message-ID: {our_mid}")), "{mail}");
    assert!(
        mail.contains("Subject: Re: Hi First0 from Acme Outreach"),
        "{mail}"
    );
    assert!(
        mail.contains("Sam Sender") && mail.contains("<sam@sender.test>"),
        "{mail}"
    );
    wait_until("SENT", || async {
        let v = app.gql(Some(&token), MESSAGES, json!({"c": conv_id})).await;
        v["data"]["messages"]["nodes"][0]["status"] == "SENT"
    })
    .await;

    // A private note is stored, never sent.
    let note = ok(
        &app,
        &token,
        SEND,
        json!({"c": conv_id, "i": {"bodyText": "call them", "private": true}}),
    )
    .await;
    assert_eq!(note["sendMessage"]["status"], "NOTE");
    assert!(note["sendMessage"]["messageId"].is_null());

    // Live: a subscriber of this conversation sees the second reply.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&app.token(org, Role::Viewer).await).await;
    ws.send(json!({"type": "subscribe", "id": "c", "payload": {"query": "subscription($c: ID!) { conversationEvents(conversationId: $c) { kind change conversationId messageId direction messageStatus } }", "variables": {"c": conv_id}}})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let raw2 = format!("From: {lead_email}\r\nTo: sam@sender.test\r\nSubject: Re: Re: Hi First0 from Acme Outreach\r\nIn-Reply-To: {our_mid}\r\nReferences: {} <reply1@lead.test> {our_mid}\r\nMessage-ID: <reply2@lead.test>\r\n\r\nDeal.\r\n", rec.message_id);
    let started = std::time::Instant::now();
    post_mail(&app, &raw2).await;
    // Earlier events of the thread (the reply's delivery) may still arrive first.
    loop {
        let ev = ws.next_json(2).await;
        let e = &ev["payload"]["data"]["conversationEvents"];
        assert_eq!(e["conversationId"], conv_id.as_str(), "{ev}");
        if e["kind"] == "MESSAGE" && e["change"] == "created" && e["direction"] == "INBOUND" {
            break;
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // The same message posted again is not stored twice.
    post_mail(&app, &raw2).await;
    let list = ok(&app, &token, LIST, json!({})).await;
    assert_eq!(list["conversations"]["totalCount"], 1, "{list}");
    let msgs = ok(&app, &token, MESSAGES, json!({"c": conv_id})).await;
    assert_eq!(msgs["messages"]["totalCount"], 5, "{msgs}");
    assert_eq!(
        msgs["messages"]["nodes"][0]["bodyText"]
            .as_str()
            .unwrap()
            .trim(),
        "Deal."
    );
    assert_eq!(sink.count(), 2, "the note and the replies sent nothing");

    // Search over bodies, read markers.
    let hit = ok(&app, &token, LIST, json!({"f": {"search": "PRICING"}})).await;
    assert_eq!(hit["conversations"]["totalCount"], 1);
    let miss = ok(
        &app,
        &token,
        LIST,
        json!({"f": {"search": "nothing like it"}}),
    )
    .await;
    assert_eq!(miss["conversations"]["totalCount"], 0);
    let unread = ok(&app, &token, LIST, json!({"f": {"unread": true}})).await;
    assert_eq!(unread["conversations"]["nodes"][0]["unreadCount"], 2);
    let read = ok(
        &app,
        &token,
        "mutation($id: ID!) { markConversationRead(id: $id) { unreadCount } }",
        json!({"id": conv_id}),
    )
    .await;
    assert_eq!(read["markConversationRead"]["unreadCount"], 0);
    let unread = ok(&app, &token, LIST, json!({"f": {"unread": true}})).await;
    assert_eq!(unread["conversations"]["totalCount"], 0);
    // The lead's timeline shows the messages sent from the inbox.
    let tl = entity::lead_interaction::Entity::find()
        .filter(entity::lead_interaction::Column::LeadId.eq(leads[0]))
        .filter(entity::lead_interaction::Column::Kind.eq("conversation_message"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(tl.len(), 1, "{tl:?}");
}

/// New mail to a verified sending domain of the organization opens a conversation; mail to
/// an unknown domain and delivery status notifications open none.
#[tokio::test]
async fn new_mail_to_the_organization_opens_a_conversation() {
    let app = TestApp::spawn().await;
    let (org, token) = org_with(&app, Role::Member).await;
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
    let raw = format!("From: Newbie <new@prospect.test>\r\nTo: sales@mail.{domain}\r\nSubject: A question\r\nMessage-ID: <q1@prospect.test>\r\n\r\nDo you ship abroad?\r\n");
    let r = post_mail(&app, &raw).await;
    assert_eq!(
        (r["matched"].as_bool(), r["kept"].as_bool()),
        (Some(false), Some(true)),
        "{r}"
    );
    let list = ok(&app, &token, LIST, json!({})).await;
    let convs = nodes(&list, "conversations");
    assert_eq!(convs.len(), 1, "{list}");
    assert_eq!(convs[0]["email"], "new@prospect.test");
    assert_eq!(convs[0]["mailbox"], format!("sales@mail.{domain}"));
    assert!(convs[0]["leadId"].is_null());
    let stranger = "From: x@prospect.test\r\nTo: sales@unknown.test\r\nSubject: hi\r\nMessage-ID: <q2@prospect.test>\r\n\r\nhello\r\n";
    assert_eq!(post_mail(&app, stranger).await["kept"], false);
    let dsn = format!("From: MAILER-DAEMON@x\r\nTo: sales@{domain}\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\n\r\n--b--\r\n");
    post_mail(&app, &dsn).await;
    let list = ok(&app, &token, LIST, json!({})).await;
    assert_eq!(list["conversations"]["totalCount"], 1, "{list}");
}

/// Notes (edit history, reactions, delete), roles, invalid input, unauthenticated access and
/// another organization's ids on every id-taking operation.
#[tokio::test]
async fn notes_roles_input_and_isolation() {
    let app = TestApp::spawn().await;
    let (org, token) = org_with(&app, Role::Member).await;
    let (_, other) = org_with(&app, Role::Owner).await;
    let lead = insert_leads(&app, org, "iso.test", 1).await[0].to_string();
    let created = ok(
        &app,
        &token,
        CREATE,
        json!({"i": {"leadId": lead, "subject": "Hello"}}),
    )
    .await;
    let conv = created["createConversation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(created["createConversation"]["email"], "lead0@iso.test");
    let note = ok(
        &app,
        &token,
        SEND,
        json!({"c": conv, "i": {"bodyText": "v1", "private": true}}),
    )
    .await;
    let note = note["sendMessage"]["id"].as_str().unwrap().to_string();
    let edit = "mutation($id: ID!, $i: EditMessageInput!) { editMessage(id: $id, input: $i) { bodyText edits { bodyText editorId } } }";
    let e = ok(
        &app,
        &token,
        edit,
        json!({"id": note, "i": {"bodyText": "v2"}}),
    )
    .await;
    assert_eq!(e["editMessage"]["bodyText"], "v2");
    assert_eq!(e["editMessage"]["edits"][0]["bodyText"], "v1");
    let react = "mutation($id: ID!, $e: String!) { reactToMessage(id: $id, emoji: $e) { reactions { emoji count } } }";
    let r = ok(&app, &token, react, json!({"id": note, "e": "👍"})).await;
    assert_eq!(
        r["reactToMessage"]["reactions"],
        json!([{"emoji": "👍", "count": 1}])
    );
    let r = ok(&app, &token, react, json!({"id": note, "e": "👍"})).await;
    assert_eq!(r["reactToMessage"]["reactions"], json!([]));
    let upd = "mutation($id: ID!, $i: UpdateConversationInput!) { updateConversation(id: $id, input: $i) { status labels assigneeId } }";
    let u = ok(&app, &token, upd, json!({"id": conv, "i": {"status": "RESOLVED", "labels": ["vip", " vip "], "assigneeId": null}})).await;
    assert_eq!(
        u["updateConversation"],
        json!({"status": "RESOLVED", "labels": ["vip"], "assigneeId": null})
    );
    let filtered = ok(&app, &token, LIST, json!({"f": {"status": "RESOLVED"}})).await;
    assert_eq!(filtered["conversations"]["totalCount"], 1);

    // Invalid input names the field.
    let v = app
        .gql(
            Some(&token),
            CREATE,
            json!({"i": {"leadId": lead, "subject": "  "}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.subject"]);
    let v = app
        .gql(Some(&token), SEND, json!({"c": conv, "i": {}}))
        .await;
    assert_eq!(field_errors(&v), ["input.bodyText"]);
    let labels: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
    let v = app
        .gql(
            Some(&token),
            upd,
            json!({"id": conv, "i": {"labels": labels}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.labels"]);
    let v = app
        .gql(
            Some(&token),
            upd,
            json!({"id": conv, "i": {"assigneeId": Uuid::now_v7()}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.assigneeId"]);
    let v = app
        .gql(Some(&token), react, json!({"id": note, "e": ""}))
        .await;
    assert_eq!(field_errors(&v), ["emoji"]);
    let v = app
        .gql(
            Some(&token),
            LIST,
            json!({"f": {"search": "x".repeat(201)}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["filter.search"]);

    // Unauthenticated, and a VIEWER may read but not write.
    let v = app.gql(None, LIST, json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let viewer = app.token(org, Role::Viewer).await;
    ok(&app, &viewer, MESSAGES, json!({"c": conv})).await;
    let v = app
        .gql(
            Some(&viewer),
            SEND,
            json!({"c": conv, "i": {"bodyText": "x"}}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");

    // Another organization: every id reads as missing.
    let q = ok(
        &app,
        &other,
        "query($id: ID!) { conversation(id: $id) { id } }",
        json!({"id": conv}),
    )
    .await;
    assert!(q["conversation"].is_null());
    let calls: Vec<(&str, Value)> = vec![
        (MESSAGES, json!({"c": conv})),
        (SEND, json!({"c": conv, "i": {"bodyText": "x"}})),
        (upd, json!({"id": conv, "i": {"status": "OPEN"}})),
        (
            "mutation($id: ID!) { markConversationRead(id: $id) { id } }",
            json!({"id": conv}),
        ),
        (
            "mutation($id: ID!) { deleteConversation(id: $id) }",
            json!({"id": conv}),
        ),
        (edit, json!({"id": note, "i": {"bodyText": "x"}})),
        (react, json!({"id": note, "e": "👍"})),
        (
            "mutation($id: ID!) { deleteMessage(id: $id) }",
            json!({"id": note}),
        ),
        (CREATE, json!({"i": {"leadId": lead, "subject": "x"}})),
    ];
    for (q, vars) in &calls {
        let v = app.gql(Some(&other), q, vars.clone()).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
    }
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&other).await;
    ws.send(json!({"type": "subscribe", "id": "x", "payload": {"query": "subscription($c: ID!) { conversationEvents(conversationId: $c) { kind } }", "variables": {"c": conv}}})).await;
    let v = ws.next_json(5).await;
    let got = &v["payload"]["errors"][0]["extensions"]["code"];
    assert_eq!(
        (v["type"].as_str(), got.as_str()),
        (Some("next"), Some("NOT_FOUND")),
        "{v}"
    );

    // Still there for its own organization; then the note and the conversation go.
    ok(
        &app,
        &token,
        "mutation($id: ID!) { deleteMessage(id: $id) }",
        json!({"id": note}),
    )
    .await;
    let manager = app.token(org, Role::Manager).await;
    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { deleteConversation(id: $id) }",
            json!({"id": conv}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    ok(
        &app,
        &manager,
        "mutation($id: ID!) { deleteConversation(id: $id) }",
        json!({"id": conv}),
    )
    .await;
    let list = ok(&app, &token, LIST, json!({})).await;
    assert_eq!(list["conversations"]["totalCount"], 0);
}

/// `conversations` costs the same statements for 5 conversations as for 30.
#[tokio::test]
async fn the_list_costs_the_same_statements_at_any_page_size() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let (org, token) = org_with(&app, Role::Member).await;
    seed(&app, org, 31).await;
    let q = "query($n: Int!) { conversations(first: $n) { nodes { id leadId email subject status channel assigneeId labels unreadCount lastMessageAt createdAt } } }";
    let mut counts = Vec::new();
    for n in [5, 30] {
        app.state.sql_log.take();
        let v = ok(&app, &token, q, json!({"n": n})).await;
        assert_eq!(v["conversations"]["nodes"].as_array().unwrap().len(), n);
        counts.push(app.request_statements().len());
    }
    assert_eq!(counts[0], counts[1], "statements at 5 / 30");
}
