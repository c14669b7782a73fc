//! The security model's edges: no public JWT secret, client IPs only from trusted proxies,
//! bounded metrics labels and a protected `/metrics`, health probes that answer in time.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use leadgraph::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{code, Options, TestApp};

/// The constant earlier versions signed every token with when `JWT_SECRET` was unset. Kept
/// here, and nowhere in the server, as the regression's forged key.
const OLD_PUBLIC_SECRET: &str = "leadgraph-dev-secret-change-me-0123456789abcdef";

#[tokio::test]
async fn a_token_signed_with_the_old_public_dev_secret_is_refused_by_a_fresh_install() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": Uuid::now_v7(), "org": Uuid::now_v7(), "role": "OWNER",
        "iss": "leadgraph", "aud": "leadgraph-api", "iat": now, "exp": now + 600});
    let forged = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(OLD_PUBLIC_SECRET.as_bytes()),
    )
    .unwrap();
    let v = app
        .gql(Some(&forged), "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    // Control: the install's own secret, generated into DATA_DIR, signs working tokens.
    let own = app.token(Uuid::now_v7(), Role::Owner).await;
    let v = app.gql(Some(&own), "{ viewer { role } }", json!({})).await;
    assert_eq!(v["data"]["viewer"]["role"], "OWNER", "{v}");
    let stored = std::fs::read_to_string(app.dir.join("jwt_secret")).unwrap();
    assert_eq!(stored.trim(), app.state.config.jwt_secret);
    assert_ne!(stored.trim(), OLD_PUBLIC_SECRET);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(app.dir.join("jwt_secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
}

const LOGIN: &str = "mutation { login(input: {email: \"nobody@example.com\", password: \"wrong password!!\"}) { accessToken } }";

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_change_the_rate_limit_key() {
    // No TRUSTED_PROXIES: the test client (127.0.0.1) is the client, whatever it claims.
    // 5 a minute: no token comes back (every 12 s) while the six attempts run.
    let app = TestApp::spawn_with(Options {
        env: [("RATE_LIMIT_LOGIN_PER_MINUTE".to_string(), "5".to_string())].into(),
        ..Default::default()
    })
    .await;
    let login = |i: u32| {
        app.http
            .post(app.url("/graphql"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .json(&json!({"query": LOGIN}))
            .send()
    };
    for i in 0..5 {
        let v: Value = login(i + 1).await.unwrap().json().await.unwrap();
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "attempt {i}: {v}");
    }
    let v: Value = login(99).await.unwrap().json().await.unwrap();
    assert_eq!(code(&v), Some("RATE_LIMITED"), "{v}");
}

#[tokio::test]
async fn metrics_label_only_schema_operations_and_other() {
    let app = TestApp::spawn().await;
    let random = format!("Probe_{}", Uuid::now_v7().simple());
    app.gql(None, &format!("query {random} {{ __typename }}"), json!({}))
        .await;
    app.gql(None, "query viewer { viewer { role } }", json!({}))
        .await;
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains(&random),
        "a client-chosen name became a label"
    );
    assert!(text.contains("operation=\"other\""), "{text}");
    assert!(text.contains("operation=\"viewer\""), "{text}");
}

#[tokio::test]
async fn metrics_token_protects_the_metrics_endpoint() {
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("METRICS_TOKEN".into(), "scrape-me-0123456789".into())]),
        ..Default::default()
    })
    .await;
    let get = |auth: Option<&str>| {
        let mut r = app.http.get(app.url("/metrics"));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    assert_eq!(get(None).await.unwrap().status(), 401);
    assert_eq!(get(Some("Bearer wrong")).await.unwrap().status(), 401);
    assert_eq!(
        get(Some("Basic scrape-me-0123456789"))
            .await
            .unwrap()
            .status(),
        401
    );
    let ok = get(Some("Bearer scrape-me-0123456789")).await.unwrap();
    assert_eq!(ok.status(), 200);
    // Without the setting /metrics stays open (the other test apps).
    let open = TestApp::spawn().await;
    let res = open.http.get(open.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn livez_and_readyz_answer_and_a_stuck_database_is_named_within_a_second() {
    // One pooled connection on both backends, so holding it leaves the probe nothing to use:
    // the database is "up" but does not answer, as with a hung PostgreSQL.
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("DATABASE_MAX_CONNECTIONS".into(), "1".into()),
            ("WORKER_ENABLED".into(), "false".into()),
        ]),
        ..Default::default()
    })
    .await;
    let res = app.http.get(app.url("/livez")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "ok", "{v}");
    assert_eq!(v["failing"], json!([]), "{v}");

    let held = sea_orm::TransactionTrait::begin(&app.state.db)
        .await
        .unwrap();
    for path in ["/readyz", "/health"] {
        let started = Instant::now();
        let res = app.http.get(app.url(path)).send().await.unwrap();
        let took = started.elapsed();
        assert_eq!(res.status(), 503, "{path}");
        let v: Value = res.json().await.unwrap();
        assert!(took < Duration::from_millis(1500), "{path} took {took:?}");
        assert_eq!(v["failing"], json!(["database"]), "{v}");
        assert_eq!(v["database"]["status"], "down", "{v}");
        assert_eq!(v["database"]["reason"], "timeout", "{v}");
    }
    // Liveness touches nothing.
    let started = Instant::now();
    let res = app.http.get(app.url("/livez")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(500));
    held.rollback().await.unwrap();
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
