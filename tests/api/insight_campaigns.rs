//! Insight, third slice: `campaignAnalytics` (one campaign's sends by local day and A/B
//! variant). Every number asserted is computed by hand in the comments of [`fixture`]; a
//! second campaign of the same organization and another organization's campaign share the
//! database and must never be counted.

use chrono::{DateTime, Utc};
use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{self, field_errors, ok},
    helpers::{code, Options, TestApp},
};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// One recipient: its variant, when it was sent (None: pending) and what happened to it.
#[derive(Default)]
struct R<'a> {
    variant: Option<&'a str>,
    sent: Option<&'a str>,
    opened: bool,
    clicked: bool,
    replied: bool,
    bounce: Option<&'a str>,
    unsubscribed: bool,
}

async fn recipient(app: &TestApp, org: Uuid, campaign: Uuid, r: R<'_>) {
    let id = Uuid::now_v7();
    let sent = r.sent.map(t);
    let if_ = |b: bool| sent.filter(|_| b);
    entity::campaign_recipient::ActiveModel {
        id: Set(id),
        campaign_id: Set(campaign),
        org_id: Set(org),
        lead_id: Set(None),
        email: Set(format!("{}@rcpt.test", id.simple())),
        status: Set(if sent.is_some() { "SENT" } else { "PENDING" }.into()),
        variant: Set(r.variant.map(str::to_string)),
        message_id: Set(format!("<{id}@sender.test>")),
        attempts: Set(1),
        open_count: Set(i32::from(r.opened)),
        click_count: Set(i32::from(r.clicked)),
        sent_at: Set(sent),
        opened_at: Set(if_(r.opened)),
        clicked_at: Set(if_(r.clicked)),
        replied_at: Set(if_(r.replied)),
        bounced_at: Set(if_(r.bounce.is_some())),
        bounce_kind: Set(r.bounce.map(str::to_string)),
        unsubscribed_at: Set(if_(r.unsubscribed)),
        last_event_at: Set(sent),
        error: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

/// A campaign through GraphQL, then given the A/B variants `names` (written directly).
async fn campaign(app: &TestApp, token: &str, names: &[&str]) -> Uuid {
    let tpl = fixtures::template(app, token, "<p>Hi</p>", "Hi").await;
    let id = Uuid::parse_str(&fixtures::campaign(app, token, &tpl, None).await).unwrap();
    let row = entity::campaign::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    let variants: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "weight": 1}))
        .collect();
    row.variants = Set(json!(variants));
    row.update(&app.state.db).await.unwrap();
    id
}

/// Local days 2026-03-01..03 in New York (EST, UTC-5).
const FROM: &str = "2026-03-01T05:00:00Z";
const TO: &str = "2026-03-04T05:00:00Z";

/// The fixture organization (America/New_York): its campaign X (variants A, B, C), token and
/// id. In the range, X's sends:
///
/// | # | variant | sent (UTC)     | local day | what happened             |
/// |---|---------|----------------|-----------|---------------------------|
/// | 1 | A       | 03-01 14:00    | 03-01     | opened, clicked, replied  |
/// | 2 | A       | 03-02 04:30    | 03-01     | opened (23:30 local)      |
/// | 3 | B       | 03-02 15:00    | 03-02     | hard bounce               |
/// | 4 | B       | 03-03 15:00    | 03-03     | opened, unsubscribed      |
/// | 5 | B       | 03-03 16:00    | 03-03     | soft bounce (delivered)   |
/// | 6 | none    | 03-03 17:00    | 03-03     | nothing                   |
///
/// Totals: sent 6, delivered 5 (all but the hard bounce), opened 3, clicked 1, replied 1,
/// bounced 2, unsubscribed 1. Not counted: X sent 03-01 04:30Z (local 02-28 23:30), X sent at
/// 03-04 05:00Z (the exclusive end), X pending, campaign Y's send on 03-02.
async fn fixture(app: &TestApp) -> (Uuid, String, Uuid) {
    let (org, token) = fixtures::org_with(app, Role::Owner).await;
    ok(
        app,
        &token,
        "mutation { updateOrganization(input: {timezone: \"America/New_York\"}) { timezone } }",
        json!({}),
    )
    .await;
    let x = campaign(app, &token, &["A", "B", "C"]).await;
    let y = campaign(app, &token, &[]).await;
    let (a, b) = (Some("A"), Some("B"));
    for r in [
        R {
            variant: a,
            sent: Some("2026-03-01T14:00:00Z"),
            opened: true,
            clicked: true,
            replied: true,
            ..R::default()
        },
        R {
            variant: a,
            sent: Some("2026-03-02T04:30:00Z"),
            opened: true,
            ..R::default()
        },
        R {
            variant: b,
            sent: Some("2026-03-02T15:00:00Z"),
            bounce: Some("hard"),
            ..R::default()
        },
        R {
            variant: b,
            sent: Some("2026-03-03T15:00:00Z"),
            opened: true,
            unsubscribed: true,
            ..R::default()
        },
        R {
            variant: b,
            sent: Some("2026-03-03T16:00:00Z"),
            bounce: Some("soft"),
            ..R::default()
        },
        R {
            sent: Some("2026-03-03T17:00:00Z"),
            ..R::default()
        },
        R {
            variant: a,
            sent: Some("2026-03-01T04:30:00Z"),
            opened: true,
            ..R::default()
        },
        R {
            variant: b,
            sent: Some(TO),
            opened: true,
            ..R::default()
        },
        R {
            variant: a,
            ..R::default()
        },
    ] {
        recipient(app, org, x, r).await;
    }
    let other_campaign = R {
        sent: Some("2026-03-02T15:00:00Z"),
        opened: true,
        ..R::default()
    };
    recipient(app, org, y, other_campaign).await;
    (org, token, x)
}

