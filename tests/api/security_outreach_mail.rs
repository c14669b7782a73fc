//! Security review, outreach finding S14 (mail abuse): test emails go to members of the
//! organization only; a campaign's `fromEmail` must be on a sending domain the organization
//! verified through a DNS TXT record (a fake DNS server answers here); reserved example domains
//! pass unverified only with the development setting.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use leadgraph::auth::Role;
use sea_orm::EntityTrait;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::field_errors,
    helpers::{code, TestApp},
    security_outreach::{
        insert_leads, ok, quiet_app, ADD, CREATE_CAMPAIGN, CREATE_TEMPLATE, LAUNCH, UPDATE_CAMPAIGN,
    },
};

// ----------------------------------------------------------------------------------------------
// S14: mail abuse.
// ----------------------------------------------------------------------------------------------

/// A DNS server on loopback UDP answering TXT queries from a table the test fills; NXDOMAIN
/// (no SOA, so nothing is cached) for anything else.
struct TxtDns {
    addr: std::net::SocketAddr,
    records: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl TxtDns {
    async fn start() -> TxtDns {
        use hickory_proto::{
            op::{Message, MessageType, OpCode, ResponseCode},
            rr::{rdata::TXT, RData, Record, RecordType},
        };
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let records: Arc<Mutex<HashMap<String, Vec<String>>>> = Arc::default();
        let table = records.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(req) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(query) = req.queries.first().cloned() else {
                    continue;
                };
                let name = query.name().to_ascii().to_lowercase();
                let mut resp = Message::new(req.metadata.id, MessageType::Response, OpCode::Query);
                resp.metadata.recursion_desired = req.metadata.recursion_desired;
                resp.metadata.recursion_available = true;
                resp.metadata.authoritative = true;
                resp.add_query(query.clone());
                let found = table
                    .lock()
                    .unwrap()
                    .get(name.trim_end_matches('.'))
                    .cloned();
                match found {
                    Some(txts) if query.query_type() == RecordType::TXT => {
                        for t in txts {
                            resp.add_answer(Record::from_rdata(
                                query.name().clone(),
                                60,
                                RData::TXT(TXT::new(vec![t])),
                            ));
                        }
                    }
                    Some(_) => {}
                    None => resp.metadata.response_code = ResponseCode::NXDomain,
                }
                let _ = sock.send_to(&resp.to_vec().unwrap(), from).await;
            }
        });
        TxtDns { addr, records }
    }

    fn publish(&self, name: &str, txt: &str) {
        self.records
            .lock()
            .unwrap()
            .entry(name.to_string())
            .or_default()
            .push(txt.to_string());
    }
}

const ADD_DOMAIN: &str = "mutation($d: String!) { addSendingDomain(domain: $d) { id domain verified verifiedAt txtName txtValue } }";
const VERIFY_DOMAIN: &str =
    "mutation($id: ID!) { verifySendingDomain(id: $id) { id domain verified verifiedAt lastError } }";
const REMOVE_DOMAIN: &str = "mutation($id: ID!) { removeSendingDomain(id: $id) }";
const DOMAINS: &str =
    "query { sendingDomains(first: 10) { totalCount nodes { id domain verified } } }";

async fn domain_app() -> (TestApp, TxtDns) {
    let dns = TxtDns::start().await;
    let addr = dns.addr.to_string();
    let app = quiet_app(&[
        ("DNS_NAMESERVER", addr.as_str()),
        ("EMAIL_MX_TIMEOUT_MS", "500"),
    ])
    .await;
    (app, dns)
}

