//! Secrets at rest and at the edges: S13 (organization SMTP passwords and provider keys
//! encrypted in the database, key rotation, no mailed links left in job payloads), S11 (the
//! organization's SMTP host goes through the SSRF guard; `testSmtpSettings` answers coarsely)
//! and S12 (provider webhooks signed, fresh and not replayed; required in production).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine;
use leadgraph::{auth::Role, platform::secrets_box::SecretsBox, rotate_secrets};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, Statement};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};
use uuid::Uuid;

use crate::helpers::{code, extract_after, wait_for_mail, Options, TestApp};

const KEY_A: &str = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const KEY_B: &str = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";

const SMTP_SET: &str =
    "mutation($i: SmtpSettingsInput!) { updateSmtpSettings(input: $i) { host hasPassword } }";
const SMTP_TEST: &str = "mutation($i: SmtpSettingsInput, $to: String) { testSmtpSettings(input: $i, to: $to) { ok outcome error sentTo } }";

/// An SMTP server that offers AUTH PLAIN and accepts exactly one user name and password;
/// records the credentials it was given and the recipients of accepted messages.
#[derive(Clone, Default)]
struct AuthSink {
    logins: Arc<Mutex<Vec<(String, String)>>>,
    accepted: Arc<Mutex<Vec<String>>>,
}

impl AuthSink {
    async fn start(user: &'static str, pass: &'static str) -> (AuthSink, std::net::SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sink = AuthSink::default();
        let s = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut lines = BufReader::new(r).lines();
                    w.write_all(b"220 auth-sink ESMTP\r\n").await.unwrap();
                    let (mut authed, mut rcpt, mut data) = (false, None::<String>, false);
                    while let Ok(Some(line)) = lines.next_line().await {
                        if data {
                            if line == "." {
                                data = false;
                                if let Some(to) = rcpt.take() {
                                    s.accepted.lock().unwrap().push(to);
                                }
                                let _ = w.write_all(b"250 queued\r\n").await;
                            }
                            continue;
                        }
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") {
                            b"250-auth-sink\r\n250 AUTH PLAIN LOGIN\r\n"
                        } else if upper.starts_with("AUTH PLAIN ") {
                            let raw = base64::engine::general_purpose::STANDARD
                                .decode(line[11..].trim())
                                .unwrap_or_default();
                            let parts: Vec<String> = raw
                                .split(|b| *b == 0)
                                .map(|p| String::from_utf8_lossy(p).into_owned())
                                .collect();
                            let (u, p) = (
                                parts.get(1).cloned().unwrap_or_default(),
                                parts.get(2).cloned().unwrap_or_default(),
                            );
                            s.logins.lock().unwrap().push((u.clone(), p.clone()));
                            if u == user && p == pass {
                                authed = true;
                                b"235 2.7.0 authenticated\r\n"
                            } else {
                                b"535 5.7.8 authentication credentials invalid\r\n"
                            }
                        } else if upper.starts_with("MAIL FROM") {
                            if authed {
                                b"250 ok\r\n"
                            } else {
                                b"530 5.7.0 authentication required\r\n"
                            }
                        } else if upper.starts_with("RCPT TO") {
                            rcpt = line.split(['<', '>']).nth(1).map(String::from);
                            b"250 ok\r\n"
                        } else if upper == "DATA" {
                            data = true;
                            b"354 go ahead\r\n"
                        } else if upper == "QUIT" {
                            let _ = w.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 ok\r\n"
                        };
                        if w.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (sink, addr)
    }
}

async fn admin_of_new_org(app: &TestApp) -> (Uuid, String) {
    let org = Uuid::now_v7();
    (org, app.token(org, Role::Admin).await)
}

async fn stored_password(app: &TestApp, org: Uuid) -> Option<String> {
    entity::smtp_setting::Entity::find_by_id(org)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .password
}

