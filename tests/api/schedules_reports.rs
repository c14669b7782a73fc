//! GENERATE_REPORT schedules (issue 26 "schedules can generate reports and mail them"): an
//! occurrence queues a report run as the schedule's creator and the finished run mails its link
//! to members; the payload is checked field by field (the report must be the organization's,
//! the addresses its members'); an occurrence that cannot queue its run (report deleted, daily
//! limit reached) is stored FAILED with the reason and still records `schedule.fired`.

use chrono::{DateTime, Duration, Utc};
use leadgraph::{auth::Role, domains::webhooks::tick_schedules};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, member, ok, org_named, Person},
    helpers::{code, extract_after, wait_for_mail_containing, TestApp},
};

const CREATE: &str = "mutation($i: CreateScheduleInput!) { createSchedule(input: $i) { id action payload nextRunAt } }";
const RUNS: &str =
    "query($s: ID!) { scheduleRuns(scheduleId: $s, first: 10) { nodes { status error } } }";
const REPORT_RUNS: &str =
    "query($id: ID!) { reportRuns(reportId: $id, first: 10) { nodes { id status url } } }";

async fn admin(app: &TestApp) -> (Uuid, Person) {
    let org = org_named(app, &format!("Reports {}", Uuid::now_v7().simple())).await;
    (org, member(app, org, Role::Admin, "Ada").await)
}

async fn report(app: &TestApp, who: &Person, name: &str) -> String {
    let d = ok(
        app,
        &who.token,
        "mutation($i: CreateReportInput!) { createReport(input: $i) { id } }",
        json!({"i": {"name": name, "kind": "DASHBOARD_SNAPSHOT", "format": "CSV"}}),
    )
    .await;
    d["createReport"]["id"].as_str().unwrap().to_string()
}

/// A daily GENERATE_REPORT schedule: (id, its first occurrence).
async fn schedule(app: &TestApp, who: &Person, payload: Value) -> (String, DateTime<Utc>) {
    let d = ok(
        app,
        &who.token,
        CREATE,
        json!({"i": {"name": "Morning report", "cron": "0 9 * * *", "timezone": "UTC",
                     "action": "GENERATE_REPORT", "payload": payload}}),
    )
    .await;
    let s = &d["createSchedule"];
    assert_eq!(s["action"], "GENERATE_REPORT");
    let next = DateTime::parse_from_rfc3339(s["nextRunAt"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc);
    (s["id"].as_str().unwrap().to_string(), next)
}

async fn runs(app: &TestApp, who: &Person, schedule: &str) -> Vec<Value> {
    let d = ok(app, &who.token, RUNS, json!({"s": schedule})).await;
    d["scheduleRuns"]["nodes"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_occurrence_generates_the_report_as_its_creator_and_mails_the_link_to_members() {
    let app = TestApp::spawn().await;
    let (org, ada) = admin(&app).await;
    let bob = member(&app, org, Role::Member, "Bob").await;
    let id = report(&app, &ada, "Morning numbers").await;
    let (sid, at) = schedule(
        &app,
        &ada,
        json!({"reportId": id, "mailTo": [bob.email.to_uppercase(), ada.email]}),
    )
    .await;
    assert_eq!(tick_schedules(&app.state, at).await.unwrap(), 1);
    let fired = runs(&app, &ada, &sid).await;
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0]["status"], "FIRED");
    assert!(fired[0]["error"].is_null());

    // The run belongs to the report, was asked for by Ada, and succeeds.
    let mut node = Value::Null;
    for _ in 0..300 {
        let d = ok(&app, &ada.token, REPORT_RUNS, json!({"id": id})).await;
        node = d["reportRuns"]["nodes"][0].clone();
        if node["status"] == "SUCCEEDED" || node["status"] == "FAILED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(node["status"], "SUCCEEDED", "{node}");
    let stored = entity::report_run::Entity::find()
        .filter(entity::report_run::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].requested_by, ada.id);

    // Both members get the link, once each; it downloads the CSV.
    for to in [&bob.email, &ada.email] {
        let mail = wait_for_mail_containing(&app, to, "Report ready: Morning numbers").await;
        let link = extract_after(&mail, "is ready:")
            .replace("http://localhost:8080", &format!("http://{}", app.addr));
        let res = app.http.get(&link).send().await.unwrap();
        assert_eq!(res.status(), 200, "{link}");
        assert!(!res.bytes().await.unwrap().is_empty());
    }
    let mails = entity::job::Entity::find()
        .filter(entity::job::Column::Kind.eq("mail.send"))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.payload["subject"] == "Report ready: Morning numbers")
        .count();
    assert_eq!(mails, 2);
}

