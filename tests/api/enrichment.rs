//! Contact validation (`validateContact`, `validateContacts`) against the fake DNS server
//! (`fake_dns.rs`): each verdict with its reasons, the validation cache (a domain is resolved
//! once per TTL: queries counted at the fake), the verdict saved on the lead, the campaign
//! deliverability gate (UNDELIVERABLE recipients SUPPRESSED with the reason, the rest sent to the
//! SMTP sink), batch bounds, authentication, roles and isolation.

use std::{collections::HashMap, time::Duration};

use axum::{http::StatusCode, response::Redirect, routing::get, Router};
use leadgraph::auth::Role;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fake_dns::FakeDns,
    fixtures::{campaign, field_errors, insert_leads, lead, org_with, template},
    helpers::{code, Options, TestApp},
    outreach::{campaign_status, free_listener, recipients_by_status, Sink, ADD, LAUNCH},
};

const VALIDATE: &str = "mutation($i: ContactInput!) { validateContact(input: $i) {
  leadId savedOnLead
  email { input normalized verdict reasons syntaxValid mxFound mxHosts nullMx disposable role freeProvider catchAll cached checkedAt }
  phone { input valid e164 type region }
  website { input url resolves httpStatus finalUrl redirected tlsValid error } } }";
const VALIDATE_MANY: &str = "mutation($i: [ContactInput!]!) { validateContacts(inputs: $i) {
  leadId savedOnLead email { input normalized verdict reasons cached } } }";
const LEAD: &str = "query($id: ID!) { lead(id: $id) { email emailStatus validatedAt provenance { field kind reference } } }";

fn env(dns: &FakeDns, extra: &[(&str, String)]) -> HashMap<String, String> {
    let mut m = HashMap::from([
        ("EMAIL_MX_CHECK".to_string(), "true".to_string()),
        ("DNS_NAMESERVER".to_string(), dns.addr.to_string()),
        ("EMAIL_MX_TIMEOUT_MS".to_string(), "300".to_string()),
    ]);
    for (k, v) in extra {
        m.insert(k.to_string(), v.clone());
    }
    m
}

async fn app_with_dns(dns: &FakeDns) -> TestApp {
    TestApp::spawn_with(Options {
        env: env(dns, &[]),
        ..Default::default()
    })
    .await
}