/// S13: the SMTP password is encrypted in `smtp_settings`, bound to its organization, and still
/// works for tests and sends; plain-text rows from before keep working and `rotate-secrets`
/// encrypts them; after a key change old values open through `SECRETS_KEY_PREVIOUS` and the
/// rotation moves them to the new key.
#[tokio::test]
async fn s13_smtp_password_is_encrypted_at_rest_and_still_authenticates() {
    let (sink, addr) = AuthSink::start("relay-user", "s3cret-pass").await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("SECRETS_KEY".into(), KEY_A.into())]),
        allow_hosts: vec![addr.to_string()],
        ..Default::default()
    })
    .await;
    let (org, admin) = admin_of_new_org(&app).await;
    let input = json!({"host": "127.0.0.1", "port": addr.port(), "security": "NONE",
                       "username": "relay-user", "password": "s3cret-pass"});
    let v = app.gql(Some(&admin), SMTP_SET, json!({"i": input})).await;
    assert_eq!(v["data"]["updateSmtpSettings"]["hasPassword"], true, "{v}");

    // Not in clear in the row (nor anywhere in the table's text).
    let stored = stored_password(&app, org).await.unwrap();
    assert!(!stored.contains("s3cret-pass"), "{stored}");
    assert!(stored.starts_with("v1:"), "{stored}");
    let dump = app
        .state
        .db
        .query_all_raw(Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT * FROM smtp_settings",
        ))
        .await
        .unwrap();
    assert!(!format!("{dump:?}").contains("s3cret-pass"));

    // The saved settings still authenticate and send.
    let v = app
        .gql(Some(&admin), SMTP_TEST, json!({"to": "probe@example.test"}))
        .await;
    assert_eq!(
        v["data"]["testSmtpSettings"],
        json!({"ok": true, "outcome": "CONNECTED", "error": null, "sentTo": "probe@example.test"}),
        "{v}"
    );
    assert_eq!(
        sink.logins.lock().unwrap().last().unwrap(),
        &("relay-user".to_string(), "s3cret-pass".to_string())
    );
    assert_eq!(sink.accepted.lock().unwrap().len(), 1);
    // A wrong password is AUTH_FAILED, with no server text.
    let v = app
        .gql(
            Some(&admin),
            SMTP_TEST,
            json!({"i": {"host": "127.0.0.1", "port": addr.port(), "security": "NONE",
                         "username": "relay-user", "password": "wrong"}}),
        )
        .await;
    let r = &v["data"]["testSmtpSettings"];
    assert_eq!(
        (r["ok"].clone(), r["outcome"].clone()),
        (json!(false), json!("AUTH_FAILED")),
        "{v}"
    );
    assert!(!r["error"].as_str().unwrap().contains("5.7.8"), "{v}");

    // Copied into another organization's row, the value does not open (bound to its org).
    let (org2, admin2) = admin_of_new_org(&app).await;
    let v = app
        .gql(Some(&admin2), SMTP_SET, json!({"i": {"host": "127.0.0.1", "port": addr.port(), "security": "NONE", "username": "relay-user"}}))
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let mut row: entity::smtp_setting::ActiveModel = entity::smtp_setting::Entity::find_by_id(org2)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    row.password = Set(Some(stored.clone()));
    row.update(&app.state.db).await.unwrap();
    let v = app
        .gql(
            Some(&admin2),
            SMTP_TEST,
            json!({"to": "probe@example.test"}),
        )
        .await;
    assert_eq!(code(&v), Some("INTERNAL"), "{v}");

    // A legacy plain-text row keeps working, and the rotation encrypts it.
    let mut row: entity::smtp_setting::ActiveModel = entity::smtp_setting::Entity::find_by_id(org)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .into();
    row.password = Set(Some("s3cret-pass".into()));
    row.update(&app.state.db).await.unwrap();
    let v = app.gql(Some(&admin), SMTP_TEST, json!({})).await;
    assert_eq!(v["data"]["testSmtpSettings"]["outcome"], "CONNECTED", "{v}");
    let report = rotate_secrets::rotate_all(&app.state.db, &app.state.secrets)
        .await
        .unwrap();
    assert_eq!(report.resealed, 1, "{report:?}");
    assert_eq!(report.failed.len(), 1, "org2's moved value: {report:?}");
    let sealed_a = stored_password(&app, org).await.unwrap();
    assert!(app.state.secrets.is_current(&sealed_a), "{sealed_a}");
    let v = app.gql(Some(&admin), SMTP_TEST, json!({})).await;
    assert_eq!(v["data"]["testSmtpSettings"]["outcome"], "CONNECTED", "{v}");

    // Key change: B is current, A previous. Old values still open; the rotation moves them.
    let rotated = TestApp::spawn_with(Options {
        db_url: Some(app.db_url.clone()),
        env: HashMap::from([
            ("SECRETS_KEY".into(), KEY_B.into()),
            ("SECRETS_KEY_PREVIOUS".into(), KEY_A.into()),
            ("WORKER_ENABLED".into(), "false".into()),
        ]),
        allow_hosts: vec![addr.to_string()],
        ..Default::default()
    })
    .await;
    let admin_b = rotated
        .session_token(app_user_of(&app, org).await, org, Role::Admin)
        .await;
    let v = rotated.gql(Some(&admin_b), SMTP_TEST, json!({})).await;
    assert_eq!(v["data"]["testSmtpSettings"]["outcome"], "CONNECTED", "{v}");
    let report = rotate_secrets::rotate_all(&rotated.state.db, &rotated.state.secrets)
        .await
        .unwrap();
    assert_eq!(report.resealed, 1, "{report:?}");
    let sealed_b = stored_password(&rotated, org).await.unwrap();
    assert_ne!(sealed_a, sealed_b);
    assert!(sealed_b.contains(rotated.state.secrets.current_key_id()));
    let only_b = SecretsBox::from_config(KEY_B, &[]).unwrap();
    let ctx = leadgraph::domains::outreach::settings::password_context(org);
    assert_eq!(only_b.open(&sealed_b, &ctx).unwrap(), "s3cret-pass");
    assert!(only_b.open(&sealed_a, &ctx).is_err());
    // A second run has nothing left to do.
    let again = rotate_secrets::rotate_all(&rotated.state.db, &rotated.state.secrets)
        .await
        .unwrap();
    assert_eq!(again.resealed, 0, "{again:?}");
}

