//! Schedules: `*/1 * * * *` over ten simulated minutes with two instances ticking the same
//! database fires exactly ten runs (and ten webhook deliveries of `schedule.fired`); the DST
//! rule in America/New_York (spring forward: 02:30 runs at 03:00 EDT; fall back: 01:30 runs
//! once, an interval schedule runs in both passes); pause/resume; invalid cron and time zone
//! name the field; another organization, no credentials, roles; the events; statement counts.

use chrono::{DateTime, Duration, Utc};
use leadgraph::{auth::Role, domains::webhooks::tick_schedules};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, member, ok, org_named, Person},
    helpers::{code, Options, TestApp},
};

const CREATE: &str = "mutation($i: CreateScheduleInput!) { createSchedule(input: $i) { id name cron timezone action payload status nextRunAt lastRunAt } }";
const RUNS: &str = "query($s: ID!, $n: Int) { scheduleRuns(scheduleId: $s, first: $n) { nodes { id scheduleId scheduledAt status eventId firedAt } } }";

async fn admin(app: &TestApp) -> (Uuid, Person) {
    let org = org_named(app, &format!("Cron {}", Uuid::now_v7().simple())).await;
    (org, member(app, org, Role::Admin, "Ada").await)
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Creates a schedule: (id, nextRunAt).
async fn schedule(app: &TestApp, who: &Person, cron: &str, tz: &str) -> (String, DateTime<Utc>) {
    let v = ok(
        app,
        &who.token,
        CREATE,
        json!({"i": {"name": "Nightly", "cron": cron, "timezone": tz, "payload": {"k": 1}}}),
    )
    .await;
    let s = &v["createSchedule"];
    (
        s["id"].as_str().unwrap().to_string(),
        at(s["nextRunAt"].as_str().unwrap()),
    )
}

/// Every run of `id` (scheduledAt), oldest first.
async fn run_times(app: &TestApp, id: &str) -> Vec<DateTime<Utc>> {
    let rows = entity::schedule_run::Entity::find()
        .filter(entity::schedule_run::Column::ScheduleId.eq(Uuid::parse_str(id).unwrap()))
        .order_by_asc(entity::schedule_run::Column::ScheduledAt)
        .all(&app.state.db)
        .await
        .unwrap();
    rows.into_iter().map(|r| r.scheduled_at).collect()
}

/// The data of the outbox rows of `org` of type `ty`.
async fn events(app: &TestApp, org: Uuid, ty: &str) -> Vec<Value> {
    entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq(ty))
        .order_by_asc(entity::outbox_event::Column::Seq)
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.payload["data"].clone())
        .collect()
}