/// `(verdict, reasons)` of an email validation result.
fn verdict(e: &Value) -> (String, Vec<String>) {
    let reasons = e["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("{e}"))
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    (e["verdict"].as_str().unwrap().to_string(), reasons)
}

fn pair(v: &str, reasons: &[&str]) -> (String, Vec<String>) {
    (
        v.to_string(),
        reasons.iter().map(|r| r.to_string()).collect(),
    )
}

#[tokio::test]
async fn each_verdict_with_its_reasons_against_the_fake_dns() {
    let dns = FakeDns::start().await;
    let app = app_with_dns(&dns).await;
    let (_, token) = org_with(&app, Role::Member).await;
    let cases = [
        ("jane@nomx.test", pair("UNDELIVERABLE", &["NO_MX"])),
        ("jane@nullmx.test", pair("UNDELIVERABLE", &["NULL_MX"])),
        ("jane@nx.test", pair("UNDELIVERABLE", &["NO_DOMAIN"])),
        ("not-an-email", pair("UNDELIVERABLE", &["INVALID_SYNTAX"])),
        (
            "bob@mailinator.com",
            pair("RISKY", &["MX_FOUND", "DISPOSABLE"]),
        ),
        (
            "info@acme.mx-ok.test",
            pair("RISKY", &["MX_FOUND", "ROLE_ACCOUNT"]),
        ),
        (
            " Jane.Doe@Acme.MX-OK.test ",
            pair("DELIVERABLE", &["MX_FOUND"]),
        ),
    ];
    for (email, expected) in &cases {
        let v = app
            .gql(Some(&token), VALIDATE, json!({"i": {"email": email}}))
            .await;
        let e = &v["data"]["validateContact"]["email"];
        assert_eq!(&verdict(e), expected, "{email}: {v}");
        assert_eq!(v["data"]["validateContact"]["savedOnLead"], false);
    }
    let v = app
        .gql(
            Some(&token),
            VALIDATE,
            json!({"i": {"email": "Jane.Doe@Acme.MX-OK.test"}}),
        )
        .await;
    let e = &v["data"]["validateContact"]["email"];
    assert_eq!(e["normalized"], "jane.doe@acme.mx-ok.test", "{v}");
    assert_eq!(e["mxFound"], true);
    assert_eq!(e["mxHosts"], json!(["mail.acme.mx-ok.test"]));
    assert_eq!(e["catchAll"], Value::Null, "no mailbox probe");
    let v = app
        .gql(
            Some(&token),
            VALIDATE,
            json!({"i": {"email": "x@nullmx.test"}}),
        )
        .await;
    let e = &v["data"]["validateContact"]["email"];
    assert_eq!(
        (e["nullMx"].clone(), e["mxFound"].clone()),
        (json!(true), json!(false))
    );
    // IDN domains are normalised to ASCII; a free provider is flagged, not judged.
    let v = app
        .gql(
            Some(&token),
            VALIDATE,
            json!({"i": {"email": "ana@Bücher.mx-ok.test"}}),
        )
        .await;
    let e = &v["data"]["validateContact"]["email"];
    assert_eq!(e["normalized"], "ana@xn--bcher-kva.mx-ok.test", "{v}");
    assert_eq!(e["verdict"], "DELIVERABLE");
    // Phone: E.164, type and region.
    let v = app
        .gql(
            Some(&token),
            VALIDATE,
            json!({"i": {"phone": "07400 123456", "country": "GB"}}),
        )
        .await;
    let p = &v["data"]["validateContact"]["phone"];
    assert_eq!(
        p,
        &json!({"input": "07400 123456", "valid": true, "e164": "+447400123456", "type": "MOBILE", "region": "GB"}),
        "{v}"
    );
    assert_eq!(v["data"]["validateContact"]["email"], Value::Null);
}

#[tokio::test]
async fn a_domain_is_resolved_once_per_ttl_through_the_cache() {
    let dns = FakeDns::start().await;
    let app = app_with_dns(&dns).await;
    let (_, token) = org_with(&app, Role::Member).await;
    // One batch, 40 addresses on 2 domains: each domain resolved once.
    let inputs: Vec<Value> = (0..40)
        .map(|i| {
            let d = if i % 2 == 0 {
                "c1.mx-ok.test"
            } else {
                "nomx.test"
            };
            json!({"email": format!("p{i}@{d}")})
        })
        .collect();
    let v = app
        .gql(Some(&token), VALIDATE_MANY, json!({"i": inputs}))
        .await;
    let out = v["data"]["validateContacts"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(out.len(), 40);
    assert_eq!(out[0]["email"]["verdict"], "DELIVERABLE");
    assert_eq!(out[1]["email"]["verdict"], "UNDELIVERABLE");
    assert_eq!(dns.queries_for("c1.mx-ok.test"), 1, "one MX query");
    let nomx = dns.queries_for("nomx.test");
    assert!((1..=3).contains(&nomx), "MX, then A/AAAA once: {nomx}");
    // Again: answered from the cache, nothing asked.
    let before = dns.queries.load(std::sync::atomic::Ordering::SeqCst);
    let v = app
        .gql(
            Some(&token),
            VALIDATE_MANY,
            json!({"i": [{"email": "z@c1.mx-ok.test"}, {"email": "z@nomx.test"}]}),
        )
        .await;
    let out = &v["data"]["validateContacts"];
    assert_eq!(out[0]["email"]["cached"], true, "{v}");
    assert_eq!(out[1]["email"]["verdict"], "UNDELIVERABLE");
    assert_eq!(
        dns.queries.load(std::sync::atomic::Ordering::SeqCst),
        before
    );
    // An expired row is resolved again (the table is the cache, not the resolver's).
    entity::validation_cache::Entity::update_many()
        .col_expr(
            entity::validation_cache::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::TimeDelta::seconds(1)),
        )
        .exec(&app.state.db)
        .await
        .unwrap();
    let v = app
        .gql(
            Some(&token),
            VALIDATE,
            json!({"i": {"email": "z@c1.mx-ok.test"}}),
        )
        .await;
    assert_eq!(
        v["data"]["validateContact"]["email"]["cached"], false,
        "{v}"
    );
    assert_eq!(dns.queries_for("c1.mx-ok.test"), 2);
}

#[tokio::test]
async fn the_verdict_is_saved_on_the_lead_with_provenance_and_an_event() {
    let dns = FakeDns::start().await;
    let app = app_with_dns(&dns).await;
    let (_, token) = org_with(&app, Role::Member).await;
    let id = lead(
        &app,
        &token,
        json!({"firstName": "Nell", "email": "nell@nullmx.test", "website": "http://127.0.0.1:9/"}),
    )
    .await;
    let v = app
        .gql(Some(&token), VALIDATE, json!({"i": {"leadId": id}}))
        .await;
    let r = &v["data"]["validateContact"];
    assert_eq!(r["savedOnLead"], true, "{v}");
    assert_eq!(r["leadId"], id.as_str());
    assert_eq!(verdict(&r["email"]), pair("UNDELIVERABLE", &["NULL_MX"]));
    // The lead's website was checked through the SSRF guard: loopback is refused.
    assert_eq!(r["website"]["resolves"], false, "{v}");
    assert!(
        r["website"]["error"].as_str().unwrap().contains("private"),
        "{v}"
    );
    let v = app.gql(Some(&token), LEAD, json!({"id": id})).await;
    let l = &v["data"]["lead"];
    assert_eq!(l["emailStatus"], "UNDELIVERABLE", "{v}");
    assert!(l["validatedAt"].is_string());
    let prov = l["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["field"] == "emailStatus")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(prov["kind"], "enrichment");
    assert_eq!(prov["reference"], "validation: NULL_MX");
    let events = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::EventType.eq("lead.updated"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.payload.to_string().contains("emailStatus")),
        "{events:?}"
    );
    // A new email clears the verdict; a verdict on another address is not saved.
    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { updateLead(id: $id, input: {email: \"nell@mx-ok.test\"}) { emailStatus validatedAt } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(v["data"]["updateLead"]["emailStatus"], Value::Null, "{v}");
    let v = app
        .gql(
            Some(&token),
            VALIDATE,
            json!({"i": {"leadId": id, "email": "other@nomx.test"}}),
        )
        .await;
    assert_eq!(v["data"]["validateContact"]["savedOnLead"], false, "{v}");
}

#[tokio::test]
async fn auth_roles_isolation_and_input_bounds() {
    let dns = FakeDns::start().await;
    let app = app_with_dns(&dns).await;
    let (_, token) = org_with(&app, Role::Member).await;
    let (_, other) = org_with(&app, Role::Owner).await;
    let (_, viewer) = org_with(&app, Role::Viewer).await;
    let id = lead(&app, &token, json!({"email": "a@mx-ok.test"})).await;
    let i = json!({"i": {"email": "a@mx-ok.test"}});
    let v = app.gql(None, VALIDATE, i.clone()).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app.gql(Some(&viewer), VALIDATE, i.clone()).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    // Another organization's lead is missing, and its fields stay unread.
    let v = app
        .gql(Some(&other), VALIDATE, json!({"i": {"leadId": id}}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = app
        .gql(
            Some(&other),
            VALIDATE,
            json!({"i": {"leadId": "not-a-uuid"}}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let l = app.gql(Some(&token), LEAD, json!({"id": id})).await;
    assert_eq!(l["data"]["lead"]["emailStatus"], Value::Null, "{l}");
    // Invalid input: nothing to validate, over-long fields, too many items.
    let v = app.gql(Some(&token), VALIDATE, json!({"i": {}})).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert_eq!(field_errors(&v), vec!["input".to_string()]);
    let long = format!("{}@mx-ok.test", "a".repeat(400));
    let v = app
        .gql(
            Some(&token),
            VALIDATE_MANY,
            json!({"i": [{"email": "ok@mx-ok.test"}, {"email": long, "country": "GBR"}]}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    let mut fields = field_errors(&v);
    fields.sort();
    assert_eq!(fields, vec!["inputs[1].country", "inputs[1].email"]);
    let many: Vec<Value> = (0..201)
        .map(|i| json!({"email": format!("p{i}@mx-ok.test")}))
        .collect();
    let before = dns.queries.load(std::sync::atomic::Ordering::SeqCst);
    let v = app
        .gql(Some(&token), VALIDATE_MANY, json!({"i": many}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert_eq!(field_errors(&v), vec!["inputs".to_string()]);
    let v = app.gql(Some(&token), VALIDATE_MANY, json!({"i": []})).await;
    assert_eq!(field_errors(&v), vec!["inputs".to_string()], "{v}");
    assert_eq!(
        dns.queries.load(std::sync::atomic::Ordering::SeqCst),
        before
    );
}

#[tokio::test]
async fn websites_status_redirects_and_tls() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let site = Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/old", get(|| async { Redirect::permanent("/") }))
        .route("/gone", get(|| async { StatusCode::NOT_FOUND }));
    tokio::spawn(async move { axum::serve(listener, site).await });
    let app = TestApp::spawn_with(Options::allowing(&[addr.to_string()])).await;
    let (_, token) = org_with(&app, Role::Member).await;
    let check = |url: String| {
        let (app, token) = (&app, &token);
        async move {
            let v = app
                .gql(Some(token), VALIDATE, json!({"i": {"website": url}}))
                .await;
            v["data"]["validateContact"]["website"].clone()
        }
    };
    let w = check(format!("http://{addr}/")).await;
    assert_eq!(w["resolves"], true, "{w}");
    assert_eq!(w["httpStatus"], 200);
    assert_eq!(w["redirected"], false);
    assert_eq!(w["tlsValid"], Value::Null, "plain http");
    let w = check(format!("http://{addr}/old")).await;
    assert_eq!(
        (w["httpStatus"].clone(), w["redirected"].clone()),
        (json!(200), json!(true)),
        "{w}"
    );
    assert_eq!(w["finalUrl"], format!("http://{addr}/"));
    let w = check(format!("http://{addr}/gone")).await;
    assert_eq!(w["httpStatus"], 404, "{w}");
    // TLS against a plain-HTTP server: the handshake fails, nothing valid about it.
    let w = check(format!("https://{addr}/")).await;
    assert_eq!(w["httpStatus"], Value::Null, "{w}");
    assert_ne!(w["tlsValid"], true);
    // Not a public address and not opened for the test: refused before any connection.
    let w = check("http://10.0.0.1/".into()).await;
    assert_eq!(w["resolves"], false, "{w}");
    assert!(w["error"].as_str().unwrap().contains("private"), "{w}");
}

/// 10 recipients, 3 of them with an UNDELIVERABLE verdict: 7 messages reach the sink, the 3
/// are SUPPRESSED with the verdict's reason.
#[tokio::test]
async fn campaigns_skip_undeliverable_recipients() {
    let dns = FakeDns::start().await;
    let listener = free_listener().await;
    let smtp = format!("smtp://{}", listener.local_addr().unwrap());
    let sink = Sink::start(listener).await;
    let app = TestApp::spawn_with(Options {
        env: env(&dns, &[("SMTP_URL", smtp)]),
        ..Default::default()
    })
    .await;
    let (org, token) = org_with(&app, Role::Manager).await;
    let mut ids: Vec<Uuid> = insert_leads(&app, org, "good.mx-ok.test", 7).await;
    for d in ["nomx.test", "nullmx.test", "nx.test"] {
        ids.extend(insert_leads(&app, org, d, 1).await);
    }
    let inputs: Vec<Value> = ids.iter().map(|id| json!({"leadId": id})).collect();
    let v = app
        .gql(Some(&token), VALIDATE_MANY, json!({"i": inputs}))
        .await;
    let out = v["data"]["validateContacts"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    assert!(out.iter().all(|r| r["savedOnLead"] == true), "{v}");
    let t = template(&app, &token, "", "Hi {{ lead.firstName }}").await;
    let c = campaign(&app, &token, &t, None).await;
    let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let v = app
        .gql(Some(&token), ADD, json!({"c": c, "i": {"leadIds": ids}}))
        .await;
    assert_eq!(v["data"]["addCampaignRecipients"]["added"], 10, "{v}");
    let v = app.gql(Some(&token), LAUNCH, json!({"id": c})).await;
    assert_eq!(v["data"]["launchCampaign"]["status"], "RUNNING", "{v}");
    for _ in 0..300 {
        if campaign_status(&app, &c).await == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(campaign_status(&app, &c).await, "COMPLETED");
    assert_eq!(sink.count(), 7);
    let done = recipients_by_status(&app, &c).await;
    assert_eq!(done["SENT"].len(), 7);
    let suppressed = &done["SUPPRESSED"];
    let mut why: Vec<(String, String)> = suppressed
        .iter()
        .map(|r| (r.email.clone(), r.error.clone().unwrap_or_default()))
        .collect();
    why.sort();
    assert_eq!(
        why,
        vec![
            (
                "lead0@nomx.test".into(),
                "email UNDELIVERABLE (validation: NO_MX)".into()
            ),
            (
                "lead0@nullmx.test".into(),
                "email UNDELIVERABLE (validation: NULL_MX)".into()
            ),
            (
                "lead0@nx.test".into(),
                "email UNDELIVERABLE (validation: NO_DOMAIN)".into()
            ),
        ]
    );
    let per = sink.per_recipient();
    assert!(
        per.keys().all(|to| to.ends_with("@good.mx-ok.test")),
        "{:?}",
        per.keys()
    );
}

/// A mail exchanger on loopback for the mailbox probe: accepts `known@` at any domain and
/// anything at `catchall.probe.test`, refuses the rest with 550; counts connections and DATA.
#[derive(Clone, Default)]
struct FakeMx {
    connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    data: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl FakeMx {
    async fn start(listener: tokio::net::TcpListener) -> FakeMx {
        use std::sync::atomic::Ordering::SeqCst;
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let mx = FakeMx::default();
        let m = mx.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                m.connections.fetch_add(1, SeqCst);
                let m = m.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut r = BufReader::new(r);
                    w.write_all(b"220 mx ESMTP\r\n").await.ok()?;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).await.ok()? == 0 {
                            return Some(());
                        }
                        let upper = line.trim_end().to_ascii_uppercase();
                        let reply = if upper.starts_with("EHLO") {
                            "250-mx\r\n250 SIZE 1000000"
                        } else if upper.starts_with("RCPT TO") {
                            let addr = upper.split(['<', '>']).nth(1).unwrap_or_default();
                            if addr.starts_with("KNOWN@") || addr.ends_with("@CATCHALL.PROBE.TEST")
                            {
                                "250 OK"
                            } else {
                                "550 5.1.1 no such user"
                            }
                        } else if upper == "DATA" {
                            m.data.fetch_add(1, SeqCst);
                            "554 no"
                        } else if upper == "QUIT" {
                            w.write_all(b"221 bye\r\n").await.ok()?;
                            return Some(());
                        } else {
                            "250 OK"
                        };
                        w.write_all(format!("{reply}\r\n").as_bytes()).await.ok()?;
                    }
                });
            }
        });
        mx
    }
}

#[tokio::test]
async fn the_mailbox_probe_is_opt_in_finds_catch_all_and_refused_mailboxes_and_is_rate_limited() {
    use std::sync::atomic::Ordering::SeqCst;
    let dns = FakeDns::start().await;
    let listener = free_listener().await;
    let port = listener.local_addr().unwrap().port();
    let mx = FakeMx::start(listener).await;
    let app = TestApp::spawn_with(Options {
        env: env(
            &dns,
            &[
                ("SMTP_PROBE_ENABLED", "true".into()),
                ("SMTP_PROBE_PORT", port.to_string()),
                ("SMTP_PROBE_PER_DOMAIN_PER_MINUTE", "3".into()),
            ],
        ),
        allow_hosts: vec![format!("127.0.0.1:{port}")],
        ..Default::default()
    })
    .await;
    let (org, owner) = org_with(&app, Role::Owner).await;
    let member = app.token(org, Role::Member).await;
    const PROBED: &str = "mutation($i: [ContactInput!]!) { validateContacts(inputs: $i) {
      email { verdict reasons catchAll } } }";
    let one = |email: &str| json!({"i": [{"email": email}]});
    // Not opted in: DNS only, nobody is called.
    let v = app
        .gql(Some(&member), PROBED, one("known@acme.probe.test"))
        .await;
    let e = &v["data"]["validateContacts"][0]["email"];
    assert_eq!(verdict(e), pair("DELIVERABLE", &["MX_FOUND"]), "{v}");
    assert_eq!(e["catchAll"], Value::Null);
    assert_eq!(mx.connections.load(SeqCst), 0);
    // Opting in is ADMIN+.
    const SETTINGS: &str = "{ enrichmentSettings { smtpProbe smtpProbeAvailable updatedAt } }";
    const UPDATE: &str = "mutation($p: Boolean!) { updateEnrichmentSettings(input: {smtpProbe: $p}) { smtpProbe smtpProbeAvailable updatedAt } }";
    let v = app.gql(Some(&member), SETTINGS, json!({})).await;
    assert_eq!(
        v["data"]["enrichmentSettings"],
        json!({"smtpProbe": false, "smtpProbeAvailable": true, "updatedAt": null}),
        "{v}"
    );
    let v = app.gql(Some(&member), UPDATE, json!({"p": true})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app.gql(Some(&owner), UPDATE, json!({"p": true})).await;
    assert_eq!(
        v["data"]["updateEnrichmentSettings"]["smtpProbe"], true,
        "{v}"
    );
    // One connection per domain; a random address tells the catch-all domain.
    let v = app
        .gql(
            Some(&member),
            PROBED,
            json!({"i": [{"email": "known@acme.probe.test"}, {"email": "ghost@acme.probe.test"},
                         {"email": "anyone@catchall.probe.test"}]}),
        )
        .await;
    let r = &v["data"]["validateContacts"];
    assert_eq!(
        verdict(&r[0]["email"]),
        pair("DELIVERABLE", &["MX_FOUND", "MAILBOX_ACCEPTED"]),
        "{v}"
    );
    assert_eq!(r[0]["email"]["catchAll"], false);
    assert_eq!(
        verdict(&r[1]["email"]),
        pair("UNDELIVERABLE", &["MX_FOUND", "MAILBOX_REJECTED"])
    );
    assert_eq!(
        verdict(&r[2]["email"]),
        pair("RISKY", &["MX_FOUND", "CATCH_ALL"])
    );
    assert_eq!(r[2]["email"]["catchAll"], true);
    assert_eq!(mx.connections.load(SeqCst), 2);
    assert_eq!(mx.data.load(SeqCst), 0, "never DATA");
    // Three probes of a domain a minute: the fourth is skipped.
    for _ in 0..2 {
        let v = app
            .gql(Some(&member), PROBED, one("known@acme.probe.test"))
            .await;
        let e = &v["data"]["validateContacts"][0]["email"];
        assert_eq!(verdict(e).1.last().unwrap(), "MAILBOX_ACCEPTED", "{v}");
    }
    let v = app
        .gql(Some(&member), PROBED, one("known@acme.probe.test"))
        .await;
    let e = &v["data"]["validateContacts"][0]["email"];
    assert_eq!(
        verdict(e),
        pair("DELIVERABLE", &["MX_FOUND", "PROBE_RATE_LIMITED"]),
        "{v}"
    );
    assert_eq!(mx.connections.load(SeqCst), 4);
}
