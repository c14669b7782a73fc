//! Sequences (issue 24): a 3-step sequence with 1-day waits sends step 1 (the job), then step 2
//! once time moves a day (`run_due` with an injected `now`); a reply in the lead's conversation
//! stops the lead before step 3 (mails counted in the SMTP sink); a step run again after a
//! crash between send and record sends nothing twice; a reached step cannot change; another
//! organization's ids read as missing; inputs are checked; events; the list's statements; a
//! business-day wait skips the weekend of the organization's time zone.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use leadgraph::{auth::Role, domains::sequences};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, insert_leads, ok, org_with, template},
    helpers::{code, Options, TestApp},
    outreach::{free_listener, Sink},
};

const CREATE: &str = "mutation($i: CreateSequenceInput!) { createSequence(input: $i) { id name status steps { position templateId waitDays onlyIfNotOpened } } }";
const UPDATE: &str = "mutation($id: ID!, $i: UpdateSequenceInput!) { updateSequence(id: $id, input: $i) { id name steps { position waitDays } } }";
const ENROLL: &str = "mutation($id: ID!, $l: [ID!]!) { enrollInSequence(id: $id, input: {leadIds: $l}) { enrolled skipped } }";
const UNENROLL: &str =
    "mutation($id: ID!, $l: [ID!]!) { unenrollFromSequence(id: $id, leadIds: $l) }";
const STATS: &str = "query($id: ID!) { sequenceStats(id: $id) { enrolled active completed stopped steps { position sent opened replied stopped { reason count } } } }";
const GET: &str = "query($id: ID!) { sequence(id: $id) { id name status } }";
const PAUSE: &str = "mutation($id: ID!) { pauseSequence(id: $id) { id status } }";
const RESUME: &str = "mutation($id: ID!) { resumeSequence(id: $id) { id status } }";
const DELETE: &str = "mutation($id: ID!) { deleteSequence(id: $id) }";
const CONVERSATION: &str =
    "mutation($i: CreateConversationInput!) { createConversation(input: $i) { id } }";
const MESSAGES: &str =
    "query($c: ID!) { messages(conversationId: $c) { nodes { messageId status } } }";

async fn app_with_sink() -> (TestApp, Sink) {
    let listener = free_listener().await;
    let smtp = format!("smtp://{}", listener.local_addr().unwrap());
    let sink = Sink::start(listener).await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("SMTP_URL".into(), smtp)]),
        ..Default::default()
    })
    .await;
    (app, sink)
}

/// Sequence mails the sink got for `to` (our Message-IDs end in `.seq@…`).
fn sequence_mails(sink: &Sink, to: &str) -> Vec<String> {
    sink.per_recipient()
        .get(to)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.contains(".seq@"))
        .collect()
}

pub(crate) async fn wait_until<F, Fut>(what: &str, mut f: F)
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

async fn three_steps(app: &TestApp, token: &str, t: &str) -> String {
    let steps: Vec<Value> = [0, 1, 1]
        .iter()
        .map(|w| json!({"templateId": t, "waitDays": w}))
        .collect();
    let v = ok(
        app,
        token,
        CREATE,
        json!({"i": {"name": "Follow-up", "steps": steps}}),
    )
    .await;
    assert_eq!(v["createSequence"]["status"], "ACTIVE", "{v}");
    assert_eq!(v["createSequence"]["steps"][2]["waitDays"], 1, "{v}");
    v["createSequence"]["id"].as_str().unwrap().to_string()
}

async fn enrollment(app: &TestApp, seq: &str) -> entity::sequence_enrollment::Model {
    entity::sequence_enrollment::Entity::find()
        .filter(entity::sequence_enrollment::Column::SequenceId.eq(Uuid::parse_str(seq).unwrap()))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
}