/// The id of some member of `org` (the admin `token` created).
async fn app_user_of(app: &TestApp, org: Uuid) -> Uuid {
    use sea_orm::{ColumnTrait, QueryFilter};
    entity::membership::Entity::find()
        .filter(entity::membership::Column::OrgId.eq(org))
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap()
        .user_id
}

/// S13: organization provider keys and webhook URLs are stored encrypted too.
#[tokio::test]
async fn s13_provider_keys_and_webhook_urls_are_encrypted_at_rest() {
    let app = TestApp::spawn().await;
    let (org, admin) = admin_of_new_org(&app).await;
    let v = app
        .gql(
            Some(&admin),
            "mutation($i: UpdateScrapingSettingsInput!) { updateScrapingSettings(input: $i) { hasBraveApiKey searchAvailable } }",
            json!({"i": {"braveApiKey": "brave-key-0123456789"}}),
        )
        .await;
    assert_eq!(
        v["data"]["updateScrapingSettings"]["hasBraveApiKey"], true,
        "{v}"
    );
    let row = entity::scraping_settings::Entity::find_by_id(org)
        .one(&app.state.db)
        .await
        .unwrap()
        .unwrap();
    let stored = row.brave_api_key.unwrap();
    assert!(
        stored.starts_with("v1:") && !stored.contains("brave-key"),
        "{stored}"
    );
    let keys = leadgraph::domains::scraping::Keys::load(
        &app.state.db,
        Some(org),
        &app.state.config,
        &app.state.secrets,
    )
    .await
    .unwrap();
    assert_eq!(keys.brave.unwrap().0, "brave-key-0123456789");

    let v = app
        .gql(
            Some(&admin),
            "mutation($i: [NotificationPreferenceInput!]!) { updateNotificationPreferences(input: $i) { type channel webhookHost } }",
            json!({"i": [{"type": "JOB_FAILED", "channel": "WEBHOOK", "enabled": true,
                          "webhookUrl": "https://hooks.example.com/services/T000/B000/XXXXSECRET"}]}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    assert!(v.to_string().contains("hooks.example.com"), "{v}");
    let pref = entity::notification_preference::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.webhook_url.is_some())
        .unwrap();
    let url = pref.webhook_url.unwrap();
    assert!(
        url.starts_with("v1:") && !url.contains("XXXXSECRET"),
        "{url}"
    );
}

/// S13: the verification link is not left in `jobs.payload` once its mail is sent.
#[tokio::test]
async fn s13_mailed_links_do_not_stay_in_job_payloads() {
    let app = TestApp::spawn().await;
    let email = format!("links+{}@example.com", Uuid::now_v7().simple());
    let v = app
        .gql(
            None,
            "mutation($input: RegisterInput!) { register(input: $input) { verificationRequired } }",
            json!({"input": {"email": email, "password": "correct horse battery", "name": "Ada", "organizationName": "Engines"}}),
        )
        .await;
    assert_eq!(v["data"]["register"]["verificationRequired"], true, "{v}");
    let mail = wait_for_mail(&app, &email).await;
    let token = extract_after(&mail, "/verify-email?token=");
    assert!(token.len() >= 16, "{token}");
    // The job is marked done right after the mail left; give it a moment.
    let mut leftover = Vec::new();
    for _ in 0..100 {
        let jobs = entity::job::Entity::find()
            .all(&app.state.db)
            .await
            .unwrap();
        let done = jobs
            .iter()
            .filter(|j| j.kind == "mail.send")
            .all(|j| j.state == "succeeded");
        leftover = jobs
            .into_iter()
            .filter(|j| j.payload.to_string().contains(&token))
            .map(|j| (j.kind, j.state))
            .collect();
        if done && leftover.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(leftover.is_empty(), "token still in jobs: {leftover:?}");
    // The link still works: the mail carried it.
    let v = app
        .gql(
            None,
            "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }",
            json!({"t": token}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
}

/// S11: a host that is or resolves to a loopback/private/link-local address is refused when the
/// allow-list does not open it, on save and on test, and the answer names no address.
#[tokio::test]
async fn s11_smtp_hosts_on_private_addresses_are_refused() {
    let (_sink, addr) = AuthSink::start("u", "p").await; // listening, but not allowed
    let app = TestApp::spawn().await;
    let (_org, admin) = admin_of_new_org(&app).await;
    for host in [
        "127.0.0.1",
        "localhost",
        "169.254.169.254",
        "10.0.0.7",
        "::1",
    ] {
        let v = app
            .gql(
                Some(&admin),
                SMTP_SET,
                json!({"i": {"host": host, "port": addr.port(), "security": "NONE"}}),
            )
            .await;
        assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{host}: {v}");
        assert_eq!(
            v["errors"][0]["extensions"]["fields"][0]["field"], "input.host",
            "{v}"
        );
        let v = app
            .gql(
                Some(&admin),
                SMTP_TEST,
                json!({"i": {"host": host, "port": addr.port(), "security": "NONE"}, "to": "a@example.test"}),
            )
            .await;
        let r = &v["data"]["testSmtpSettings"];
        assert_eq!(
            (r["ok"].clone(), r["outcome"].clone()),
            (json!(false), json!("REFUSED_ADDRESS")),
            "{host}: {v}"
        );
        let text = v.to_string();
        assert!(!text.contains("127.0.0.1") || host == "127.0.0.1", "{v}");
    }
}

/// S11: an unreachable port is UNREACHABLE with a fixed sentence, not the OS error.
#[tokio::test]
async fn s11_smtp_test_outcomes_are_coarse() {
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap(); // dropped: nothing listens
    let app = TestApp::spawn_with(Options::allowing(&[closed])).await;
    let (_org, admin) = admin_of_new_org(&app).await;
    let v = app
        .gql(
            Some(&admin),
            SMTP_TEST,
            json!({"i": {"host": "127.0.0.1", "port": closed.port(), "security": "NONE"}}),
        )
        .await;
    let r = &v["data"]["testSmtpSettings"];
    assert_eq!(r["outcome"], "UNREACHABLE", "{v}");
    assert_eq!(r["ok"], false);
    assert_eq!(
        r["error"], "no SMTP server answered at this host and port",
        "{v}"
    );
    let lower = v.to_string().to_lowercase();
    for leak in ["refused", "os error", "connection", "111"] {
        assert!(!lower.contains(leak), "{leak} in {v}");
    }
    // A host that does not resolve: the same outcome, nothing about DNS.
    let v = app
        .gql(
            Some(&admin),
            SMTP_TEST,
            json!({"i": {"host": "no-such-host.invalid", "port": 25, "security": "NONE"}}),
        )
        .await;
    assert_eq!(
        v["data"]["testSmtpSettings"]["outcome"], "UNREACHABLE",
        "{v}"
    );
}

// ---------------------------------------------------------------------------------------------
// S12: provider webhooks.

fn mailgun_event(key: &str, timestamp: i64, token: &str) -> Value {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{timestamp}{token}").as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    json!({"signature": {"timestamp": timestamp.to_string(), "token": token, "signature": sig},
           "event-data": {"event": "opened", "id": token,
                          "message": {"headers": {"message-id": "nobody@example.test"}}}})
}

struct SendgridSigner {
    key: p256::ecdsa::SigningKey,
}

impl SendgridSigner {
    fn new() -> SendgridSigner {
        SendgridSigner {
            key: p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap(),
        }
    }
    fn public_key(&self) -> String {
        use p256::pkcs8::EncodePublicKey;
        let der = self.key.verifying_key().to_public_key_der().unwrap();
        base64::engine::general_purpose::STANDARD.encode(der.as_bytes())
    }
    fn sign(&self, timestamp: i64, body: &str) -> String {
        use p256::ecdsa::{signature::Signer, Signature};
        let mut msg = timestamp.to_string().into_bytes();
        msg.extend_from_slice(body.as_bytes());
        let sig: Signature = self.key.sign(&msg);
        base64::engine::general_purpose::STANDARD.encode(sig.to_der().as_bytes())
    }
}

async fn post_sendgrid(
    app: &TestApp,
    signer: Option<(&SendgridSigner, i64)>,
    body: &str,
) -> reqwest::StatusCode {
    let mut req = app
        .http
        .post(app.url("/webhooks/email/sendgrid"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some((s, ts)) = signer {
        req = req
            .header("x-twilio-email-event-webhook-timestamp", ts.to_string())
            .header("x-twilio-email-event-webhook-signature", s.sign(ts, body));
    }
    req.send().await.unwrap().status()
}

async fn post_mailgun(app: &TestApp, event: &Value) -> reqwest::StatusCode {
    app.http
        .post(app.url("/webhooks/email/mailgun"))
        .json(event)
        .send()
        .await
        .unwrap()
        .status()
}

/// S12: correctly signed events are accepted when fresh, refused when older than 5 minutes and
/// refused when replayed (SendGrid and Mailgun).
#[tokio::test]
async fn s12_signed_provider_events_must_be_fresh_and_new() {
    let signer = SendgridSigner::new();
    let mg_key = "mailgun-signing-key-0123";
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("MAILGUN_WEBHOOK_SIGNING_KEY".into(), mg_key.into()),
            ("SENDGRID_WEBHOOK_PUBLIC_KEY".into(), signer.public_key()),
        ]),
        ..Default::default()
    })
    .await;
    let now = chrono::Utc::now().timestamp();

    // Mailgun.
    let fresh = mailgun_event(mg_key, now, &format!("tok-{}", Uuid::now_v7().simple()));
    assert_eq!(post_mailgun(&app, &fresh).await, 200);
    assert_eq!(post_mailgun(&app, &fresh).await, 409, "replayed");
    let stale = mailgun_event(
        mg_key,
        now - 301,
        &format!("tok-{}", Uuid::now_v7().simple()),
    );
    assert_eq!(
        post_mailgun(&app, &stale).await,
        401,
        "older than 5 minutes"
    );
    let future = mailgun_event(
        mg_key,
        now + 600,
        &format!("tok-{}", Uuid::now_v7().simple()),
    );
    assert_eq!(post_mailgun(&app, &future).await, 401, "from the future");
    let unsigned = json!({"event-data": {"event": "opened"}});
    assert_eq!(post_mailgun(&app, &unsigned).await, 401);

    // SendGrid.
    let body = json!([{"event": "open", "email": "a@example.test", "sg_event_id": Uuid::now_v7().to_string(),
                       "smtp-id": "<nobody@example.test>", "timestamp": now}])
    .to_string();
    assert_eq!(post_sendgrid(&app, Some((&signer, now)), &body).await, 200);
    assert_eq!(
        post_sendgrid(&app, Some((&signer, now)), &body).await,
        409,
        "replayed"
    );
    let body2 = json!([{"event": "open", "sg_event_id": Uuid::now_v7().to_string()}]).to_string();
    assert_eq!(
        post_sendgrid(&app, Some((&signer, now - 301)), &body2).await,
        401,
        "older than 5 minutes"
    );
    assert_eq!(post_sendgrid(&app, None, &body2).await, 401, "unsigned");
    assert_eq!(
        post_sendgrid(&app, Some((&signer, now)), &body2).await,
        200,
        "the same events, fresh and signed"
    );
}

