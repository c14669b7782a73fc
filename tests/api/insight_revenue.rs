//! Insight, third slice: `revenueAnalytics` (won deals by time of closing, source, last-touch
//! campaign and owner, per currency). Every number asserted is computed by hand in the comments
//! of [`fixture`]; another organization's won deal in the same period must never be counted.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{self, field_errors, ok},
    helpers::{code, Options, TestApp},
};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn lead(app: &TestApp, org: Uuid, source: &str) -> Uuid {
    let id = Uuid::now_v7();
    let at = t("2026-01-05T12:00:00Z");
    entity::lead::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        first_name: Set(Some("F".into())),
        last_name: Set(None),
        email: Set(Some(format!("{}@leads.test", id.simple()))),
        phone: Set(None),
        company: Set("Co".into()),
        title: Set(None),
        website: Set(None),
        industry: Set(None),
        city: Set(None),
        region: Set(None),
        country: Set(None),
        latitude: Set(None),
        longitude: Set(None),
        source: Set(source.into()),
        status: Set("CONVERTED".into()),
        score: Set(0),
        score_reasons: Set(json!([])),
        custom_fields: Set(json!({})),
        provenance: Set(json!({})),
        owner_id: Set(None),
        last_contacted_at: Set(None),
        email_status: Set(None),
        validated_at: Set(None),
        phone_type: Set(None),
        phone_carrier: Set(None),
        phone_country: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    id
}