pub(crate) async fn event_types(app: &TestApp, org: Uuid) -> Vec<String> {
    entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.starts_with("sequence."))
        .order_by_asc(entity::outbox_event::Column::Seq)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| {
            let data = if e.payload["data"].is_object() {
                &e.payload["data"]
            } else {
                &e.payload
            };
            let detail = data["kind"].as_str().or(data["reason"].as_str());
            format!("{}:{}", e.event_type, detail.unwrap_or(""))
        })
        .collect()
}

#[tokio::test]
async fn three_steps_a_day_apart_and_a_reply_stops_the_lead_before_the_third() {
    let (app, sink) = app_with_sink().await;
    let (org, token) = org_with(&app, Role::Member).await;
    let domain = format!("s{}.test", Uuid::now_v7().simple());
    let leads = insert_leads(&app, org, &domain, 1).await;
    let to = format!("lead0@{domain}");
    let t = template(
        &app,
        &token,
        "<p>Hi {{ lead.firstName }}</p>",
        "Hi {{ lead.firstName }}",
    )
    .await;
    let seq = three_steps(&app, &token, &t).await;
    // Subscribers of the event stream: a viewer here, and an owner of another organization.
    let (other, _) = org_with(&app, Role::Member).await;
    let mut ws = activity_subscriber(&app, &app.token(org, Role::Viewer).await).await;
    let mut theirs = activity_subscriber(&app, &app.token(other, Role::Owner).await).await;
    let v = ok(
        &app,
        &token,
        ENROLL,
        json!({"id": seq, "l": [leads[0].to_string()]}),
    )
    .await;
    assert_eq!(v["enrollInSequence"], json!({"enrolled": 1, "skipped": 0}));
    let v = ok(
        &app,
        &token,
        ENROLL,
        json!({"id": seq, "l": [leads[0].to_string()]}),
    )
    .await;
    assert_eq!(
        v["enrollInSequence"],
        json!({"enrolled": 0, "skipped": 1}),
        "enrolled once"
    );

    // Step 1: the job due at enrollment sends it.
    wait_until("step 1 in the sink", || async {
        sequence_mails(&sink, &to).len() == 1
    })
    .await;
    let mail = &sequence_mails(&sink, &to)[0];
    assert!(mail.contains("Hi First0"), "{mail}");
    assert!(mail.contains("List-Unsubscribe"), "{mail}");
    wait_until("step 1 recorded", || async {
        enrollment(&app, &seq).await.current_step == 1
    })
    .await;
    let e = enrollment(&app, &seq).await;
    let due = e.next_step_at.unwrap();
    assert!(
        due > Utc::now() + chrono::Duration::hours(23),
        "next step a day later: {due}"
    );

    // A reached step cannot change; a later one can.
    let changed: Vec<Value> = [2, 1, 1]
        .iter()
        .map(|w| json!({"templateId": t, "waitDays": w}))
        .collect();
    let v = app
        .gql(
            Some(&token),
            UPDATE,
            json!({"id": seq, "i": {"steps": changed}}),
        )
        .await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
    let changed: Vec<Value> = [0, 1, 2]
        .iter()
        .map(|w| json!({"templateId": t, "waitDays": w}))
        .collect();
    let v = ok(
        &app,
        &token,
        UPDATE,
        json!({"id": seq, "i": {"steps": changed}}),
    )
    .await;
    assert_eq!(v["updateSequence"]["steps"][2]["waitDays"], 2, "{v}");

    // Not due yet: nothing; a day later: step 2.
    assert_eq!(sequences::run_due(&app.state, Utc::now()).await.unwrap(), 0);
    let later = due + chrono::Duration::minutes(1);
    assert_eq!(sequences::run_due(&app.state, later).await.unwrap(), 1);
    assert_eq!(sequence_mails(&sink, &to).len(), 2);
    assert_eq!(enrollment(&app, &seq).await.current_step, 2);

    // The lead replies in its conversation: the enrollment stops (REPLIED).
    let conv = ok(&app, &token, CONVERSATION, json!({"i": {"leadId": leads[0].to_string(), "subject": "Quick question", "body": "Any news?"}})).await;
    let conv = conv["createConversation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ours = String::new();
    for _ in 0..200 {
        let m = ok(&app, &token, MESSAGES, json!({"c": conv})).await;
        if let Some(sent) = m["messages"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["status"] == "SENT")
        {
            ours = sent["messageId"].as_str().unwrap().to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!ours.is_empty(), "the conversation message was sent");
    let raw = format!("From: First0 <{to}>\r\nTo: Acme <noreply@leadgraph.test>\r\nSubject: Re: Quick question\r\nIn-Reply-To: {ours}\r\nReferences: {ours}\r\nMessage-ID: <reply-seq@lead.test>\r\nContent-Type: text/plain\r\n\r\nYes, call me.\r\n");
    let r = reqwest::Client::new()
        .post(app.url("/webhooks/inbound-email"))
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let e = enrollment(&app, &seq).await;
    assert_eq!(
        (e.status.as_str(), e.stop_reason.as_deref()),
        ("STOPPED", Some("REPLIED"))
    );

    // Step 3's time comes: nothing more is sent.
    let much_later = later + chrono::Duration::days(5);
    assert_eq!(sequences::run_due(&app.state, much_later).await.unwrap(), 0);
    assert_eq!(sequence_mails(&sink, &to).len(), 2, "no third step");

    let v = ok(&app, &token, STATS, json!({"id": seq})).await;
    let s = &v["sequenceStats"];
    assert_eq!(
        (s["enrolled"].as_i64(), s["stopped"].as_i64()),
        (Some(1), Some(1)),
        "{v}"
    );
    let sent: Vec<i64> = s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["sent"].as_i64().unwrap())
        .collect();
    assert_eq!(sent, vec![1, 1, 0], "{v}");
    assert_eq!(s["steps"][1]["replied"], 1, "{v}");
    assert_eq!(
        s["steps"][2]["stopped"],
        json!([{"reason": "REPLIED", "count": 1}]),
        "{v}"
    );

    // Events: created, step 1 sent, updated, step 2 sent, the stop and the reply.
    let types = event_types(&app, org).await;
    assert_eq!(
        types,
        vec![
            "sequence.changed:created",
            "sequence.activity:sent",
            "sequence.changed:updated",
            "sequence.activity:sent",
            "sequence.enrollment_stopped:REPLIED",
            "sequence.activity:reply",
        ],
    );
    // The subscriber saw them live, for this lead; the other organization saw nothing.
    let seen = activity_until(&mut ws, "SEQUENCE_ACTIVITY:reply", leads[0]).await;
    assert_eq!(
        seen,
        vec![
            "SEQUENCE_ACTIVITY:sent:0",
            "SEQUENCE_ACTIVITY:sent:1",
            "SEQUENCE_ENROLLMENT_STOPPED:REPLIED:null",
            "SEQUENCE_ACTIVITY:reply:1",
        ]
    );
    assert!(theirs.next_frame(1).await.is_none(), "another organization");
}

/// A WebSocket subscribed to `sequence.activity` and `sequence.enrollment_stopped`.
pub(crate) async fn activity_subscriber(app: &TestApp, token: &str) -> crate::helpers::Ws {
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(token).await;
    ws.send(json!({"type": "subscribe", "id": "s", "payload": {"query":
        "subscription { events(types: [SEQUENCE_ACTIVITY, SEQUENCE_ENROLLMENT_STOPPED]) { type data } }"}}))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws
}

/// `TYPE:kind-or-reason:step` of each event until `last`; each must be about `lead`.
pub(crate) async fn activity_until(
    ws: &mut crate::helpers::Ws,
    last: &str,
    lead: Uuid,
) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    while !seen.last().is_some_and(|s| s.starts_with(last)) {
        let m = ws.next_json(5).await;
        assert_eq!(m["type"], "next", "{m} after {seen:?}");
        let e = &m["payload"]["data"]["events"];
        let d = &e["data"];
        assert_eq!(d["leadId"], lead.to_string(), "{e}");
        let detail = d["kind"].as_str().or(d["reason"].as_str()).unwrap_or("");
        seen.push(format!(
            "{}:{detail}:{}",
            e["type"].as_str().unwrap(),
            d["step"]
        ));
    }
    seen
}