#[tokio::test]
async fn the_payload_names_each_bad_field_and_the_mutation_is_authorized() {
    let app = TestApp::spawn().await;
    let (org, ada) = admin(&app).await;
    let (_, eve) = admin(&app).await;
    let id = report(&app, &ada, "Ours").await;
    let theirs = report(&app, &eve, "Theirs").await;
    let input = |payload: Value| {
        json!({"i": {"name": "R", "cron": "0 9 * * *", "timezone": "UTC",
                     "action": "GENERATE_REPORT", "payload": payload}})
    };
    for (payload, fields) in [
        (json!({}), vec!["payload.reportId"]),
        (json!({"reportId": "not-an-id"}), vec!["payload.reportId"]),
        (
            json!({"reportId": Uuid::now_v7()}),
            vec!["payload.reportId"],
        ),
        // Another organization's report does not exist here.
        (json!({"reportId": theirs}), vec!["payload.reportId"]),
        (
            json!({"reportId": id, "mailTo": [ada.email, "outsider@example.com"]}),
            vec!["payload.mailTo.1"],
        ),
        (
            json!({"reportId": id, "mailTo": ["nope"]}),
            vec!["payload.mailTo.0"],
        ),
        (json!({"reportId": id, "cc": 1}), vec!["payload.cc"]),
    ] {
        let v = app
            .gql(Some(&ada.token), CREATE, input(payload.clone()))
            .await;
        assert_eq!(field_errors(&v), fields, "{payload}: {v}");
    }
    // Updating the payload is checked the same way.
    let (sid, _) = schedule(&app, &ada, json!({"reportId": id})).await;
    let v = app
        .gql(
            Some(&ada.token),
            "mutation($id: ID!, $i: UpdateScheduleInput!) { updateSchedule(id: $id, input: $i) { id } }",
            json!({"id": sid, "i": {"payload": {"reportId": theirs}}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["payload.reportId"], "{v}");
    // No credentials; a member without the right to manage schedules.
    let v = app.gql(None, CREATE, input(json!({"reportId": id}))).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let viewer = member(&app, org, Role::Viewer, "Vic").await;
    let v = app
        .gql(Some(&viewer.token), CREATE, input(json!({"reportId": id})))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
}

#[tokio::test]
async fn an_occurrence_that_cannot_queue_its_run_is_failed_with_the_reason() {
    let app = TestApp::spawn().await;
    let (org, ada) = admin(&app).await;
    // The report is deleted after the schedule was made.
    let gone = report(&app, &ada, "Gone").await;
    let (sid, at) = schedule(&app, &ada, json!({"reportId": gone})).await;
    ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { deleteReport(id: $id) }",
        json!({"id": gone}),
    )
    .await;
    assert_eq!(tick_schedules(&app.state, at).await.unwrap(), 1);
    let fired = runs(&app, &ada, &sid).await;
    assert_eq!(fired[0]["status"], "FAILED");
    assert_eq!(fired[0]["error"], "the report was deleted");

    // The organization is at its daily limit: 50 runs stored in the last hours.
    let kept = report(&app, &ada, "Kept").await;
    let rid = Uuid::parse_str(&kept).unwrap();
    let now = Utc::now();
    for _ in 0..50 {
        entity::report_run::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org),
            report_id: Set(rid),
            status: Set("SUCCEEDED".into()),
            progress: Set(100),
            attempt: Set(1),
            row_count: Set(Some(1)),
            file_id: Set(None),
            error: Set(None),
            requested_by: Set(ada.id),
            created_at: Set(now - Duration::hours(1)),
            finished_at: Set(Some(now)),
        }
        .insert(&app.state.db)
        .await
        .unwrap();
    }
    let (limited, at) = schedule(&app, &ada, json!({"reportId": kept})).await;
    assert_eq!(tick_schedules(&app.state, at).await.unwrap(), 1);
    let fired = runs(&app, &ada, &limited).await;
    assert_eq!(fired[0]["status"], "FAILED");
    assert_eq!(
        fired[0]["error"],
        "the organization reached its daily report limit"
    );
    let queued = entity::report_run::Entity::find()
        .filter(entity::report_run::Column::ReportId.eq(rid))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(queued.len(), 50);
    // Each occurrence still recorded schedule.fired.
    let fired_events = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("schedule.fired"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(fired_events.len(), 2);
}
