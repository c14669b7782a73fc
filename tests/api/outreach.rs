//! Outreach: templates (validation, sandbox, CRUD), campaigns (exactly-once delivery through a
//! crash, SMTP failures, tracking, webhooks, suppression, stats, events), isolation and roles.
//!
//! Delivery tests use [`Sink`], a small SMTP server inside the test that records every message it
//! accepts (so a duplicate would be counted, unlike the `.eml` outbox, which names files by
//! Message-ID) and can refuse chosen addresses with 550 or 451.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use leadgraph::{
    auth::Role,
    domains::outreach::delivery::{self, SendCampaign},
    jobs::{JobRegistry, Worker},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};
use uuid::Uuid;

use crate::{
    fixtures::{
        campaign, field_errors, insert_leads, org_with, template, CREATE_CAMPAIGN, CREATE_TEMPLATE,
    },
    helpers::{code, wait_for_mail_containing, Options, TestApp},
};

// ---------------------------------------------------------------------------------------------
// A tiny SMTP sink.

#[derive(Clone, Default)]
pub(crate) struct Sink {
    /// (recipient, raw message) of every accepted message.
    pub(crate) accepted: Arc<Mutex<Vec<(String, String)>>>,
    /// 451s still to give, per address.
    pub(crate) tempfail: Arc<Mutex<HashMap<String, usize>>>,
}

impl Sink {
    pub(crate) async fn start(listener: TcpListener) -> Sink {
        let sink = Sink::default();
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.session(stream).await;
                });
            }
        });
        sink
    }

    async fn session(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 sink ESMTP\r\n").await?;
        let mut rcpt: Option<String> = None;
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_string();
            let upper = cmd.to_ascii_uppercase();
            let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                "250 sink".into()
            } else if upper.starts_with("MAIL FROM") {
                rcpt = None;
                "250 OK".into()
            } else if upper.starts_with("RCPT TO") {
                let addr = cmd
                    .split(['<', '>'])
                    .nth(1)
                    .unwrap_or_default()
                    .to_lowercase();
                let temp = {
                    let mut t = self.tempfail.lock().unwrap();
                    match t.get_mut(&addr) {
                        Some(n) if *n > 0 => {
                            *n -= 1;
                            true
                        }
                        _ => false,
                    }
                };
                if addr.starts_with("reject") {
                    "550 5.1.1 mailbox does not exist".into()
                } else if temp {
                    "451 4.7.1 greylisted, try again later".into()
                } else {
                    rcpt = Some(addr);
                    "250 OK".into()
                }
            } else if upper == "DATA" {
                w.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    data.push_str(&line);
                }
                if let Some(to) = rcpt.take() {
                    self.accepted.lock().unwrap().push((to, data));
                }
                "250 OK queued".into()
            } else if upper == "QUIT" {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                "250 OK".into()
            };
            w.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.accepted.lock().unwrap().len()
    }

    pub(crate) fn per_recipient(&self) -> HashMap<String, Vec<String>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for (to, raw) in self.accepted.lock().unwrap().iter() {
            out.entry(to.clone()).or_default().push(raw.clone());
        }
        out
    }
}

pub(crate) async fn free_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

pub(crate) const ADD: &str = "mutation($c: ID!, $i: RecipientSourceInput!) { addCampaignRecipients(campaignId: $c, input: $i) { added alreadyPresent suppressed withoutEmail total } }";
pub(crate) const LAUNCH: &str = "mutation($id: ID!) { launchCampaign(id: $id) { id status } }";
const STATS: &str = "query($id: ID!) { campaignStats(id: $id) { total pending sent delivered failed suppressed uncertain uniqueOpens totalOpens uniqueClicks totalClicks replies hardBounces softBounces unsubscribes openRate clickRate replyRate bounceRate } }";

pub(crate) async fn recipients_by_status(
    app: &TestApp,
    campaign: &str,
) -> HashMap<String, Vec<entity::campaign_recipient::Model>> {
    let rows = entity::campaign_recipient::Entity::find()
        .filter(
            entity::campaign_recipient::Column::CampaignId.eq(Uuid::parse_str(campaign).unwrap()),
        )
        .all(&app.state.db)
        .await
        .unwrap();
    let mut out: HashMap<String, Vec<_>> = HashMap::new();
    for r in rows {
        out.entry(r.status.clone()).or_default().push(r);
    }
    out
}