#[tokio::test]
async fn a_step_run_again_after_a_crash_between_send_and_record_is_not_sent_twice() {
    let (app, sink) = app_with_sink().await;
    let (org, token) = org_with(&app, Role::Member).await;
    let domain = format!("c{}.test", Uuid::now_v7().simple());
    let leads = insert_leads(&app, org, &domain, 1).await;
    let to = format!("lead0@{domain}");
    let t = template(&app, &token, "<p>Hi</p>", "Hi").await;
    let seq = three_steps(&app, &token, &t).await;
    ok(
        &app,
        &token,
        ENROLL,
        json!({"id": seq, "l": [leads[0].to_string()]}),
    )
    .await;
    wait_until("step 1 recorded", || async {
        enrollment(&app, &seq).await.current_step == 1
    })
    .await;
    assert_eq!(sequence_mails(&sink, &to).len(), 1);

    // The crash: the message left, the record never committed (row SENDING, enrollment at 0).
    let e = enrollment(&app, &seq).await;
    entity::sequence_send::Entity::update_many()
        .col_expr(
            entity::sequence_send::Column::Status,
            Expr::value("SENDING"),
        )
        .filter(entity::sequence_send::Column::EnrollmentId.eq(e.id))
        .exec(&app.state.db)
        .await
        .unwrap();
    entity::sequence_enrollment::Entity::update_many()
        .col_expr(
            entity::sequence_enrollment::Column::CurrentStep,
            Expr::value(0),
        )
        .col_expr(
            entity::sequence_enrollment::Column::NextStepAt,
            Expr::value(Some(Utc::now())),
        )
        .filter(entity::sequence_enrollment::Column::Id.eq(e.id))
        .exec(&app.state.db)
        .await
        .unwrap();

    // The retried job: UNCERTAIN, moved on, not resent; once more: nothing.
    let now = Utc::now();
    let first = sequences::run_step(&app.state, e.id, 0, now).await.unwrap();
    assert_eq!(first, sequences::StepOutcome::Uncertain);
    let second = sequences::run_step(&app.state, e.id, 0, now).await.unwrap();
    assert!(
        matches!(second, sequences::StepOutcome::Skipped(_)),
        "{second:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sequence_mails(&sink, &to).len(), 1, "sent once");
    let e = enrollment(&app, &seq).await;
    assert_eq!((e.status.as_str(), e.current_step), ("ACTIVE", 1));
    let sends = entity::sequence_send::Entity::find()
        .filter(entity::sequence_send::Column::EnrollmentId.eq(e.id))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].status, "UNCERTAIN");

    // Unenrolled by hand: stopped with its reason, nothing more sent.
    let v = ok(
        &app,
        &token,
        UNENROLL,
        json!({"id": seq, "l": [leads[0].to_string()]}),
    )
    .await;
    assert_eq!(v["unenrollFromSequence"], 1);
    let e = enrollment(&app, &seq).await;
    assert_eq!(e.stop_reason.as_deref(), Some("UNENROLLED"));
    let days = now + chrono::Duration::days(9);
    assert_eq!(sequences::run_due(&app.state, days).await.unwrap(), 0);
}

