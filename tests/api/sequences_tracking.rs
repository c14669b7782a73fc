//! Sequences, part 2 (issue 24): sequence mail carries its own tracking tokens (an opened
//! step-1 mail makes an `onlyIfNotOpened` step 2 skip, a click is counted, the unsubscribe link
//! suppresses the address and stops the lead's enrollments, forged tokens do nothing);
//! enrollment by lead filter or saved audience (bounded, idempotent per lead); a lead whose
//! status moves to a closed one leaves its sequences.

use chrono::Utc;
use leadgraph::{
    auth::Role,
    domains::{
        outreach::tracking::{sign, TokenKind},
        sequences,
    },
};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{field_errors, insert_leads, ok, org_with, template},
    helpers::{code, wait_for_mail_containing, TestApp},
    sequences::{activity_subscriber, activity_until, event_types, wait_until},
};

const CREATE: &str = "mutation($i: CreateSequenceInput!) { createSequence(input: $i) { id } }";
const ENROLL: &str = "mutation($id: ID!, $i: EnrollInSequenceInput!) { enrollInSequence(id: $id, input: $i) { enrolled skipped } }";
const STATS: &str =
    "query($id: ID!) { sequenceStats(id: $id) { steps { position sent opened clicked } } }";
const UPDATE_LEAD: &str =
    "mutation($id: ID!, $s: LeadStatus!) { updateLead(id: $id, input: {status: $s}) { id status } }";