pub(crate) async fn campaign_status(app: &TestApp, id: &str) -> String {
    entity::campaign::Entity::find_by_id(Uuid::parse_str(id).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .status
}

fn registry(app: &TestApp) -> JobRegistry {
    let mut r = JobRegistry::new();
    r.register(delivery::KIND, SendCampaign(app.state.clone()));
    r
}

// ---------------------------------------------------------------------------------------------

/// 1,000 recipients; the worker is killed (its task dropped mid-flight, heartbeat gone) after
/// about 400 messages; a second worker takes over when the lease expires. Every recipient gets
/// at most one message, every SENT recipient exactly one with its own personalisation, and the
/// only recipients without a recorded send are the few that were inside the SMTP transaction
/// at the moment of the crash (UNCERTAIN, never resent — see docs/ARCHITECTURE.md).
#[tokio::test]
async fn a_thousand_recipients_get_exactly_one_email_each_across_a_worker_crash() {
    let listener = free_listener().await;
    let smtp = format!("smtp://{}", listener.local_addr().unwrap());
    let sink = Sink::start(listener).await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("SMTP_URL".into(), smtp),
            ("WORKER_ENABLED".into(), "false".into()),
        ]),
        ..Default::default()
    })
    .await;
    let (org, token) = org_with(&app, Role::Member).await;
    let domain = format!("k{}.test", Uuid::now_v7().simple());
    insert_leads(&app, org, &domain, 1000).await;
    let t = template(
        &app,
        &token,
        "<p>Hello {{ lead.firstName }}, about {{ lead.company }}</p>",
        "Hello {{ lead.firstName }}, about {{ lead.company }}.",
    )
    .await;
    let c = campaign(&app, &token, &t, None).await;
    let v = app
        .gql(
            Some(&token),
            ADD,
            json!({"c": c, "i": {"filter": {"hasEmail": true}}}),
        )
        .await;
    assert_eq!(v["data"]["addCampaignRecipients"]["added"], 1000, "{v}");
    let v = app.gql(Some(&token), LAUNCH, json!({"id": c})).await;
    assert_eq!(v["data"]["launchCampaign"]["status"], "RUNNING", "{v}");

    // Worker A sends until ~400 messages are out, then dies.
    let lease = Duration::from_millis(1000);
    let a = Worker::new(app.state.db.clone(), registry(&app), lease);
    let a_task = tokio::spawn(async move {
        loop {
            if !a.run_once().await {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
    for _ in 0..2000 {
        if sink.count() >= 400 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a_task.abort();
    let _ = a_task.await;
    let at_crash = sink.count();
    assert!((400..1000).contains(&at_crash), "crashed after {at_crash}");
    let mid = recipients_by_status(&app, &c).await;
    assert!(
        mid.get("PENDING").map_or(0, Vec::len) > 0,
        "work left after the crash"
    );
    assert_eq!(campaign_status(&app, &c).await, "RUNNING");

    // Worker B takes over after the lease expires and finishes.
    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    let b = Worker::new(app.state.db.clone(), registry(&app), lease);
    for _ in 0..100 {
        b.run_once().await;
        if campaign_status(&app, &c).await == "COMPLETED" {
            break;
        }
    }
    assert_eq!(campaign_status(&app, &c).await, "COMPLETED");

    let by_status = recipients_by_status(&app, &c).await;
    let sent = by_status.get("SENT").cloned().unwrap_or_default();
    let uncertain = by_status.get("UNCERTAIN").cloned().unwrap_or_default();
    assert_eq!(sent.len() + uncertain.len(), 1000, "{:?}", by_status.keys());
    assert!(
        uncertain.len() <= 4,
        "at most the in-flight messages: {}",
        uncertain.len()
    );
    let got = sink.per_recipient();
    for (to, msgs) in &got {
        assert_eq!(msgs.len(), 1, "{to} received {} messages", msgs.len());
    }
    for r in &sent {
        let msgs = got
            .get(&r.email)
            .unwrap_or_else(|| panic!("{} got nothing", r.email));
        let i: usize = r
            .email
            .trim_start_matches("lead")
            .split('@')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let raw = &msgs[0];
        assert!(
            raw.contains(&format!("Hello First{i}, about Co{i}.")),
            "{raw}"
        );
        assert!(
            raw.contains(&format!("Subject: Hi First{i} from Acme Outreach")),
            "{raw}"
        );
        assert!(
            raw.contains(&format!("Message-ID: {}", r.message_id)),
            "{raw}"
        );
        assert!(
            raw.contains("List-Unsubscribe: <http")
                && raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
        );
        assert_eq!(r.attempts, 1);
    }
    // An uncertain one was either delivered once or not at all — never twice, never resent.
    for r in &uncertain {
        assert!(got.get(&r.email).map_or(0, Vec::len) <= 1);
        assert!(r.error.as_deref().unwrap_or("").contains("uncertain"));
    }
    assert_eq!(sink.count(), got.values().map(Vec::len).sum::<usize>());
    assert!(sink.count() >= sent.len());

    let v = app.gql(Some(&token), STATS, json!({"id": c})).await;
    let s = &v["data"]["campaignStats"];
    assert_eq!(s["total"], 1000, "{v}");
    assert_eq!(s["sent"], sent.len());
    assert_eq!(s["uncertain"], uncertain.len());
    assert_eq!(s["pending"], 0);
}

/// Server down → the messages wait (no attempt is counted against them) and go out when it is
/// back; a 451 is retried with backoff; a 550 fails that recipient with the server's reason.
#[tokio::test]
async fn smtp_outage_tempfail_and_rejection() {
    // Reserve a port, leave nothing listening on it yet.
    let probe = free_listener().await;
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("SMTP_URL".into(), format!("smtp://{addr}"))]),
        ..Default::default()
    })
    .await;
    let (org, token) = org_with(&app, Role::Manager).await;
    let now = Utc::now();
    let mut ids = Vec::new();
    for (i, local) in ["ok", "reject", "tempfail"].iter().enumerate() {
        let id = insert_leads(&app, org, "x.test", 1).await[0];
        let mut a: entity::lead::ActiveModel = entity::lead::Entity::find_by_id(id)
            .one(&app.state.db)
            .await
            .unwrap()
            .unwrap()
            .into();
        a.email = Set(Some(format!("{local}@r{i}.test")));
        a.updated_at = Set(now);
        a.update(&app.state.db).await.unwrap();
        ids.push(id.to_string());
    }
    let t = template(&app, &token, "", "Hi {{ lead.firstName }}").await;
    let c = campaign(&app, &token, &t, None).await;
    let v = app
        .gql(Some(&token), ADD, json!({"c": c, "i": {"leadIds": ids}}))
        .await;
    assert_eq!(v["data"]["addCampaignRecipients"]["added"], 3, "{v}");
    let v = app.gql(Some(&token), LAUNCH, json!({"id": c})).await;
    assert_eq!(v["data"]["launchCampaign"]["status"], "RUNNING", "{v}");

    // Down: nothing is sent, nothing is failed, attempts are not used up.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mid = recipients_by_status(&app, &c).await;
    assert_eq!(
        mid.get("PENDING").map_or(0, Vec::len),
        3,
        "{:?}",
        mid.keys()
    );
    assert!(mid["PENDING"].iter().all(|r| r.attempts == 0));
    assert_eq!(campaign_status(&app, &c).await, "RUNNING");

    // Back up (451 once for tempfail@).
    let listener = TcpListener::bind(addr).await.unwrap();
    let sink = Sink::start(listener).await;
    sink.tempfail
        .lock()
        .unwrap()
        .insert("tempfail@r2.test".into(), 1);
    for _ in 0..300 {
        if campaign_status(&app, &c).await == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(campaign_status(&app, &c).await, "COMPLETED");
    let done = recipients_by_status(&app, &c).await;
    let failed = &done["FAILED"];
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].email, "reject@r1.test");
    assert!(
        failed[0].error.as_deref().unwrap().contains("550"),
        "{:?}",
        failed[0].error
    );
    let sent = &done["SENT"];
    assert_eq!(sent.len(), 2);
    let temp = sent.iter().find(|r| r.email == "tempfail@r2.test").unwrap();
    assert_eq!(temp.attempts, 2, "the 451 cost one attempt");
    let per = sink.per_recipient();
    assert_eq!(per.get("ok@r0.test").map(Vec::len), Some(1));
    assert_eq!(per.get("tempfail@r2.test").map(Vec::len), Some(1));
    assert!(!per.contains_key("reject@r1.test"));
}