#[tokio::test]
async fn another_organization_and_anonymous_callers_see_nothing() {
    let app = TestApp::spawn().await;
    let (org, token) = org_with(&app, Role::Manager).await;
    let (other, other_token) = org_with(&app, Role::Manager).await;
    let t = template(&app, &token, "<p>Hi</p>", "Hi").await;
    let seq = three_steps(&app, &token, &t).await;
    let theirs = insert_leads(&app, other, "other.test", 1).await;
    let mine = insert_leads(&app, org, "mine.test", 1).await;

    let v = ok(&app, &other_token, GET, json!({"id": seq})).await;
    assert_eq!(v["sequence"], Value::Null);
    let steps = json!([{"templateId": t, "waitDays": 0}]);
    for (q, vars) in [
        (UPDATE, json!({"id": seq, "i": {"name": "x"}})),
        (DELETE, json!({"id": seq})),
        (PAUSE, json!({"id": seq})),
        (RESUME, json!({"id": seq})),
        (ENROLL, json!({"id": seq, "l": [theirs[0].to_string()]})),
        (UNENROLL, json!({"id": seq, "l": [theirs[0].to_string()]})),
        (STATS, json!({"id": seq})),
    ] {
        let v = app.gql(Some(&other_token), q, vars).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
    }
    // Their template and their lead are unknown here.
    let v = app
        .gql(
            Some(&other_token),
            CREATE,
            json!({"i": {"name": "x", "steps": steps}}),
        )
        .await;
    assert_eq!(field_errors(&v), vec!["input.steps[0].templateId"]);
    let v = app
        .gql(
            Some(&token),
            ENROLL,
            json!({"id": seq, "l": [theirs[0].to_string()]}),
        )
        .await;
    assert_eq!(field_errors(&v), vec!["input.leadIds"]);
    // Nobody signed in.
    for (q, vars) in [
        (GET, json!({"id": seq})),
        (STATS, json!({"id": seq})),
        (ENROLL, json!({"id": seq, "l": [mine[0].to_string()]})),
        (CREATE, json!({"i": {"name": "x", "steps": steps}})),
    ] {
        let v = app.gql(None, q, vars).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{q}: {v}");
    }
    let v = app
        .gql(None, "{ sequences { totalCount } }", json!({}))
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");

    // The owner still can: pause, resume, delete (events recorded).
    let v = ok(&app, &token, PAUSE, json!({"id": seq})).await;
    assert_eq!(v["pauseSequence"]["status"], "PAUSED");
    let v = ok(&app, &token, RESUME, json!({"id": seq})).await;
    assert_eq!(v["resumeSequence"]["status"], "ACTIVE");
    let v = ok(&app, &token, DELETE, json!({"id": seq})).await;
    assert_eq!(v["deleteSequence"], true);
    assert_eq!(
        event_types(&app, org).await,
        vec![
            "sequence.changed:created",
            "sequence.changed:paused",
            "sequence.changed:resumed",
            "sequence.changed:deleted"
        ],
    );
    assert!(event_types(&app, other).await.is_empty());
}