#[tokio::test]
async fn every_minute_over_ten_simulated_minutes_on_two_instances_fires_ten_runs_once_each() {
    let a = TestApp::spawn().await;
    let b = TestApp::spawn_with(Options {
        db_url: Some(a.db_url.clone()),
        ..Default::default()
    })
    .await;
    let (org, ada) = admin(&a).await;
    // An endpoint taking SCHEDULE_FIRED: the action reaches webhooks through the outbox.
    let ep = ok(
        &a,
        &ada.token,
        "mutation { createWebhookEndpoint(input: {url: \"https://example.com/cron\", eventTypes: [SCHEDULE_FIRED]}) { endpoint { id } } }",
        json!({}),
    )
    .await["createWebhookEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (id, first) = schedule(&a, &ada, "*/1 * * * *", "UTC").await;
    // Every 20 simulated seconds for ten minutes, both instances at once.
    let mut fired = 0;
    for step in 0..30 {
        let now = first + Duration::seconds(20 * step);
        let (x, y) = tokio::join!(tick_schedules(&a.state, now), tick_schedules(&b.state, now));
        fired += x.unwrap() + y.unwrap();
    }
    let runs = run_times(&a, &id).await;
    let expected: Vec<_> = (0..10).map(|m| first + Duration::minutes(m)).collect();
    assert_eq!(runs, expected, "one run per minute, none twice");
    // The background tickers run on the real clock, before `first` + 1 minute: they may have
    // taken the first occurrence, never an extra one.
    assert!((9..=10).contains(&fired), "{fired}");
    let fired_events = events(&a, org, "schedule.fired").await;
    assert_eq!(fired_events.len(), 10);
    assert_eq!(fired_events[0]["scheduleId"], json!(id));
    assert_eq!(fired_events[0]["payload"], json!({"k": 1}));
    let deliveries = entity::webhook_delivery::Entity::find()
        .filter(entity::webhook_delivery::Column::EndpointId.eq(Uuid::parse_str(&ep).unwrap()))
        .filter(entity::webhook_delivery::Column::EventType.eq("schedule.fired"))
        .count(&a.state.db)
        .await
        .unwrap();
    assert_eq!(deliveries, 10, "one webhook delivery per run");
    let v = ok(
        &a,
        &ada.token,
        &format!("{{ schedule(id: \"{id}\") {{ nextRunAt lastRunAt }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(
        at(v["schedule"]["lastRunAt"].as_str().unwrap()),
        first + Duration::minutes(9)
    );
    let v = ok(&a, &ada.token, RUNS, json!({"s": id, "n": 3})).await;
    let newest = &v["scheduleRuns"]["nodes"][0];
    assert_eq!(
        at(newest["scheduledAt"].as_str().unwrap()),
        first + Duration::minutes(9)
    );
    assert_eq!(newest["status"], "FIRED");
}

/// Ticks `app` every 10 simulated minutes from `from` to `to`.
async fn tick_through(app: &TestApp, from: &str, to: &str) {
    let (mut now, end) = (at(from), at(to));
    while now <= end {
        tick_schedules(&app.state, now).await.unwrap();
        now += Duration::minutes(10);
    }
}

#[tokio::test]
async fn dst_spring_forward_runs_at_the_end_of_the_gap_and_fall_back_runs_once() {
    let app = TestApp::spawn().await;
    let (_, ada) = admin(&app).await;
    let ny = "America/New_York";
    let (spring, _) = schedule(&app, &ada, "30 2 * * *", ny).await;
    let (fall, _) = schedule(&app, &ada, "30 1 * * *", ny).await;
    let (half_hourly, _) = schedule(&app, &ada, "*/30 * * * *", ny).await;
    // 2027-03-14: 02:00 EST jumps to 03:00 EDT (07:00 UTC). The first tick fires the occurrence
    // missed since creation once (RUN_ONCE), then the day's own.
    tick_through(&app, "2027-03-14T04:00:00Z", "2027-03-14T12:00:00Z").await;
    let day = |runs: Vec<DateTime<Utc>>, d: &str| -> Vec<DateTime<Utc>> {
        runs.into_iter()
            .filter(|r| r.to_rfc3339().starts_with(d))
            .collect()
    };
    assert_eq!(
        day(run_times(&app, &spring).await, "2027-03-14"),
        vec![at("2027-03-14T07:00:00Z")],
        "02:30 does not exist: it runs once, at 03:00 EDT"
    );
    // 2027-11-07: 02:00 EDT falls back to 01:00 EST (06:00 UTC); 01:30 happens twice.
    tick_through(&app, "2027-11-07T03:00:00Z", "2027-11-07T09:00:00Z").await;
    assert_eq!(
        day(run_times(&app, &fall).await, "2027-11-07"),
        vec![at("2027-11-07T05:30:00Z")],
        "01:30 runs once, at the first (EDT) 01:30"
    );
    let fall_day: Vec<_> = day(run_times(&app, &half_hourly).await, "2027-11-07")
        .into_iter()
        .filter(|r| *r >= at("2027-11-07T04:30:00Z") && *r <= at("2027-11-07T07:30:00Z"))
        .collect();
    assert_eq!(
        fall_day,
        ["04:30", "05:00", "05:30", "06:00", "06:30", "07:00", "07:30"]
            .iter()
            .map(|t| at(&format!("2027-11-07T{t}:00Z")))
            .collect::<Vec<_>>(),
        "an interval schedule runs in both passes of the repeated hour"
    );
    // The preview follows the same rule.
    let v = ok(
        &app,
        &ada.token,
        "query($a: DateTime!) { spring: nextRuns(cron: \"30 2 * * *\", timezone: \"America/New_York\", count: 2, after: $a) }",
        json!({"a": "2027-03-13T12:00:00Z"}),
    )
    .await;
    let got: Vec<_> = v["spring"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| at(s.as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![at("2027-03-14T07:00:00Z"), at("2027-03-15T06:30:00Z")]
    );
}

#[tokio::test]
async fn pause_resume_update_delete_and_their_events() {
    let app = TestApp::spawn().await;
    let (org, ada) = admin(&app).await;
    let (id, first) = schedule(&app, &ada, "0 9 * * MON-FRI", "Europe/Paris").await;
    let q = |m: &str| format!("mutation($id: ID!) {{ {m}(id: $id) {{ status nextRunAt }} }}");
    let v = ok(&app, &ada.token, &q("pauseSchedule"), json!({"id": id})).await;
    assert_eq!(
        v["pauseSchedule"],
        json!({"status": "PAUSED", "nextRunAt": null})
    );
    // Paused: nothing fires, however late.
    tick_schedules(&app.state, first + Duration::days(30))
        .await
        .unwrap();
    assert!(run_times(&app, &id).await.is_empty());
    let v = ok(&app, &ada.token, &q("resumeSchedule"), json!({"id": id})).await;
    assert_eq!(v["resumeSchedule"]["status"], "ACTIVE");
    let v = ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { updateSchedule(id: $id, input: {cron: \"15 8 * * *\", timezone: \"UTC\", name: \" Daily \"}) { name cron timezone nextRunAt } }",
        json!({"id": id}),
    )
    .await;
    let next = at(v["updateSchedule"]["nextRunAt"].as_str().unwrap());
    assert_eq!(next.format("%H:%M").to_string(), "08:15");
    assert_eq!(v["updateSchedule"]["name"], "Daily");
    let v = ok(
        &app,
        &ada.token,
        "mutation($id: ID!) { deleteSchedule(id: $id) }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(v["deleteSchedule"], true);
    let actions: Vec<_> = events(&app, org, "schedule.changed")
        .await
        .into_iter()
        .map(|p| p["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        ["created", "paused", "resumed", "updated", "deleted"]
    );
}

#[tokio::test]
async fn invalid_cron_and_unknown_time_zone_name_the_field() {
    let app = TestApp::spawn().await;
    let (_, ada) = admin(&app).await;
    for (input, fields) in [
        (
            json!({"name": "x", "cron": "61 * * * *", "timezone": "Mars/Olympus"}),
            vec!["cron", "timezone"],
        ),
        (
            json!({"name": "x", "cron": "* * *", "timezone": "UTC"}),
            vec!["cron"],
        ),
        (
            json!({"name": " ", "cron": "* * * * *", "timezone": "UTC", "payload": [1]}),
            vec!["name", "payload"],
        ),
        (
            json!({"name": "x", "cron": "0 0 30 2 *", "timezone": "UTC"}),
            vec!["cron"],
        ),
    ] {
        let v = app.gql(Some(&ada.token), CREATE, json!({"i": input})).await;
        assert_eq!(field_errors(&v), fields, "{input}: {v}");
    }
    let v = app
        .gql(
            Some(&ada.token),
            "{ nextRuns(cron: \"* 25 * * *\", timezone: \"UTC\") }",
            json!({}),
        )
        .await;
    assert_eq!(field_errors(&v), ["cron"]);
    let message = v["errors"][0]["extensions"]["fields"][0]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("field 2 (hour)"), "{message}");
    let v = app
        .gql(
            Some(&ada.token),
            "{ nextRuns(cron: \"* * * * *\", timezone: \"UTC\", count: 0) }",
            json!({}),
        )
        .await;
    assert_eq!(field_errors(&v), ["count"]);
    let (id, _) = schedule(&app, &ada, "* * * * *", "UTC").await;
    let v = app
        .gql(
            Some(&ada.token),
            "mutation($id: ID!) { updateSchedule(id: $id, input: {timezone: \"Nowhere\"}) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(field_errors(&v), ["timezone"]);
    let entity_count = entity::schedule::Entity::find()
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(entity_count, 1, "nothing invalid was written");
}

#[tokio::test]
async fn another_organization_and_missing_credentials_and_roles() {
    let app = TestApp::spawn().await;
    let (org, ada) = admin(&app).await;
    let (id, _) = schedule(&app, &ada, "*/5 * * * *", "UTC").await;
    let (_, eve) = admin(&app).await;
    let missing = Uuid::now_v7().to_string();
    for q in [
        "query($id: ID!) { scheduleRuns(scheduleId: $id) { nodes { id } } }",
        "mutation($id: ID!) { updateSchedule(id: $id, input: {name: \"x\"}) { id } }",
        "mutation($id: ID!) { deleteSchedule(id: $id) }",
        "mutation($id: ID!) { pauseSchedule(id: $id) { id } }",
        "mutation($id: ID!) { resumeSchedule(id: $id) { id } }",
    ] {
        let theirs = app.gql(Some(&eve.token), q, json!({"id": id})).await;
        let none = app.gql(Some(&eve.token), q, json!({"id": missing})).await;
        assert_eq!(code(&theirs), Some("NOT_FOUND"), "{q}: {theirs}");
        assert_eq!(
            theirs["errors"][0]["message"], none["errors"][0]["message"],
            "{q}"
        );
    }
    let v = ok(
        &app,
        &eve.token,
        "query($id: ID!) { schedule(id: $id) { id } schedules { nodes { id } } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(v, json!({"schedule": null, "schedules": {"nodes": []}}));
    let mine = ok(
        &app,
        &ada.token,
        "query($id: ID!) { schedule(id: $id) { name status } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(
        mine["schedule"],
        json!({"name": "Nightly", "status": "ACTIVE"})
    );
    let v = app
        .gql(None, "{ schedules { nodes { id } } }", json!({}))
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let mgr = member(&app, org, Role::Manager, "Max").await;
    for q in [
        "{ schedules { nodes { id } } }",
        "{ nextRuns(cron: \"* * * * *\", timezone: \"UTC\") }",
        "mutation { createSchedule(input: {name: \"x\", cron: \"* * * * *\", timezone: \"UTC\"}) { id } }",
    ] {
        let v = app.gql(Some(&mgr.token), q, json!({})).await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "{q}: {v}");
    }
}

#[tokio::test]
async fn lists_cost_the_same_statements_at_any_page_size() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let (_, ada) = admin(&app).await;
    let mut id = String::new();
    let mut first = Utc::now();
    for _ in 0..12 {
        (id, first) = schedule(&app, &ada, "* * * * *", "UTC").await;
    }
    for m in 0..12 {
        tick_schedules(&app.state, first + Duration::minutes(m))
            .await
            .unwrap();
    }
    let list = "query($n: Int) { schedules(first: $n) { nodes { id name cron timezone action payload status nextRunAt lastRunAt createdAt updatedAt } } }";
    for (q, root, vars) in [
        (list, "schedules", json!({})),
        (RUNS, "scheduleRuns", json!({"s": id})),
    ] {
        let mut counts = Vec::new();
        for n in [3, 10] {
            let mut vars = vars.clone();
            vars["n"] = json!(n);
            app.state.sql_log.take();
            let v = ok(&app, &ada.token, q, vars).await;
            assert_eq!(v[root]["nodes"].as_array().unwrap().len(), n, "{v}");
            counts.push(app.request_statements().len());
        }
        assert_eq!(counts[0], counts[1], "{root}: statements at first = 3 / 10");
    }
}
