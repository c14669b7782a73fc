//! Notifications: rules from domain events (lead assigned, import finished, job failed), the
//! inbox (list, unread, read, delete, clear), preferences and their channels (in-app, email,
//! Slack-style webhook), `sendNotification` targets and validation, statistics, the live
//! subscription, authentication and isolation.

use std::time::Duration;

use async_trait::async_trait;
use leadgraph::{
    auth::Role,
    jobs::{queue, JobContext, JobError, JobHandler, JobRegistry, NewJob},
};
use serde_json::{json, Value};
use uuid::Uuid;
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

use crate::{
    fixtures::{field_errors, member, owner},
    helpers::{code, host_of, wait_for_mail_containing, Frame, Options, TestApp},
};

const LIST: &str = "query($first: Int, $after: String, $unread: Boolean) { notifications(first: $first, after: $after, unreadOnly: $unread) { totalCount pageInfo { hasNextPage endCursor } nodes { id type title body link resourceType resourceId read readAt } } }";
const SEND: &str = "mutation($i: SendNotificationInput!) { sendNotification(input: $i) }";
const UNREAD: &str = "{ unreadNotificationCount }";
const PREFS: &str = "{ notificationPreferences { type channel enabled isDefault webhookHost } }";
const UPDATE_PREFS: &str = "mutation($i: [NotificationPreferenceInput!]!) { updateNotificationPreferences(input: $i) { type channel enabled isDefault webhookHost } }";

async fn list(app: &TestApp, token: &str, vars: Value) -> Value {
    let v = app.gql(Some(token), LIST, vars).await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["notifications"].clone()
}

async fn unread(app: &TestApp, token: &str) -> i64 {
    let v = app.gql(Some(token), UNREAD, json!({})).await;
    v["data"]["unreadNotificationCount"]
        .as_i64()
        .unwrap_or_else(|| panic!("{v}"))
}

async fn send(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), SEND, json!({"i": input})).await
}