#[tokio::test]
async fn invalid_input_names_the_field() {
    let app = TestApp::spawn().await;
    let (_, token) = org_with(&app, Role::Member).await;
    let t = template(&app, &token, "<p>Hi</p>", "Hi").await;
    let unknown = Uuid::now_v7().to_string();
    for (input, fields) in [
        (json!({"name": "x", "steps": []}), vec!["input.steps"]),
        (
            json!({"name": "x", "steps": [{"templateId": unknown, "waitDays": 0}]}),
            vec!["input.steps[0].templateId"],
        ),
        (
            json!({"name": "x", "steps": [{"templateId": "nope", "waitDays": 0}]}),
            vec!["input.steps[0].templateId"],
        ),
        (
            json!({"name": "x", "steps": [{"templateId": t, "waitDays": 0}, {"templateId": t, "waitDays": -1}]}),
            vec!["input.steps[1].waitDays"],
        ),
        (
            json!({"name": " ", "steps": [{"templateId": t, "waitDays": 0}]}),
            vec!["input.name"],
        ),
    ] {
        let v = app.gql(Some(&token), CREATE, json!({"i": input})).await;
        assert_eq!(field_errors(&v), fields, "{input}");
    }
    let seq = three_steps(&app, &token, &t).await;
    let v = app
        .gql(Some(&token), ENROLL, json!({"id": seq, "l": []}))
        .await;
    assert_eq!(field_errors(&v), vec!["input.leadIds"]);
    let v = app
        .gql(Some(&token), UPDATE, json!({"id": seq, "i": {"steps": []}}))
        .await;
    assert_eq!(field_errors(&v), vec!["input.steps"]);
}

