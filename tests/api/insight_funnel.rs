//! Insight, second slice: the conversion funnel, attribution, lifetime value and the coalesced
//! live dashboard (`dashboardUpdates`).
//!
//! Every number asserted is computed by hand in the comments of [`fixture`] (never read back
//! from the code under test). A second organization with its own deals, leads and sends shares
//! the database and must never be counted.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{self, field_errors, ok},
    helpers::{code, Frame, Options, TestApp, Ws},
};

pub(crate) fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A lead written directly (controlled creation time).
pub(crate) async fn lead(
    app: &TestApp,
    org: Uuid,
    at: &str,
    status: &str,
    source: &str,
    industry: Option<&str>,
) -> Uuid {
    let id = Uuid::now_v7();
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
        industry: Set(industry.map(str::to_string)),
        city: Set(None),
        region: Set(None),
        country: Set(None),
        latitude: Set(None),
        longitude: Set(None),
        source: Set(source.into()),
        status: Set(status.into()),
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
        created_at: Set(t(at)),
        updated_at: Set(t(at)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    id
}

/// A send of `campaign` to `lead` at `sent`, replied or not.
pub(crate) async fn send(
    app: &TestApp,
    org: Uuid,
    campaign: Uuid,
    lead: Uuid,
    sent: &str,
    replied: bool,
) {
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
        replied_at: Set(replied.then_some(at)),
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

/// The organization's pipeline and first stage.
pub(crate) async fn stage(app: &TestApp, token: &str) -> (Uuid, Uuid) {
    let v = ok(app, token, "mutation { createPipeline(input: {name: \"Sales\", stages: [{name: \"Lead\", winProbability: 10}]}) { id stages { id } } }", json!({})).await;
    let p = &v["createPipeline"];
    let id = |v: &Value| Uuid::parse_str(v.as_str().unwrap()).unwrap();
    (id(&p["id"]), id(&p["stages"][0]["id"]))
}

/// A deal of `lead` (None: no lead), closed WON at `won` (None: still open).
async fn deal(
    app: &TestApp,
    org: Uuid,
    stage: (Uuid, Uuid),
    lead: Option<Uuid>,
    won: Option<&str>,
    amount: i64,
    currency: &str,
) {
    entity::deal::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org),
        pipeline_id: Set(stage.0),
        stage_id: Set(stage.1),
        lead_id: Set(lead),
        title: Set("Deal".into()),
        amount_minor: Set(amount),
        currency: Set(currency.into()),
        status: Set(if won.is_some() { "WON" } else { "OPEN" }.into()),
        lost_reason: Set(None),
        owner_id: Set(None),
        expected_close_date: Set(None),
        closed_at: Set(won.map(t)),
        created_by: Set(None),
        created_at: Set(t("2026-01-01T00:00:00Z")),
        updated_at: Set(t("2026-01-01T00:00:00Z")),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

pub(crate) async fn campaign(app: &TestApp, token: &str, tpl: &str) -> Uuid {
    Uuid::parse_str(&fixtures::campaign(app, token, tpl, None).await).unwrap()
}

/// The fixture organization (America/New_York). Its campaign ids C1..C4 are returned.
///
/// Cohort of local days 03-01..03-07 = [03-01T05:00Z, 03-08T05:00Z) and each lead's furthest
/// stage: A created only (0); B CONTACTED (1); C sent by C3 (1); D replied to C1 (2); E
/// QUALIFIED, replied to C2 (3); F CONTACTED with an open deal (4); G CONVERTED with a won deal
/// (5); H NEW with a won deal and no sends (5); T2 at UTC 03-08 04:30 = local 03-07 23:30 (0).
/// Outside: T1 at UTC 03-01 04:30 = local 02-28 23:30 (QUALIFIED, would be 3), I and O older.
/// Created 9; contacted 7 (B..H); replied 5 (D..H); qualified 4 (E..H); deal 3 (F, G, H); won
/// 2 (G, H).
///
/// Won deals closed in the period: G 10,000 EUR at 03-06 18:00Z, touched by C1 (14:00), C2
/// (15:00), C3 (16:00) — C4 sent at 20:00, after the close; H 5,000 EUR (no touch); O (source
/// MANUAL, Retail) 2,000 USD at 03-03, touched by C2 on 02-25; a lead-less 50,000 EUR at 03-04.
/// Won before the period: G 1,000 EUR (02-10), I (IMPORT, Software) 4,001 EUR (01-20).
async fn fixture(app: &TestApp) -> (String, [String; 4]) {
    let (org, token) = fixtures::org_with(app, Role::Owner).await;
    ok(
        app,
        &token,
        "mutation { updateOrganization(input: {timezone: \"America/New_York\"}) { timezone } }",
        json!({}),
    )
    .await;
    let tpl = fixtures::template(app, &token, "<p>Hi</p>", "Hi").await;
    let mut cs = Vec::new();
    for _ in 0..4 {
        cs.push(campaign(app, &token, &tpl).await);
    }
    let st = stage(app, &token).await;
    lead(app, org, "2026-03-01T10:00:00Z", "NEW", "MANUAL", None).await; // A
    lead(
        app,
        org,
        "2026-03-02T12:00:00Z",
        "CONTACTED",
        "MANUAL",
        None,
    )
    .await; // B
    let c = lead(app, org, "2026-03-03T12:00:00Z", "NEW", "MANUAL", None).await;
    send(app, org, cs[2], c, "2026-03-03T14:00:00Z", false).await;
    let d = lead(app, org, "2026-03-03T13:00:00Z", "NEW", "MANUAL", None).await;
    send(app, org, cs[0], d, "2026-03-03T14:00:00Z", true).await;
    let e = lead(
        app,
        org,
        "2026-03-04T12:00:00Z",
        "QUALIFIED",
        "MANUAL",
        None,
    )
    .await;
    send(app, org, cs[1], e, "2026-03-04T14:00:00Z", true).await;
    let f = lead(
        app,
        org,
        "2026-03-05T12:00:00Z",
        "CONTACTED",
        "MANUAL",
        None,
    )
    .await;
    deal(app, org, st, Some(f), None, 7_000, "EUR").await;
    let g = lead(
        app,
        org,
        "2026-03-06T12:00:00Z",
        "CONVERTED",
        "IMPORT",
        Some("Software"),
    )
    .await;
    for (i, at) in ["14:00", "15:00", "16:00", "20:00"].iter().enumerate() {
        send(app, org, cs[i], g, &format!("2026-03-06T{at}:00Z"), false).await;
    }
    deal(
        app,
        org,
        st,
        Some(g),
        Some("2026-03-06T18:00:00Z"),
        10_000,
        "EUR",
    )
    .await;
    deal(
        app,
        org,
        st,
        Some(g),
        Some("2026-02-10T12:00:00Z"),
        1_000,
        "EUR",
    )
    .await;
    let h = lead(app, org, "2026-03-06T13:00:00Z", "NEW", "WEBSITE", None).await;
    deal(
        app,
        org,
        st,
        Some(h),
        Some("2026-03-07T12:00:00Z"),
        5_000,
        "EUR",
    )
    .await;
    lead(app, org, "2026-03-08T04:30:00Z", "NEW", "MANUAL", None).await; // T2
    lead(
        app,
        org,
        "2026-03-01T04:30:00Z",
        "QUALIFIED",
        "MANUAL",
        None,
    )
    .await; // T1
    let i = lead(
        app,
        org,
        "2026-01-15T12:00:00Z",
        "CONVERTED",
        "IMPORT",
        Some("Software"),
    )
    .await;
    deal(
        app,
        org,
        st,
        Some(i),
        Some("2026-01-20T12:00:00Z"),
        4_001,
        "EUR",
    )
    .await;
    let o = lead(
        app,
        org,
        "2026-02-20T12:00:00Z",
        "CONVERTED",
        "MANUAL",
        Some("Retail"),
    )
    .await;
    send(app, org, cs[1], o, "2026-02-25T12:00:00Z", false).await;
    deal(
        app,
        org,
        st,
        Some(o),
        Some("2026-03-03T12:00:00Z"),
        2_000,
        "USD",
    )
    .await;
    deal(
        app,
        org,
        st,
        None,
        Some("2026-03-04T12:00:00Z"),
        50_000,
        "EUR",
    )
    .await;
    (token, [0, 1, 2, 3].map(|i| cs[i].to_string()))
}

/// A second organization: in the same days, a QUALIFIED lead (SEARCH) with a won 999,999 EUR
/// deal touched by its own campaign, and two NEW leads.
async fn other(app: &TestApp) -> String {
    let (org, token) = fixtures::org_with(app, Role::Owner).await;
    let tpl = fixtures::template(app, &token, "<p>Yo</p>", "Yo").await;
    let c = campaign(app, &token, &tpl).await;
    let st = stage(app, &token).await;
    let l = lead(
        app,
        org,
        "2026-03-03T12:00:00Z",
        "QUALIFIED",
        "SEARCH",
        None,
    )
    .await;
    send(app, org, c, l, "2026-03-03T13:00:00Z", true).await;
    deal(
        app,
        org,
        st,
        Some(l),
        Some("2026-03-04T12:00:00Z"),
        999_999,
        "EUR",
    )
    .await;
    for _ in 0..2 {
        lead(app, org, "2026-03-05T12:00:00Z", "NEW", "SEARCH", None).await;
    }
    token
}

const FUNNEL: &str = "query($r: DateRangeInput, $p: RangePreset, $d: LocalDaysInput) { conversionFunnel(range: $r, preset: $p, days: $d) { from to timezone stages { stage count conversionRate overallRate } } }";

fn days() -> Value {
    json!({"from": "2026-03-01", "to": "2026-03-07"})
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

#[tokio::test]
async fn the_funnel_counts_the_cohort_of_local_days_and_only_this_organization() {
    let app = TestApp::spawn().await;
    let (token, _) = fixture(&app).await;
    let other = other(&app).await;
    let f = ok(&app, &token, FUNNEL, json!({"d": days()})).await["conversionFunnel"].clone();
    assert_eq!(f["timezone"], "America/New_York");
    assert_eq!(t(f["from"].as_str().unwrap()), t("2026-03-01T05:00:00Z"));
    assert_eq!(t(f["to"].as_str().unwrap()), t("2026-03-08T05:00:00Z"));
    let stages: Vec<(String, i64)> = f["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().into(),
                s["count"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("CREATED", 9),
        ("CONTACTED", 7),
        ("REPLIED", 5),
        ("QUALIFIED", 4),
        ("DEAL", 3),
        ("WON", 2),
    ]
    .map(|(s, n)| (s.to_string(), n));
    assert_eq!(stages, expected, "{f}");
    let s = &f["stages"];
    assert!(s[0]["conversionRate"].is_null(), "{f}");
    for (i, rate) in [7.0 / 9.0, 5.0 / 7.0, 0.8, 0.75, 2.0 / 3.0]
        .iter()
        .enumerate()
    {
        assert!(close(&s[i + 1]["conversionRate"], *rate), "{i}: {f}");
    }
    assert!(close(&s[5]["overallRate"], 2.0 / 9.0), "{f}");
    // The same UTC days would take T1 (local 02-28) instead of T2: qualified 5, contacted 8.
    let utc = ok(
        &app,
        &token,
        FUNNEL,
        json!({"r": {"from": "2026-03-01T00:00:00Z", "to": "2026-03-08T00:00:00Z"}}),
    )
    .await;
    let counts: Vec<i64> = utc["conversionFunnel"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [9, 8, 6, 5, 3, 2]);
    // The other organization: its 3 leads (one QUALIFIED, replied, won).
    let o = ok(&app, &other, FUNNEL, json!({"d": days()})).await;
    let counts: Vec<i64> = o["conversionFunnel"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["count"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [3, 1, 1, 1, 1, 1]);
}

const ATTRIBUTION: &str = "query($d: LocalDaysInput, $m: AttributionModel!, $g: AttributionGroupBy!) { attribution(days: $d, model: $m, groupBy: $g) { model groupBy rows { key id label currency deals revenueMinor } } }";

/// `(key, currency) → (deals, revenue)` with campaign ids replaced by C1..C4.
fn credits(v: &Value, ids: &[String; 4]) -> BTreeMap<(String, String), (f64, i64)> {
    v["attribution"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let key = r["key"].as_str().unwrap();
            let name = ids
                .iter()
                .position(|c| c == key)
                .map(|i| format!("C{}", i + 1))
                .unwrap_or_else(|| key.to_string());
            (
                (name, r["currency"].as_str().unwrap().to_string()),
                (
                    r["deals"].as_f64().unwrap(),
                    r["revenueMinor"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

fn expect(list: &[(&str, &str, f64, i64)]) -> BTreeMap<(String, String), (f64, i64)> {
    list.iter()
        .map(|(k, c, d, r)| ((k.to_string(), c.to_string()), (*d, *r)))
        .collect()
}

fn same(
    got: &BTreeMap<(String, String), (f64, i64)>,
    want: &BTreeMap<(String, String), (f64, i64)>,
) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{got:?}"
    );
    for (k, (d, r)) in want {
        let (gd, gr) = got[k];
        assert!((gd - d).abs() < 1e-9 && gr == *r, "{k:?}: {got:?}");
    }
}

#[tokio::test]
async fn attribution_credits_campaigns_and_sources_by_model() {
    let app = TestApp::spawn().await;
    let (token, ids) = fixture(&app).await;
    other(&app).await;
    let run = |m: &str, g: &str| json!({"d": days(), "m": m, "g": g});
    let first = ok(&app, &token, ATTRIBUTION, run("FIRST_TOUCH", "CAMPAIGN")).await;
    // G → C1; H and the lead-less deal → ""; O's USD deal → C2.
    same(
        &credits(&first, &ids),
        &expect(&[
            ("", "EUR", 2.0, 55_000),
            ("C1", "EUR", 1.0, 10_000),
            ("C2", "USD", 1.0, 2_000),
        ]),
    );
    let row = first["attribution"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == ids[0].as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (row["id"].clone(), row["label"].clone()),
        (json!(ids[0]), json!("Launch"))
    );
    let last = ok(&app, &token, ATTRIBUTION, run("LAST_TOUCH", "CAMPAIGN")).await;
    // G → C3 (C4 sent after the close).
    same(
        &credits(&last, &ids),
        &expect(&[
            ("", "EUR", 2.0, 55_000),
            ("C2", "USD", 1.0, 2_000),
            ("C3", "EUR", 1.0, 10_000),
        ]),
    );
    let linear = ok(&app, &token, ATTRIBUTION, run("LINEAR", "CAMPAIGN")).await;
    // 10,000 / 3 = 3,333 each, the 1 left over to the first send (C1).
    let third = 1.0 / 3.0;
    same(
        &credits(&linear, &ids),
        &expect(&[
            ("", "EUR", 2.0, 55_000),
            ("C1", "EUR", third, 3_334),
            ("C2", "EUR", third, 3_333),
            ("C2", "USD", 1.0, 2_000),
            ("C3", "EUR", third, 3_333),
        ]),
    );
    let source = ok(&app, &token, ATTRIBUTION, run("LINEAR", "SOURCE")).await;
    same(
        &credits(&source, &ids),
        &expect(&[
            ("", "EUR", 1.0, 50_000),
            ("IMPORT", "EUR", 1.0, 10_000),
            ("MANUAL", "USD", 1.0, 2_000),
            ("WEBSITE", "EUR", 1.0, 5_000),
        ]),
    );
}

const LTV: &str = "query($g: LtvGroupBy!) { ltv(groupBy: $g) { groupBy rows { key currency customers deals revenueMinor ltvMinor } } }";

#[tokio::test]
async fn lifetime_value_per_source_and_industry() {
    let app = TestApp::spawn().await;
    let (token, _) = fixture(&app).await;
    let other = other(&app).await;
    // IMPORT / Software: G (10,000 + 1,000) and I (4,001): 2 customers, 3 deals, 15,001,
    // 7,500 each (rounded down). The lead-less deal has no customer.
    let v = ok(&app, &token, LTV, json!({"g": "SOURCE"})).await;
    assert_eq!(
        v["ltv"]["rows"],
        json!([
            {"key": "IMPORT", "currency": "EUR", "customers": 2, "deals": 3, "revenueMinor": 15_001, "ltvMinor": 7_500},
            {"key": "MANUAL", "currency": "USD", "customers": 1, "deals": 1, "revenueMinor": 2_000, "ltvMinor": 2_000},
            {"key": "WEBSITE", "currency": "EUR", "customers": 1, "deals": 1, "revenueMinor": 5_000, "ltvMinor": 5_000},
        ])
    );
    let v = ok(&app, &token, LTV, json!({"g": "INDUSTRY"})).await;
    assert_eq!(
        v["ltv"]["rows"],
        json!([
            {"key": "", "currency": "EUR", "customers": 1, "deals": 1, "revenueMinor": 5_000, "ltvMinor": 5_000},
            {"key": "Retail", "currency": "USD", "customers": 1, "deals": 1, "revenueMinor": 2_000, "ltvMinor": 2_000},
            {"key": "Software", "currency": "EUR", "customers": 2, "deals": 3, "revenueMinor": 15_001, "ltvMinor": 7_500},
        ])
    );
    let o = ok(&app, &other, LTV, json!({"g": "SOURCE"})).await;
    assert_eq!(
        o["ltv"]["rows"],
        json!([{"key": "SEARCH", "currency": "EUR", "customers": 1, "deals": 1, "revenueMinor": 999_999, "ltvMinor": 999_999}])
    );
}

#[tokio::test]
async fn periods_are_validated_and_strangers_are_refused() {
    let app = TestApp::spawn().await;
    let (_, token) = fixtures::org_with(&app, Role::Viewer).await;
    let backwards = app
        .gql(
            Some(&token),
            FUNNEL,
            json!({"d": {"from": "2026-03-07", "to": "2026-03-01"}}),
        )
        .await;
    assert_eq!(field_errors(&backwards), ["days.to"]);
    let long = app
        .gql(
            Some(&token),
            FUNNEL,
            json!({"d": {"from": "2023-01-01", "to": "2026-03-01"}}),
        )
        .await;
    assert_eq!(field_errors(&long), ["days.from"]);
    let both = app
        .gql(
            Some(&token),
            FUNNEL,
            json!({"d": days(), "p": "LAST_7_DAYS"}),
        )
        .await;
    assert_eq!(field_errors(&both), ["days"]);
    let none = app.gql(Some(&token), FUNNEL, json!({})).await;
    assert_eq!(field_errors(&none), ["range"]);
    let bad = app
        .gql(
            Some(&token),
            ATTRIBUTION,
            json!({"d": {"from": "2026-03-07", "to": "2026-03-01"}, "m": "LINEAR", "g": "SOURCE"}),
        )
        .await;
    assert_eq!(field_errors(&bad), ["days.to"]);
    for (q, vars) in [
        (FUNNEL, json!({"d": days()})),
        (
            ATTRIBUTION,
            json!({"d": days(), "m": "LINEAR", "g": "SOURCE"}),
        ),
        (LTV, json!({"g": "SOURCE"})),
    ] {
        let v = app.gql(None, q, vars).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    }
    // Live: a bad period is an error message; no credentials, no connection.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&token).await;
    ws.send(json!({"type": "subscribe", "id": "x", "payload": {"query": UPDATES, "variables": {"r": {"from": "2026-03-07T00:00:00Z", "to": "2026-03-01T00:00:00Z"}}}})).await;
    let v = ws.next_json(5).await;
    let fields = &v["payload"]["errors"][0]["extensions"]["fields"][0]["field"];
    assert_eq!(
        (v["type"].as_str(), fields.as_str()),
        (Some("next"), Some("range.to")),
        "{v}"
    );
    let mut anon = app.ws("graphql-transport-ws").await;
    anon.send(json!({"type": "connection_init"})).await;
    assert_eq!(anon.expect_close(5).await, 4403);
}

const UPDATES: &str = "subscription($r: DateRangeInput, $p: RangePreset) { dashboardUpdates(range: $r, preset: $p) { dealsCreated { current } pipelineValue { currency current } } }";

const CREATE_DEAL: &str = "mutation($i: CreateDealInput!) { createDeal(input: $i) { id } }";

async fn subscribe(ws: &mut Ws, id: &str) {
    ws.send(json!({"type": "subscribe", "id": id, "payload": {"query": UPDATES, "variables": {"p": "LAST_7_DAYS"}}})).await;
}

/// Nothing but keep-alives within `ms`.
async fn silent(ws: &mut Ws, ms: u64) -> Option<Value> {
    let until = tokio::time::Instant::now() + Duration::from_millis(ms);
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, ws.next_frame(3600)).await {
            Err(_) => return None,
            Ok(Some(Frame::Json(v))) if v["type"] == "ping" || v["type"] == "ka" => continue,
            Ok(Some(Frame::Json(v))) => return Some(v),
            Ok(other) => return Some(json!(format!("{:?}", other.is_some()))),
        }
    }
}

/// Three deals created within one window reach three subscribers of the organization as one
/// push carrying all three, computed by one dashboard statement; the other organization's
/// subscriber and events stay apart.
#[tokio::test]
async fn dashboard_updates_coalesce_a_burst_into_one_push_and_one_query() {
    // Long enough that three concurrent requests land in one window on a loaded CI machine
    // (1.5 s was not: a burst split in two there).
    const WINDOW_MS: u64 = 4000;
    let window = WINDOW_MS.to_string();
    let app = TestApp::spawn_with(Options::with_env(&[
        ("RECORD_SQL", "true"),
        ("DASHBOARD_UPDATE_WINDOW_MS", window.as_str()),
    ]))
    .await;
    let (_, token) = fixtures::org_with(&app, Role::Owner).await;
    let (_, stranger) = fixtures::org_with(&app, Role::Owner).await;
    let mut leads = Vec::new();
    for i in 0..3 {
        let e = format!("b{i}@deal.test");
        leads.push(fixtures::lead(&app, &token, json!({"email": e, "company": "B"})).await);
    }
    let their_lead = fixtures::lead(
        &app,
        &stranger,
        json!({"email": "t@deal.test", "company": "T"}),
    )
    .await;
    let mine = stage(&app, &token).await.0.to_string();
    let theirs = stage(&app, &stranger).await.0.to_string();
    let mut ws1 = app.ws("graphql-transport-ws").await;
    ws1.init(&token).await;
    subscribe(&mut ws1, "a").await;
    subscribe(&mut ws1, "b").await;
    let mut ws2 = app.ws("graphql-transport-ws").await;
    ws2.init(&token).await;
    subscribe(&mut ws2, "c").await;
    let mut ws3 = app.ws("graphql-transport-ws").await;
    ws3.init(&stranger).await;
    subscribe(&mut ws3, "z").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The other organization's deal opens no window of ours.
    ok(&app, &stranger, CREATE_DEAL, json!({"i": {"leadId": their_lead, "title": "T", "amountMinor": 1, "currency": "USD", "pipelineId": theirs}})).await;
    let quiet = silent(&mut ws1, WINDOW_MS + 500).await;
    assert!(
        quiet.is_none(),
        "pushed for another organization: {quiet:?}"
    );
    assert!(ws3.next_json(20).await["payload"]["data"]["dashboardUpdates"].is_object());
    app.request_statements();
    let creates = leads.iter().enumerate().map(|(i, l)| {
        let vars = json!({"i": {"leadId": l, "title": format!("D{i}"), "amountMinor": 100, "currency": "EUR", "pipelineId": mine}});
        ok(&app, &token, CREATE_DEAL, vars)
    });
    futures::future::join_all(creates).await;
    let got = [
        ws1.next_json(20).await,
        ws1.next_json(20).await,
        ws2.next_json(20).await,
    ];
    let mut ids: Vec<&str> = got.iter().map(|v| v["id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["a", "b", "c"]);
    for v in &got {
        assert_eq!(
            v["payload"]["data"]["dashboardUpdates"],
            json!({"dealsCreated": {"current": 3}, "pipelineValue": [{"currency": "EUR", "current": 300}]}),
            "{v}"
        );
    }
    // Exactly one push: nothing more within another window.
    let (m1, m2, m3) = tokio::join!(
        silent(&mut ws1, WINDOW_MS + 300),
        silent(&mut ws2, WINDOW_MS + 300),
        silent(&mut ws3, WINDOW_MS + 300),
    );
    for more in [m1, m2, m3] {
        assert!(more.is_none(), "a second push: {more:?}");
    }
    let refreshes: Vec<String> = app
        .request_statements()
        .into_iter()
        .filter(|s| s.contains("'revenue_won'"))
        .collect();
    assert_eq!(
        refreshes.len(),
        1,
        "one refresh for three subscribers: {refreshes:?}"
    );
}

#[tokio::test]
async fn funnel_attribution_and_ltv_are_one_statement_each_after_the_time_zone() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let (token, _) = fixture(&app).await;
    for (q, vars, n) in [
        (FUNNEL, json!({"d": days()}), 2),
        (
            ATTRIBUTION,
            json!({"d": days(), "m": "LINEAR", "g": "CAMPAIGN"}),
            2,
        ),
        (LTV, json!({"g": "INDUSTRY"}), 1),
    ] {
        app.request_statements();
        ok(&app, &token, q, vars).await;
        let s = app.request_statements();
        assert_eq!(s.len(), n, "{q}: {s:?}");
    }
}

const SET_COST: &str =
    "mutation($i: SetCostInput!) { setCost(input: $i) { id kind subject amountMinor currency } }";

const ROI: &str = "query($d: LocalDaysInput, $m: AttributionModel!, $g: AttributionGroupBy!) { roi(days: $d, model: $m, groupBy: $g) { rows { key label currency deals revenueMinor costMinor roi } } }";

/// `(key, currency) → (deals, revenue, cost, roi)` with campaign ids replaced by C1..C4.
type RoiRows = BTreeMap<(String, String), (f64, i64, Option<i64>, Option<f64>)>;

fn roi_rows(v: &Value, ids: &[String; 4]) -> RoiRows {
    v["roi"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let key = r["key"].as_str().unwrap();
            let name = ids
                .iter()
                .position(|c| c == key)
                .map(|i| format!("C{}", i + 1))
                .unwrap_or_else(|| key.to_string());
            (
                (name, r["currency"].as_str().unwrap().to_string()),
                (
                    r["deals"].as_f64().unwrap(),
                    r["revenueMinor"].as_i64().unwrap(),
                    r["costMinor"].as_i64(),
                    r["roi"].as_f64(),
                ),
            )
        })
        .collect()
}

/// An expected ROI row: key, currency, deals, revenue, cost, roi.
type WantRoi<'a> = (&'a str, &'a str, f64, i64, Option<i64>, Option<f64>);

fn same_roi(got: &RoiRows, want: &[WantRoi<'_>]) {
    let keys: Vec<(String, String)> = want
        .iter()
        .map(|w| (w.0.to_string(), w.1.to_string()))
        .collect();
    assert_eq!(got.keys().cloned().collect::<Vec<_>>(), keys, "{got:?}");
    for (k, c, d, r, cost, roi) in want {
        let g = got[&(k.to_string(), c.to_string())];
        let roi_ok = match (g.3, roi) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-9,
            (a, b) => a.is_none() && b.is_none(),
        };
        assert!(
            (g.0 - d).abs() < 1e-9 && g.1 == *r && g.2 == *cost && roi_ok,
            "{k} {c}: {got:?}"
        );
    }
}

#[tokio::test]
async fn roi_sets_credited_revenue_against_costs() {
    let app = TestApp::spawn().await;
    let (token, ids) = fixture(&app).await;
    let other = other(&app).await;
    let set = |i: Value| ok(&app, &token, SET_COST, json!({ "i": i }));
    let c1 = set(json!({"campaignId": ids[0], "amountMinor": 2_000, "currency": "eur"})).await;
    assert_eq!(
        (
            c1["setCost"]["kind"].clone(),
            c1["setCost"]["currency"].clone()
        ),
        (json!("CAMPAIGN"), json!("EUR"))
    );
    set(json!({"campaignId": ids[1], "amountMinor": 1_000, "currency": "USD"})).await;
    set(json!({"campaignId": ids[3], "amountMinor": 1_000, "currency": "EUR"})).await;
    set(json!({"source": "IMPORT", "amountMinor": 20_000, "currency": "EUR"})).await;
    // The other organization's costs never count.
    ok(
        &app,
        &other,
        SET_COST,
        json!({"i": {"source": "IMPORT", "amountMinor": 1, "currency": "EUR"}}),
    )
    .await;
    let run = |m: &str, g: &str| json!({"d": days(), "m": m, "g": g});
    let v = ok(&app, &token, ROI, run("LINEAR", "CAMPAIGN")).await;
    let third = 1.0 / 3.0;
    // C1: (3,334 − 2,000) / 2,000; C2's USD cost meets its USD revenue, not its EUR share;
    // C4 spent 1,000 EUR and got nothing: −1.
    same_roi(
        &roi_rows(&v, &ids),
        &[
            ("", "EUR", 2.0, 55_000, None, None),
            (
                "C1",
                "EUR",
                third,
                3_334,
                Some(2_000),
                Some(1_334.0 / 2_000.0),
            ),
            ("C2", "EUR", third, 3_333, None, None),
            ("C2", "USD", 1.0, 2_000, Some(1_000), Some(1.0)),
            ("C3", "EUR", third, 3_333, None, None),
            ("C4", "EUR", 0.0, 0, Some(1_000), Some(-1.0)),
        ],
    );
    let c4 = v["roi"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == ids[3].as_str())
        .unwrap()
        .clone();
    assert_eq!(c4["label"], "Launch", "{c4}");
    // Setting a cost again replaces it: C1 (3,334 − 4,000) / 4,000.
    set(json!({"campaignId": ids[0], "amountMinor": 4_000, "currency": "EUR"})).await;
    let v = ok(&app, &token, ROI, run("FIRST_TOUCH", "SOURCE")).await;
    same_roi(
        &roi_rows(&v, &ids),
        &[
            ("", "EUR", 1.0, 50_000, None, None),
            ("IMPORT", "EUR", 1.0, 10_000, Some(20_000), Some(-0.5)),
            ("MANUAL", "USD", 1.0, 2_000, None, None),
            ("WEBSITE", "EUR", 1.0, 5_000, None, None),
        ],
    );
    let v = ok(&app, &token, ROI, run("LINEAR", "CAMPAIGN")).await;
    let c1 = &roi_rows(&v, &ids)[&("C1".to_string(), "EUR".to_string())];
    assert_eq!(c1.2, Some(4_000));
    assert!((c1.3.unwrap() - (-666.0 / 4_000.0)).abs() < 1e-9, "{c1:?}");
}

#[tokio::test]
async fn set_cost_is_validated_scoped_authorized_and_emits_events() {
    let app = TestApp::spawn().await;
    let (org, token) = fixtures::org_with(&app, Role::Owner).await;
    let tpl = fixtures::template(&app, &token, "<p>Hi</p>", "Hi").await;
    let mine = fixtures::campaign(&app, &token, &tpl, None).await;
    let (_, stranger) = fixtures::org_with(&app, Role::Owner).await;
    let both = app
        .gql(
            Some(&token),
            SET_COST,
            json!({"i": {"campaignId": mine, "source": "X", "amountMinor": 1, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(field_errors(&both), ["input.campaignId"]);
    let bad = app
        .gql(
            Some(&token),
            SET_COST,
            json!({"i": {"source": " ", "amountMinor": -1, "currency": "EURO"}}),
        )
        .await;
    let mut fields = field_errors(&bad);
    fields.sort();
    assert_eq!(
        fields,
        ["input.amountMinor", "input.currency", "input.source"]
    );
    let theirs = app
        .gql(
            Some(&stranger),
            SET_COST,
            json!({"i": {"campaignId": mine, "amountMinor": 1, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(code(&theirs), Some("NOT_FOUND"), "{theirs}");
    let member = app.member(org, Role::Member, "Mo").await.1;
    let v = app
        .gql(
            Some(&member),
            SET_COST,
            json!({"i": {"source": "X", "amountMinor": 1, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app
        .gql(
            None,
            ROI,
            json!({"d": days(), "m": "LINEAR", "g": "SOURCE"}),
        )
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    for amount in [5, 7] {
        ok(
            &app,
            &token,
            SET_COST,
            json!({"i": {"campaignId": mine, "amountMinor": amount, "currency": "EUR"}}),
        )
        .await;
    }
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let events = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("cost.updated"))
        .all(&app.state.db)
        .await
        .unwrap();
    let mut amounts: Vec<i64> = events
        .iter()
        .map(|e| e.payload["data"]["amountMinor"].as_i64().unwrap())
        .collect();
    amounts.sort();
    assert_eq!(amounts, [5, 7]);
    let rows = entity::marketing_cost::Entity::find()
        .filter(entity::marketing_cost::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "set twice, one row");
    assert_eq!(rows[0].amount_minor, 7);
}
