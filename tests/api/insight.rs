//! Insight: deals and pipelines, the dashboard, lead analytics and email performance.
//!
//! The fixture organization's numbers are computed by hand in the comments next to each row and
//! written as literals in the assertions (never read back from the code under test). A second
//! organization with a different data set shares the database and must never be counted.

use chrono::{DateTime, Utc};
use leadgraph::auth::Role;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{self, field_errors, ok},
    helpers::{code, Options, TestApp},
};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The fixture range: New York's 2026-03-01 00:00 to 2026-03-08 00:00 (EST, UTC-5); the
/// previous period is 2026-02-22T05:00Z to 2026-03-01T05:00Z.
const FROM: &str = "2026-03-01T05:00:00Z";
const TO: &str = "2026-03-08T05:00:00Z";

async fn lead_at(app: &TestApp, org: Uuid, at: &str, status: &str, source: &str) -> Uuid {
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
        industry: Set(None),
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

/// A recipient of `campaign` sent at `sent` (None: still pending) with what happened to it.
struct Sent<'a> {
    email: &'a str,
    sent: Option<&'a str>,
    opened: bool,
    replied: bool,
    hard_bounce: bool,
}

async fn recipient(app: &TestApp, org: Uuid, campaign: Uuid, r: Sent<'_>) {
    let id = Uuid::now_v7();
    let sent = r.sent.map(t);
    let now = Utc::now();
    entity::campaign_recipient::ActiveModel {
        id: Set(id),
        campaign_id: Set(campaign),
        org_id: Set(org),
        lead_id: Set(None),
        email: Set(r.email.into()),
        status: Set(if sent.is_some() { "SENT" } else { "PENDING" }.into()),
        variant: Set(None),
        message_id: Set(format!("<{id}@sender.test>")),
        attempts: Set(1),
        open_count: Set(i32::from(r.opened)),
        click_count: Set(0),
        sent_at: Set(sent),
        opened_at: Set(sent.filter(|_| r.opened)),
        clicked_at: Set(None),
        replied_at: Set(sent.filter(|_| r.replied)),
        bounced_at: Set(sent.filter(|_| r.hard_bounce)),
        bounce_kind: Set(r.hard_bounce.then(|| "hard".to_string())),
        unsubscribed_at: Set(None),
        last_event_at: Set(sent),
        error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

/// A deal row written directly (controlled timestamps).
#[allow(clippy::too_many_arguments)]
async fn deal_at(
    app: &TestApp,
    org: Uuid,
    stage: (Uuid, Uuid),
    created: &str,
    status: &str,
    closed: Option<&str>,
    amount: i64,
    currency: &str,
) {
    entity::deal::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org),
        pipeline_id: Set(stage.0),
        stage_id: Set(stage.1),
        lead_id: Set(None),
        title: Set("Deal".into()),
        amount_minor: Set(amount),
        currency: Set(currency.into()),
        status: Set(status.into()),
        lost_reason: Set(None),
        owner_id: Set(None),
        expected_close_date: Set(None),
        closed_at: Set(closed.map(t)),
        created_by: Set(None),
        created_at: Set(t(created)),
        updated_at: Set(t(created)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

async fn approval_at(
    app: &TestApp,
    org: Uuid,
    created: &str,
    status: &str,
    resolved: Option<&str>,
) {
    entity::approval_request::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org),
        rule_id: Set(None),
        resource_type: Set("OTHER".into()),
        resource_id: Set("x".into()),
        title: Set("Request".into()),
        description: Set(None),
        requested_by: Set(None),
        assignee_ids: Set(json!([])),
        assignee_role: Set(Some("ADMIN".into())),
        required_approvals: Set(1),
        approval_count: Set(0),
        status: Set(status.into()),
        priority: Set("NORMAL".into()),
        due_at: Set(None),
        urgent: Set(false),
        escalated_at: Set(None),
        resolved_at: Set(resolved.map(t)),
        resolution_comment: Set(None),
        gated: Set(false),
        payload: Set(json!({})),
        created_at: Set(t(created)),
        updated_at: Set(t(created)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

async fn scrape_at(app: &TestApp, org: Uuid, created: &str, status: &str, finished: Option<&str>) {
    entity::scrape_job::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org),
        created_by: Set(None),
        source: Set("WEBSITE".into()),
        name: Set("Scrape".into()),
        params: Set(json!({})),
        status: Set(status.into()),
        seeded: Set(true),
        run_attempt: Set(0),
        pages_total: Set(0),
        pages_fetched: Set(0),
        pages_failed: Set(0),
        pages_skipped: Set(0),
        leads_found: Set(0),
        leads_created: Set(0),
        leads_updated: Set(0),
        current_url: Set(None),
        error: Set(None),
        job_id: Set(None),
        started_at: Set(Some(t(created))),
        finished_at: Set(finished.map(t)),
        created_at: Set(t(created)),
        updated_at: Set(t(created)),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

const CREATE_PIPELINE: &str = "mutation($i: CreatePipelineInput!) { createPipeline(input: $i) { id name stages { id name position winProbability } } }";

/// A pipeline Sales (Lead 10 %, Proposal 50 %, Negotiation 80 %) through GraphQL: (pipeline id,
/// stage ids).
async fn pipeline(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let v = ok(
        app,
        token,
        CREATE_PIPELINE,
        json!({"i": {"name": "Sales", "stages": [
        {"name": "Lead", "winProbability": 10},
        {"name": "Proposal", "winProbability": 50},
        {"name": "Negotiation", "winProbability": 80}]}}),
    )
    .await;
    let p = &v["createPipeline"];
    let stages = p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    (p["id"].as_str().unwrap().to_string(), stages)
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap()
}

/// The fixture organization (time zone America/New_York) with the rows the comments count.
async fn fixture_org(app: &TestApp) -> (Uuid, String) {
    let (org, token) = fixtures::org_with(app, Role::Owner).await;
    let v = ok(
        app,
        &token,
        "mutation { updateOrganization(input: {timezone: \"America/New_York\"}) { timezone } }",
        json!({}),
    )
    .await;
    assert_eq!(v["updateOrganization"]["timezone"], "America/New_York");
    // Leads. Current period: L1 (local 03-01 05:00), L2 (UTC 03-02 04:30 = local 03-01 23:30,
    // QUALIFIED), L3 (local 03-03, CONVERTED), L4 (local 03-07). Previous: P1 (QUALIFIED), P2.
    lead_at(app, org, "2026-03-01T10:00:00Z", "NEW", "MANUAL").await;
    lead_at(app, org, "2026-03-02T04:30:00Z", "QUALIFIED", "IMPORT").await;
    lead_at(app, org, "2026-03-03T15:00:00Z", "CONVERTED", "IMPORT").await;
    lead_at(app, org, "2026-03-07T12:00:00Z", "CONTACTED", "WEBSITE").await;
    lead_at(app, org, "2026-02-25T12:00:00Z", "QUALIFIED", "MANUAL").await;
    lead_at(app, org, "2026-02-27T12:00:00Z", "NEW", "MANUAL").await;
    // Outside both periods: long before, and exactly at the (exclusive) end.
    lead_at(app, org, "2026-01-10T12:00:00Z", "QUALIFIED", "MANUAL").await;
    lead_at(app, org, "2026-03-08T05:00:00Z", "NEW", "MANUAL").await;
    // After the DST change (EDT, UTC-4): UTC 03-10 03:30 is local 03-09 23:30.
    lead_at(app, org, "2026-03-10T03:30:00Z", "NEW", "MANUAL").await;
    // Emails. Current: R1 opened + replied, R2 opened (both local 03-02), R3 hard bounce
    // (03-03), R4 nothing (03-05): sent 4, delivered 3, opened 2, replied 1. Previous: R5
    // opened, R6: sent 2, delivered 2, opened 1, replied 0. R7 never sent.
    let tpl = fixtures::template(app, &token, "<p>Hi</p>", "Hi").await;
    let campaign = uuid(&fixtures::campaign(app, &token, &tpl, None).await);
    for r in [
        Sent {
            email: "a@alpha.test",
            sent: Some("2026-03-02T14:00:00Z"),
            opened: true,
            replied: true,
            hard_bounce: false,
        },
        Sent {
            email: "b@alpha.test",
            sent: Some("2026-03-02T15:00:00Z"),
            opened: true,
            replied: false,
            hard_bounce: false,
        },
        Sent {
            email: "c@beta.test",
            sent: Some("2026-03-03T14:00:00Z"),
            opened: false,
            replied: false,
            hard_bounce: true,
        },
        Sent {
            email: "d@beta.test",
            sent: Some("2026-03-05T14:00:00Z"),
            opened: false,
            replied: false,
            hard_bounce: false,
        },
        Sent {
            email: "e@alpha.test",
            sent: Some("2026-02-24T14:00:00Z"),
            opened: true,
            replied: false,
            hard_bounce: false,
        },
        Sent {
            email: "f@alpha.test",
            sent: Some("2026-02-24T15:00:00Z"),
            opened: false,
            replied: false,
            hard_bounce: false,
        },
        Sent {
            email: "g@alpha.test",
            sent: None,
            opened: false,
            replied: false,
            hard_bounce: false,
        },
    ] {
        recipient(app, org, campaign, r).await;
    }
    // Deals (see the dashboard test for the sums).
    let (p, stages) = pipeline(app, &token).await;
    let s = (uuid(&p), uuid(&stages[0]));
    deal_at(
        app,
        org,
        s,
        "2026-03-02T12:00:00Z",
        "WON",
        Some("2026-03-04T12:00:00Z"),
        100_000,
        "EUR",
    )
    .await; // D1
    deal_at(
        app,
        org,
        s,
        "2026-03-03T12:00:00Z",
        "OPEN",
        None,
        50_000,
        "EUR",
    )
    .await; // D2
    deal_at(
        app,
        org,
        s,
        "2026-02-20T12:00:00Z",
        "WON",
        Some("2026-02-25T12:00:00Z"),
        30_000,
        "EUR",
    )
    .await; // D3
    deal_at(
        app,
        org,
        s,
        "2026-02-23T12:00:00Z",
        "LOST",
        Some("2026-03-06T12:00:00Z"),
        20_000,
        "USD",
    )
    .await; // D4
    deal_at(
        app,
        org,
        s,
        "2026-03-05T12:00:00Z",
        "WON",
        Some("2026-03-09T12:00:00Z"),
        7_000,
        "USD",
    )
    .await; // D5
            // Approval requests: A1 pending since 02-26; A2 pending 02-27 → approved 03-03; A3 pending
            // since 03-04; A4 created after the range; A5 created and rejected on 03-02; A6 pending
            // since 03-05. Pending at the end: A1, A3, A6 = 3; at the start: A1, A2 = 2.
    approval_at(app, org, "2026-02-26T12:00:00Z", "PENDING", None).await;
    approval_at(
        app,
        org,
        "2026-02-27T12:00:00Z",
        "APPROVED",
        Some("2026-03-03T12:00:00Z"),
    )
    .await;
    approval_at(app, org, "2026-03-04T12:00:00Z", "PENDING", None).await;
    approval_at(app, org, "2026-03-09T12:00:00Z", "PENDING", None).await;
    approval_at(
        app,
        org,
        "2026-03-02T12:00:00Z",
        "REJECTED",
        Some("2026-03-02T18:00:00Z"),
    )
    .await;
    approval_at(app, org, "2026-03-05T12:00:00Z", "PENDING", None).await;
    // Scrapes: S1 ran 02-28 → 03-02 (active at the start), S2 running since 03-07 (active at
    // the end), S3 03-06 for an hour (neither).
    scrape_at(
        app,
        org,
        "2026-02-28T12:00:00Z",
        "succeeded",
        Some("2026-03-02T12:00:00Z"),
    )
    .await;
    scrape_at(app, org, "2026-03-07T12:00:00Z", "running", None).await;
    scrape_at(
        app,
        org,
        "2026-03-06T12:00:00Z",
        "failed",
        Some("2026-03-06T13:00:00Z"),
    )
    .await;
    (org, token)
}

/// A second organization on the same database with rows in the same range that the first one
/// must never count: 5 new QUALIFIED leads, 3 sends (all opened), a won and an open deal,
/// a pending approval and a running scrape.
async fn other_org(app: &TestApp) -> (Uuid, String) {
    let (org, token) = fixtures::org_with(app, Role::Owner).await;
    for _ in 0..5 {
        lead_at(app, org, "2026-03-03T12:00:00Z", "QUALIFIED", "SEARCH").await;
    }
    let tpl = fixtures::template(app, &token, "<p>Yo</p>", "Yo").await;
    let campaign = uuid(&fixtures::campaign(app, &token, &tpl, None).await);
    for e in ["x@other.test", "y@other.test", "z@other.test"] {
        recipient(
            app,
            org,
            campaign,
            Sent {
                email: e,
                sent: Some("2026-03-04T12:00:00Z"),
                opened: true,
                replied: true,
                hard_bounce: false,
            },
        )
        .await;
    }
    let (p, stages) = pipeline(app, &token).await;
    let s = (uuid(&p), uuid(&stages[1]));
    deal_at(
        app,
        org,
        s,
        "2026-03-02T12:00:00Z",
        "WON",
        Some("2026-03-03T12:00:00Z"),
        999_999,
        "EUR",
    )
    .await;
    deal_at(
        app,
        org,
        s,
        "2026-03-02T12:00:00Z",
        "OPEN",
        None,
        123,
        "GBP",
    )
    .await;
    approval_at(app, org, "2026-03-02T12:00:00Z", "PENDING", None).await;
    scrape_at(app, org, "2026-03-02T12:00:00Z", "running", None).await;
    (org, token)
}

const DASHBOARD: &str = "query($r: DateRangeInput, $p: RangePreset) { dashboard(range: $r, preset: $p) {
    from to previousFrom
    newLeads { current previous } qualifiedLeads { current previous } emailsSent { current previous }
    openRate { current previous } replyRate { current previous } dealsCreated { current previous }
    revenueWon { currency current previous } pipelineValue { currency current previous }
    approvalBacklog { current previous } activeScrapes { current previous } } }";

fn range() -> Value {
    json!({"from": FROM, "to": TO})
}

#[tokio::test]
async fn dashboard_kpis_equal_the_hand_computed_numbers_and_ignore_other_organizations() {
    let app = TestApp::spawn().await;
    let (_, token) = fixture_org(&app).await;
    let (_, other) = other_org(&app).await;
    let d = ok(&app, &token, DASHBOARD, json!({"r": range()})).await["dashboard"].clone();
    assert_eq!(
        t(d["previousFrom"].as_str().unwrap()),
        t("2026-02-22T05:00:00Z")
    );
    assert_eq!(d["newLeads"], json!({"current": 4, "previous": 2}), "{d}");
    assert_eq!(
        d["qualifiedLeads"],
        json!({"current": 2, "previous": 1}),
        "{d}"
    );
    assert_eq!(d["emailsSent"], json!({"current": 4, "previous": 2}), "{d}");
    // Opened over delivered: 2/3 now, 1/2 before; replied: 1/3, 0/2.
    assert!(
        (d["openRate"]["current"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9,
        "{d}"
    );
    assert_eq!(d["openRate"]["previous"], 0.5);
    assert!(
        (d["replyRate"]["current"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9,
        "{d}"
    );
    assert_eq!(d["replyRate"]["previous"], 0.0);
    // Created in the range: D1, D2, D5; before: D4 (D3 is older than the previous period).
    assert_eq!(
        d["dealsCreated"],
        json!({"current": 3, "previous": 1}),
        "{d}"
    );
    // Won in the range: D1 (100,000 EUR); before: D3 (30,000 EUR); D5 closed after the end.
    assert_eq!(
        d["revenueWon"],
        json!([{"currency": "EUR", "current": 100_000, "previous": 30_000}]),
        "{d}"
    );
    // Open at the end: D2 (50,000 EUR), D5 (7,000 USD); at the start: D4 (20,000 USD).
    assert_eq!(
        d["pipelineValue"],
        json!([{"currency": "EUR", "current": 50_000, "previous": 0}, {"currency": "USD", "current": 7_000, "previous": 20_000}]),
        "{d}"
    );
    assert_eq!(
        d["approvalBacklog"],
        json!({"current": 3, "previous": 2}),
        "{d}"
    );
    assert_eq!(
        d["activeScrapes"],
        json!({"current": 1, "previous": 1}),
        "{d}"
    );
    // The other organization sees only its own rows.
    let o = ok(&app, &other, DASHBOARD, json!({"r": range()})).await["dashboard"].clone();
    assert_eq!(o["newLeads"], json!({"current": 5, "previous": 0}), "{o}");
    assert_eq!(o["emailsSent"], json!({"current": 3, "previous": 0}), "{o}");
    assert_eq!(
        o["revenueWon"],
        json!([{"currency": "EUR", "current": 999_999, "previous": 0}]),
        "{o}"
    );
    assert_eq!(
        o["approvalBacklog"],
        json!({"current": 1, "previous": 0}),
        "{o}"
    );
    // A preset works and ends now.
    let p = ok(&app, &token, DASHBOARD, json!({"p": "LAST_7_DAYS"})).await["dashboard"].clone();
    assert_eq!(p["newLeads"], json!({"current": 0, "previous": 0}), "{p}");
}

const LEADS: &str = "query($r: DateRangeInput, $g: LeadGroupBy!) { leadAnalytics(range: $r, groupBy: $g) { timezone total buckets { key count qualified } } }";

fn buckets(v: &Value, field: &str) -> Vec<(String, i64)> {
    v[field]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_string(),
                b["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

#[tokio::test]
async fn lead_analytics_buckets_in_the_organization_time_zone_zero_filled() {
    let app = TestApp::spawn().await;
    let (_, token) = fixture_org(&app).await;
    other_org(&app).await;
    let v = ok(&app, &token, LEADS, json!({"r": range(), "g": "DAY"})).await;
    assert_eq!(v["leadAnalytics"]["timezone"], "America/New_York");
    assert_eq!(v["leadAnalytics"]["total"], 4);
    // L2 was created at 23:30 local on 03-01 (04:30 UTC on 03-02): it counts on 03-01.
    assert_eq!(
        buckets(&v, "leadAnalytics"),
        pairs(&[
            ("2026-03-01", 2),
            ("2026-03-02", 0),
            ("2026-03-03", 1),
            ("2026-03-04", 0),
            ("2026-03-05", 0),
            ("2026-03-06", 0),
            ("2026-03-07", 1)
        ])
    );
    assert_eq!(v["leadAnalytics"]["buckets"][0]["qualified"], 1);
    // Weeks from Monday: 03-01 is a Sunday, so L1 and L2 fall in the week of 02-23.
    let w = ok(&app, &token, LEADS, json!({"r": range(), "g": "WEEK"})).await;
    assert_eq!(
        buckets(&w, "leadAnalytics"),
        pairs(&[("2026-02-23", 2), ("2026-03-02", 2)])
    );
    // After the switch to daylight saving time (UTC-4): 03:30 UTC on 03-10 is 03-09 local.
    let dst = ok(
        &app,
        &token,
        LEADS,
        json!({"r": {"from": "2026-03-09T04:00:00Z", "to": "2026-03-11T04:00:00Z"}, "g": "DAY"}),
    )
    .await;
    assert_eq!(
        buckets(&dst, "leadAnalytics"),
        pairs(&[("2026-03-09", 1), ("2026-03-10", 0)])
    );
    let m = ok(&app, &token, LEADS, json!({"r": range(), "g": "MONTH"})).await;
    assert_eq!(buckets(&m, "leadAnalytics"), pairs(&[("2026-03-01", 4)]));
    let s = ok(&app, &token, LEADS, json!({"r": range(), "g": "SOURCE"})).await;
    assert_eq!(
        buckets(&s, "leadAnalytics"),
        pairs(&[("IMPORT", 2), ("MANUAL", 1), ("WEBSITE", 1)])
    );
    // All time, by status: 9 leads of this organization (none of the other's 5).
    let all = ok(&app, &token, LEADS, json!({"g": "STATUS"})).await;
    assert_eq!(all["leadAnalytics"]["total"], 9);
    assert_eq!(
        buckets(&all, "leadAnalytics"),
        pairs(&[
            ("CONTACTED", 1),
            ("CONVERTED", 1),
            ("NEW", 4),
            ("QUALIFIED", 3)
        ])
    );
}

const EMAILS: &str = "query($r: DateRangeInput, $g: EmailGroupBy!) { emailPerformance(range: $r, groupBy: $g) { buckets { key label sent delivered opened replied bounced openRate replyRate bounceRate } } }";

#[tokio::test]
async fn email_performance_groups_with_rates() {
    let app = TestApp::spawn().await;
    let (_, token) = fixture_org(&app).await;
    other_org(&app).await;
    let v = ok(&app, &token, EMAILS, json!({"r": range(), "g": "DAY"})).await;
    let b = &v["emailPerformance"]["buckets"];
    assert_eq!(b.as_array().unwrap().len(), 7, "{v}");
    assert_eq!(b[0]["sent"], 0);
    assert_eq!(b[1]["key"], "2026-03-02");
    assert_eq!(
        (
            b[1]["sent"].clone(),
            b[1]["opened"].clone(),
            b[1]["replied"].clone()
        ),
        (json!(2), json!(2), json!(1))
    );
    assert_eq!(
        (b[1]["openRate"].clone(), b[1]["replyRate"].clone()),
        (json!(1.0), json!(0.5))
    );
    assert_eq!(
        (
            b[2]["sent"].clone(),
            b[2]["delivered"].clone(),
            b[2]["bounceRate"].clone()
        ),
        (json!(1), json!(0), json!(1.0))
    );
    assert!(b[2]["openRate"].is_null());
    assert_eq!(b[4]["key"], "2026-03-05");
    assert_eq!(b[4]["sent"], 1);
    let d = ok(&app, &token, EMAILS, json!({"r": range(), "g": "DOMAIN"})).await;
    let d = &d["emailPerformance"]["buckets"];
    assert_eq!(
        (
            d[0]["key"].clone(),
            d[0]["sent"].clone(),
            d[0]["opened"].clone()
        ),
        (json!("alpha.test"), json!(2), json!(2))
    );
    assert_eq!(
        (
            d[1]["key"].clone(),
            d[1]["sent"].clone(),
            d[1]["bounced"].clone()
        ),
        (json!("beta.test"), json!(2), json!(1))
    );
    let c = ok(&app, &token, EMAILS, json!({"r": range(), "g": "CAMPAIGN"})).await;
    let c = &c["emailPerformance"]["buckets"];
    assert_eq!(c.as_array().unwrap().len(), 1, "{c}");
    assert_eq!(
        (c[0]["label"].clone(), c[0]["sent"].clone()),
        (json!("Launch"), json!(4))
    );
}

#[tokio::test]
async fn ranges_are_validated_and_strangers_are_refused() {
    let app = TestApp::spawn().await;
    let (_, token) = fixtures::org_with(&app, Role::Viewer).await;
    let backwards = app
        .gql(
            Some(&token),
            DASHBOARD,
            json!({"r": {"from": TO, "to": FROM}}),
        )
        .await;
    assert_eq!(field_errors(&backwards), ["range.to"]);
    let long = app
        .gql(
            Some(&token),
            DASHBOARD,
            json!({"r": {"from": "2023-01-01T00:00:00Z", "to": TO}}),
        )
        .await;
    assert_eq!(field_errors(&long), ["range.from"]);
    let both = app
        .gql(
            Some(&token),
            DASHBOARD,
            json!({"r": range(), "p": "LAST_7_DAYS"}),
        )
        .await;
    assert_eq!(field_errors(&both), ["preset"]);
    let none = app.gql(Some(&token), DASHBOARD, json!({})).await;
    assert_eq!(field_errors(&none), ["range"]);
    let series = app
        .gql(
            Some(&token),
            LEADS,
            json!({"r": {"from": TO, "to": FROM}, "g": "DAY"}),
        )
        .await;
    assert_eq!(field_errors(&series), ["range.to"]);
    for q in [
        DASHBOARD,
        "{ deals { edges { node { id } } } }",
        "{ pipelines { edges { node { id } } } }",
    ] {
        let v = app.gql(None, q, json!({"p": "LAST_7_DAYS"})).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    }
    let tz = app
        .gql(
            Some(&app.token(Uuid::now_v7(), Role::Owner).await),
            "mutation { updateOrganization(input: {timezone: \"Mars/Olympus\"}) { timezone } }",
            json!({}),
        )
        .await;
    assert_eq!(field_errors(&tz), ["input.timezone"]);
}

const CREATE_DEAL: &str = "mutation($i: CreateDealInput!) { createDeal(input: $i) { id title amountMinor currency status stage { name winProbability } leadId } }";

#[tokio::test]
async fn deals_move_through_stages_close_and_emit_events() {
    let app = TestApp::spawn().await;
    let (org, token) = fixtures::org_with(&app, Role::Owner).await;
    let (p, stages) = pipeline(&app, &token).await;
    let lead = fixtures::lead(
        &app,
        &token,
        json!({"email": "buyer@deal.test", "company": "Buyer"}),
    )
    .await;
    let d = ok(&app, &token, CREATE_DEAL, json!({"i": {"leadId": lead, "title": "Big one", "amountMinor": 125_000, "currency": "eur", "pipelineId": p}})).await;
    let deal = &d["createDeal"];
    assert_eq!(
        (
            deal["currency"].clone(),
            deal["status"].clone(),
            deal["stage"]["name"].clone()
        ),
        (json!("EUR"), json!("OPEN"), json!("Lead"))
    );
    let id = deal["id"].as_str().unwrap().to_string();
    let moved = ok(
        &app,
        &token,
        "mutation($id: ID!, $s: ID!) { moveDealStage(id: $id, stageId: $s) { stage { name } } }",
        json!({"id": id, "s": stages[2]}),
    )
    .await;
    assert_eq!(moved["moveDealStage"]["stage"]["name"], "Negotiation");
    let up = ok(&app, &token, "mutation($id: ID!) { updateDeal(id: $id, input: {amountMinor: 130000, title: \"Bigger\"}) { title amountMinor } }", json!({"id": id})).await;
    assert_eq!(
        up["updateDeal"],
        json!({"title": "Bigger", "amountMinor": 130_000})
    );
    let lost = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { closeDeal(id: $id, status: LOST) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(field_errors(&lost), ["reason"]);
    let won = ok(
        &app,
        &token,
        "mutation($id: ID!) { closeDeal(id: $id, status: WON) { status closedAt } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(won["closeDeal"]["status"], "WON");
    assert!(won["closeDeal"]["closedAt"].is_string());
    let again = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { closeDeal(id: $id, status: WON) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&again), Some("CONFLICT"));
    let stuck = app
        .gql(
            Some(&token),
            "mutation($id: ID!, $s: ID!) { moveDealStage(id: $id, stageId: $s) { id } }",
            json!({"id": id, "s": stages[0]}),
        )
        .await;
    assert_eq!(code(&stuck), Some("CONFLICT"));
    // The stream: created, updated (stage moved), updated (fields), closed (won), in order.
    let events = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.starts_with("deal."))
        .all(&app.state.db)
        .await
        .unwrap();
    let mut events: Vec<(i64, String, String)> = events
        .into_iter()
        .map(|e| {
            (
                e.seq,
                e.event_type,
                e.payload["data"]["reason"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    events.sort();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|(_, t, r)| (t.as_str(), r.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("deal.created", "created"),
            ("deal.updated", "stage_moved"),
            ("deal.updated", "updated"),
            ("deal.closed", "won")
        ]
    );
    // Invalid input names its fields.
    let bad = app.gql(Some(&token), CREATE_DEAL, json!({"i": {"leadId": lead, "title": " ", "amountMinor": -1, "currency": "EURO", "pipelineId": p}})).await;
    let mut fields = field_errors(&bad);
    fields.sort();
    assert_eq!(
        fields,
        ["input.amountMinor", "input.currency", "input.title"]
    );
    let bad_stage = app.gql(Some(&token), CREATE_PIPELINE, json!({"i": {"name": "P", "stages": [{"name": "A", "winProbability": 101}, {"name": "a", "winProbability": 5}]}})).await;
    let mut fields = field_errors(&bad_stage);
    fields.sort();
    assert_eq!(
        fields,
        ["input.stages[0].winProbability", "input.stages[1].name"]
    );
}

#[tokio::test]
async fn another_organization_cannot_see_or_touch_deals_and_pipelines() {
    let app = TestApp::spawn().await;
    let (_, token) = fixtures::org_with(&app, Role::Owner).await;
    let (p, _) = pipeline(&app, &token).await;
    let lead = fixtures::lead(
        &app,
        &token,
        json!({"email": "mine@deal.test", "company": "Mine"}),
    )
    .await;
    let d = ok(&app, &token, CREATE_DEAL, json!({"i": {"leadId": lead, "title": "Mine", "amountMinor": 1, "currency": "USD", "pipelineId": p}})).await;
    let id = d["createDeal"]["id"].as_str().unwrap().to_string();
    let (_, stranger) = fixtures::org_with(&app, Role::Owner).await;
    let seen = ok(&app, &stranger, "query($id: ID!) { deal(id: $id) { id } deals { edges { node { id } } } pipelines { edges { node { id } } } }", json!({"id": id})).await;
    assert_eq!(
        seen,
        json!({"deal": null, "deals": {"edges": []}, "pipelines": {"edges": []}})
    );
    for (q, vars) in [
        (
            "mutation($id: ID!) { updateDeal(id: $id, input: {title: \"x\"}) { id } }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { closeDeal(id: $id, status: WON) { id } }",
            json!({"id": id}),
        ),
        (
            "mutation($id: ID!) { updatePipeline(id: $id, input: {name: \"x\"}) { id } }",
            json!({"id": p}),
        ),
    ] {
        let v = app.gql(Some(&stranger), q, vars).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
    }
    // Their own pipeline with my lead: the lead is not found.
    let (theirs, _) = pipeline(&app, &stranger).await;
    let v = app.gql(Some(&stranger), CREATE_DEAL, json!({"i": {"leadId": lead, "title": "Steal", "amountMinor": 1, "currency": "USD", "pipelineId": theirs}})).await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    // A viewer reads but may not write.
    let viewer = app
        .member(uuid_of_org(&app, &token).await, Role::Viewer, "Vic")
        .await
        .1;
    let v = app
        .gql(
            Some(&viewer),
            CREATE_PIPELINE,
            json!({"i": {"name": "V", "stages": [{"name": "A", "winProbability": 1}]}}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
}

async fn uuid_of_org(app: &TestApp, token: &str) -> Uuid {
    let v = ok(app, token, "{ organization { id } }", json!({})).await;
    uuid(v["organization"]["id"].as_str().unwrap())
}

#[tokio::test]
async fn pipelines_update_their_stages_and_keep_those_with_deals() {
    let app = TestApp::spawn().await;
    let (_, token) = fixtures::org_with(&app, Role::Owner).await;
    let (p, stages) = pipeline(&app, &token).await;
    let lead = fixtures::lead(
        &app,
        &token,
        json!({"email": "s@deal.test", "company": "S"}),
    )
    .await;
    ok(&app, &token, CREATE_DEAL, json!({"i": {"leadId": lead, "title": "D", "amountMinor": 1, "currency": "USD", "pipelineId": p, "stageId": stages[1]}})).await;
    let upd = "mutation($id: ID!, $i: UpdatePipelineInput!) { updatePipeline(id: $id, input: $i) { name stages { id name position winProbability } } }";
    // Re-order, rename, add one, drop "Lead" (no deal in it).
    let v = ok(
        &app,
        &token,
        upd,
        json!({"id": p, "i": {"name": "Sales 2", "stages": [
        {"id": stages[1], "name": "Offer", "winProbability": 60},
        {"id": stages[2], "name": "Negotiation", "winProbability": 80},
        {"name": "Contract", "winProbability": 95}]}}),
    )
    .await;
    let s = &v["updatePipeline"]["stages"];
    assert_eq!(v["updatePipeline"]["name"], "Sales 2");
    assert_eq!(
        (
            s[0]["id"].clone(),
            s[0]["name"].clone(),
            s[0]["position"].clone()
        ),
        (json!(stages[1]), json!("Offer"), json!(0))
    );
    assert_eq!(
        (s[2]["name"].clone(), s[2]["winProbability"].clone()),
        (json!("Contract"), json!(95))
    );
    // Dropping the stage the deal is in is a conflict.
    let v = app.gql(Some(&token), upd, json!({"id": p, "i": {"stages": [{"id": stages[2], "name": "N", "winProbability": 80}]}})).await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
}

#[tokio::test]
async fn deal_and_lead_stats_statements_do_not_grow_with_the_page() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let (org, token) = fixtures::org_with(&app, Role::Owner).await;
    let (p, stages) = pipeline(&app, &token).await;
    let s = (uuid(&p), uuid(&stages[0]));
    for i in 0..6 {
        deal_at(&app, org, s, "2026-03-02T12:00:00Z", "OPEN", None, i, "EUR").await;
    }
    let q = "query($n: Int) { deals(first: $n) { edges { node { id amountMinor stage { name winProbability } } } } }";
    let mut counts = Vec::new();
    for n in [1, 5] {
        app.request_statements();
        let v = ok(&app, &token, q, json!({"n": n})).await;
        assert_eq!(v["deals"]["edges"].as_array().unwrap().len(), n as usize);
        counts.push(app.request_statements().len());
    }
    assert_eq!(counts, [2, 2], "deals + their stages, at any page size");
    // leadStats: one grouped statement, whatever the number of leads.
    for (i, status) in ["NEW", "NEW", "QUALIFIED"].into_iter().enumerate() {
        lead_at(
            &app,
            org,
            &format!("2026-03-0{}T12:00:00Z", i + 1),
            status,
            "MANUAL",
        )
        .await;
    }
    app.request_statements();
    let v = ok(&app, &token, "{ leadStats { total byStatus { key count } bySource { key count } byScoreBand { key count } createdPerDay { key count } } }", json!({})).await;
    // One statement that groups in the database (the old code selected every row and
    // counted in Rust: one statement too, but without a GROUP BY).
    let statements = app.request_statements();
    assert_eq!(statements.len(), 1, "{statements:?}");
    assert!(
        statements[0].contains("GROUP BY") && statements[0].contains("COUNT(*)"),
        "{statements:?}"
    );
    assert_eq!(v["leadStats"]["total"], 3);
    assert_eq!(
        v["leadStats"]["byStatus"],
        json!([{"key": "NEW", "count": 2}, {"key": "QUALIFIED", "count": 1}])
    );
    assert_eq!(
        v["leadStats"]["byScoreBand"],
        json!([{"key": "0-19", "count": 3}])
    );
    assert_eq!(v["leadStats"]["createdPerDay"], json!([]));
}