/// The bit of `raw` after `marker`, as long as it is a token character.
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

/// Open, click, reply, unsubscribe and bounce update the recipient, the statistics, the lead
/// timeline and the live events; forged tokens are refused; the next campaign skips the
/// unsubscribed and the bounced lead.
#[tokio::test]
async fn tracking_webhooks_suppression_stats_and_events() {
    let key = "mg-signing-key-0123";
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("MAILGUN_WEBHOOK_SIGNING_KEY".into(), key.into())]),
        ..Default::default()
    })
    .await;
    let (org, token) = org_with(&app, Role::Member).await;
    let domain = format!("t{}.test", Uuid::now_v7().simple());
    let ids = insert_leads(&app, org, &domain, 2).await;
    let (a_email, b_email) = (format!("lead0@{domain}"), format!("lead1@{domain}"));
    let t = template(
        &app,
        &token,
        "<html><body><p>Hi {{ lead.firstName }}</p><a href=\"https://example.com/pricing?a=1&b=2\">Pricing</a></body></html>",
        "Hi {{ lead.firstName }}",
    )
    .await;
    let c = campaign(&app, &token, &t, None).await;
    let ids_s: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    app.gql(Some(&token), ADD, json!({"c": c, "i": {"leadIds": ids_s}}))
        .await;
    app.gql(Some(&token), LAUNCH, json!({"id": c})).await;
    let mail_a = wait_for_mail_containing(&app, &a_email, "Hi First0").await;
    wait_for_mail_containing(&app, &b_email, "Hi First1").await;
    for _ in 0..100 {
        if campaign_status(&app, &c).await == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let open = token_after(&mail_a, "/t/o/");
    let click = token_after(&mail_a, "/t/c/");
    let unsub = token_after(&mail_a, "/u/");

    // Live events of this campaign.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&app.token(org, Role::Viewer).await).await;
    ws.send(json!({"type": "subscribe", "id": "c", "payload": {"query": "subscription($c: ID!) { campaignEvents(campaignId: $c) { kind activity campaignId recipientId status counters { sent opened } } }", "variables": {"c": c}}})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Open twice: one unique, two total.
    for _ in 0..2 {
        let r = http
            .get(app.url(&format!("/t/o/{open}.gif")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/gif");
    }
    // Click: redirected to the URL that was in the email, nowhere else.
    let r = http
        .get(app.url(&format!("/t/c/{click}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"],
        "https://example.com/pricing?a=1&b=2"
    );
    // Forged and misused tokens.
    let mut parts: Vec<&str> = click.split('.').collect();
    use base64::Engine;
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        json!({"r": Uuid::now_v7(), "k": "c", "u": "https://evil.example", "aud": "leadgraph-track"}).to_string(),
    );
    parts[1] = &forged_payload;
    let forged = parts.join(".");
    for url in [
        format!("/t/c/{forged}"),
        "/t/o/not-a-token.gif".to_string(),
        format!("/t/c/{open}"),
        format!("/u/{click}"),
    ] {
        let r = http.get(app.url(&url)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{url}");
    }
    let r = http
        .post(app.url(&format!("/u/{forged}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Reply through the inbound webhook (In-Reply-To = our Message-ID).
    let rec = |email: &str| {
        let email = email.to_string();
        let c = c.clone();
        let db = app.state.db.clone();
        async move {
            entity::campaign_recipient::Entity::find()
                .filter(
                    entity::campaign_recipient::Column::CampaignId.eq(Uuid::parse_str(&c).unwrap()),
                )
                .filter(entity::campaign_recipient::Column::Email.eq(email))
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let a_rec = rec(&a_email).await;
    let raw = format!("From: First0 <{a_email}>\r\nTo: replies@sender.test\r\nSubject: Re: Hi\r\nIn-Reply-To: {}\r\nMessage-ID: <reply1@x.test>\r\n\r\nInterested!\r\n", a_rec.message_id);
    let r = http
        .post(app.url("/webhooks/inbound-email"))
        .header("content-type", "message/rfc822")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["matched"], true);
    let a_rec = rec(&a_email).await;
    assert_eq!(a_rec.status, "REPLIED");
    assert_eq!((a_rec.open_count, a_rec.click_count), (2, 1));

    // The unsubscribe page does not unsubscribe; its POST (one-click) does.
    let r = http
        .get(app.url(&format!("/u/{unsub}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<form method=\"post\">"));
    assert!(rec(&a_email).await.unsubscribed_at.is_none());
    let r = http
        .post(app.url(&format!("/u/{unsub}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(rec(&a_email).await.status, "UNSUBSCRIBED");

    // Hard bounce of B from SendGrid's event webhook (matched by smtp-id).
    let b_rec = rec(&b_email).await;
    let r = http
        .post(app.url("/webhooks/email/sendgrid"))
        .json(&json!([{"email": b_email, "event": "bounce", "type": "bounce", "smtp-id": b_rec.message_id, "reason": "550 5.1.1 unknown user"},
                      {"email": "x@y.z", "event": "bounce", "smtp-id": "<nobody@x>"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["matched"], 1);
    let b_rec = rec(&b_email).await;
    assert_eq!(
        (b_rec.status.as_str(), b_rec.bounce_kind.as_deref()),
        ("BOUNCED", Some("hard"))
    );
    // Mailgun: a configured signing key is enforced.
    let mid = b_rec.message_id.trim_matches(['<', '>']).to_string();
    // Signed events must be fresh (5 minutes) and new (the token is remembered).
    let ts = Utc::now().timestamp().to_string();
    let event = |sig: String| {
        json!({"signature": {"timestamp": ts, "token": "tok", "signature": sig},
        "event-data": {"event": "failed", "severity": "temporary", "message": {"headers": {"message-id": mid}}, "delivery-status": {"description": "mailbox full"}}})
    };
    let r = http
        .post(app.url("/webhooks/email/mailgun"))
        .json(&event("00".repeat(32)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{ts}tok").as_bytes());
    let good = hex::encode(mac.finalize().into_bytes());
    let r = http
        .post(app.url("/webhooks/email/mailgun"))
        .json(&event(good))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["matched"], 1);
    // A later soft bounce does not turn the hard one soft.
    assert_eq!(rec(&b_email).await.bounce_kind.as_deref(), Some("hard"));

    // Statistics.
    let v = app.gql(Some(&token), STATS, json!({"id": c})).await;
    let s = &v["data"]["campaignStats"];
    assert_eq!(s["sent"], 2, "{v}");
    assert_eq!(s["delivered"], 1);
    assert_eq!(
        (s["uniqueOpens"].clone(), s["totalOpens"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(
        (s["uniqueClicks"].clone(), s["totalClicks"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(s["replies"], 1);
    assert_eq!(s["hardBounces"], 1);
    assert_eq!(s["unsubscribes"], 1);
    assert_eq!(s["openRate"], 1.0);
    assert_eq!(s["bounceRate"], 0.5, "one hard bounce of two sent");
    let v = app
        .gql(Some(&token), "query($id: ID!) { campaignTimeline(id: $id, bucket: HOUR) { sent opens clicks replies bounces unsubscribes } }", json!({"id": c}))
        .await;
    let points = v["data"]["campaignTimeline"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    let sum = |k: &str| points.iter().map(|p| p[k].as_i64().unwrap()).sum::<i64>();
    assert_eq!(
        (sum("sent"), sum("opens"), sum("clicks"), sum("replies")),
        (2, 2, 1, 1)
    );
    assert_eq!((sum("bounces"), sum("unsubscribes")), (2, 1));

    // The lead's timeline and campaigns.
    let v = app
        .gql(Some(&token), "query($id: ID!) { lead(id: $id) { lastContactedAt timeline(first: 20) { nodes { kind } } campaigns { status campaign { id name } } } }", json!({"id": ids[0].to_string()}))
        .await;
    let l = &v["data"]["lead"];
    let kinds: Vec<&str> = l["timeline"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    for k in [
        "email_sent",
        "email_open",
        "email_click",
        "email_reply",
        "email_unsubscribe",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert_eq!(
        kinds.iter().filter(|k| **k == "email_open").count(),
        1,
        "first open only"
    );
    assert!(l["lastContactedAt"].is_string());
    assert_eq!(l["campaigns"][0]["campaign"]["id"], c.as_str());
    assert_eq!(l["campaigns"][0]["status"], "UNSUBSCRIBED");

    // Live events arrived: opens, click, reply, unsubscribe of A, bounces of B.
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let m = ws.next_json(5).await;
        assert_eq!(m["type"], "next", "{m}");
        let e = &m["payload"]["data"]["campaignEvents"];
        assert_eq!(e["campaignId"], c.as_str());
        if e["kind"] == "ACTIVITY" {
            seen.push(e["activity"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        seen,
        [
            "open",
            "open",
            "click",
            "reply",
            "unsubscribe",
            "bounce",
            "bounce"
        ]
    );

    // The next campaign skips both (unsubscribed, hard-bounced); the suppression list is per
    // organization and lowercase.
    let c2 = campaign(&app, &token, &t, None).await;
    let v = app
        .gql(Some(&token), ADD, json!({"c": c2, "i": {"leadIds": ids_s}}))
        .await;
    let p = &v["data"]["addCampaignRecipients"];
    assert_eq!(
        (p["added"].clone(), p["suppressed"].clone()),
        (json!(0), json!(2)),
        "{v}"
    );
    let v = app.gql(Some(&token), LAUNCH, json!({"id": c2})).await;
    assert_eq!(code(&v), Some("CONFLICT"), "nothing to send: {v}");
}

/// Validation with positions, the sandbox (no endless loop, no files), CRUD and batch
/// operations, previews and test sends.
#[tokio::test]
async fn templates_validate_render_sandbox_and_crud() {
    let app = TestApp::spawn().await;
    let (org, token) = org_with(&app, Role::Member).await;
    let ids = insert_leads(&app, org, "tpl.test", 1).await;

    let v = app
        .gql(
            Some(&token),
            "query($i: TemplateContentInput!) { validateTemplate(input: $i) { valid variables issues { part kind variable line column message } } }",
            json!({"i": {"subject": "Hi {{ lead.firstName }}", "bodyHtml": "<p>\n {{ lead.fristName }} {{ sender.name }}</p>", "bodyText": "{% if %}"}}),
        )
        .await;
    let r = &v["data"]["validateTemplate"];
    assert_eq!(r["valid"], false, "{v}");
    let issues = r["issues"].as_array().unwrap();
    let unknown = issues
        .iter()
        .find(|i| i["kind"] == "UNKNOWN_VARIABLE")
        .unwrap();
    assert_eq!(unknown["variable"], "lead.fristName");
    assert_eq!(
        (
            unknown["part"].clone(),
            unknown["line"].clone(),
            unknown["column"].clone()
        ),
        (json!("BODY_HTML"), json!(2), json!(5))
    );
    let syntax = issues.iter().find(|i| i["kind"] == "SYNTAX").unwrap();
    assert_eq!(
        (syntax["part"].clone(), syntax["line"].clone()),
        (json!("BODY_TEXT"), json!(1))
    );

    // Creating with an unknown variable is refused, naming the field.
    let v = app
        .gql(
            Some(&token),
            CREATE_TEMPLATE,
            json!({"i": {"name": "x", "subject": "s", "bodyHtml": "{{ lead.nope }}"}}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "input.bodyHtml"
    );
    let v = app
        .gql(
            Some(&token),
            CREATE_TEMPLATE,
            json!({"i": {"name": " ", "subject": "s", "bodyHtml": "b"}}),
        )
        .await;
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "input.name"
    );

    // The sandbox: loops run out of fuel, files cannot be read.
    let render = "query($i: TemplateContentInput!, $l: ID, $s: JSON) { renderTemplate(input: $i, leadId: $l, sampleData: $s) { subject html text } }";
    let t0 = std::time::Instant::now();
    let v = app
        .gql(Some(&token), render, json!({"i": {"subject": "s", "bodyHtml": "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}"}}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert!(
        v["errors"][0]["message"].as_str().unwrap().contains("fuel"),
        "{v}"
    );
    assert!(t0.elapsed() < Duration::from_secs(5));
    let v = app
        .gql(
            Some(&token),
            render,
            json!({"i": {"subject": "s", "bodyHtml": "{% include '/etc/passwd' %}"}}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    assert!(!v.to_string().contains("root:"));
    // Rendering for a lead and for sample data; HTML is escaped, filters work.
    let v = app
        .gql(Some(&token), render, json!({"i": {"subject": "Hi {{ lead.firstName | upper }}", "bodyHtml": "<b>{{ lead.company }}</b> {{ lead.title | default('friend') | title }}", "bodyText": "{{ organization.name }}"}, "l": ids[0].to_string()}))
        .await;
    assert_eq!(v["data"]["renderTemplate"]["subject"], "Hi FIRST0", "{v}");
    assert_eq!(v["data"]["renderTemplate"]["html"], "<b>Co0</b> Friend");
    assert_eq!(v["data"]["renderTemplate"]["text"], "Acme Outreach");
    let v = app
        .gql(Some(&token), render, json!({"i": {"subject": "Hi {{ lead.firstName }}", "bodyHtml": "{{ lead.company }}"}, "s": {"lead": {"firstName": "<Bo>"}}}))
        .await;
    assert_eq!(v["data"]["renderTemplate"]["subject"], "Hi <Bo>");
    assert_eq!(
        v["data"]["renderTemplate"]["html"],
        "Analytical Engines Ltd"
    );

    // CRUD, category, favorite, duplicate, batch.
    let t = template(&app, &token, "<p>{{ lead.firstName }}</p>", "").await;
    let v = app
        .gql(Some(&token), "mutation($id: ID!) { favoriteTemplate(id: $id) { favorite } setTemplateCategory(id: $id, category: \"Follow-Up\") { category } duplicateTemplate(id: $id) { id name favorite } }", json!({"id": t}))
        .await;
    assert_eq!(v["data"]["favoriteTemplate"]["favorite"], true, "{v}");
    assert_eq!(v["data"]["setTemplateCategory"]["category"], "follow-up");
    assert_eq!(v["data"]["duplicateTemplate"]["name"], "Intro (copy)");
    assert_eq!(v["data"]["duplicateTemplate"]["favorite"], false);
    let copy = v["data"]["duplicateTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app
        .gql(Some(&token), "{ favs: templates(filter: {favorite: true}) { totalCount } cat: templates(filter: {category: \"FOLLOW-UP\"}) { totalCount } all: templates(filter: {search: \"intro\"}) { totalCount nodes { id } } }", json!({}))
        .await;
    assert_eq!(v["data"]["favs"]["totalCount"], 1, "{v}");
    assert_eq!(v["data"]["cat"]["totalCount"], 2);
    assert_eq!(v["data"]["all"]["totalCount"], 2);
    let v = app
        .gql(Some(&token), "mutation($id: ID!) { unfavoriteTemplate(id: $id) { favorite } updateTemplate(id: $id, input: {name: \"Renamed\", category: null}) { name category } }", json!({"id": t}))
        .await;
    assert_eq!(v["data"]["updateTemplate"]["name"], "Renamed", "{v}");
    assert!(v["data"]["updateTemplate"]["category"].is_null());
    let v = app
        .gql(Some(&token), "mutation($ids: [ID!]!) { duplicateTemplates(ids: $ids) { id templateId error { code } } }", json!({"ids": [t, Uuid::now_v7().to_string()]}))
        .await;
    let res = v["data"]["duplicateTemplates"].as_array().unwrap();
    assert!(
        res[0]["templateId"].is_string() && res[1]["error"]["code"] == "NOT_FOUND",
        "{v}"
    );
    // Preview for a lead, and a test send.
    let v = app
        .gql(
            Some(&token),
            "query($id: ID!, $l: ID) { previewTemplate(id: $id, leadId: $l) { subject html } }",
            json!({"id": t, "l": ids[0].to_string()}),
        )
        .await;
    assert_eq!(v["data"]["previewTemplate"]["html"], "<p>First0</p>", "{v}");
    // Test emails go to members of the organization only (S14): here a QA colleague.
    let (qa, _) = app.member(org, Role::Viewer, "Qa").await;
    let to = entity::user::Entity::find_by_id(qa)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .email;
    let v = app
        .gql(
            Some(&token),
            "mutation($t: ID!, $to: String!) { sendTestEmail(templateId: $t, to: $to) }",
            json!({"t": t, "to": to}),
        )
        .await;
    assert!(v["data"]["sendTestEmail"].is_string(), "{v}");
    wait_for_mail_containing(&app, &to, "[Test] Hi Ada from Acme Outreach").await;
    let v = app
        .gql(
            Some(&token),
            "mutation($t: ID!) { sendTestEmail(templateId: $t, to: \"nope\") }",
            json!({"t": t}),
        )
        .await;
    assert_eq!(v["errors"][0]["extensions"]["fields"][0]["field"], "to");

    // Usage; deleting a template an unfinished campaign uses is a CONFLICT (MANAGER+).
    let c = campaign(&app, &token, &t, Some(600)).await;
    app.gql(
        Some(&token),
        ADD,
        json!({"c": c, "i": {"leadIds": [ids[0].to_string()]}}),
    )
    .await;
    let v = app
        .gql(Some(&token), "query($id: ID!) { templateUsage(id: $id) { campaignCount campaigns { id } } templatePerformance(id: $id) { campaigns sent } }", json!({"id": t}))
        .await;
    assert_eq!(v["data"]["templateUsage"]["campaignCount"], 1, "{v}");
    assert_eq!(v["data"]["templatePerformance"]["campaigns"], 1);
    let manager = app.token(org, Role::Manager).await;
    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { deleteTemplate(id: $id) }",
            json!({"id": copy}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "MEMBER may not delete");
    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { pauseCampaign(id: $id) { status } }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(code(&v), Some("CONFLICT"), "a draft cannot be paused");
    let v = app
        .gql(Some(&manager), "mutation($id: ID!) { scheduleCampaign(id: $id, at: \"2099-01-01T00:00:00Z\") { status scheduleAt } }", json!({"id": c}))
        .await;
    assert_eq!(v["data"]["scheduleCampaign"]["status"], "SCHEDULED", "{v}");
    let v = app
        .gql(
            Some(&manager),
            "mutation($id: ID!) { deleteTemplate(id: $id) }",
            json!({"id": t}),
        )
        .await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");
    let v = app
        .gql(
            Some(&manager),
            "mutation($ids: [ID!]!) { deleteTemplates(ids: $ids) { templateId error { code } } }",
            json!({"ids": [copy, t]}),
        )
        .await;
    let res = v["data"]["deleteTemplates"].as_array().unwrap();
    assert!(
        res[0]["templateId"].is_string() && res[1]["error"]["code"] == "CONFLICT",
        "{v}"
    );
    let v = app
        .gql(
            Some(&manager),
            "mutation($id: ID!) { stopCampaign(id: $id) { status completedAt } }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(v["data"]["stopCampaign"]["status"], "STOPPED", "{v}");
    let v = app
        .gql(
            Some(&manager),
            "mutation($id: ID!) { deleteTemplate(id: $id) }",
            json!({"id": t}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
}

/// Unauthenticated, roles, another organization (NOT_FOUND like a missing id), invalid input,
/// lifecycle conflicts, pause/resume and the approval gate's plug (no rules: launch proceeds).
#[tokio::test]
async fn campaigns_auth_isolation_validation_and_lifecycle() {
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("WORKER_ENABLED".into(), "false".into())]),
        ..Default::default()
    })
    .await;
    let (org, member) = org_with(&app, Role::Member).await;
    let (other_org, other) = org_with(&app, Role::Owner).await;
    let viewer = app.token(org, Role::Viewer).await;
    let ids = insert_leads(&app, org, "iso.test", 3).await;
    let their_leads = insert_leads(&app, other_org, "iso2.test", 1).await;
    let t = template(&app, &member, "<p>x</p>", "").await;
    let c = campaign(&app, &member, &t, Some(60)).await;
    let theirs_t = template(&app, &other, "<p>x</p>", "").await;
    let theirs = campaign(&app, &other, &theirs_t, None).await;

    // Unauthenticated.
    let v = app
        .gql(None, "{ campaigns { totalCount } }", json!({}))
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
    // Roles: VIEWER reads, may not write.
    let v = app.gql(Some(&viewer), "{ campaigns { totalCount nodes { id counters { total } template { id } } } templates { totalCount } }", json!({})).await;
    assert_eq!(v["data"]["campaigns"]["totalCount"], 1, "{v}");
    assert_eq!(
        v["data"]["campaigns"]["nodes"][0]["template"]["id"],
        t.as_str()
    );
    let v = app.gql(Some(&viewer), LAUNCH, json!({"id": c})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"));
    let v = app
        .gql(
            Some(&viewer),
            CREATE_TEMPLATE,
            json!({"i": {"name": "v", "subject": "s", "bodyHtml": "b"}}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));
    let v = app
        .gql(
            Some(&member),
            "mutation($id: ID!) { deleteCampaign(id: $id) }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));

    // Another organization's ids answer like missing ones, and change nothing.
    let missing = Uuid::now_v7().to_string();
    for (q, theirs_vars, missing_vars) in [
        ("query($id: ID!) { campaign(id: $id) { id } }", json!({"id": theirs}), json!({"id": missing})),
        ("query($id: ID!) { template(id: $id) { id } }", json!({"id": theirs_t}), json!({"id": missing})),
        ("query($id: ID!) { campaignStats(id: $id) { sent } }", json!({"id": theirs}), json!({"id": missing})),
        (LAUNCH, json!({"id": theirs}), json!({"id": missing})),
        ("mutation($id: ID!) { updateTemplate(id: $id, input: {name: \"h\"}) { id } }", json!({"id": theirs_t}), json!({"id": missing})),
        ("mutation($id: ID!) { updateCampaign(id: $id, input: {name: \"h\"}) { id } }", json!({"id": theirs}), json!({"id": missing})),
        ("mutation($id: ID!) { duplicateCampaign(id: $id) { id } }", json!({"id": theirs}), json!({"id": missing})),
        (ADD, json!({"c": theirs, "i": {"leadIds": [ids[0].to_string()]}}), json!({"c": missing, "i": {"leadIds": [ids[0].to_string()]}})),
        (ADD, json!({"c": c, "i": {"leadIds": [their_leads[0].to_string()]}}), json!({"c": c, "i": {"leadIds": [missing]}})),
        ("mutation($t: ID!) { createCampaign(input: {name: \"n\", templateId: $t, fromName: \"f\", fromEmail: \"f@x.io\"}) { id } }", json!({"t": theirs_t}), json!({"t": missing})),
    ] {
        let a = app.gql(Some(&member), q, theirs_vars).await;
        let b = app.gql(Some(&member), q, missing_vars).await;
        assert_eq!(a["data"], b["data"], "{q}");
        assert_eq!(code(&a), code(&b), "{q}: {a}");
        assert_eq!(a["errors"][0]["message"], b["errors"][0]["message"], "{q}");
    }
    let v = app
        .gql(
            Some(&other),
            "query($id: ID!) { campaign(id: $id) { name status } }",
            json!({"id": theirs}),
        )
        .await;
    assert_eq!(
        v["data"]["campaign"],
        json!({"name": "Launch", "status": "DRAFT"})
    );

    // Invalid input names the fields.
    let v = app
        .gql(Some(&member), CREATE_CAMPAIGN, json!({"i": {"name": "", "templateId": t, "fromName": "F", "fromEmail": "nope", "sendRatePerMinute": -1}}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    let fields: Vec<&str> = v["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for f in ["input.name", "input.fromEmail", "input.sendRatePerMinute"] {
        assert!(fields.contains(&f), "{f} in {fields:?}");
    }
    let v = app
        .gql(
            Some(&member),
            ADD,
            json!({"c": c, "i": {"leadIds": [], "filter": {}}}),
        )
        .await;
    assert_eq!(v["errors"][0]["extensions"]["fields"][0]["field"], "input");
    let v = app
        .gql(
            Some(&member),
            "mutation($id: ID!) { scheduleCampaign(id: $id, at: \"2001-01-01T00:00:00Z\") { id } }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(v["errors"][0]["extensions"]["fields"][0]["field"], "at");
    let v = app.gql(Some(&member), "mutation($id: ID!) { updateCampaign(id: $id, input: {variants: [{name: \"A\", weight: 1}]}) { id } }", json!({"id": c})).await;
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "input.variants"
    );

    // Launching without recipients is a CONFLICT; recipients, then launch (the gate proceeds).
    let v = app.gql(Some(&member), LAUNCH, json!({"id": c})).await;
    assert_eq!(code(&v), Some("CONFLICT"));
    let v = app
        .gql(Some(&member), "mutation($id: ID!) { updateCampaign(id: $id, input: {variants: [{name: \"A\", weight: 1, subject: \"A {{ lead.firstName }}\"}, {name: \"B\", weight: 1}]}) { variants { name weight subject } } }", json!({"id": c}))
        .await;
    assert_eq!(
        v["data"]["updateCampaign"]["variants"][1]["name"], "B",
        "{v}"
    );
    let ids_s: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
    let v = app
        .gql(Some(&member), ADD, json!({"c": c, "i": {"leadIds": ids_s}}))
        .await;
    assert_eq!(v["data"]["addCampaignRecipients"]["added"], 3, "{v}");
    let v = app
        .gql(
            Some(&member),
            ADD,
            json!({"c": c, "i": {"filter": {"search": "First1"}}}),
        )
        .await;
    assert_eq!(
        v["data"]["addCampaignRecipients"]["alreadyPresent"], 1,
        "{v}"
    );
    let v = app
        .gql(
            Some(&member),
            "mutation($c: ID!, $l: ID!) { removeCampaignRecipient(campaignId: $c, leadId: $l) }",
            json!({"c": c, "l": ids[2].to_string()}),
        )
        .await;
    assert_eq!(v["data"]["removeCampaignRecipient"], true, "{v}");
    let v = app.gql(Some(&member), LAUNCH, json!({"id": c})).await;
    assert_eq!(v["data"]["launchCampaign"]["status"], "RUNNING", "{v}");
    let v = app
        .gql(
            Some(&member),
            "mutation($id: ID!) { updateCampaign(id: $id, input: {name: \"x\"}) { id } }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(
        code(&v),
        Some("CONFLICT"),
        "a running campaign is not edited"
    );
    // Pause, resume (a new run supersedes the first job), stop.
    let v = app
        .gql(
            Some(&member),
            "mutation($id: ID!) { pauseCampaign(id: $id) { status } }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(v["data"]["pauseCampaign"]["status"], "PAUSED", "{v}");
    let first_job = entity::campaign::Entity::find_by_id(Uuid::parse_str(&c).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .job_id;
    let v = app
        .gql(
            Some(&member),
            "mutation($id: ID!) { resumeCampaign(id: $id) { status } }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(v["data"]["resumeCampaign"]["status"], "RUNNING", "{v}");
    let second_job = entity::campaign::Entity::find_by_id(Uuid::parse_str(&c).unwrap())
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .job_id;
    assert_ne!(first_job, second_job);
    // A worker runs both jobs: the superseded one does nothing, the current one sends.
    let w = Worker::new(app.state.db.clone(), registry(&app), Duration::from_secs(5));
    while w.run_once().await {}
    assert_eq!(campaign_status(&app, &c).await, "COMPLETED");
    let v = app
        .gql(Some(&viewer), "query($id: ID!) { campaign(id: $id) { counters { total sent } stats { variants { name total sent } } recipients(first: 10) { totalCount nodes { status variant lead { firstName } } } } }", json!({"id": c}))
        .await;
    let cmp = &v["data"]["campaign"];
    assert_eq!(cmp["counters"], json!({"total": 2, "sent": 2}), "{v}");
    let variants: i64 = cmp["stats"]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["sent"].as_i64().unwrap())
        .sum();
    assert_eq!(variants, 2);
    assert!(cmp["recipients"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["status"] == "SENT"
            && n["lead"]["firstName"].is_string()
            && n["variant"].is_string()));
    let v = app
        .gql(
            Some(&member),
            "mutation($id: ID!) { stopCampaign(id: $id) { status } }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(code(&v), Some("CONFLICT"), "completed is final");
}

/// `Lead.campaigns` (with each campaign's template and counters) costs the same number of
/// statements for 10 leads as for 50.
#[tokio::test]
async fn lead_campaigns_load_once_per_page() {
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("RECORD_SQL".into(), "true".into()),
            ("WORKER_ENABLED".into(), "false".into()),
        ]),
        ..Default::default()
    })
    .await;
    let (org, token) = org_with(&app, Role::Member).await;
    insert_leads(&app, org, "page.test", 50).await;
    let t = template(&app, &token, "<p>x</p>", "").await;
    for _ in 0..2 {
        let c = campaign(&app, &token, &t, None).await;
        let v = app
            .gql(Some(&token), ADD, json!({"c": c, "i": {"filter": {}}}))
            .await;
        assert_eq!(v["data"]["addCampaignRecipients"]["added"], 50, "{v}");
    }
    let q = "query($n: Int!) { leads(first: $n) { nodes { campaigns { status campaign { name template { name } counters { total } } } } } }";
    let mut counts = Vec::new();
    for n in [10, 50] {
        app.state.sql_log.take();
        let v = app.gql(Some(&token), q, json!({"n": n})).await;
        let nodes = v["data"]["leads"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"));
        assert_eq!(nodes.len(), n as usize);
        for node in nodes {
            let cs = node["campaigns"].as_array().unwrap();
            assert_eq!(cs.len(), 2);
            assert!(cs.iter().all(|c| c["status"] == "PENDING"
                && c["campaign"]["counters"]["total"] == 50
                && c["campaign"]["template"]["name"] == "Intro"));
        }
        let stmts = app
            .state
            .sql_log
            .take()
            .into_iter()
            .filter(|s| !s.contains("outbox_events") && !s.contains("jobs"))
            .count();
        counts.push(stmts);
    }
    assert_eq!(counts[0], counts[1], "statements for 10 vs 50 leads");
}

/// A page of campaigns with their events (two questions), statistics, counters and recipients
/// costs the same number of statements for 4 campaigns as for 12: every nested field loads once
/// for the whole page (issue 22).
#[tokio::test]
async fn campaign_page_fields_load_once_per_page() {
    let app = TestApp::spawn_with(Options::with_env(&[
        ("RECORD_SQL", "true"),
        ("COMPILED_READS", "false"),
    ]))
    .await;
    let (me, org) = crate::fixtures::owner(&app).await;
    crate::fixtures::rich_dataset(&app, org, me.id, 12).await;
    let q = "query($n: Int!) { campaigns(first: $n) { nodes { id \
        stats { total sent uniqueOpens openRate variants { name } } counters { total opened } \
        events(first: 3) { nodes { type email lead { id email tags } } } \
        opens: events(type: OPEN, first: 2) { pageInfo { hasNextPage } nodes { id } } \
        recipients(first: 3) { nodes { email lead { id tags } } } } } }";
    let mut counts = Vec::new();
    for n in [4, 12] {
        app.request_statements();
        let v = app.gql(Some(&me.token), q, json!({"n": n})).await;
        let nodes = v["data"]["campaigns"]["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"));
        assert_eq!(nodes.len(), n, "{v}");
        for c in nodes {
            assert_eq!(c["stats"]["total"], 12, "{c}");
            assert_eq!(c["stats"]["uniqueOpens"], 12, "{c}");
            assert_eq!(c["counters"]["opened"], 12, "{c}");
            let events = c["events"]["nodes"].as_array().unwrap();
            assert_eq!(events.len(), 3, "{c}");
            assert!(events.iter().all(|e| e["type"] == "OPEN"
                && e["email"]
                    .as_str()
                    .is_some_and(|m| m.ends_with("@rich.test"))
                && e["lead"]["id"].is_string()));
            assert_eq!(c["opens"]["nodes"].as_array().unwrap().len(), 2, "{c}");
            assert_eq!(c["opens"]["pageInfo"]["hasNextPage"], true, "{c}");
            assert_eq!(c["recipients"]["nodes"].as_array().unwrap().len(), 3);
        }
        counts.push(app.request_statements().len());
    }
    assert_eq!(counts[0], counts[1], "statements for 4 vs 12 campaigns");
}

#[tokio::test]
async fn list_searches_are_trimmed_wildcard_free_and_bounded() {
    let app = TestApp::spawn().await;
    let (_, token) = org_with(&app, Role::Manager).await;
    let t = template(&app, &token, "<p>Hi</p>", "").await;
    let c = campaign(&app, &token, &t, None).await;
    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { duplicateCampaign(id: $id) { name } }",
            json!({"id": c}),
        )
        .await;
    assert_eq!(
        v["data"]["duplicateCampaign"]["name"], "Launch (copy)",
        "{v}"
    );
    let q = "query($s: String!) { c: campaigns(filter: {search: $s}) { totalCount } t: templates(filter: {search: $s}) { totalCount } }";
    for (s, campaigns, templates) in [
        ("  COPY ", 1, 0),
        ("la%un_ch", 2, 0),
        ("%", 2, 1),
        ("INTRO", 0, 1),
    ] {
        let v = app.gql(Some(&token), q, json!({"s": s})).await;
        assert_eq!(v["data"]["c"]["totalCount"], campaigns, "{s}: {v}");
        assert_eq!(v["data"]["t"]["totalCount"], templates, "{s}: {v}");
    }
    for (list, max) in [
        ("campaigns", 200),
        ("templates", 200),
        ("suppressions", 320),
    ] {
        let q = format!("query($s: String!) {{ {list}(filter: {{search: $s}}) {{ totalCount }} }}");
        let v = app
            .gql(Some(&token), &q, json!({"s": "x".repeat(max + 1)}))
            .await;
        assert_eq!(field_errors(&v), ["filter.search"], "{list}: {v}");
        let v = app
            .gql(Some(&token), &q, json!({"s": "x".repeat(max)}))
            .await;
        assert!(v["errors"].is_null(), "{list}: {v}");
    }
}
