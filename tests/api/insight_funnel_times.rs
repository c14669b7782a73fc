//! `conversionFunnel`'s median time between consecutive stages, against durations computed by
//! hand from the fixture below (never read back from the code under test), on both backends;
//! another organization's faster lead shares the database and must not move any median; the
//! medians cost one statement, and only when asked for.
//!
//! Fixture (UTC organization; period 05-01 .. 05-08), each lead's stage times:
//!
//! | lead | created | contacted (first send, contact or status change) | replied | qualified | deal | won |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | P1 | 05-01 00:00 | 00:30 (contact; send at 01:00) | 01:00 | 03:00 | 05-02 01:00 | 05-03 01:00 |
//! | P2 | 05-02 00:00 | 04:00 (send; status CONTACTED at 06:00) | — | 10:00 (CONVERTED) | 12:00 | open |
//! | P3 | 05-03 00:00 | 02:00 (status QUALIFIED) | — | 02:00 | 08:00 | 20:00 |
//! | P4 | 05-04 00:00 | 05-03 12:00 (a send before it was created) | 05-03 12:00 | — | 04-01 00:00 | 05-05 00:00 |
//! | P5 | 05-05 00:00 | — | — | — | — | — |
//!
//! Durations in order (a pair with a missing time, or out of order, is left out):
//! contacted: P1 1,800, P2 14,400, P3 7,200 (P4 out of order) → median 7,200;
//! replied: P1 1,800, P4 0 → 900 (mean of the two middle values);
//! qualified: P1 7,200 → 7,200; deal: P1 79,200, P2 7,200, P3 21,600 → 21,600 (P4 has no
//! qualified time); won: P1 86,400, P3 43,200, P4 2,937,600 → 86,400.

use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{self, ok},
    helpers::{code, Options, TestApp},
    insight_funnel::{campaign, lead, send, stage, t},
};

const TIMES: &str = "query($r: DateRangeInput) { conversionFunnel(range: $r) { stages { stage count medianSecondsFromPrevious } } }";
const COUNTS: &str =
    "query($r: DateRangeInput) { conversionFunnel(range: $r) { stages { stage count } } }";

fn period() -> Value {
    json!({"r": {"from": "2026-05-01T00:00:00Z", "to": "2026-05-08T00:00:00Z"}})
}