/// S12: in production a provider route without its key is not enabled (404), and a configured
/// one refuses unsigned events; the inbound-email route needs its secret.
#[tokio::test]
async fn s12_production_requires_signed_webhooks() {
    let prod = |extra: &[(&str, &str)]| {
        let mut env: HashMap<String, String> = HashMap::from([
            ("LEADGRAPH_ENV".into(), "production".into()),
            ("JWT_SECRET".into(), "p".repeat(40)),
            ("SECRETS_KEY".into(), KEY_A.into()),
        ]);
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Options {
            env,
            ..Default::default()
        }
    };
    let app = TestApp::spawn_with(prod(&[])).await;
    let body = json!([{"event": "open", "smtp-id": "<x@y>"}]).to_string();
    assert_eq!(post_sendgrid(&app, None, &body).await, 404);
    let unsigned = json!({"event-data": {"event": "opened"}});
    assert_eq!(post_mailgun(&app, &unsigned).await, 404);
    let r = app
        .http
        .post(app.url("/webhooks/inbound-email"))
        .json(&json!({"from": "a@b.c", "inReplyTo": "<x@y>"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let mg_key = "mailgun-signing-key-prod";
    let app = TestApp::spawn_with(prod(&[
        ("MAILGUN_WEBHOOK_SIGNING_KEY", mg_key),
        ("INBOUND_EMAIL_SECRET", "inbound-secret-0123"),
    ]))
    .await;
    assert_eq!(post_mailgun(&app, &unsigned).await, 401);
    let now = chrono::Utc::now().timestamp();
    let signed = mailgun_event(mg_key, now, &format!("tok-{}", Uuid::now_v7().simple()));
    assert_eq!(post_mailgun(&app, &signed).await, 200);
    assert_eq!(
        post_sendgrid(&app, None, &body).await,
        404,
        "still not enabled"
    );
    let inbound = |secret: Option<&str>| {
        let mut req = app
            .http
            .post(app.url("/webhooks/inbound-email"))
            .json(&json!({"from": "a@b.c", "inReplyTo": "<x@y>"}));
        if let Some(s) = secret {
            req = req.header("x-webhook-secret", s);
        }
        req.send()
    };
    assert_eq!(inbound(None).await.unwrap().status(), 401);
    assert_eq!(
        inbound(Some("inbound-secret-0123")).await.unwrap().status(),
        200
    );
    assert_eq!(
        inbound(Some("inbound-secret-0123")).await.unwrap().status(),
        409,
        "the same message again"
    );
}
