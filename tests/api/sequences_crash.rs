//! Sequences, part 4 (issue 24): kill -9 during a step. The shipped binary sends step 1 of a
//! sequence to 30 leads through a slow SMTP sink (it takes each message, then waits before
//! answering `250`); it is SIGKILLed once a few messages arrived, mid-batch, and started again on
//! the same database and `DATA_DIR` (so it reclaims its leases at once). Pass: every enrollment
//! got past the step with its send row SENT or UNCERTAIN (never SENDING, never two rows); no
//! address got two messages; every SENT row's address got exactly one (nothing recorded as sent
//! was lost); an address without a message is UNCERTAIN (cut off before the server took it).

use std::{
    collections::HashMap,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use leadgraph::auth::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    process::{Child, Command},
};
use uuid::Uuid;

use crate::{
    fixtures::{insert_leads, ok, org_with, template},
    helpers::{redis_url, TestApp},
};

const LEADS: usize = 30;

/// An SMTP sink that records each message when its data ends, then waits `delay` before it
/// answers, so a sender killed meanwhile has delivered a message it never saw accepted.
#[derive(Clone, Default)]
struct SlowSink {
    got: Arc<Mutex<Vec<String>>>,
}

impl SlowSink {
    async fn start(delay: Duration) -> (SlowSink, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let sink = SlowSink::default();
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream, delay).await;
                });
            }
        });
        (sink, url)
    }

    async fn session(&self, stream: tokio::net::TcpStream, delay: Duration) -> std::io::Result<()> {
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 slow ESMTP\r\n").await?;
        let mut rcpt = String::new();
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let upper = line.trim_end().to_ascii_uppercase();
            if upper.starts_with("RCPT TO") {
                rcpt = line
                    .split(['<', '>'])
                    .nth(1)
                    .unwrap_or_default()
                    .to_lowercase();
            } else if upper == "DATA" {
                w.write_all(b"354 go ahead\r\n").await?;
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 || line == ".\r\n" || line == ".\n" {
                        break;
                    }
                }
                self.got.lock().unwrap().push(rcpt.clone());
                tokio::time::sleep(delay).await;
                w.write_all(b"250 OK queued\r\n").await?;
                continue;
            } else if upper == "QUIT" {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            w.write_all(b"250 OK\r\n").await?;
        }
    }

    fn per_recipient(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for to in self.got.lock().unwrap().iter() {
            *out.entry(to.clone()).or_insert(0) += 1;
        }
        out
    }
}

/// The shipped binary on `app`'s database and `DATA_DIR`, sending through `smtp`.
async fn start_binary(app: &TestApp, smtp: &str, port: u16) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadgraph"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("DATA_DIR", app.dir.join("binary"))
        .env("DATABASE_URL", &app.db_url)
        .env("DATABASE_MIN_CONNECTIONS", "1")
        .env("JWT_SECRET", &app.state.config.jwt_secret)
        .env("SMTP_URL", smtp)
        .env("WORKER_CONCURRENCY", "4")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(r) = redis_url() {
        cmd.env("REDIS_URL", r);
    }
    cmd.spawn().unwrap()
}

async fn wait_healthy(port: u16) {
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if http
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the binary did not answer /health");
}

async fn sends(app: &TestApp, seq: Uuid) -> Vec<entity::sequence_send::Model> {
    entity::sequence_send::Entity::find()
        .filter(entity::sequence_send::Column::SequenceId.eq(seq))
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_step_killed_mid_batch_loses_and_duplicates_no_mail_after_restart() {
    let app = TestApp::spawn().await;
    let (org, token) = org_with(&app, Role::Member).await;
    let domain = format!("k{}.test", Uuid::now_v7().simple());
    let leads = insert_leads(&app, org, &domain, LEADS).await;
    let t = template(&app, &token, "<p>Crash note</p>", "Crash note").await;
    let v = ok(
        &app,
        &token,
        "mutation($i: CreateSequenceInput!) { createSequence(input: $i) { id } }",
        json!({"i": {"name": "Crash", "steps": [{"templateId": t, "waitDays": 0}]}}),
    )
    .await;
    let seq = v["createSequence"]["id"].as_str().unwrap().to_string();
    // Enrolled while paused (this in-process app sends nothing), then the app stops: only the
    // binary sends, once it resumes the sequence.
    ok(
        &app,
        &token,
        "mutation($id: ID!) { pauseSequence(id: $id) { id } }",
        json!({"id": seq}),
    )
    .await;
    let ids: Vec<String> = leads.iter().map(Uuid::to_string).collect();
    let v = ok(&app, &token, "mutation($id: ID!, $l: [ID!]!) { enrollInSequence(id: $id, input: {leadIds: $l}) { enrolled } }", json!({"id": seq, "l": ids})).await;
    assert_eq!(v["enrollInSequence"]["enrolled"], LEADS);
    app.shutdown();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (sink, smtp) = SlowSink::start(Duration::from_millis(150)).await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let mut child = start_binary(&app, &smtp, port).await;
    wait_healthy(port).await;
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(&token)
        .json(&json!({"query": "mutation($id: ID!) { resumeSequence(id: $id) { status } }", "variables": {"id": seq}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["data"]["resumeSequence"]["status"], "ACTIVE", "{r}");

    // kill -9 mid-batch: a few messages in, the others not yet.
    while sink.got.lock().unwrap().len() < 5 {
        assert!(started.elapsed() < Duration::from_secs(30), "no sends");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().await.unwrap();
    let at_kill = sink.got.lock().unwrap().len();
    assert!(
        at_kill < LEADS,
        "killed mid-batch ({at_kill} of {LEADS} sent)"
    );

    let mut child = start_binary(&app, &smtp, port).await;
    let seq_id = Uuid::parse_str(&seq).unwrap();
    loop {
        let rows = sends(&app, seq_id).await;
        if rows.len() == LEADS && rows.iter().all(|r| r.status != "SENDING") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not done: {:?}",
            rows.iter().map(|r| r.status.as_str()).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let anything still in flight land before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    child.kill().await.unwrap();

    let rows = sends(&app, seq_id).await;
    let got = sink.per_recipient();
    let enrollments = entity::sequence_enrollment::Entity::find()
        .filter(entity::sequence_enrollment::Column::SequenceId.eq(seq_id))
        .all(&app.state.db)
        .await
        .unwrap();
    let lead_of: HashMap<Uuid, Uuid> = enrollments.iter().map(|e| (e.id, e.lead_id)).collect();
    let email_of = |row: &entity::sequence_send::Model| {
        let lead = lead_of[&row.enrollment_id];
        let i = leads.iter().position(|l| *l == lead).unwrap();
        format!("lead{i}@{domain}")
    };
    assert!(got.values().all(|n| *n == 1), "a duplicate: {got:?}");
    let mut uncertain = 0;
    for row in &rows {
        let n = got.get(&email_of(row)).copied().unwrap_or(0);
        match row.status.as_str() {
            "SENT" => assert_eq!(n, 1, "{row:?}"),
            "UNCERTAIN" => uncertain += 1,
            other => panic!("{other}: {row:?}"),
        }
    }
    assert!(
        enrollments.iter().all(|e| e.status == "COMPLETED"),
        "every enrollment got past the step"
    );
    assert!(
        (1..=4).contains(&uncertain),
        "the kill cut off at least one send, at most one per worker: {uncertain}"
    );
    eprintln!(
        "crash: {at_kill} sent before the kill, {} total, {uncertain} uncertain, {:?}",
        got.len(),
        started.elapsed()
    );
}