/// A timeline entry of `lead` (`contacted`, or `status_changed` to `to`).
async fn interaction(app: &TestApp, org: Uuid, lead: Uuid, kind: &str, to: &str, at: &str) {
    entity::lead_interaction::ActiveModel {
        id: Set(Uuid::now_v7()),
        lead_id: Set(lead),
        org_id: Set(org),
        kind: Set(kind.into()),
        actor_id: Set(None),
        data: Set(json!({"from": "NEW", "to": to})),
        created_at: Set(t(at)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

/// A deal of `lead` created at `created`, WON at `won` (None: open).
async fn deal(
    app: &TestApp,
    org: Uuid,
    stage: (Uuid, Uuid),
    lead: Uuid,
    created: &str,
    won: Option<&str>,
) {
    entity::deal::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org),
        pipeline_id: Set(stage.0),
        stage_id: Set(stage.1),
        lead_id: Set(Some(lead)),
        title: Set("Deal".into()),
        amount_minor: Set(1_000),
        currency: Set("EUR".into()),
        status: Set(if won.is_some() { "WON" } else { "OPEN" }.into()),
        lost_reason: Set(None),
        owner_id: Set(None),
        expected_close_date: Set(None),
        closed_at: Set(won.map(t)),
        created_by: Set(None),
        created_at: Set(t(created)),
        updated_at: Set(t(created)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

/// The fixture organization; its token.
async fn fixture(app: &TestApp) -> String {
    let (org, token) = fixtures::org_with(app, Role::Owner).await;
    let tpl = fixtures::template(app, &token, "<p>Hi</p>", "Hi").await;
    let c = campaign(app, &token, &tpl).await;
    let st = stage(app, &token).await;
    let p1 = lead(
        app,
        org,
        "2026-05-01T00:00:00Z",
        "CONVERTED",
        "MANUAL",
        None,
    )
    .await;
    interaction(app, org, p1, "contacted", "NEW", "2026-05-01T00:30:00Z").await;
    send(app, org, c, p1, "2026-05-01T01:00:00Z", true).await;
    interaction(
        app,
        org,
        p1,
        "status_changed",
        "QUALIFIED",
        "2026-05-01T03:00:00Z",
    )
    .await;
    deal(
        app,
        org,
        st,
        p1,
        "2026-05-02T01:00:00Z",
        Some("2026-05-03T01:00:00Z"),
    )
    .await;
    let p2 = lead(
        app,
        org,
        "2026-05-02T00:00:00Z",
        "CONVERTED",
        "MANUAL",
        None,
    )
    .await;
    send(app, org, c, p2, "2026-05-02T04:00:00Z", false).await;
    interaction(
        app,
        org,
        p2,
        "status_changed",
        "CONTACTED",
        "2026-05-02T06:00:00Z",
    )
    .await;
    interaction(
        app,
        org,
        p2,
        "status_changed",
        "CONVERTED",
        "2026-05-02T10:00:00Z",
    )
    .await;
    deal(app, org, st, p2, "2026-05-02T12:00:00Z", None).await;
    let p3 = lead(
        app,
        org,
        "2026-05-03T00:00:00Z",
        "QUALIFIED",
        "MANUAL",
        None,
    )
    .await;
    interaction(
        app,
        org,
        p3,
        "status_changed",
        "QUALIFIED",
        "2026-05-03T02:00:00Z",
    )
    .await;
    deal(
        app,
        org,
        st,
        p3,
        "2026-05-03T08:00:00Z",
        Some("2026-05-03T20:00:00Z"),
    )
    .await;
    let p4 = lead(app, org, "2026-05-04T00:00:00Z", "NEW", "IMPORT", None).await;
    send(app, org, c, p4, "2026-05-03T12:00:00Z", true).await;
    deal(
        app,
        org,
        st,
        p4,
        "2026-04-01T00:00:00Z",
        Some("2026-05-05T00:00:00Z"),
    )
    .await;
    lead(app, org, "2026-05-05T00:00:00Z", "NEW", "MANUAL", None).await; // P5
                                                                         // Outside the period: a lead contacted one second after it was created.
    let early = lead(app, org, "2026-04-20T00:00:00Z", "NEW", "MANUAL", None).await;
    send(app, org, c, early, "2026-04-20T00:00:01Z", false).await;
    token
}

/// Another organization: one lead of the same period, contacted 10 s after it was created.
async fn other(app: &TestApp) -> String {
    let (org, token) = fixtures::org_with(app, Role::Owner).await;
    let tpl = fixtures::template(app, &token, "<p>Yo</p>", "Yo").await;
    let c = campaign(app, &token, &tpl).await;
    let l = lead(app, org, "2026-05-01T00:00:00Z", "NEW", "MANUAL", None).await;
    send(app, org, c, l, "2026-05-01T00:00:10Z", false).await;
    token
}

fn medians(v: &Value) -> Vec<Option<f64>> {
    v["conversionFunnel"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["medianSecondsFromPrevious"].as_f64())
        .collect()
}

#[tokio::test]
async fn medians_between_stages_are_the_hand_computed_ones_of_this_organization_only() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let token = fixture(&app).await;
    let other = other(&app).await;
    app.request_statements();
    let counts = ok(&app, &token, COUNTS, period()).await;
    let without = app.request_statements().len();
    let v = ok(&app, &token, TIMES, period()).await;
    let with = app.request_statements().len();
    assert_eq!(
        medians(&v),
        [
            None,
            Some(7_200.0),
            Some(900.0),
            Some(7_200.0),
            Some(21_600.0),
            Some(86_400.0)
        ],
        "{v}"
    );
    // The counts are the same either way; the medians are one more statement.
    for (a, b) in counts["conversionFunnel"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .zip(v["conversionFunnel"]["stages"].as_array().unwrap())
    {
        assert_eq!(a["count"], b["count"]);
    }
    assert_eq!(with, without + 1, "{without} without the medians");
    let o = ok(&app, &other, TIMES, period()).await;
    assert_eq!(medians(&o), [None, Some(10.0), None, None, None, None]);
    let v = app.gql(None, TIMES, period()).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
}