/// Polls the viewer's notifications until there are `n` (rules may run just after a job's state
/// becomes visible).
async fn wait_for_notifications(app: &TestApp, token: &str, n: usize) -> Vec<Value> {
    for _ in 0..200 {
        let l = list(app, token, json!({})).await;
        let nodes = l["nodes"].as_array().unwrap().clone();
        if nodes.len() >= n {
            return nodes;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} notifications arrived");
}

#[tokio::test]
async fn assigning_a_lead_notifies_the_new_owner_but_not_a_self_assignment() {
    let app = TestApp::spawn().await;
    let (boss, org) = owner(&app).await;
    let grace = member(&app, org, Role::Member, "Grace").await;
    let lead = app
        .gql(
            Some(&boss.token),
            "mutation { createLead(input: {firstName: \"Ada\", company: \"Acme\"}) { id } }",
            json!({}),
        )
        .await["data"]["createLead"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let assign = "mutation($id: ID!, $u: ID) { assignLead(id: $id, userId: $u) { owner { id } } }";

    // The owner assigns it to themselves: nobody is notified.
    let v = app
        .gql(
            Some(&boss.token),
            assign,
            json!({"id": lead, "u": boss.id.to_string()}),
        )
        .await;
    assert_eq!(
        v["data"]["assignLead"]["owner"]["id"],
        boss.id.to_string(),
        "{v}"
    );
    // ... then to Grace: she is notified, exactly once, with the lead as resource.
    let v = app
        .gql(
            Some(&boss.token),
            assign,
            json!({"id": lead, "u": grace.id.to_string()}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let l = list(&app, &grace.token, json!({})).await;
    assert_eq!(l["totalCount"], 1, "{l}");
    let n = &l["nodes"][0];
    assert_eq!(n["type"], "LEAD_ASSIGNED");
    assert_eq!(n["title"], "Lead assigned to you");
    assert_eq!(n["body"], "Ada Lovelace assigned Ada (Acme) to you.");
    assert_eq!(n["link"], format!("/leads/{lead}"));
    assert_eq!(n["resourceType"], "lead");
    assert_eq!(n["resourceId"], lead.as_str());
    assert_eq!(n["read"], false);
    assert!(n["readAt"].is_null());
    assert_eq!(unread(&app, &grace.token).await, 1);
    // The self-assignment and the unassignment notify nobody.
    let v = app
        .gql(Some(&boss.token), assign, json!({"id": lead, "u": null}))
        .await;
    assert!(v["errors"].is_null(), "{v}");
    assert_eq!(list(&app, &boss.token, json!({})).await["totalCount"], 0);
    assert_eq!(list(&app, &grace.token, json!({})).await["totalCount"], 1);
    // Grace assigning a lead to herself is no news to her either.
    let v = app
        .gql(
            Some(&grace.token),
            assign,
            json!({"id": lead, "u": grace.id.to_string()}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    assert_eq!(list(&app, &grace.token, json!({})).await["totalCount"], 1);

    // The in-app notification recorded a `notification.new` event addressed to Grace alone.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let events = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::EventType.eq("notification.new"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].user_id, Some(grace.id));
    assert_eq!(events[0].payload["data"]["type"], "LEAD_ASSIGNED");
    assert_eq!(events[0].payload["data"]["title"], "Lead assigned to you");
    assert_eq!(
        events[0].payload["data"]["notificationId"],
        n["id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn the_inbox_lists_counts_marks_read_deletes_and_clears() {
    let app = TestApp::spawn().await;
    let (boss, org) = owner(&app).await;
    let grace = member(&app, org, Role::Member, "Grace").await;
    for i in 1..=3 {
        let v = send(
            &app,
            &boss.token,
            json!({"userId": grace.id.to_string(), "title": format!("News {i}"), "body": format!("Body {i}"), "link": "https://example.com/news"}),
        )
        .await;
        assert_eq!(v["data"]["sendNotification"], 1, "{v}");
    }
    // Newest first, in pages, with a total.
    let page1 = list(&app, &grace.token, json!({"first": 2})).await;
    assert_eq!(page1["totalCount"], 3);
    assert_eq!(page1["pageInfo"]["hasNextPage"], true);
    let titles = |l: &Value| -> Vec<String> {
        l["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(titles(&page1), ["News 3", "News 2"]);
    let page2 = list(
        &app,
        &grace.token,
        json!({"first": 2, "after": page1["pageInfo"]["endCursor"]}),
    )
    .await;
    assert_eq!(titles(&page2), ["News 1"]);
    assert_eq!(page2["pageInfo"]["hasNextPage"], false);
    assert_eq!(page2["nodes"][0]["type"], "ANNOUNCEMENT");
    assert_eq!(page2["nodes"][0]["body"], "Body 1");
    assert_eq!(page2["nodes"][0]["link"], "https://example.com/news");
    assert!(page2["nodes"][0]["resourceType"].is_null());
    // The sender's own inbox is untouched.
    assert_eq!(list(&app, &boss.token, json!({})).await["totalCount"], 0);
    assert_eq!(unread(&app, &grace.token).await, 3);

    // Mark one read: it stays read (with its first read time) when marked again.
    let news1 = page2["nodes"][0]["id"].as_str().unwrap().to_string();
    let mark = "mutation($id: ID!) { markNotificationRead(id: $id) { id read readAt } }";
    let v = app
        .gql(Some(&grace.token), mark, json!({"id": news1}))
        .await;
    assert_eq!(v["data"]["markNotificationRead"]["read"], true, "{v}");
    let read_at = v["data"]["markNotificationRead"]["readAt"].clone();
    assert!(read_at.is_string());
    let again = app
        .gql(Some(&grace.token), mark, json!({"id": news1}))
        .await;
    assert_eq!(again["data"]["markNotificationRead"]["readAt"], read_at);
    assert_eq!(unread(&app, &grace.token).await, 2);
    let unread_list = list(&app, &grace.token, json!({"unread": true})).await;
    assert_eq!(unread_list["totalCount"], 2);
    assert_eq!(titles(&unread_list), ["News 3", "News 2"]);

    // Somebody else's notification (same organization) reads as missing.
    let v = app.gql(Some(&boss.token), mark, json!({"id": news1})).await;
    assert_eq!(code(&v), Some("NOT_FOUND"));
    let del = "mutation($id: ID!) { deleteNotification(id: $id) }";
    let v = app.gql(Some(&boss.token), del, json!({"id": news1})).await;
    assert_eq!(code(&v), Some("NOT_FOUND"));

    // Mark all: the two unread ones; then nothing is left to mark.
    let all = "mutation { markAllNotificationsRead }";
    let v = app.gql(Some(&grace.token), all, json!({})).await;
    assert_eq!(v["data"]["markAllNotificationsRead"], 2, "{v}");
    assert_eq!(unread(&app, &grace.token).await, 0);
    let v = app.gql(Some(&grace.token), all, json!({})).await;
    assert_eq!(v["data"]["markAllNotificationsRead"], 0);
    assert_eq!(
        list(&app, &grace.token, json!({"unread": true})).await["totalCount"],
        0
    );

    // Delete one; a second delete is NOT_FOUND; clear removes the rest.
    let v = app.gql(Some(&grace.token), del, json!({"id": news1})).await;
    assert_eq!(v["data"]["deleteNotification"], news1.as_str(), "{v}");
    let v = app.gql(Some(&grace.token), del, json!({"id": news1})).await;
    assert_eq!(code(&v), Some("NOT_FOUND"));
    assert_eq!(list(&app, &grace.token, json!({})).await["totalCount"], 2);
    let clear = "mutation { clearNotifications }";
    let v = app.gql(Some(&grace.token), clear, json!({})).await;
    assert_eq!(v["data"]["clearNotifications"], 2, "{v}");
    assert_eq!(list(&app, &grace.token, json!({})).await["totalCount"], 0);
    let v = app.gql(Some(&grace.token), clear, json!({})).await;
    assert_eq!(v["data"]["clearNotifications"], 0);
}

#[tokio::test]
async fn anonymous_requests_are_unauthenticated() {
    let app = TestApp::spawn().await;
    for q in [
        "{ notifications { totalCount } }",
        UNREAD,
        PREFS,
        "{ notificationStats { type } }",
        "mutation { markAllNotificationsRead }",
        "mutation { clearNotifications }",
        "mutation { markNotificationRead(id: \"0190a000-0000-7000-8000-000000000000\") { id } }",
        "mutation { sendNotification(input: {wholeOrganization: true, title: \"x\"}) }",
        "mutation { updateNotificationPreferences(input: []) { type } }",
    ] {
        let v = app.gql(None, q, json!({})).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{q}: {v}");
    }
}

#[tokio::test]
async fn preferences_round_trip_and_the_email_channel_sends_mail() {
    let app = TestApp::spawn().await;
    let (boss, org) = owner(&app).await;
    let grace = member(&app, org, Role::Member, "Grace").await;

    // Defaults: every type × channel; IN_APP on, EMAIL and WEBHOOK off.
    let v = app.gql(Some(&grace.token), PREFS, json!({})).await;
    let prefs = v["data"]["notificationPreferences"].as_array().unwrap();
    assert_eq!(prefs.len(), 8 * 3, "{v}");
    for p in prefs {
        assert_eq!(p["enabled"], p["channel"] == "IN_APP", "{p}");
        assert_eq!(p["isDefault"], true);
        assert!(p["webhookHost"].is_null());
    }

    // Announcements: by email only.
    let v = app
        .gql(
            Some(&grace.token),
            UPDATE_PREFS,
            json!({"i": [
                {"type": "ANNOUNCEMENT", "channel": "EMAIL", "enabled": true},
                {"type": "ANNOUNCEMENT", "channel": "IN_APP", "enabled": false},
            ]}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let find = |v: &Value, t: &str, c: &str| -> Value {
        v.as_array()
            .unwrap()
            .iter()
            .find(|p| p["type"] == t && p["channel"] == c)
            .cloned()
            .unwrap()
    };
    let updated = &v["data"]["updateNotificationPreferences"];
    assert_eq!(updated.as_array().unwrap().len(), 24);
    assert_eq!(
        find(updated, "ANNOUNCEMENT", "EMAIL"),
        json!({"type": "ANNOUNCEMENT", "channel": "EMAIL", "enabled": true, "isDefault": false, "webhookHost": null})
    );
    assert_eq!(find(updated, "ANNOUNCEMENT", "IN_APP")["enabled"], false);
    assert_eq!(find(updated, "LEAD_ASSIGNED", "IN_APP")["isDefault"], true);
    // Read back: the same.
    let v = app.gql(Some(&grace.token), PREFS, json!({})).await;
    assert_eq!(&v["data"]["notificationPreferences"], updated);
    // Another member's preferences are their own.
    let v = app.gql(Some(&boss.token), PREFS, json!({})).await;
    assert_eq!(
        find(
            &v["data"]["notificationPreferences"],
            "ANNOUNCEMENT",
            "EMAIL"
        )["enabled"],
        false
    );

    let v = send(
        &app,
        &boss.token,
        json!({"userId": grace.id.to_string(), "title": "Quarterly numbers", "body": "Revenue is up 12%.", "link": "/reports/q3"}),
    )
    .await;
    assert_eq!(v["data"]["sendNotification"], 1, "{v}");
    app.state.jobs_enqueued();
    let mail = wait_for_mail_containing(&app, &grace.email, "Quarterly numbers").await;
    assert!(
        mail.contains("Subject: [Leadgraph] Quarterly numbers"),
        "{mail}"
    );
    assert!(mail.contains("Revenue is up 12%."), "{mail}");
    assert!(mail.contains("/reports/q3"), "{mail}");
    // IN_APP was off: nothing stored.
    assert_eq!(list(&app, &grace.token, json!({})).await["totalCount"], 0);

    // Invalid changes are all reported, and none is applied.
    let v = app
        .gql(
            Some(&grace.token),
            UPDATE_PREFS,
            json!({"i": [
                {"type": "JOB_FAILED", "channel": "WEBHOOK", "enabled": true},
                {"type": "JOB_FAILED", "channel": "EMAIL", "enabled": true, "webhookUrl": "https://hooks.example.com/x"},
                {"type": "IMPORT_FINISHED", "channel": "WEBHOOK", "enabled": true, "webhookUrl": "ftp://hooks.example.com/x"},
                {"type": "IMPORT_FINISHED", "channel": "WEBHOOK", "enabled": false},
                {"type": "LEAD_ASSIGNED", "channel": "EMAIL", "enabled": true},
            ]}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert_eq!(
        field_errors(&v),
        [
            "input[0].webhookUrl",
            "input[1].webhookUrl",
            "input[2].webhookUrl",
            "input[3]"
        ]
    );
    let v = app.gql(Some(&grace.token), PREFS, json!({})).await;
    assert_eq!(
        find(
            &v["data"]["notificationPreferences"],
            "LEAD_ASSIGNED",
            "EMAIL"
        )["enabled"],
        false
    );
}

#[tokio::test]
async fn the_webhook_channel_posts_slack_text_and_is_retried() {
    let hook = MockServer::start().await;
    let app = TestApp::spawn_with(Options::allowing(&[host_of(&hook.uri())])).await;
    let (boss, org) = owner(&app).await;
    let grace = member(&app, org, Role::Member, "Grace").await;
    // The first delivery fails (5xx): the job queue retries it.
    Mock::given(method("POST"))
        .and(path("/services/T000/B000/XXXX"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&hook)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/T000/B000/XXXX"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .with_priority(2)
        .mount(&hook)
        .await;
    let url = format!("{}/services/T000/B000/XXXX", hook.uri());
    let v = app
        .gql(
            Some(&grace.token),
            UPDATE_PREFS,
            json!({"i": [{"type": "ANNOUNCEMENT", "channel": "WEBHOOK", "enabled": true, "webhookUrl": url}]}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let p = v["data"]["updateNotificationPreferences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["type"] == "ANNOUNCEMENT" && p["channel"] == "WEBHOOK")
        .cloned()
        .unwrap();
    // The URL is a secret: only its host is shown.
    assert_eq!(p["enabled"], true);
    assert_eq!(p["webhookHost"], "127.0.0.1");

    let v = send(
        &app,
        &boss.token,
        json!({"userId": grace.id.to_string(), "title": "Deploy done", "body": "All green & <fine>", "link": "/status"}),
    )
    .await;
    assert_eq!(v["data"]["sendNotification"], 1, "{v}");
    let mut requests = Vec::new();
    for _ in 0..200 {
        requests = hook.received_requests().await.unwrap_or_default();
        if requests.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(requests.len(), 2, "one failed attempt, one retry");
    for r in &requests {
        assert_eq!(
            r.headers.get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            body,
            json!({"text": "Deploy done\nAll green &amp; &lt;fine&gt;\n/status"})
        );
    }
    // IN_APP stayed on (the default): the notification is in the inbox too.
    assert_eq!(list(&app, &grace.token, json!({})).await["totalCount"], 1);

    // Turned off: no more posts.
    let v = app
        .gql(
            Some(&grace.token),
            UPDATE_PREFS,
            json!({"i": [{"type": "ANNOUNCEMENT", "channel": "WEBHOOK", "enabled": false}]}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    send(
        &app,
        &boss.token,
        json!({"userId": grace.id.to_string(), "title": "Quiet"}),
    )
    .await;
    assert_eq!(list(&app, &grace.token, json!({})).await["totalCount"], 2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn send_notification_targets_a_member_a_team_or_everybody_for_admins_only() {
    let app = TestApp::spawn().await;
    let (boss, org) = owner(&app).await;
    let grace = member(&app, org, Role::Member, "Grace").await;
    let alan = member(&app, org, Role::Manager, "Alan").await;
    let team = app
        .gql(
            Some(&boss.token),
            "mutation { createTeam(input: {name: \"Sales\"}) { id } }",
            json!({}),
        )
        .await["data"]["createTeam"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app
        .gql(
            Some(&boss.token),
            "mutation($t: ID!, $u: ID!) { addTeamMember(teamId: $t, userId: $u) { id } }",
            json!({"t": team, "u": grace.id.to_string()}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");

    let count = |v: &Value| v["data"]["sendNotification"].as_i64();
    let v = send(
        &app,
        &boss.token,
        json!({"userId": alan.id.to_string(), "title": "To Alan"}),
    )
    .await;
    assert_eq!(count(&v), Some(1), "{v}");
    let v = send(
        &app,
        &boss.token,
        json!({"teamId": team, "title": "To Sales"}),
    )
    .await;
    assert_eq!(count(&v), Some(1), "{v}");
    // An ADMIN may broadcast too; everybody gets it, the sender included (boss, Alan, Grace and
    // the admin: tokens belong to real members now).
    let admin = app.token(org, Role::Admin).await;
    let v = send(
        &app,
        &admin,
        json!({"wholeOrganization": true, "title": "To all", "body": "Hello everyone"}),
    )
    .await;
    assert_eq!(count(&v), Some(4), "{v}");
    let titles = |l: Value| -> Vec<String> {
        l["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        titles(list(&app, &grace.token, json!({})).await),
        ["To all", "To Sales"]
    );
    assert_eq!(
        titles(list(&app, &alan.token, json!({})).await),
        ["To all", "To Alan"]
    );
    assert_eq!(titles(list(&app, &boss.token, json!({})).await), ["To all"]);

    // MANAGER and MEMBER may not send.
    for t in [&grace.token, &alan.token] {
        let v = send(&app, t, json!({"wholeOrganization": true, "title": "x"})).await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    }

    // Invalid input: every problem at once, with its field.
    let v = send(
        &app,
        &boss.token,
        json!({"title": "  ", "body": "b".repeat(5001), "link": "javascript:alert(1)"}),
    )
    .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert_eq!(
        field_errors(&v),
        ["input", "input.title", "input.body", "input.link"]
    );
    let v = send(
        &app,
        &boss.token,
        json!({"userId": grace.id.to_string(), "teamId": team, "title": "two targets"}),
    )
    .await;
    assert_eq!(field_errors(&v), ["input"]);
    let v = send(
        &app,
        &boss.token,
        json!({"wholeOrganization": false, "title": "no target"}),
    )
    .await;
    assert_eq!(field_errors(&v), ["input"]);
    let v = send(
        &app,
        &boss.token,
        json!({"wholeOrganization": true, "title": "t".repeat(201)}),
    )
    .await;
    assert_eq!(field_errors(&v), ["input.title"]);
    let v = send(
        &app,
        &boss.token,
        json!({"wholeOrganization": true, "title": "ok", "link": "//evil.example/x"}),
    )
    .await;
    assert_eq!(field_errors(&v), ["input.link"]);
    // 200 characters and a 5,000-character body are fine.
    let v = send(
        &app,
        &boss.token,
        json!({"userId": grace.id.to_string(), "title": "t".repeat(200), "body": "b".repeat(5000)}),
    )
    .await;
    assert_eq!(count(&v), Some(1), "{v}");

    // Another organization's member and team read as missing.
    let (other, other_org) = owner(&app).await;
    let other_team = app
        .gql(
            Some(&other.token),
            "mutation { createTeam(input: {name: \"Theirs\"}) { id } }",
            json!({}),
        )
        .await["data"]["createTeam"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = send(
        &app,
        &boss.token,
        json!({"userId": other.id.to_string(), "title": "hi"}),
    )
    .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let missing = send(
        &app,
        &boss.token,
        json!({"userId": Uuid::now_v7().to_string(), "title": "hi"}),
    )
    .await;
    assert_eq!(v["errors"][0]["message"], missing["errors"][0]["message"]);
    let v = send(
        &app,
        &boss.token,
        json!({"teamId": other_team, "title": "hi"}),
    )
    .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    assert_eq!(list(&app, &other.token, json!({})).await["totalCount"], 0);
    assert_ne!(other_org, org);
}

#[tokio::test]
async fn stats_count_sent_and_read_per_type() {
    let app = TestApp::spawn().await;
    let (boss, org) = owner(&app).await;
    let grace = member(&app, org, Role::Member, "Grace").await;
    for title in ["one", "two"] {
        send(
            &app,
            &boss.token,
            json!({"userId": grace.id.to_string(), "title": title}),
        )
        .await;
    }
    send(
        &app,
        &boss.token,
        json!({"wholeOrganization": true, "title": "all"}),
    )
    .await;
    let lead = app
        .gql(
            Some(&boss.token),
            "mutation { createLead(input: {company: \"Acme\"}) { id } }",
            json!({}),
        )
        .await["data"]["createLead"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(
        Some(&boss.token),
        "mutation($id: ID!, $u: ID) { assignLead(id: $id, userId: $u) { id } }",
        json!({"id": lead, "u": grace.id.to_string()}),
    )
    .await;
    let newest = list(&app, &grace.token, json!({"first": 1})).await["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(
        Some(&grace.token),
        "mutation($id: ID!) { markNotificationRead(id: $id) { id } }",
        json!({"id": newest}),
    )
    .await;
    let last = list(&app, &grace.token, json!({})).await["nodes"][3]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.gql(
        Some(&grace.token),
        "mutation($id: ID!) { markNotificationRead(id: $id) { id } }",
        json!({"id": last}),
    )
    .await;

    let stats = "query($o: Boolean) { notificationStats(organizationWide: $o) { type sent read } }";
    let v = app.gql(Some(&grace.token), stats, json!({})).await;
    let expect = |announcements: (u64, u64), assigned: (u64, u64)| -> Value {
        let rows: Vec<Value> = [
            "LEAD_ASSIGNED",
            "IMPORT_FINISHED",
            "JOB_FAILED",
            "SCRAPE_FINISHED",
            "APPROVAL_PENDING",
            "APPROVAL_RESOLVED",
            "CAMPAIGN_FINISHED",
            "ANNOUNCEMENT",
        ]
        .iter()
        .map(|t| {
            let (sent, read) = match *t {
                "ANNOUNCEMENT" => announcements,
                "LEAD_ASSIGNED" => assigned,
                _ => (0, 0),
            };
            json!({"type": t, "sent": sent, "read": read})
        })
        .collect();
        Value::Array(rows)
    };
    // Grace: 3 announcements ("one" read), 1 assignment (read).
    assert_eq!(
        v["data"]["notificationStats"],
        expect((3, 1), (1, 1)),
        "{v}"
    );
    // Organization-wide: ADMIN+ only; the broadcast reached the owner too (unread).
    let v = app.gql(Some(&grace.token), stats, json!({"o": true})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app.gql(Some(&boss.token), stats, json!({"o": true})).await;
    assert_eq!(
        v["data"]["notificationStats"],
        expect((4, 1), (1, 1)),
        "{v}"
    );
    let v = app.gql(Some(&boss.token), stats, json!({})).await;
    assert_eq!(
        v["data"]["notificationStats"],
        expect((1, 0), (0, 0)),
        "{v}"
    );
}

#[tokio::test]
async fn another_organizations_notifications_read_as_missing() {
    let app = TestApp::spawn().await;
    let (a, _) = owner(&app).await;
    let (b, _) = owner(&app).await;
    let v = send(
        &app,
        &b.token,
        json!({"wholeOrganization": true, "title": "B only"}),
    )
    .await;
    assert_eq!(v["data"]["sendNotification"], 1, "{v}");
    let theirs = list(&app, &b.token, json!({})).await["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(list(&app, &a.token, json!({})).await["totalCount"], 0);
    for q in [
        "mutation($id: ID!) { markNotificationRead(id: $id) { id } }",
        "mutation($id: ID!) { deleteNotification(id: $id) }",
    ] {
        let v_theirs = app.gql(Some(&a.token), q, json!({"id": theirs})).await;
        let v_missing = app
            .gql(Some(&a.token), q, json!({"id": Uuid::now_v7().to_string()}))
            .await;
        assert_eq!(code(&v_theirs), Some("NOT_FOUND"), "{v_theirs}");
        assert_eq!(v_theirs["data"], v_missing["data"]);
        assert_eq!(
            v_theirs["errors"][0]["message"],
            v_missing["errors"][0]["message"]
        );
    }
    // A's bulk actions leave B's inbox alone.
    app.gql(
        Some(&a.token),
        "mutation { markAllNotificationsRead }",
        json!({}),
    )
    .await;
    app.gql(Some(&a.token), "mutation { clearNotifications }", json!({}))
        .await;
    let l = list(&app, &b.token, json!({})).await;
    assert_eq!(l["totalCount"], 1);
    assert_eq!(l["nodes"][0]["read"], false);
}

async fn import_csv(app: &TestApp, token: &str, csv: &str) -> String {
    let ops = json!({
        "query": "mutation($file: Upload!) { importLeads(file: $file, onConflict: SKIP) { id } }",
        "variables": {"file": null}
    });
    let form = reqwest::multipart::Form::new()
        .text("operations", ops.to_string())
        .text("map", json!({"0": ["variables.file"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(csv.as_bytes().to_vec())
                .file_name("leads.csv")
                .mime_str("text/csv")
                .unwrap(),
        );
    let v: Value = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .header("apollo-require-preflight", "true")
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.state.jobs_enqueued();
    v["data"]["importLeads"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string()
}

#[tokio::test]
async fn a_finished_import_notifies_the_member_who_started_it() {
    let app = TestApp::spawn().await;
    let (boss, org) = owner(&app).await;
    let grace = member(&app, org, Role::Member, "Grace").await;
    let job = import_csv(
        &app,
        &grace.token,
        "First Name,Email,Company\nAda,ada@example.com,Acme\nBob,not-an-email,B\nCy,cy@example.com,C\n",
    )
    .await;
    let nodes = wait_for_notifications(&app, &grace.token, 1).await;
    assert_eq!(nodes.len(), 1);
    let n = &nodes[0];
    assert_eq!(n["type"], "IMPORT_FINISHED");
    assert_eq!(n["title"], "Lead import finished");
    assert_eq!(
        n["body"],
        "leads.csv: 2 imported, 0 merged, 0 skipped, 1 failed."
    );
    assert_eq!(n["resourceType"], "job");
    assert_eq!(n["resourceId"], job.as_str());
    assert_eq!(n["link"], format!("/jobs/{job}"));
    // Only the member who started it.
    assert_eq!(list(&app, &boss.token, json!({})).await["totalCount"], 0);
}

/// Always fails for good.
struct Boom;

#[async_trait]
impl JobHandler for Boom {
    async fn run(&self, _ctx: &JobContext) -> Result<Value, JobError> {
        Err(JobError::Permanent("boom".into()))
    }
}

#[tokio::test]
async fn a_failed_job_notifies_its_creator() {
    let app = TestApp::spawn_with(Options {
        registry: Some(Box::new(|r: &mut JobRegistry| {
            r.register("test.boom", Boom);
        })),
        ..Default::default()
    })
    .await;
    let (boss, org) = owner(&app).await;
    let grace = member(&app, org, Role::Member, "Grace").await;
    let job = queue::enqueue(
        &app.state.db,
        NewJob {
            org_id: Some(org),
            created_by: Some(grace.id),
            ..NewJob::new("test.boom", json!({}))
        },
    )
    .await
    .unwrap();
    // A job whose creator is not a member (any more) notifies nobody.
    queue::enqueue(
        &app.state.db,
        NewJob {
            org_id: Some(org),
            created_by: Some(Uuid::now_v7()),
            ..NewJob::new("test.boom", json!({}))
        },
    )
    .await
    .unwrap();
    app.state.jobs_enqueued();
    let nodes = wait_for_notifications(&app, &grace.token, 1).await;
    let n = &nodes[0];
    assert_eq!(n["type"], "JOB_FAILED");
    assert_eq!(n["title"], "Job test.boom failed");
    assert_eq!(n["body"], "It failed after 1 attempt: boom");
    assert_eq!(n["resourceType"], "job");
    assert_eq!(n["resourceId"], job.id.to_string());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(list(&app, &grace.token, json!({})).await["totalCount"], 1);
    assert_eq!(list(&app, &boss.token, json!({})).await["totalCount"], 0);
}

#[tokio::test]
async fn notification_received_streams_the_viewers_own_notifications() {
    let app = TestApp::spawn().await;
    let (boss, org) = owner(&app).await;
    let grace = member(&app, org, Role::Member, "Grace").await;
    let alan = member(&app, org, Role::Member, "Alan").await;
    let sub = "subscription { notificationReceived { id type title body read } }";
    let mut ws_grace = app.ws("graphql-transport-ws").await;
    ws_grace.init(&grace.token).await;
    ws_grace
        .send(json!({"type": "subscribe", "id": "n", "payload": {"query": sub}}))
        .await;
    let mut ws_alan = app.ws("graphql-transport-ws").await;
    ws_alan.init(&alan.token).await;
    ws_alan
        .send(json!({"type": "subscribe", "id": "n", "payload": {"query": sub}}))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let v = send(
        &app,
        &boss.token,
        json!({"userId": grace.id.to_string(), "title": "Live", "body": "now"}),
    )
    .await;
    assert_eq!(v["data"]["sendNotification"], 1, "{v}");
    let m = ws_grace.next_json(5).await;
    assert_eq!(m["type"], "next", "{m}");
    let n = &m["payload"]["data"]["notificationReceived"];
    assert_eq!(n["type"], "ANNOUNCEMENT");
    assert_eq!(n["title"], "Live");
    assert_eq!(n["body"], "now");
    assert_eq!(n["read"], false);
    let stored = list(&app, &grace.token, json!({})).await["nodes"][0]["id"].clone();
    assert_eq!(n["id"], stored);
    // Alan (same organization) receives nothing of Grace's.
    match ws_alan.next_frame(1).await {
        None => {}
        Some(Frame::Json(v)) => assert!(v["type"] == "ping", "unexpected {v}"),
        Some(Frame::Closed(c, r)) => panic!("closed {c:?} {r}"),
    }
}
