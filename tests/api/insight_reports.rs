//! Insight reports: definitions, runs through the job queue, the formats (CSV, XLSX, PDF),
//! the daily limit and the events. Every expected row below is written by hand from the
//! fixture (never read back from the code under test); another organization shares the
//! database and must never show up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use leadgraph::auth::Role;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{self, field_errors, ok},
    helpers::{code, TestApp},
};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const CREATE: &str =
    "mutation($i: CreateReportInput!) { createReport(input: $i) { id name kind format params } }";
const GENERATE: &str = "mutation($id: ID!) { generateReport(id: $id) { id status progress url } }";
const RUNS: &str = "query($id: ID!) { reportRuns(reportId: $id, first: 10) { nodes { id status progress rowCount error url urlExpiresAt } } }";

/// A lead written directly: (first, last, email, company, status, source, score, created).
async fn lead(app: &TestApp, org: Uuid, f: (&str, &str, &str, &str, &str, &str, i32, &str)) {
    let id = Uuid::now_v7();
    let at = t(f.7);
    entity::lead::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        first_name: Set(Some(f.0.into())),
        last_name: Set(Some(f.1.into())),
        email: Set(Some(f.2.into())),
        phone: Set(None),
        company: Set(f.3.into()),
        title: Set(None),
        website: Set(None),
        industry: Set(None),
        city: Set(None),
        region: Set(None),
        country: Set(None),
        latitude: Set(None),
        longitude: Set(None),
        source: Set(f.5.into()),
        status: Set(f.4.into()),
        score: Set(f.6),
        score_reasons: Set(json!([])),
        custom_fields: Set(json!({})),
        provenance: Set(json!({})),
        owner_id: Set(None),
        last_contacted_at: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        email_status: Set(None),
        validated_at: Set(None),
        phone_type: Set(None),
        phone_carrier: Set(None),
        phone_country: Set(None),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

async fn create(app: &TestApp, token: &str, input: Value) -> String {
    let d = ok(app, token, CREATE, json!({ "i": input })).await;
    d["createReport"]["id"].as_str().unwrap().to_string()
}

/// Generates report `id` and waits for its run to finish; the run.
async fn generate(app: &TestApp, token: &str, id: &str) -> Value {
    let d = ok(app, token, GENERATE, json!({ "id": id })).await;
    let run = d["generateReport"]["id"].as_str().unwrap().to_string();
    assert_eq!(d["generateReport"]["status"], "QUEUED");
    assert!(d["generateReport"]["url"].is_null());
    for _ in 0..300 {
        let d = ok(app, token, RUNS, json!({ "id": id })).await;
        let node = d["reportRuns"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == run.as_str())
            .cloned()
            .unwrap();
        if node["status"] == "SUCCEEDED" || node["status"] == "FAILED" {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("report run {run} did not finish");
}

/// The bytes behind a run's signed link (200).
async fn download(app: &TestApp, run: &Value) -> Vec<u8> {
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    let url = run["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{run}"))
        .replace("http://localhost:8080", &format!("http://{}", app.addr));
    let res = app.http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

fn csv_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The fixture: Acme's three leads and one of another organization.
///
/// | name        | email           | company | status    | source   | score | created    |
/// |-------------|-----------------|---------|-----------|----------|-------|------------|
/// | Ada Byron   | ada@acme.test   | Acme    | QUALIFIED | MANUAL   | 80    | 2026-03-01 |
/// | Bob Stone   | bob@acme.test   | Stone   | NEW       | IMPORT   | 10    | 2026-03-02 |
/// | Cy =Formula | cy@acme.test    | =SUM(1) | QUALIFIED | MANUAL   | 55    | 2026-03-03 |
///
/// Ordered by creation. The formula cell is escaped with `'` in CSV.
async fn lead_fixture(app: &TestApp) -> (Uuid, String, String) {
    let (org, token) = fixtures::org_with(app, Role::Owner).await;
    let (other, other_token) = fixtures::org_with(app, Role::Owner).await;
    for l in [
        (
            "Ada",
            "Byron",
            "ada@acme.test",
            "Acme",
            "QUALIFIED",
            "MANUAL",
            80,
            "2026-03-01T10:00:00Z",
        ),
        (
            "Bob",
            "Stone",
            "bob@acme.test",
            "Stone",
            "NEW",
            "IMPORT",
            10,
            "2026-03-02T10:00:00Z",
        ),
        (
            "Cy",
            "Formula",
            "cy@acme.test",
            "=SUM(1)",
            "QUALIFIED",
            "MANUAL",
            55,
            "2026-03-03T10:00:00Z",
        ),
    ] {
        lead(app, org, l).await;
    }
    lead(
        app,
        other,
        (
            "Eve",
            "Other",
            "eve@other.test",
            "Other",
            "QUALIFIED",
            "MANUAL",
            99,
            "2026-03-01T09:00:00Z",
        ),
    )
    .await;
    (org, token, other_token)
}

#[tokio::test]
async fn lead_list_csv_has_the_hand_computed_rows_and_its_run_events() {
    let app = TestApp::spawn().await;
    let (org, token, _) = lead_fixture(&app).await;
    let id = create(
        &app,
        &token,
        json!({"name": "All leads", "kind": "LEAD_LIST", "format": "CSV"}),
    )
    .await;
    let run = generate(&app, &token, &id).await;
    assert_eq!(run["rowCount"], 3, "{run}");
    assert_eq!(run["progress"], 100);
    assert!(run["urlExpiresAt"].is_string());
    let rows = csv_rows(&download(&app, &run).await);
    let expected: Vec<Vec<&str>> = vec![
        vec![
            "Name", "Email", "Company", "Status", "Source", "Score", "Created",
        ],
        vec![
            "Ada Byron",
            "ada@acme.test",
            "Acme",
            "QUALIFIED",
            "MANUAL",
            "80",
            "2026-03-01",
        ],
        vec![
            "Bob Stone",
            "bob@acme.test",
            "Stone",
            "NEW",
            "IMPORT",
            "10",
            "2026-03-02",
        ],
        vec![
            "Cy Formula",
            "cy@acme.test",
            "'=SUM(1)",
            "QUALIFIED",
            "MANUAL",
            "55",
            "2026-03-03",
        ],
    ];
    assert_eq!(rows, expected);

    // Filtered by status: the two QUALIFIED leads.
    let q = create(&app, &token, json!({"name": "Qualified", "kind": "LEAD_LIST", "format": "CSV", "params": {"status": "QUALIFIED"}})).await;
    let rows = csv_rows(&download(&app, &generate(&app, &token, &q).await).await);
    let names: Vec<&str> = rows.iter().skip(1).map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["Ada Byron", "Cy Formula"]);

    // The run's events, in order: queued, running, progress, succeeded.
    let mut events = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("report.run"))
        .all(&app.state.db)
        .await
        .unwrap();
    events.retain(|e| e.payload["data"]["reportId"] == id.as_str());
    events.sort_by_key(|e| e.seq);
    let seen: Vec<(String, String, i64)> = events
        .iter()
        .map(|e| {
            let d = &e.payload["data"];
            (
                d["action"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
                d["progress"].as_i64().unwrap(),
            )
        })
        .collect();
    let want = [
        ("queued", "QUEUED", 0),
        ("running", "RUNNING", 0),
        ("progress", "RUNNING", 50),
        ("succeeded", "SUCCEEDED", 100),
    ];
    let want: Vec<(String, String, i64)> = want
        .iter()
        .map(|(a, s, p)| (a.to_string(), s.to_string(), *p))
        .collect();
    assert_eq!(seen, want);
    // The output is an organization file.
    let files = ok(
        &app,
        &token,
        "{ files(first: 10) { nodes { name kind } } }",
        json!({}),
    )
    .await;
    let names: Vec<&str> = files["files"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{files}");
    assert!(names.iter().all(|n| n.ends_with(".csv")), "{names:?}");
}

#[tokio::test]
async fn lead_list_xlsx_opens_with_the_rows() {
    use std::io::Read;
    let app = TestApp::spawn().await;
    let (_, token, _) = lead_fixture(&app).await;
    let id = create(
        &app,
        &token,
        json!({"name": "Leads workbook", "kind": "LEAD_LIST", "format": "XLSX"}),
    )
    .await;
    let bytes = download(&app, &generate(&app, &token, &id).await).await;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut sheet = String::new();
    zip.by_name("xl/worksheets/sheet1.xml")
        .unwrap()
        .read_to_string(&mut sheet)
        .unwrap();
    assert_eq!(sheet.matches("<row ").count(), 4, "header + 3 leads");
    let mut strings = String::new();
    zip.by_name("xl/sharedStrings.xml")
        .unwrap()
        .read_to_string(&mut strings)
        .unwrap();
    for s in [
        "Ada Byron",
        "Bob Stone",
        "Cy Formula",
        "ada@acme.test",
        "=SUM(1)",
    ] {
        assert!(strings.contains(s), "{s} missing: {strings}");
    }
    assert!(!strings.contains("Eve"), "another organization's lead");
    // Scores are number cells (column F), in creation order.
    for (cell, score) in [("F2", 80), ("F3", 10), ("F4", 55)] {
        let want = format!("<c r=\"{cell}\"><v>{score}</v></c>");
        assert!(sheet.contains(&want), "{want} missing: {sheet}");
    }
}

/// One sent campaign recipient (sent at `sent`; opened / replied / hard-bounced).
async fn send(
    app: &TestApp,
    org: Uuid,
    campaign: Uuid,
    sent: &str,
    opened: bool,
    replied: bool,
    bounced: bool,
) {
    let id = Uuid::now_v7();
    let at = Some(t(sent));
    let if_ = |b: bool| at.filter(|_| b);
    entity::campaign_recipient::ActiveModel {
        id: Set(id),
        campaign_id: Set(campaign),
        org_id: Set(org),
        lead_id: Set(None),
        email: Set(format!("{}@rcpt.test", id.simple())),
        status: Set("SENT".into()),
        variant: Set(None),
        message_id: Set(format!("<{id}@sender.test>")),
        attempts: Set(1),
        open_count: Set(i32::from(opened)),
        click_count: Set(0),
        sent_at: Set(at),
        opened_at: Set(if_(opened)),
        clicked_at: Set(None),
        replied_at: Set(if_(replied)),
        bounced_at: Set(if_(bounced)),
        bounce_kind: Set(bounced.then(|| "hard".to_string())),
        unsubscribed_at: Set(None),
        last_event_at: Set(at),
        error: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
}

async fn campaign_named(app: &TestApp, token: &str, name: &str) -> Uuid {
    let tpl = fixtures::template(app, token, "<p>Hi</p>", "Hi").await;
    let id = Uuid::parse_str(&fixtures::campaign(app, token, &tpl, None).await).unwrap();
    let mut row: entity::campaign::ActiveModel =
        fixtures::campaign_row(app, &id.to_string()).await.into();
    row.name = Set(name.into());
    row.update(&app.state.db).await.unwrap();
    id
}

/// Campaign performance over 2026-03-01..2026-03-04 (UTC):
///
/// | campaign | sends in range                        | sent | deliv. | opened | replied | bounced |
/// |----------|---------------------------------------|------|--------|--------|---------|---------|
/// | Launch   | opened+replied, opened, hard bounce   | 3    | 2      | 2      | 1       | 1       |
/// | Followup | opened                                | 1    | 1      | 1      | 0       | 0       |
///
/// Open rate = opened / delivered: Launch 2/2 = 100.0 %, Followup 1/1 = 100.0 %; reply rate:
/// Launch 1/2 = 50.0 %, Followup 0 %. Totals: sent 4, delivered 3, opened 3, replied 1. Not
/// counted: Launch's send on 02-28 and on 03-04 (the exclusive end); another organization's
/// campaign in the range.
#[tokio::test]
async fn campaign_performance_csv_has_the_hand_computed_rows_and_totals_in_the_pdf() {
    let app = TestApp::spawn().await;
    let (org, token) = fixtures::org_with(&app, Role::Owner).await;
    let (other, other_token) = fixtures::org_with(&app, Role::Owner).await;
    let launch = campaign_named(&app, &token, "Launch").await;
    let follow = campaign_named(&app, &token, "Followup").await;
    let theirs = campaign_named(&app, &other_token, "Theirs").await;
    send(&app, org, launch, "2026-03-01T10:00:00Z", true, true, false).await;
    send(
        &app,
        org,
        launch,
        "2026-03-02T10:00:00Z",
        true,
        false,
        false,
    )
    .await;
    send(
        &app,
        org,
        launch,
        "2026-03-03T23:59:00Z",
        false,
        false,
        true,
    )
    .await;
    send(&app, org, launch, "2026-02-28T23:59:00Z", true, true, false).await;
    send(&app, org, launch, "2026-03-04T00:00:00Z", true, true, false).await;
    send(
        &app,
        org,
        follow,
        "2026-03-02T12:00:00Z",
        true,
        false,
        false,
    )
    .await;
    send(
        &app,
        other,
        theirs,
        "2026-03-02T12:00:00Z",
        true,
        true,
        false,
    )
    .await;
    let params = json!({"range": {"from": "2026-03-01T00:00:00Z", "to": "2026-03-04T00:00:00Z"}});
    let id = create(&app, &token, json!({"name": "March performance", "kind": "CAMPAIGN_PERFORMANCE", "format": "CSV", "params": params})).await;
    let run = generate(&app, &token, &id).await;
    assert_eq!(run["rowCount"], 2, "{run}");
    let rows = csv_rows(&download(&app, &run).await);
    let expected: Vec<Vec<&str>> = vec![
        vec![
            "Campaign",
            "Sent",
            "Delivered",
            "Opened",
            "Clicked",
            "Replied",
            "Bounced",
            "Unsubscribed",
            "Open rate",
            "Reply rate",
        ],
        vec![
            "Launch", "3", "2", "2", "0", "1", "1", "0", "100.0%", "50.0%",
        ],
        vec![
            "Followup", "1", "1", "1", "0", "0", "0", "0", "100.0%", "0.0%",
        ],
    ];
    assert_eq!(rows, expected);

    // The same report as a PDF: title, rows and totals are extractable text.
    let pdf = create(&app, &token, json!({"name": "March performance PDF", "kind": "CAMPAIGN_PERFORMANCE", "format": "PDF", "params": params})).await;
    let bytes = download(&app, &generate(&app, &token, &pdf).await).await;
    assert!(bytes.starts_with(b"%PDF-"));
    let Some((text, pages)) = pdf_text(&bytes) else {
        return;
    };
    assert_eq!(pages, 1);
    assert!(text.contains("March performance PDF"), "{text}");
    assert!(
        text.contains("Launch") && text.contains("Followup"),
        "{text}"
    );
    assert!(text.contains("Total Sent: 4"), "{text}");
    assert!(text.contains("Total Delivered: 3"), "{text}");
    assert!(text.contains("Total Opened: 3"), "{text}");
    assert!(text.contains("Total Replied: 1"), "{text}");
    assert!(!text.contains("Theirs"), "{text}");
}

/// `pdftotext` and `pdfinfo` (poppler) on the bytes: (text, pages). None (with a loud
/// message) when poppler is missing outside CI; under CI=true a missing poppler fails.
fn pdf_text(bytes: &[u8]) -> Option<(String, u32)> {
    let dir = tempfile_dir();
    let path = dir.join("report.pdf");
    std::fs::write(&path, bytes).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output();
    let text = match text {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).to_string(),
        Ok(o) => panic!("pdftotext failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("pdftotext is required under CI (poppler-utils): {e}");
            }
            eprintln!("\n\n!!! SKIPPING the PDF text checks: pdftotext (poppler-utils) is not installed: {e} !!!\n");
            return None;
        }
    };
    let info = std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .unwrap();
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|p| p.trim().parse().unwrap())
        .unwrap_or_else(|| panic!("no page count: {info}"));
    Some((text, pages))
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lg-report-{}", Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_long_pdf_spans_pages() {
    let app = TestApp::spawn().await;
    let (org, token) = fixtures::org_with(&app, Role::Owner).await;
    // 120 leads on A4 (842 pt, 40 pt margins, 13 pt lines): the first page holds the title,
    // the chart and rows from y = 551 down to 57 (39 rows); the next pages rows from 779 down
    // to 51 + … ≥ 53 (56 rows): 39 + 56 = 95, the other 25 and the totals on page 3.
    fixtures::insert_leads(&app, org, "many.test", 120).await;
    let id = create(
        &app,
        &token,
        json!({"name": "Every lead", "kind": "LEAD_LIST", "format": "PDF"}),
    )
    .await;
    let bytes = download(&app, &generate(&app, &token, &id).await).await;
    let Some((text, pages)) = pdf_text(&bytes) else {
        return;
    };
    assert_eq!(pages, 3, "{text}");
    assert!(text.contains("Every lead"));
    assert!(text.contains("Total Leads: 120"), "{text}");
    assert!(text.contains("All leads by status"));
}

#[tokio::test]
async fn reports_are_validated_scoped_and_deleted() {
    let app = TestApp::spawn().await;
    let (org, token, other_token) = lead_fixture(&app).await;
    let bad = |input: Value| {
        let app = &app;
        let token = token.clone();
        async move { app.gql(Some(&token), CREATE, json!({ "i": input })).await }
    };
    let lead_list = |params: Value| json!({"name": "R", "kind": "LEAD_LIST", "format": "CSV", "params": params});
    let ranged =
        |params: Value| json!({"name": "R", "kind": "REVENUE", "format": "CSV", "params": params});
    for (input, field) in [
        (
            json!({"name": "  ", "kind": "LEAD_LIST", "format": "CSV"}),
            "input.name",
        ),
        (lead_list(json!([1])), "input.params"),
        (lead_list(json!({"range": {}})), "input.params.range"),
        (lead_list(json!({"status": "WON"})), "input.params.status"),
        (lead_list(json!({"source": ""})), "input.params.source"),
        (ranged(json!({"status": "NEW"})), "input.params.status"),
        (
            ranged(json!({"preset": "YESTERDAY"})),
            "input.params.preset",
        ),
        (
            ranged(
                json!({"range": {"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}}),
            ),
            "input.params.range.to",
        ),
        (
            ranged(
                json!({"range": {"from": "2020-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}}),
            ),
            "input.params.range.from",
        ),
        (
            ranged(json!({"range": {"from": "yesterday", "to": "2026-03-01T00:00:00Z"}})),
            "input.params.range.from",
        ),
        (
            ranged(
                json!({"preset": "LAST_7_DAYS", "range": {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z"}}),
            ),
            "input.params",
        ),
        (
            json!({"name": "R", "kind": "APPROVALS_AUDIT", "format": "CSV", "params": {"status": "NEW"}}),
            "input.params.status",
        ),
    ] {
        let v = bad(input.clone()).await;
        assert_eq!(field_errors(&v), [field], "{input}: {v}");
    }
    // Valid: defaults stored as {}, a preset kept.
    let d = ok(&app, &token, CREATE, json!({"i": {"name": " Revenue ", "kind": "REVENUE", "format": "XLSX", "params": {"preset": "LAST_7_DAYS"}}})).await;
    let r = &d["createReport"];
    assert_eq!(r["name"], "Revenue");
    assert_eq!(r["kind"], "REVENUE");
    assert_eq!(r["format"], "XLSX");
    assert_eq!(r["params"], json!({"preset": "LAST_7_DAYS"}));
    let id = r["id"].as_str().unwrap().to_string();
    let list = ok(
        &app,
        &token,
        "{ reports(first: 5) { totalCount nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(list["reports"]["nodes"][0]["id"], id.as_str());

    // Unauthenticated.
    let v = app
        .gql(None, "{ reports(first: 5) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app.gql(None, GENERATE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    // A VIEWER reads but does not write.
    let viewer = app.token(org, Role::Viewer).await;
    let v = app
        .gql(
            Some(&viewer),
            "query($id: ID!) { report(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(v["data"]["report"]["id"], id.as_str(), "{v}");
    let v = app.gql(Some(&viewer), GENERATE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");

    // Another organization: the report is missing and its runs invisible.
    let run = generate(&app, &token, &id).await;
    assert!(!download(&app, &run).await.is_empty());
    let v = app
        .gql(
            Some(&other_token),
            "query($id: ID!) { report(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert!(v["data"]["report"].is_null(), "{v}");
    let theirs = ok(
        &app,
        &other_token,
        "{ reports(first: 5) { nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(theirs["reports"]["nodes"], json!([]));
    for q in [
        RUNS,
        GENERATE,
        "mutation($id: ID!) { deleteReport(id: $id) }",
    ] {
        let v = app.gql(Some(&other_token), q, json!({"id": id})).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
    }

    // Deleted: gone, and so is the file its run generated (the signed link stops working);
    // the runs stay stored so the daily limit still counts them, and one still in flight
    // (written here as RUNNING, as a job would be mid-way) ends FAILED.
    let rid = Uuid::parse_str(&id).unwrap();
    let in_flight = entity::report_run::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org),
        report_id: Set(rid),
        status: Set("RUNNING".into()),
        progress: Set(50),
        attempt: Set(1),
        row_count: Set(None),
        file_id: Set(None),
        error: Set(None),
        requested_by: Set(runs_owner(&app, rid).await),
        created_at: Set(Utc::now()),
        finished_at: Set(None),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let d = ok(
        &app,
        &token,
        "mutation($id: ID!) { deleteReport(id: $id) }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(d["deleteReport"], true);
    for q in [
        RUNS,
        GENERATE,
        "mutation($id: ID!) { deleteReport(id: $id) }",
    ] {
        let v = app.gql(Some(&token), q, json!({"id": id})).await;
        assert_eq!(code(&v), Some("NOT_FOUND"), "{q}: {v}");
    }
    let v = app
        .gql(
            Some(&token),
            "query($id: ID!) { report(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert!(v["data"]["report"].is_null(), "{v}");
    let list = ok(
        &app,
        &token,
        "{ reports(first: 5) { nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(list["reports"]["nodes"], json!([]));
    let runs = entity::report_run::Entity::find()
        .filter(entity::report_run::Column::ReportId.eq(Uuid::parse_str(&id).unwrap()))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(runs.len(), 2);
    let stopped = runs.iter().find(|r| r.id == in_flight.id).unwrap();
    assert_eq!(stopped.status, "FAILED");
    assert_eq!(stopped.error.as_deref(), Some("the report was deleted"));
    let done = runs.iter().find(|r| r.id != in_flight.id).unwrap();
    assert_eq!(done.status, "SUCCEEDED");
    let file_id = done.file_id.expect("the run's file");
    let file = entity::file::Entity::find_by_id(file_id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    assert!(file.deleted_at.is_some());
    let v = app
        .gql(
            Some(&token),
            "query($id: ID!) { file(id: $id) { id } }",
            json!({"id": file_id}),
        )
        .await;
    assert!(
        v["data"]["file"].is_null() || code(&v) == Some("NOT_FOUND"),
        "{v}"
    );
    let url = run["url"]
        .as_str()
        .unwrap()
        .replace("http://localhost:8080", &format!("http://{}", app.addr));
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 404);
    let files_deleted = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("file.deleted"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(files_deleted.len(), 1);
    assert_eq!(
        files_deleted[0].payload["data"]["fileId"],
        file_id.to_string()
    );
    let changed: Vec<String> = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("report.changed"))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.payload["data"]["reportId"] == id.as_str())
        .map(|e| e.payload["data"]["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(changed, ["created", "deleted"]);
}

/// The member who created report `id`.
async fn runs_owner(app: &TestApp, id: Uuid) -> Uuid {
    entity::report::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .created_by
}

/// 50 runs in the last 24 hours (the oldest 23 h ago) → the 51st is RATE_LIMITED until the
/// oldest leaves the window: retryAfter ≈ 3,600 s. Another organization's runs do not count.
#[tokio::test]
async fn the_51st_report_of_the_day_is_rate_limited() {
    let app = TestApp::spawn().await;
    let (org, token) = fixtures::org_with(&app, Role::Owner).await;
    let (other, other_token) = fixtures::org_with(&app, Role::Owner).await;
    let id = create(
        &app,
        &token,
        json!({"name": "Daily", "kind": "DASHBOARD_SNAPSHOT", "format": "CSV"}),
    )
    .await;
    let theirs = create(
        &app,
        &other_token,
        json!({"name": "Theirs", "kind": "DASHBOARD_SNAPSHOT", "format": "CSV"}),
    )
    .await;
    let now = Utc::now();
    let rid = Uuid::parse_str(&id).unwrap();
    let user = entity::report::Entity::find_by_id(rid)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .created_by;
    let run = |org: Uuid, report: Uuid, hours_ago: i64| entity::report_run::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org),
        report_id: Set(report),
        status: Set("SUCCEEDED".into()),
        progress: Set(100),
        attempt: Set(1),
        row_count: Set(Some(1)),
        file_id: Set(None),
        error: Set(None),
        requested_by: Set(user),
        created_at: Set(now - chrono::Duration::hours(hours_ago)),
        finished_at: Set(Some(now)),
    };
    // Yesterday's run (25 h ago) is outside the window.
    run(org, rid, 25).insert(&app.state.db).await.unwrap();
    for i in 0..49 {
        run(org, rid, 23 - (i % 20))
            .insert(&app.state.db)
            .await
            .unwrap();
    }
    let their_id = Uuid::parse_str(&theirs).unwrap();
    for _ in 0..50 {
        run(other, their_id, 1).insert(&app.state.db).await.unwrap();
    }
    // The 50th of the window is accepted, the 51st refused.
    ok(&app, &token, GENERATE, json!({"id": id})).await;
    let v = app.gql(Some(&token), GENERATE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("RATE_LIMITED"), "{v}");
    let retry = v["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap();
    assert!((3500..=3600).contains(&retry), "{retry}");
    // Deleting the report does not give its runs back: a new report is still limited.
    ok(
        &app,
        &token,
        "mutation($id: ID!) { deleteReport(id: $id) }",
        json!({"id": id}),
    )
    .await;
    let again = create(
        &app,
        &token,
        json!({"name": "Again", "kind": "DASHBOARD_SNAPSHOT", "format": "CSV"}),
    )
    .await;
    let v = app.gql(Some(&token), GENERATE, json!({"id": again})).await;
    assert_eq!(code(&v), Some("RATE_LIMITED"), "{v}");
    // The other organization is at its own limit too, whatever this one did.
    let v = app
        .gql(Some(&other_token), GENERATE, json!({"id": theirs}))
        .await;
    assert_eq!(code(&v), Some("RATE_LIMITED"), "{v}");
}

/// A request racing another one's uncommitted run: the other transaction (held open here, as a
/// concurrent `generateReport` would be) took the organization's turn and stored the 50th run.
/// The request waits for it and then counts 50: RATE_LIMITED, 50 runs stored. Counting without
/// taking turns saw 49 and stored a 51st on PostgreSQL (this test failed so). On SQLite one
/// process has one connection, so the request waits for it either way; the turn matters there
/// between two instances sharing the file.
#[tokio::test]
async fn a_request_racing_an_uncommitted_run_waits_and_counts_it() {
    use sea_orm::TransactionTrait;
    let app = TestApp::spawn().await;
    let (org, token) = fixtures::org_with(&app, Role::Owner).await;
    let id = create(
        &app,
        &token,
        json!({"name": "Busy", "kind": "DASHBOARD_SNAPSHOT", "format": "CSV"}),
    )
    .await;
    let rid = Uuid::parse_str(&id).unwrap();
    let user = entity::report::Entity::find_by_id(rid)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .created_by;
    let now = Utc::now();
    let run = || entity::report_run::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(org),
        report_id: Set(rid),
        status: Set("SUCCEEDED".into()),
        progress: Set(100),
        attempt: Set(1),
        row_count: Set(Some(1)),
        file_id: Set(None),
        error: Set(None),
        requested_by: Set(user),
        created_at: Set(now - chrono::Duration::hours(2)),
        finished_at: Set(Some(now)),
    };
    for _ in 0..49 {
        run().insert(&app.state.db).await.unwrap();
    }
    let other = app.state.db.begin().await.unwrap();
    leadgraph::db::lock_key(&other, "report_runs", &org.to_string())
        .await
        .unwrap();
    run().insert(&other).await.unwrap();
    let request = app.gql(Some(&token), GENERATE, json!({"id": id}));
    let commit_later = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        other.commit().await.unwrap();
    };
    let (v, ()) = tokio::join!(request, commit_later);
    assert_eq!(code(&v), Some("RATE_LIMITED"), "{v}");
    let stored = entity::report_run::Entity::find()
        .filter(entity::report_run::Column::OrgId.eq(org))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, 50);
}

/// APPROVALS_AUDIT: the requests created in the period, oldest first, with their outcome, and
/// the counts by status in the PDF's totals; a request before the period and another
/// organization's stay out.
#[tokio::test]
async fn approvals_audit_lists_the_periods_requests_and_counts_them_by_status() {
    let app = TestApp::spawn().await;
    let (org, token) = fixtures::org_with(&app, Role::Owner).await;
    let (other, _) = fixtures::org_with(&app, Role::Owner).await;
    #[allow(clippy::type_complexity)]
    let request = |org: Uuid,
                   title: &str,
                   kind: &str,
                   status: &str,
                   counts: (i32, i32),
                   at: &str,
                   resolved: Option<(&str, &str)>| {
        entity::approval_request::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org),
            rule_id: Set(None),
            resource_type: Set(kind.into()),
            resource_id: Set(format!("{kind}-1").to_lowercase()),
            title: Set(title.into()),
            description: Set(None),
            requested_by: Set(None),
            assignee_ids: Set(json!([])),
            assignee_role: Set(Some("ADMIN".into())),
            required_approvals: Set(counts.1),
            approval_count: Set(counts.0),
            status: Set(status.into()),
            priority: Set("NORMAL".into()),
            due_at: Set(None),
            urgent: Set(false),
            escalated_at: Set(None),
            resolved_at: Set(resolved.map(|(t, _)| self::t(t))),
            resolution_comment: Set(resolved.map(|(_, c)| c.to_string())),
            gated: Set(false),
            payload: Set(json!({})),
            created_at: Set(self::t(at)),
            updated_at: Set(self::t(at)),
        }
    };
    for r in [
        request(
            org,
            "Before",
            "CAMPAIGN",
            "APPROVED",
            (1, 1),
            "2026-02-28T23:59:00Z",
            None,
        ),
        request(
            org,
            "Pending one",
            "SEQUENCE",
            "PENDING",
            (0, 1),
            "2026-03-03T08:00:00Z",
            None,
        ),
        request(
            org,
            "Launch Q2",
            "CAMPAIGN",
            "APPROVED",
            (1, 1),
            "2026-03-01T10:00:00Z",
            Some(("2026-03-01T12:00:00Z", "ok")),
        ),
        request(
            org,
            "Big send",
            "CAMPAIGN",
            "REJECTED",
            (0, 2),
            "2026-03-02T09:30:00Z",
            Some(("2026-03-02T10:00:00Z", "too many")),
        ),
        request(
            other,
            "Theirs",
            "CAMPAIGN",
            "APPROVED",
            (1, 1),
            "2026-03-02T09:00:00Z",
            None,
        ),
    ] {
        r.insert(&app.state.db).await.unwrap();
    }
    let params = json!({"range": {"from": "2026-03-01T00:00:00Z", "to": "2026-03-04T00:00:00Z"}});
    let id = create(&app, &token, json!({"name": "March approvals", "kind": "APPROVALS_AUDIT", "format": "CSV", "params": params})).await;
    let run = generate(&app, &token, &id).await;
    assert_eq!(run["rowCount"], 3, "{run}");
    let rows = csv_rows(&download(&app, &run).await);
    let expected: Vec<Vec<&str>> = vec![
        vec![
            "Created (UTC)",
            "Title",
            "Resource",
            "Status",
            "Priority",
            "Approvals",
            "Resolved (UTC)",
            "Comment",
        ],
        vec![
            "2026-03-01 10:00",
            "Launch Q2",
            "CAMPAIGN campaign-1",
            "APPROVED",
            "NORMAL",
            "1/1",
            "2026-03-01 12:00",
            "ok",
        ],
        vec![
            "2026-03-02 09:30",
            "Big send",
            "CAMPAIGN campaign-1",
            "REJECTED",
            "NORMAL",
            "0/2",
            "2026-03-02 10:00",
            "too many",
        ],
        vec![
            "2026-03-03 08:00",
            "Pending one",
            "SEQUENCE sequence-1",
            "PENDING",
            "NORMAL",
            "0/1",
            "",
            "",
        ],
    ];
    assert_eq!(rows, expected);

    let pdf = create(&app, &token, json!({"name": "March approvals PDF", "kind": "APPROVALS_AUDIT", "format": "PDF", "params": params})).await;
    let bytes = download(&app, &generate(&app, &token, &pdf).await).await;
    let Some((text, _)) = pdf_text(&bytes) else {
        return;
    };
    for total in [
        "Total Requests: 3",
        "Total APPROVED: 1",
        "Total REJECTED: 1",
        "Total PENDING: 1",
        "Total EXPIRED: 0",
    ] {
        assert!(text.contains(total), "{total}: {text}");
    }
    assert!(
        !text.contains("Theirs") && !text.contains("Before"),
        "{text}"
    );
}