/// Another organization's campaign Z with 3 opened sends on local 03-02 (variant A).
async fn stranger(app: &TestApp) -> (String, Uuid) {
    let (org, token) = fixtures::org_with(app, Role::Owner).await;
    let z = campaign(app, &token, &["A"]).await;
    for _ in 0..3 {
        let r = R {
            variant: Some("A"),
            sent: Some("2026-03-02T15:00:00Z"),
            opened: true,
            ..R::default()
        };
        recipient(app, org, z, r).await;
    }
    (token, z)
}

const ANALYTICS: &str = "query($c: ID!, $r: DateRangeInput, $p: RangePreset) {
  campaignAnalytics(campaignId: $c, range: $r, preset: $p) { campaignId name timezone from to
    total { ...B } days { ...B } variants { ...B } } }
  fragment B on EmailBucket { key sent delivered opened clicked replied bounced unsubscribed
    openRate clickRate replyRate bounceRate unsubscribeRate }";

/// `(key, [sent, delivered, opened, clicked, replied, bounced, unsubscribed])`.
fn counts(b: &Value) -> (String, [i64; 7]) {
    let n = |f: &str| b[f].as_i64().unwrap();
    (
        b["key"].as_str().unwrap().to_string(),
        [
            n("sent"),
            n("delivered"),
            n("opened"),
            n("clicked"),
            n("replied"),
            n("bounced"),
            n("unsubscribed"),
        ],
    )
}

fn list(v: &Value) -> Vec<(String, [i64; 7])> {
    v.as_array().unwrap().iter().map(counts).collect()
}

fn want(rows: &[(&str, [i64; 7])]) -> Vec<(String, [i64; 7])> {
    rows.iter().map(|(k, c)| (k.to_string(), *c)).collect()
}

/// `[open, click, reply, bounce, unsubscribe]` rates (null as None).
fn rates(b: &Value) -> [Option<f64>; 5] {
    let r = |f: &str| b[f].as_f64();
    [
        r("openRate"),
        r("clickRate"),
        r("replyRate"),
        r("bounceRate"),
        r("unsubscribeRate"),
    ]
}