/// Mails in the outbox (or the production run's maildir) to `to`, quoted-printable undone.
pub(crate) fn mails_to(app: &TestApp, to: &str) -> Vec<String> {
    let dir = match std::env::var("TEST_SMTP_MAILDIR") {
        Ok(d) if !d.is_empty() => std::path::PathBuf::from(d).join("new"),
        _ => app.dir.join("outbox"),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .map(|raw| {
            raw.replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=")
        })
        .filter(|raw| raw.contains(to) && raw.contains(".seq@"))
        .collect()
}

/// The token after `marker` in a mail.
fn token_after(raw: &str, marker: &str) -> String {
    let start = raw
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {raw}"))
        + marker.len();
    raw[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_' || *c == '.')
        .collect::<String>()
        .trim_end_matches(".gif")
        .to_string()
}

async fn create(app: &TestApp, token: &str, steps: Value) -> String {
    let v = ok(
        app,
        token,
        CREATE,
        json!({"i": {"name": "Seq", "steps": steps}}),
    )
    .await;
    v["createSequence"]["id"].as_str().unwrap().to_string()
}

async fn enrollments(app: &TestApp, lead: Uuid) -> Vec<entity::sequence_enrollment::Model> {
    entity::sequence_enrollment::Entity::find()
        .filter(entity::sequence_enrollment::Column::LeadId.eq(lead))
        .all(&app.state.db)
        .await
        .unwrap()
}

async fn sends(app: &TestApp, enrollment: Uuid) -> Vec<entity::sequence_send::Model> {
    let mut rows = entity::sequence_send::Entity::find()
        .filter(entity::sequence_send::Column::EnrollmentId.eq(enrollment))
        .all(&app.state.db)
        .await
        .unwrap();
    rows.sort_by_key(|r| r.step);
    rows
}

async fn suppressed(app: &TestApp, org: Uuid, email: &str) -> Option<String> {
    entity::email_suppression::Entity::find()
        .filter(entity::email_suppression::Column::OrgId.eq(org))
        .filter(entity::email_suppression::Column::Email.eq(email))
        .one(&app.state.db)
        .await
        .unwrap()
        .map(|s| s.reason)
}

async fn timeline_kinds(app: &TestApp, lead: Uuid) -> Vec<String> {
    let mut rows = entity::lead_interaction::Entity::find()
        .filter(entity::lead_interaction::Column::LeadId.eq(lead))
        .all(&app.state.db)
        .await
        .unwrap();
    rows.sort_by_key(|r| r.id);
    rows.into_iter().map(|r| r.kind).collect()
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_opened_step_skips_the_next_only_if_not_opened_step_and_clicks_are_counted() {
    let app = TestApp::spawn().await;
    let (org, token) = org_with(&app, Role::Member).await;
    let domain = format!("o{}.test", Uuid::now_v7().simple());
    let lead = insert_leads(&app, org, &domain, 1).await[0];
    let to = format!("lead0@{domain}");
    let link = "<a href=\"https://example.com/pricing?a=1\">Pricing</a>";
    let t1 = template(
        &app,
        &token,
        &format!("<html><body><p>Step one</p>{link}</body></html>"),
        "Step one",
    )
    .await;
    let t2 = template(&app, &token, "<p>Step two</p>", "Step two").await;
    let t3 = template(&app, &token, "<p>Step three</p>", "Step three").await;
    let seq = create(
        &app,
        &token,
        json!([
            {"templateId": t1, "waitDays": 0},
            {"templateId": t2, "waitDays": 1, "onlyIfNotOpened": true},
            {"templateId": t3, "waitDays": 1},
        ]),
    )
    .await;
    let mut ws = activity_subscriber(&app, &app.token(org, Role::Viewer).await).await;
    ok(
        &app,
        &token,
        ENROLL,
        json!({"id": seq, "i": {"leadIds": [lead.to_string()]}}),
    )
    .await;
    let mail = wait_for_mail_containing(&app, &to, "Step one").await;
    wait_until("step 1 recorded", || async {
        enrollments(&app, lead).await[0].current_step == 1
    })
    .await;
    let e = enrollments(&app, lead).await.remove(0);
    let open = token_after(&mail, "/t/o/");
    let click = token_after(&mail, "/t/c/");
    let http = no_redirects();

    // Not opened yet: the pixel and the link of the sequence mail are recorded on its row.
    assert!(sends(&app, e.id).await[0].opened_at.is_none());
    for _ in 0..2 {
        let r = http
            .get(app.url(&format!("/t/o/{open}.gif")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = http
        .get(app.url(&format!("/t/c/{click}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "https://example.com/pricing?a=1");
    let row = sends(&app, e.id).await.remove(0);
    assert!(
        row.opened_at.is_some() && row.clicked_at.is_some(),
        "{row:?}"
    );
    let kinds = timeline_kinds(&app, lead).await;
    let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
    assert_eq!(
        (count("email_open"), count("email_click")),
        (1, 1),
        "{kinds:?}"
    );

    // Step 2 falls due: the lead opened step 1, so it is skipped; step 3 follows a day later.
    let due = e.next_step_at.unwrap() + chrono::Duration::minutes(1);
    let outcome = sequences::run_step(&app.state, e.id, 1, due).await.unwrap();
    assert_eq!(outcome, sequences::StepOutcome::NotNeeded);
    let rows = sends(&app, e.id).await;
    assert_eq!(rows[1].status, "SKIPPED");
    let e2 = enrollments(&app, lead).await.remove(0);
    assert_eq!((e2.status.as_str(), e2.current_step), ("ACTIVE", 2));
    let later = e2.next_step_at.unwrap() + chrono::Duration::minutes(1);
    assert_eq!(sequences::run_due(&app.state, later).await.unwrap(), 1);
    let mails = mails_to(&app, &to);
    assert_eq!(mails.len(), 2, "steps 1 and 3");
    assert!(mails.iter().all(|m| !m.contains("Step two")));

    // A subscriber saw the sends, the first open and the click live (not the skipped step).
    assert_eq!(
        activity_until(&mut ws, "SEQUENCE_ACTIVITY:sent:2", lead).await,
        vec![
            "SEQUENCE_ACTIVITY:sent:0",
            "SEQUENCE_ACTIVITY:open:0",
            "SEQUENCE_ACTIVITY:click:0",
            "SEQUENCE_ACTIVITY:sent:2",
        ]
    );

    let v = ok(&app, &token, STATS, json!({"id": seq})).await;
    assert_eq!(
        v["sequenceStats"]["steps"],
        json!([
            {"position": 0, "sent": 1, "opened": 1, "clicked": 1},
            {"position": 1, "sent": 0, "opened": 0, "clicked": 0},
            {"position": 2, "sent": 1, "opened": 0, "clicked": 0},
        ])
    );

    // Forged: another URL in a re-signed-looking token, or a real signature for an unknown id.
    use base64::Engine;
    let mut parts: Vec<&str> = click.split('.').collect();
    let payload =
        json!({"r": row.id, "k": "c", "u": "https://evil.example", "aud": "leadgraph-track"});
    let forged_payload =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string());
    parts[1] = &forged_payload;
    let forged = parts.join(".");
    let secret = &app.state.config.jwt_secret;
    let stranger = sign(
        secret,
        TokenKind::Click,
        Uuid::now_v7(),
        Some("https://evil.example"),
    );
    let stranger_unsub = sign(secret, TokenKind::Unsubscribe, Uuid::now_v7(), None);
    for url in [
        format!("/t/c/{forged}"),
        format!("/t/c/{stranger}"),
        format!("/u/{stranger_unsub}"),
    ] {
        let r = http.get(app.url(&url)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{url}");
    }
    let r = http
        .post(app.url(&format!("/u/{stranger_unsub}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(sends(&app, e.id).await[0].clicked_at, row.clicked_at);
    assert_eq!(suppressed(&app, org, &to).await, None);
    assert_eq!(enrollments(&app, lead).await[0].status, "COMPLETED");
}

#[tokio::test]
async fn the_unsubscribe_link_of_a_sequence_mail_suppresses_the_address_and_stops_the_lead() {
    let app = TestApp::spawn().await;
    let (org, token) = org_with(&app, Role::Member).await;
    let (other, other_token) = org_with(&app, Role::Member).await;
    let domain = format!("u{}.test", Uuid::now_v7().simple());
    let lead = insert_leads(&app, org, &domain, 1).await[0];
    // The same address is a lead of another organization too, in its own sequence.
    let theirs = insert_leads(&app, other, &domain, 1).await[0];
    let to = format!("lead0@{domain}");
    let t = template(&app, &token, "<p>Hello there</p>", "Hello there").await;
    let a = create(
        &app,
        &token,
        json!([{"templateId": t, "waitDays": 0}, {"templateId": t, "waitDays": 2}]),
    )
    .await;
    let b = create(&app, &token, json!([{"templateId": t, "waitDays": 3}])).await;
    for s in [&a, &b] {
        ok(
            &app,
            &token,
            ENROLL,
            json!({"id": s, "i": {"leadIds": [lead.to_string()]}}),
        )
        .await;
    }
    let ot = template(&app, &other_token, "<p>Theirs</p>", "Theirs").await;
    let c = create(
        &app,
        &other_token,
        json!([{"templateId": ot, "waitDays": 3}]),
    )
    .await;
    ok(
        &app,
        &other_token,
        ENROLL,
        json!({"id": c, "i": {"leadIds": [theirs.to_string()]}}),
    )
    .await;

    let mail = wait_for_mail_containing(&app, &to, "Hello there").await;
    assert!(mail.contains("List-Unsubscribe"), "{mail}");
    let unsub = token_after(&mail, "/u/");
    let http = no_redirects();
    // The page names the organization and changes nothing.
    let r = http
        .get(app.url(&format!("/u/{unsub}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<form method=\"post\">"));
    assert_eq!(suppressed(&app, org, &to).await, None);
    // One-click (RFC 8058).
    let r = http
        .post(app.url(&format!("/u/{unsub}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        suppressed(&app, org, &to).await.as_deref(),
        Some("unsubscribe")
    );
    let mine = enrollments(&app, lead).await;
    assert_eq!(mine.len(), 2);
    for e in &mine {
        assert_eq!(
            (e.status.as_str(), e.stop_reason.as_deref()),
            ("STOPPED", Some("UNSUBSCRIBED"))
        );
    }
    assert!(timeline_kinds(&app, lead)
        .await
        .contains(&"email_unsubscribe".to_string()));
    assert_eq!(
        event_types(&app, org)
            .await
            .iter()
            .filter(|t| *t == "sequence.enrollment_stopped:UNSUBSCRIBED")
            .count(),
        2
    );
    assert_eq!(
        event_types(&app, org)
            .await
            .iter()
            .filter(|t| *t == "sequence.activity:unsubscribe")
            .count(),
        1,
        "one unsubscribe of one mail"
    );
    // Nothing more goes out to it; the other organization is untouched.
    let later = Utc::now() + chrono::Duration::days(10);
    sequences::run_due(&app.state, later).await.unwrap();
    assert_eq!(
        mails_to(&app, &to)
            .iter()
            .filter(|m| m.contains("Hello there"))
            .count(),
        1
    );
    assert_eq!(suppressed(&app, other, &to).await, None);
    assert_eq!(enrollments(&app, theirs).await[0].status, "COMPLETED");
}

#[tokio::test]
async fn enrollment_by_filter_or_audience_is_bounded_and_idempotent_per_lead() {
    let app = TestApp::spawn().await;
    let (org, token) = org_with(&app, Role::Member).await;
    let (other, other_token) = org_with(&app, Role::Member).await;
    let leads = insert_leads(&app, org, "f.test", 3).await;
    insert_leads(&app, other, "g.test", 2).await;
    entity::lead::Entity::update_many()
        .col_expr(entity::lead::Column::Status, Expr::value("QUALIFIED"))
        .filter(entity::lead::Column::Id.eq(leads[2]))
        .exec(&app.state.db)
        .await
        .unwrap();
    let t = template(&app, &token, "<p>Hi</p>", "Hi").await;
    let seq = create(&app, &token, json!([{"templateId": t, "waitDays": 2}])).await;

    let by_filter = json!({"id": seq, "i": {"filter": {"status": ["NEW"]}}});
    let v = ok(&app, &token, ENROLL, by_filter.clone()).await;
    assert_eq!(v["enrollInSequence"], json!({"enrolled": 2, "skipped": 0}));
    let v = ok(&app, &token, ENROLL, by_filter).await;
    assert_eq!(
        v["enrollInSequence"],
        json!({"enrolled": 0, "skipped": 2}),
        "once per lead"
    );
    let v = ok(
        &app,
        &token,
        "mutation { saveAudience(name: \"Qualified\", filter: {status: [QUALIFIED, NEW]}) { id } }",
        json!({}),
    )
    .await;
    let audience = v["saveAudience"]["id"].as_str().unwrap().to_string();
    let v = ok(
        &app,
        &token,
        ENROLL,
        json!({"id": seq, "i": {"audienceId": audience}}),
    )
    .await;
    assert_eq!(v["enrollInSequence"], json!({"enrolled": 1, "skipped": 2}));
    let enrolled: Vec<Uuid> = entity::sequence_enrollment::Entity::find()
        .filter(entity::sequence_enrollment::Column::SequenceId.eq(Uuid::parse_str(&seq).unwrap()))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.lead_id)
        .collect();
    assert_eq!(enrolled.len(), 3);
    assert!(
        enrolled.iter().all(|l| leads.contains(l)),
        "only this organization's leads"
    );

    // Another organization: its audience is unknown here, and our sequence is missing there.
    let v = ok(
        &app,
        &other_token,
        "mutation { saveAudience(name: \"All\", filter: {}) { id } }",
        json!({}),
    )
    .await;
    let their_audience = v["saveAudience"]["id"].as_str().unwrap().to_string();
    let v = app
        .gql(
            Some(&token),
            ENROLL,
            json!({"id": seq, "i": {"audienceId": their_audience}}),
        )
        .await;
    assert_eq!(field_errors(&v), vec!["input.audienceId"]);
    let v = app
        .gql(
            Some(&other_token),
            ENROLL,
            json!({"id": seq, "i": {"filter": {}}}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = app
        .gql(None, ENROLL, json!({"id": seq, "i": {"filter": {}}}))
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");

    // Invalid: none or two sources, a bad filter, an unknown audience, too many leads.
    for (input, field) in [
        (json!({}), "input"),
        (
            json!({"leadIds": [leads[0].to_string()], "filter": {}}),
            "input",
        ),
        (
            json!({"filter": {"ownerId": "nope"}}),
            "input.filter.ownerId",
        ),
        (
            json!({"audienceId": Uuid::now_v7().to_string()}),
            "input.audienceId",
        ),
    ] {
        let v = app
            .gql(Some(&token), ENROLL, json!({"id": seq, "i": input}))
            .await;
        assert_eq!(field_errors(&v), vec![field], "{input}: {v}");
    }
    insert_leads(&app, org, "many.test", 1000).await;
    let v = app
        .gql(
            Some(&token),
            ENROLL,
            json!({"id": seq, "i": {"filter": {}}}),
        )
        .await;
    assert_eq!(field_errors(&v), vec!["input.filter"], "{v}");
    let n = entity::sequence_enrollment::Entity::find()
        .filter(entity::sequence_enrollment::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap()
        .len();
    assert_eq!(n, 3, "nothing enrolled by a refused call");
}

#[tokio::test]
async fn a_lead_whose_status_moves_to_a_closed_one_leaves_its_sequences() {
    let app = TestApp::spawn().await;
    let (org, token) = org_with(&app, Role::Member).await;
    let leads = insert_leads(&app, org, "closed.test", 3).await;
    let t = template(&app, &token, "<p>Hi</p>", "Hi").await;
    let seq = create(&app, &token, json!([{"templateId": t, "waitDays": 1}])).await;
    let ids: Vec<String> = leads.iter().map(|l| l.to_string()).collect();
    ok(
        &app,
        &token,
        ENROLL,
        json!({"id": seq, "i": {"leadIds": ids}}),
    )
    .await;

    for (lead, status) in [
        (&ids[0], "CONVERTED"),
        (&ids[1], "QUALIFIED"),
        (&ids[2], "LOST"),
    ] {
        let v = ok(&app, &token, UPDATE_LEAD, json!({"id": lead, "s": status})).await;
        assert_eq!(v["updateLead"]["status"], status);
    }
    let state = |i: usize| {
        let app = &app;
        let lead = leads[i];
        async move {
            let e = enrollments(app, lead).await.remove(0);
            (e.status, e.stop_reason)
        }
    };
    assert_eq!(
        state(0).await,
        ("STOPPED".into(), Some("LEAD_CLOSED".into()))
    );
    assert_eq!(state(1).await, ("ACTIVE".into(), None));
    assert_eq!(
        state(2).await,
        ("STOPPED".into(), Some("LEAD_CLOSED".into()))
    );
    assert_eq!(
        event_types(&app, org)
            .await
            .iter()
            .filter(|t| *t == "sequence.enrollment_stopped:LEAD_CLOSED")
            .count(),
        2
    );
    // Only the open lead still gets its step.
    let later = Utc::now() + chrono::Duration::days(2);
    assert_eq!(sequences::run_due(&app.state, later).await.unwrap(), 1);
}