/// A send of `campaign` to `lead` at `sent`.
async fn send(app: &TestApp, org: Uuid, campaign: Uuid, lead: Uuid, sent: &str) {
    let id = Uuid::now_v7();
    let at = t(sent);
    entity::campaign_recipient::ActiveModel {
        id: Set(id),
        campaign_id: Set(campaign),
        org_id: Set(org),
        lead_id: Set(Some(lead)),
        email: Set(format!("{}@leads.test", lead.simple())),
        status: Set("SENT".into()),
        variant: Set(None),
        message_id: Set(format!("<{id}@sender.test>")),
        attempts: Set(1),
        open_count: Set(0),
        click_count: Set(0),
        sent_at: Set(Some(at)),
        opened_at: Set(None),
        clicked_at: Set(None),
        replied_at: Set(None),
        bounced_at: Set(None),
        bounce_kind: Set(None),
        unsubscribed_at: Set(None),
        last_event_at: Set(Some(at)),
        error: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

/// A deal written directly: its lead and owner (None: none), status, close time and value.
struct D<'a> {
    lead: Option<Uuid>,
    owner: Option<Uuid>,
    status: &'a str,
    closed: Option<&'a str>,
    amount: i64,
    currency: &'a str,
}

async fn deal(app: &TestApp, org: Uuid, stage: (Uuid, Uuid), d: D<'_>) {
    entity::deal::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org),
        pipeline_id: Set(stage.0),
        stage_id: Set(stage.1),
        lead_id: Set(d.lead),
        title: Set("Deal".into()),
        amount_minor: Set(d.amount),
        currency: Set(d.currency.into()),
        status: Set(d.status.into()),
        lost_reason: Set((d.status == "LOST").then(|| "price".to_string())),
        owner_id: Set(d.owner),
        expected_close_date: Set(None),
        closed_at: Set(d.closed.map(t)),
        created_by: Set(None),
        created_at: Set(t("2026-01-10T00:00:00Z")),
        updated_at: Set(t("2026-01-10T00:00:00Z")),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

async fn stage(app: &TestApp, token: &str) -> (Uuid, Uuid) {
    let v = ok(app, token, "mutation { createPipeline(input: {name: \"Sales\", stages: [{name: \"Lead\", winProbability: 10}]}) { id stages { id } } }", json!({})).await;
    let p = &v["createPipeline"];
    let id = |v: &Value| Uuid::parse_str(v.as_str().unwrap()).unwrap();
    (id(&p["id"]), id(&p["stages"][0]["id"]))
}

async fn campaign(app: &TestApp, token: &str) -> Uuid {
    let tpl = fixtures::template(app, token, "<p>Hi</p>", "Hi").await;
    Uuid::parse_str(&fixtures::campaign(app, token, &tpl, None).await).unwrap()
}

/// What the fixture names: the organization, a token, campaigns C1 and C2, owners Olga and Pete.
struct Fx {
    org: Uuid,
    token: String,
    c2: Uuid,
    olga: Uuid,
    pete: Uuid,
}

/// The fixture organization (America/New_York); period: local days 03-01..03-14 =
/// [03-01T05:00Z (EST), 03-15T04:00Z (EDT)).
///
/// Leads LA (IMPORT) and LB (WEBSITE). Sends: C1 → LA 03-02 14:00Z, C2 → LA 03-05 14:00Z,
/// C2 → LB 03-20. Won deals closed in the period:
/// - W1 LA, Olga, 10,000 EUR at 03-06 12:00Z (local 03-06): last touch C2.
/// - W2 LA, Pete, 5,001 EUR at 03-02 04:30Z (local 03-01 23:30): no send before it.
/// - W3 LB, Olga, 2,000 USD at 03-10 04:30Z (EDT: local 03-10 00:30; EST would say 03-09):
///   LB's send comes later, no touch.
/// - W4 no lead, no owner, 3,000 EUR at 03-14 12:00Z (local 03-14, a Saturday).
///
/// Not counted: LA won 7,000 EUR at 03-15 04:30Z (after the end), LA won 900 EUR at 03-01
/// 04:30Z (local 02-28), a LOST deal and an OPEN deal in the period.
/// Totals: EUR 3 deals 18,001; USD 1 deal 2,000.
async fn fixture(app: &TestApp) -> Fx {
    let (org, token) = fixtures::org_with(app, Role::Owner).await;
    ok(
        app,
        &token,
        "mutation { updateOrganization(input: {timezone: \"America/New_York\"}) { timezone } }",
        json!({}),
    )
    .await;
    let (olga, _) = app.member(org, Role::Member, "Olga").await;
    let (pete, _) = app.member(org, Role::Member, "Pete").await;
    let (la, lb) = (
        lead(app, org, "IMPORT").await,
        lead(app, org, "WEBSITE").await,
    );
    let (c1, c2) = (campaign(app, &token).await, campaign(app, &token).await);
    send(app, org, c1, la, "2026-03-02T14:00:00Z").await;
    send(app, org, c2, la, "2026-03-05T14:00:00Z").await;
    send(app, org, c2, lb, "2026-03-20T14:00:00Z").await;
    let s = stage(app, &token).await;
    let won = |lead, owner, closed, amount, currency| D {
        lead,
        owner,
        status: "WON",
        closed: Some(closed),
        amount,
        currency,
    };
    for d in [
        won(Some(la), Some(olga), "2026-03-06T12:00:00Z", 10_000, "EUR"),
        won(Some(la), Some(pete), "2026-03-02T04:30:00Z", 5_001, "EUR"),
        won(Some(lb), Some(olga), "2026-03-10T04:30:00Z", 2_000, "USD"),
        won(None, None, "2026-03-14T12:00:00Z", 3_000, "EUR"),
        won(Some(la), Some(olga), "2026-03-15T04:30:00Z", 7_000, "EUR"),
        won(Some(la), Some(olga), "2026-03-01T04:30:00Z", 900, "EUR"),
        D {
            status: "LOST",
            ..won(Some(lb), None, "2026-03-05T12:00:00Z", 4_000, "EUR")
        },
        D {
            status: "OPEN",
            closed: None,
            ..won(Some(lb), None, "", 6_000, "EUR")
        },
    ] {
        deal(app, org, s, d).await;
    }
    Fx {
        org,
        token,
        c2,
        olga,
        pete,
    }
}

/// Another organization with a won deal (999,999 EUR on 03-03, its own lead and campaign).
async fn stranger(app: &TestApp) -> String {
    let (org, token) = fixtures::org_with(app, Role::Owner).await;
    let l = lead(app, org, "IMPORT").await;
    let c = campaign(app, &token).await;
    send(app, org, c, l, "2026-03-02T12:00:00Z").await;
    let s = stage(app, &token).await;
    let d = D {
        lead: Some(l),
        owner: None,
        status: "WON",
        closed: Some("2026-03-03T12:00:00Z"),
        amount: 999_999,
        currency: "EUR",
    };
    deal(app, org, s, d).await;
    token
}

const REVENUE: &str =
    "query($r: DateRangeInput, $p: RangePreset, $d: LocalDaysInput, $g: RevenueGroupBy!) {
  revenueAnalytics(range: $r, preset: $p, days: $d, groupBy: $g) { groupBy timezone from to
    totals { currency deals revenueMinor }
    buckets { key label id currency deals revenueMinor averageDealMinor } } }";