#[tokio::test]
async fn campaign_analytics_counts_sends_by_local_day_and_variant() {
    let app = TestApp::spawn().await;
    let (org, _, x) = fixture(&app).await;
    stranger(&app).await;
    // VIEWER reads analytics like the rest of insight.
    let viewer = app.token(org, Role::Viewer).await;
    let v = ok(
        &app,
        &viewer,
        ANALYTICS,
        json!({"c": x.to_string(), "r": {"from": FROM, "to": TO}}),
    )
    .await;
    let a = &v["campaignAnalytics"];
    assert_eq!(a["campaignId"], x.to_string());
    assert_eq!(
        (&a["name"], &a["timezone"]),
        (&json!("Launch"), &json!("America/New_York"))
    );
    assert_eq!(counts(&a["total"]), ("".to_string(), [6, 5, 3, 1, 1, 2, 1]));
    assert_eq!(
        rates(&a["total"]),
        [Some(0.6), Some(0.2), Some(0.2), Some(2.0 / 6.0), Some(0.2)]
    );
    // Send 2 left at 23:30 local on 03-01 (04:30 UTC on 03-02): it counts on 03-01.
    assert_eq!(
        list(&a["days"]),
        want(&[
            ("2026-03-01", [2, 2, 2, 1, 1, 0, 0]),
            ("2026-03-02", [1, 0, 0, 0, 0, 1, 0]),
            ("2026-03-03", [3, 3, 1, 0, 0, 1, 1]),
        ])
    );
    assert_eq!(
        rates(&a["days"][0]),
        [Some(1.0), Some(0.5), Some(0.5), Some(0.0), Some(0.0)]
    );
    // Nothing delivered on 03-02: the rates over delivered are null, the bounce rate is 1.
    assert_eq!(rates(&a["days"][1]), [None, None, None, Some(1.0), None]);
    // Every variant of the campaign, in its order; C sent nothing; send 6 has no variant.
    assert_eq!(
        list(&a["variants"]),
        want(&[
            ("A", [2, 2, 2, 1, 1, 0, 0]),
            ("B", [3, 2, 1, 0, 0, 2, 1]),
            ("C", [0, 0, 0, 0, 0, 0, 0]),
        ])
    );
    assert_eq!(
        rates(&a["variants"][1]),
        [Some(0.5), Some(0.0), Some(0.0), Some(2.0 / 3.0), Some(0.5)]
    );
    assert_eq!(rates(&a["variants"][2]), [None; 5]);
}

#[tokio::test]
async fn campaign_analytics_is_scoped_validated_and_authenticated() {
    let app = TestApp::spawn().await;
    let (_, token, x) = fixture(&app).await;
    let (other, z) = stranger(&app).await;
    let r = json!({"from": FROM, "to": TO});
    // Another organization's campaign behaves as missing, both ways.
    for (tok, id) in [(&other, x), (&token, z)] {
        let v = app
            .gql(Some(tok), ANALYTICS, json!({"c": id.to_string(), "r": r}))
            .await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    }
    let z_own = ok(&app, &other, ANALYTICS, json!({"c": z.to_string(), "r": r})).await;
    assert_eq!(
        counts(&z_own["campaignAnalytics"]["total"]),
        ("".to_string(), [3, 3, 3, 0, 0, 0, 0])
    );
    let garbage = app
        .gql(Some(&token), ANALYTICS, json!({"c": "nope", "r": r}))
        .await;
    assert_eq!(code(&garbage), Some("NOT_FOUND"), "{garbage}");
    let c = x.to_string();
    let backwards = app
        .gql(
            Some(&token),
            ANALYTICS,
            json!({"c": c, "r": {"from": TO, "to": FROM}}),
        )
        .await;
    assert_eq!(field_errors(&backwards), ["range.to"]);
    let long = app
        .gql(
            Some(&token),
            ANALYTICS,
            json!({"c": c, "r": {"from": "2023-01-01T00:00:00Z", "to": TO}}),
        )
        .await;
    assert_eq!(field_errors(&long), ["range.from"]);
    let both = app
        .gql(
            Some(&token),
            ANALYTICS,
            json!({"c": c, "r": r, "p": "LAST_7_DAYS"}),
        )
        .await;
    assert_eq!(field_errors(&both), ["preset"]);
    let anon = app.gql(None, ANALYTICS, json!({"c": c, "r": r})).await;
    assert_eq!(code(&anon), Some("UNAUTHENTICATED"), "{anon}");
    // Without a range: the last 30 days (the fixture's sends are long before), zero-filled.
    let recent = ok(&app, &token, ANALYTICS, json!({"c": c})).await;
    let a = &recent["campaignAnalytics"];
    assert_eq!(a["total"]["sent"], 0);
    let days = a["days"].as_array().unwrap().len();
    assert!((30..=31).contains(&days), "{days} days");
    let from = t(a["from"].as_str().unwrap());
    let to = t(a["to"].as_str().unwrap());
    assert_eq!((to - from).num_days(), 30);
}

#[tokio::test]
async fn campaign_analytics_is_two_statements() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let (_, token, x) = fixture(&app).await;
    app.request_statements();
    ok(
        &app,
        &token,
        ANALYTICS,
        json!({"c": x.to_string(), "r": {"from": FROM, "to": TO}}),
    )
    .await;
    let s = app.request_statements();
    assert_eq!(s.len(), 2, "{s:?}");
}