async fn template_of(app: &TestApp, token: &str) -> String {
    ok(
        app,
        token,
        CREATE_TEMPLATE,
        json!({"i": {"name": "T", "subject": "Hi", "bodyHtml": "<p>x</p>"}}),
    )
    .await["createTemplate"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn campaign_input(t: &str, from: &str) -> Value {
    json!({"i": {"name": "C", "templateId": t, "fromName": "Us", "fromEmail": from}})
}

#[tokio::test]
async fn s14_sending_domain_add_verify_use_and_remove() {
    let (app, dns) = domain_app().await;
    let org = Uuid::now_v7();
    let admin = app.token(org, Role::Admin).await;
    let member = app.token(org, Role::Member).await;
    let viewer = app.token(org, Role::Viewer).await;
    let t = template_of(&app, &member).await;

    // Not verified: refused, naming fromEmail.
    let v = app
        .gql(
            Some(&member),
            CREATE_CAMPAIGN,
            campaign_input(&t, "news@acme-mail.io"),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.fromEmail"]);
    assert!(v.to_string().contains("acme-mail.io"), "{v}");

    // VIEWER and MEMBER cannot add; ADMIN can.
    for tok in [&viewer, &member] {
        let v = app
            .gql(Some(tok), ADD_DOMAIN, json!({"d": "acme-mail.io"}))
            .await;
        assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    }
    let v = ok(&app, &admin, ADD_DOMAIN, json!({"d": " Acme-Mail.IO. "})).await;
    let d = &v["addSendingDomain"];
    assert_eq!(d["domain"], "acme-mail.io");
    assert_eq!(d["verified"], false);
    assert_eq!(d["txtName"], "_leadgraph.acme-mail.io");
    let value = d["txtValue"].as_str().unwrap().to_string();
    assert!(value.starts_with("leadgraph-verification="), "{value}");
    assert!(value.len() > "leadgraph-verification=".len() + 20);
    let id = d["id"].as_str().unwrap().to_string();
    // Adding it twice is a conflict.
    let v = app
        .gql(Some(&admin), ADD_DOMAIN, json!({"d": "acme-mail.io"}))
        .await;
    assert_eq!(code(&v), Some("CONFLICT"), "{v}");

    // Everybody may list; the domain is not usable before the TXT record exists.
    let v = ok(&app, &viewer, DOMAINS, json!({})).await;
    assert_eq!(v["sendingDomains"]["totalCount"], 1);
    assert_eq!(v["sendingDomains"]["nodes"][0]["verified"], false);
    let v = ok(&app, &admin, VERIFY_DOMAIN, json!({"id": id})).await;
    assert_eq!(v["verifySendingDomain"]["verified"], false);
    assert!(v["verifySendingDomain"]["lastError"].is_string(), "{v}");
    let v = app
        .gql(
            Some(&member),
            CREATE_CAMPAIGN,
            campaign_input(&t, "news@acme-mail.io"),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.fromEmail"]);
    // A wrong token does not verify it either.
    dns.publish("_leadgraph.acme-mail.io", "leadgraph-verification=guess");
    let v = ok(&app, &admin, VERIFY_DOMAIN, json!({"id": id})).await;
    assert_eq!(v["verifySendingDomain"]["verified"], false);

    // Published: verified, and the domain (and its subdomains) can send.
    dns.publish("_leadgraph.acme-mail.io", &value);
    let v = ok(&app, &admin, VERIFY_DOMAIN, json!({"id": id})).await;
    assert_eq!(v["verifySendingDomain"]["verified"], true, "{v}");
    assert!(v["verifySendingDomain"]["verifiedAt"].is_string());
    let c = ok(
        &app,
        &member,
        CREATE_CAMPAIGN,
        campaign_input(&t, "news@acme-mail.io"),
    )
    .await["createCampaign"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &app,
        &member,
        UPDATE_CAMPAIGN,
        json!({"id": c, "i": {"fromEmail": "hello@mail.acme-mail.io"}}),
    )
    .await;
    // Not a lookalike.
    let v = app
        .gql(
            Some(&member),
            UPDATE_CAMPAIGN,
            json!({"id": c, "i": {"fromEmail": "x@evilacme-mail.io"}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.fromEmail"]);

    // Removed: the campaign can no longer launch from it.
    let v = app
        .gql(Some(&member), REMOVE_DOMAIN, json!({"id": id}))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));
    let v = ok(&app, &admin, REMOVE_DOMAIN, json!({"id": id})).await;
    assert_eq!(v["removeSendingDomain"], true);
    let leads = insert_leads(&app, org, 1).await;
    ok(&app, &member, ADD, json!({"c": c, "i": {"leadIds": leads}})).await;
    let v = app.gql(Some(&member), LAUNCH, json!({"id": c})).await;
    assert_eq!(field_errors(&v), ["fromEmail"]);

    // The apex TXT record works too.
    let v = ok(&app, &admin, ADD_DOMAIN, json!({"d": "apex.io"})).await;
    let id = v["addSendingDomain"]["id"].as_str().unwrap().to_string();
    dns.publish(
        "apex.io",
        v["addSendingDomain"]["txtValue"].as_str().unwrap(),
    );
    let v = ok(&app, &admin, VERIFY_DOMAIN, json!({"id": id})).await;
    assert_eq!(v["verifySendingDomain"]["verified"], true, "{v}");
}

#[tokio::test]
async fn s14_sending_domains_are_per_organization_and_validated() {
    let (app, dns) = domain_app().await;
    let (org_a, org_b) = (Uuid::now_v7(), Uuid::now_v7());
    let admin_a = app.token(org_a, Role::Admin).await;
    let admin_b = app.token(org_b, Role::Owner).await;
    let member_b = app.token(org_b, Role::Member).await;
    let v = ok(&app, &admin_a, ADD_DOMAIN, json!({"d": "a-corp.io"})).await;
    let id = v["addSendingDomain"]["id"].as_str().unwrap().to_string();
    dns.publish(
        "_leadgraph.a-corp.io",
        v["addSendingDomain"]["txtValue"].as_str().unwrap(),
    );
    ok(&app, &admin_a, VERIFY_DOMAIN, json!({"id": id})).await;

    // Organization B sees none of it: verify/remove by id are NOT_FOUND like a missing id.
    let missing = Uuid::now_v7().to_string();
    for q in [VERIFY_DOMAIN, REMOVE_DOMAIN] {
        let a = app.gql(Some(&admin_b), q, json!({"id": id})).await;
        let b = app.gql(Some(&admin_b), q, json!({"id": missing})).await;
        assert_eq!(code(&a), Some("NOT_FOUND"), "{a}");
        assert_eq!(a["errors"][0]["message"], b["errors"][0]["message"]);
    }
    let v = ok(&app, &admin_b, DOMAINS, json!({})).await;
    assert_eq!(v["sendingDomains"]["totalCount"], 0);
    // ... and cannot send from A's verified domain.
    let t = template_of(&app, &member_b).await;
    let v = app
        .gql(
            Some(&member_b),
            CREATE_CAMPAIGN,
            campaign_input(&t, "ceo@a-corp.io"),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.fromEmail"]);

    // Invalid domains name the argument.
    for bad in [
        "",
        "localhost",
        "no-dot",
        "a..b.io",
        "-lead.io",
        "under_score.io",
        "1.2.3.4",
        "x@y.io",
        "http://a.io",
        &format!("{}.io", "a".repeat(64)),
    ] {
        let v = app.gql(Some(&admin_b), ADD_DOMAIN, json!({"d": bad})).await;
        assert_eq!(field_errors(&v), ["domain"], "{bad}");
    }
    // Unauthenticated.
    let v = app.gql(None, DOMAINS, json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn s14_reserved_example_domains_need_no_verification_only_in_development() {
    // Development (the test default): example.com, .test and localhost are let through.
    let app = quiet_app(&[]).await;
    let org = Uuid::now_v7();
    let member = app.token(org, Role::Member).await;
    let t = template_of(&app, &member).await;
    for from in [
        "a@example.com",
        "a@news.example.org",
        "a@sender.test",
        "a@localhost",
    ] {
        ok(&app, &member, CREATE_CAMPAIGN, campaign_input(&t, from)).await;
    }
    // A lookalike of a reserved name is an ordinary domain.
    let v = app
        .gql(
            Some(&member),
            CREATE_CAMPAIGN,
            campaign_input(&t, "a@example.com.evil.io"),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.fromEmail"]);

    // The production setting: nothing passes unverified.
    let app = quiet_app(&[("SENDING_DOMAINS_ALLOW_RESERVED", "false")]).await;
    let member = app.token(org, Role::Member).await;
    let t = template_of(&app, &member).await;
    let v = app
        .gql(
            Some(&member),
            CREATE_CAMPAIGN,
            campaign_input(&t, "a@example.com"),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.fromEmail"]);
}

#[tokio::test]
async fn s14_test_emails_go_only_to_members_of_the_organization() {
    let app = TestApp::spawn().await;
    let (org, other_org) = (Uuid::now_v7(), Uuid::now_v7());
    app.ensure_org(org).await;
    app.ensure_org(other_org).await;
    let (sam_id, sam) = app.member(org, Role::Member, "Sam").await;
    let (ann_id, _) = app.member(org, Role::Viewer, "Ann").await;
    let (out_id, _) = app.member(other_org, Role::Owner, "Outsider").await;
    let email_of = |id: Uuid| {
        let db = app.state.db.clone();
        async move {
            entity::user::Entity::find_by_id(id)
                .one(&db)
                .await
                .unwrap()
                .unwrap()
                .email
        }
    };
    let t = template_of(&app, &sam).await;
    const SEND: &str = "mutation($t: ID!, $to: String!) { sendTestEmail(templateId: $t, to: $to) }";

    // To oneself and to another member (any role): sent.
    for id in [sam_id, ann_id] {
        let to = email_of(id).await;
        let v = ok(&app, &sam, SEND, json!({"t": t, "to": to.to_uppercase()})).await;
        assert!(v["sendTestEmail"].is_string(), "{v}");
        crate::helpers::wait_for_mail(&app, &to).await;
    }
    // To anybody else, a user of another organization included: refused, naming `to`.
    let stranger = format!("victim+{}@example.com", Uuid::now_v7().simple());
    for to in [stranger, email_of(out_id).await] {
        let v = app.gql(Some(&sam), SEND, json!({"t": t, "to": to})).await;
        assert_eq!(field_errors(&v), ["to"], "{v}");
        assert!(
            v["errors"][0]["extensions"]["fields"][0]["message"]
                .as_str()
                .unwrap()
                .contains("member"),
            "{v}"
        );
    }
    // Nothing was written for the refused addresses (embedded run: the outbox directory).
    if std::env::var("TEST_SMTP_MAILDIR").is_err() {
        let outbox = std::fs::read_dir(app.dir.join("outbox"))
            .map(|d| d.count())
            .unwrap_or(0);
        assert_eq!(outbox, 2);
    }
}