fn days() -> Value {
    json!({"from": "2026-03-01", "to": "2026-03-14"})
}

type Rows = Vec<(String, String, i64, i64)>;

/// `(currency, key, deals, revenue)` of each bucket, in the answer's order.
fn rows(v: &Value) -> Rows {
    let list = v["revenueAnalytics"]["buckets"].as_array().unwrap();
    list.iter()
        .map(|b| {
            (
                b["currency"].as_str().unwrap().to_string(),
                b["key"].as_str().unwrap().to_string(),
                b["deals"].as_i64().unwrap(),
                b["revenueMinor"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn want(list: &[(&str, &str, i64, i64)]) -> Rows {
    list.iter()
        .map(|(c, k, d, r)| (c.to_string(), k.to_string(), *d, *r))
        .collect()
}

async fn revenue(app: &TestApp, token: &str, g: &str) -> Value {
    ok(app, token, REVENUE, json!({"d": days(), "g": g})).await
}

#[tokio::test]
async fn revenue_analytics_groups_won_deals_by_local_time_per_currency() {
    let app = TestApp::spawn().await;
    let fx = fixture(&app).await;
    stranger(&app).await;
    // VIEWER reads revenue like the rest of insight.
    let viewer = app.token(fx.org, Role::Viewer).await;
    let d = revenue(&app, &viewer, "DAY").await;
    let a = &d["revenueAnalytics"];
    assert_eq!(a["timezone"], "America/New_York");
    assert_eq!(t(a["from"].as_str().unwrap()), t("2026-03-01T05:00:00Z"));
    assert_eq!(t(a["to"].as_str().unwrap()), t("2026-03-15T04:00:00Z"));
    assert_eq!(
        a["totals"],
        json!([{"currency": "EUR", "deals": 3, "revenueMinor": 18_001},
               {"currency": "USD", "deals": 1, "revenueMinor": 2_000}])
    );
    // 14 local days for each currency, zero-filled; W2 (23:30 local) on 03-01, W3 on 03-10.
    let all = rows(&d);
    assert_eq!(all.len(), 28, "{all:?}");
    let nonzero: Rows = all.into_iter().filter(|r| r.2 > 0).collect();
    assert_eq!(
        nonzero,
        want(&[
            ("EUR", "2026-03-01", 1, 5_001),
            ("EUR", "2026-03-06", 1, 10_000),
            ("EUR", "2026-03-14", 1, 3_000),
            ("USD", "2026-03-10", 1, 2_000),
        ])
    );
    assert_eq!(a["buckets"][0]["averageDealMinor"], 5_001);
    assert!(a["buckets"][1]["averageDealMinor"].is_null());
    // Weeks from Monday: 03-01 is a Sunday (week of 02-23), 03-14 a Saturday (week of 03-09).
    assert_eq!(
        rows(&revenue(&app, &fx.token, "WEEK").await),
        want(&[
            ("EUR", "2026-02-23", 1, 5_001),
            ("EUR", "2026-03-02", 1, 10_000),
            ("EUR", "2026-03-09", 1, 3_000),
            ("USD", "2026-02-23", 0, 0),
            ("USD", "2026-03-02", 0, 0),
            ("USD", "2026-03-09", 1, 2_000),
        ])
    );
    let m = revenue(&app, &fx.token, "MONTH").await;
    assert_eq!(
        rows(&m),
        want(&[
            ("EUR", "2026-03-01", 3, 18_001),
            ("USD", "2026-03-01", 1, 2_000)
        ])
    );
    // 18,001 / 3 rounded down.
    assert_eq!(
        m["revenueAnalytics"]["buckets"][0]["averageDealMinor"],
        6_000
    );
    assert_eq!(
        rows(&revenue(&app, &fx.token, "SOURCE").await),
        want(&[
            ("EUR", "", 1, 3_000),
            ("EUR", "IMPORT", 2, 15_001),
            ("USD", "WEBSITE", 1, 2_000),
        ])
    );
}

/// `(currency, key) → (label, deals, revenue)`.
fn by_key(v: &Value) -> BTreeMap<(String, String), (Value, i64, i64)> {
    let list = v["revenueAnalytics"]["buckets"].as_array().unwrap();
    list.iter()
        .map(|b| {
            let s = |f: &str| b[f].as_str().unwrap().to_string();
            let n = |f: &str| b[f].as_i64().unwrap();
            assert_eq!(b["id"].as_str().unwrap_or(""), s("key"));
            (
                (s("currency"), s("key")),
                (b["label"].clone(), n("deals"), n("revenueMinor")),
            )
        })
        .collect()
}

#[tokio::test]
async fn revenue_analytics_by_last_touch_campaign_and_owner() {
    let app = TestApp::spawn().await;
    let fx = fixture(&app).await;
    stranger(&app).await;
    let c = by_key(&revenue(&app, &fx.token, "CAMPAIGN").await);
    let k = |cur: &str, key: String| (cur.to_string(), key);
    let want_c = BTreeMap::from([
        (k("EUR", String::new()), (Value::Null, 2, 8_001)),
        (k("EUR", fx.c2.to_string()), (json!("Launch"), 1, 10_000)),
        (k("USD", String::new()), (Value::Null, 1, 2_000)),
    ]);
    assert_eq!(c, want_c);
    let o = by_key(&revenue(&app, &fx.token, "OWNER").await);
    let want_o = BTreeMap::from([
        (k("EUR", String::new()), (Value::Null, 1, 3_000)),
        (k("EUR", fx.olga.to_string()), (json!("Olga"), 1, 10_000)),
        (k("EUR", fx.pete.to_string()), (json!("Pete"), 1, 5_001)),
        (k("USD", fx.olga.to_string()), (json!("Olga"), 1, 2_000)),
    ]);
    assert_eq!(o, want_o);
}

#[tokio::test]
async fn revenue_analytics_is_scoped_validated_and_authenticated() {
    let app = TestApp::spawn().await;
    let fx = fixture(&app).await;
    let other = stranger(&app).await;
    // The other organization sees only its own deal (and the fixture's never).
    let v = revenue(&app, &other, "SOURCE").await;
    assert_eq!(
        v["revenueAnalytics"]["totals"],
        json!([{"currency": "EUR", "deals": 1, "revenueMinor": 999_999}])
    );
    assert_eq!(rows(&v), want(&[("EUR", "IMPORT", 1, 999_999)]));
    let q = |vars: Value| app.gql(Some(&fx.token), REVENUE, vars);
    let backwards = q(json!({"d": {"from": "2026-03-14", "to": "2026-03-01"}, "g": "DAY"})).await;
    assert_eq!(field_errors(&backwards), ["days.to"]);
    let long =
        q(json!({"r": {"from": "2023-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "g": "DAY"}))
            .await;
    assert_eq!(field_errors(&long), ["range.from"]);
    let both = q(json!({"d": days(), "p": "LAST_7_DAYS", "g": "DAY"})).await;
    assert_eq!(field_errors(&both), ["days"]);
    let none = q(json!({"g": "DAY"})).await;
    assert_eq!(field_errors(&none), ["range"]);
    let anon = app
        .gql(None, REVENUE, json!({"d": days(), "g": "SOURCE"}))
        .await;
    assert_eq!(code(&anon), Some("UNAUTHENTICATED"), "{anon}");
    // A preset of the last 7 days: nothing was won then, no currency, no buckets.
    let recent = ok(
        &app,
        &fx.token,
        REVENUE,
        json!({"p": "LAST_7_DAYS", "g": "DAY"}),
    )
    .await;
    assert_eq!(recent["revenueAnalytics"]["totals"], json!([]));
    assert_eq!(recent["revenueAnalytics"]["buckets"], json!([]));
}

#[tokio::test]
async fn revenue_analytics_is_one_statement_after_the_time_zone() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let fx = fixture(&app).await;
    for g in ["WEEK", "CAMPAIGN", "OWNER"] {
        app.request_statements();
        revenue(&app, &fx.token, g).await;
        let s = app.request_statements();
        assert_eq!(s.len(), 2, "{g}: {s:?}");
    }
}