#[tokio::test]
async fn the_list_costs_the_same_statements_at_any_page_size() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let (_, token) = org_with(&app, Role::Member).await;
    let t = template(&app, &token, "<p>Hi</p>", "Hi").await;
    for _ in 0..31 {
        three_steps(&app, &token, &t).await;
    }
    let q = "query($n: Int!) { sequences(first: $n) { nodes { id name status steps { position templateId waitDays onlyIfNotOpened } createdAt } } }";
    ok(&app, &token, q, json!({"n": 1})).await;
    let mut counts = Vec::new();
    for n in [5, 30] {
        app.state.sql_log.take();
        let v = ok(&app, &token, q, json!({"n": n})).await;
        assert_eq!(v["sequences"]["nodes"].as_array().unwrap().len(), n);
        counts.push(app.request_statements().len());
    }
    assert_eq!(counts[0], counts[1], "statements at 5 / 30");
    assert!(
        counts[0] <= 2,
        "one page statement (and the viewer's): {counts:?}"
    );
}

#[tokio::test]
async fn a_business_day_wait_skips_the_weekend_of_the_organizations_time_zone() {
    use chrono::{Datelike, TimeZone, Weekday};
    let app = TestApp::spawn().await;
    let (org, token) = org_with(&app, Role::Member).await;
    entity::organization::Entity::update_many()
        .col_expr(
            entity::organization::Column::Timezone,
            Expr::value("America/New_York"),
        )
        .filter(entity::organization::Column::Id.eq(org))
        .exec(&app.state.db)
        .await
        .unwrap();
    let lead = insert_leads(&app, org, "bdays.test", 1).await[0];
    let t = template(&app, &token, "<p>Hi</p>", "Hi").await;
    let steps = json!([
        {"templateId": t, "waitDays": 1},
        {"templateId": t, "waitDays": 1, "businessDays": true},
    ]);
    let v = ok(
        &app,
        &token,
        CREATE,
        json!({"i": {"name": "B", "steps": steps}}),
    )
    .await;
    let seq = v["createSequence"]["id"].as_str().unwrap().to_string();
    let v = ok(
        &app,
        &token,
        "query($id: ID!) { sequence(id: $id) { steps { waitDays businessDays } } }",
        json!({"id": seq}),
    )
    .await;
    assert_eq!(
        v["sequence"]["steps"],
        json!([{"waitDays": 1, "businessDays": false}, {"waitDays": 1, "businessDays": true}])
    );
    ok(
        &app,
        &token,
        ENROLL,
        json!({"id": seq, "l": [lead.to_string()]}),
    )
    .await;
    let e = enrollment(&app, &seq).await;

    // Step 1 runs on a Friday at 16:00 in New York (after its due time); one business day
    // later is Monday 16:00 there, not Saturday.
    let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let mut friday = (Utc::now() + chrono::Duration::days(2))
        .with_timezone(&tz)
        .date_naive();
    while friday.weekday() != Weekday::Fri {
        friday += chrono::Duration::days(1);
    }
    let local = |d: chrono::NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(16, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };
    let at = local(friday);
    let outcome = sequences::run_step(&app.state, e.id, 0, at).await.unwrap();
    assert_eq!(outcome, sequences::StepOutcome::Sent);
    let monday = local(friday + chrono::Duration::days(3));
    let e = enrollment(&app, &seq).await;
    assert_eq!(e.next_step_at, Some(monday));
    // Nothing over the weekend; Monday the step goes out.
    let sunday = at + chrono::Duration::days(2);
    assert_eq!(sequences::run_due(&app.state, sunday).await.unwrap(), 0);
    let after = monday + chrono::Duration::minutes(1);
    assert_eq!(sequences::run_due(&app.state, after).await.unwrap(), 1);
    assert_eq!(enrollment(&app, &seq).await.status, "COMPLETED");
}
