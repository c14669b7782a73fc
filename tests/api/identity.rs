//! Accounts, sessions and API keys.

use leadgraph::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use std::collections::HashMap;

use crate::helpers::{code, extract_after, wait_for_mail, Frame, Options, TestApp};

const REGISTER: &str = "mutation($input: RegisterInput!) { register(input: $input) { verificationRequired user { id email emailVerified } organization { id name slug } } }";
const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken refreshToken role user { email } organization { id } } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshAccessToken(refreshToken: $t) { accessToken refreshToken } }";

fn new_email() -> String {
    format!("ada+{}@example.com", Uuid::now_v7().simple())
}

async fn register(app: &TestApp, email: &str, password: &str) -> Value {
    app.gql(
        None,
        REGISTER,
        json!({"input": {"email": email, "password": password, "name": "Ada Lovelace", "organizationName": "Analytical Engines"}}),
    )
    .await
}

/// Registers, verifies through the emailed link, logs in; returns the login payload.
pub async fn signed_up(app: &TestApp) -> (String, Value) {
    let email = new_email();
    let v = register(app, &email, "correct horse battery").await;
    assert!(v["errors"].is_null(), "{v}");
    let mail = wait_for_mail(app, &email).await;
    let token = extract_after(&mail, "/verify-email?token=");
    let v = app
        .gql(
            None,
            "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }",
            json!({"t": token}),
        )
        .await;
    assert_eq!(v["data"]["verifyEmail"]["emailVerified"], true, "{v}");
    let v = app
        .gql(
            None,
            LOGIN,
            json!({"e": email, "p": "correct horse battery"}),
        )
        .await;
    (email, v["data"]["login"].clone())
}

#[tokio::test]
async fn register_verify_login_refresh_and_reuse_detection() {
    let app = TestApp::spawn().await;
    let email = new_email();
    let v = register(&app, &email, "correct horse battery").await;
    let reg = &v["data"]["register"];
    assert_eq!(reg["verificationRequired"], true);
    // With verification on, the answer names no account (it must equal a taken address's).
    assert!(
        reg["user"].is_null() && reg["organization"].is_null(),
        "{v}"
    );

    // Login before verification is refused with a reason.
    let v = app
        .gql(
            None,
            LOGIN,
            json!({"e": email, "p": "correct horse battery"}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));
    assert_eq!(v["errors"][0]["extensions"]["reason"], "EMAIL_NOT_VERIFIED");

    let mail = wait_for_mail(&app, &email).await;
    assert!(
        mail.contains("http://localhost:8080/verify-email?token="),
        "{mail}"
    );
    let token = extract_after(&mail, "/verify-email?token=");
    let verify = "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }";
    let v = app.gql(None, verify, json!({"t": token})).await;
    assert_eq!(v["data"]["verifyEmail"]["emailVerified"], true);
    // Single use.
    let v = app.gql(None, verify, json!({"t": token})).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));

    let v = app
        .gql(
            None,
            LOGIN,
            json!({"e": email.to_uppercase(), "p": "correct horse battery"}),
        )
        .await;
    let login = &v["data"]["login"];
    assert_eq!(login["role"], "OWNER", "{v}");
    let access = login["accessToken"].as_str().unwrap();
    let v = app
        .gql(
            Some(access),
            "{ me { email } organization { name } viewer { role } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["me"]["email"], email);
    assert_eq!(v["data"]["organization"]["name"], "Analytical Engines");
    assert_eq!(v["data"]["viewer"]["role"], "OWNER");

    // Rotation.
    let r0 = login["refreshToken"].as_str().unwrap().to_string();
    let v = app.gql(None, REFRESH, json!({"t": r0})).await;
    let r1 = v["data"]["refreshAccessToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(r0, r1);
    // Reusing the retired token revokes the family: r1 is dead too.
    let v = app.gql(None, REFRESH, json!({"t": r0})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
    let v = app.gql(None, REFRESH, json!({"t": r1})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let (_, login) = signed_up(&app).await;
    let r = login["refreshToken"].as_str().unwrap();
    let v = app
        .gql(
            None,
            "mutation($t: String!) { logout(refreshToken: $t) }",
            json!({"t": r}),
        )
        .await;
    assert_eq!(v["data"]["logout"], true);
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({"t": r})).await),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn bad_input_and_wrong_credentials() {
    let app = TestApp::spawn().await;
    let v = app
        .gql(None, REGISTER, json!({"input": {"email": "nope", "password": "short", "name": "", "organizationName": "X"}}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    let fields: Vec<&str> = v["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["input.email", "input.password", "input.name"]);
    let email = new_email();
    let v = register(&app, &email, &email).await;
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "input.password"
    );

    let first = register(&app, &email, "correct horse battery").await;
    assert!(first["errors"].is_null());
    // A taken address (in any case) gets the same answer, not a CONFLICT that names accounts.
    let again = register(&app, &email.to_uppercase(), "correct horse battery").await;
    assert_eq!(again, first);

    let wrong = app
        .gql(None, LOGIN, json!({"e": email, "p": "wrong password!!"}))
        .await;
    let unknown = app
        .gql(
            None,
            LOGIN,
            json!({"e": new_email(), "p": "wrong password!!"}),
        )
        .await;
    assert_eq!(code(&wrong), Some("UNAUTHENTICATED"));
    assert_eq!(
        wrong["errors"][0]["message"],
        unknown["errors"][0]["message"]
    );
    // Nothing leaks without a viewer.
    assert_eq!(
        code(&app.gql(None, "{ me { id } }", json!({})).await),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn expired_wrong_audience_and_none_tokens_are_rejected() {
    use base64::Engine;
    use jsonwebtoken::{encode, EncodingKey, Header};
    let app = TestApp::spawn().await;
    // The server's access-token key, and a live session to name: only the claims under test vary.
    let key = EncodingKey::from_secret(&leadgraph::auth::keys::derive(
        &app.state.config.jwt_secret,
        leadgraph::auth::keys::ACCESS_TOKEN,
    ));
    let org = Uuid::now_v7();
    app.ensure_org(org).await;
    let session = app.member(org, Role::Owner, "Claims").await.1;
    let live = app.state.tokens.verify(&session).unwrap();
    let (sub, sid) = (live.user_id, live.session_id.unwrap());
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, exp: i64| json!({"sub": sub, "org": org, "role": "OWNER", "sid": sid, "iss": "leadgraph", "aud": aud, "iat": now, "exp": exp});
    let good = encode(
        &Header::default(),
        &claims("leadgraph-api", now + 600),
        &key,
    )
    .unwrap();
    let v = app.gql(Some(&good), "{ viewer { role } }", json!({})).await;
    assert_eq!(
        v["data"]["viewer"]["role"], "OWNER",
        "control: a correctly signed token works"
    );
    let expired = encode(
        &Header::default(),
        &claims("leadgraph-api", now - 600),
        &key,
    )
    .unwrap();
    let wrong_aud = encode(&Header::default(), &claims("someone-else", now + 600), &key).unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = good.split('.').nth(1).unwrap();
    let none = format!("{}.{payload}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#));
    let forged = encode(
        &Header::default(),
        &claims("leadgraph-api", now + 600),
        &EncodingKey::from_secret(&[7u8; 48]),
    )
    .unwrap();
    for t in [expired, wrong_aud, none, forged] {
        let v = app.gql(Some(&t), "{ viewer { role } }", json!({})).await;
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{t}");
    }
}

const CREATE_KEY: &str = "mutation($name: String!, $role: Role!) { createApiKey(input: {name: $name, role: $role}) { secret apiKey { id role prefix } } }";

#[tokio::test]
async fn api_keys_authenticate_until_revoked_even_on_open_websockets() {
    let app = TestApp::spawn().await;
    let (_, login) = signed_up(&app).await;
    let owner = login["accessToken"].as_str().unwrap().to_string();
    let v = app
        .gql(
            Some(&owner),
            CREATE_KEY,
            json!({"name": "Zapier", "role": "MEMBER"}),
        )
        .await;
    let secret = v["data"]["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let key_id = v["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(secret.starts_with("lg_"));
    assert!(secret.starts_with(
        v["data"]["createApiKey"]["apiKey"]["prefix"]
            .as_str()
            .unwrap()
    ));

    // X-API-Key and Bearer both work.
    let res: Value = app
        .http
        .post(app.url("/graphql"))
        .header("x-api-key", &secret)
        .json(&json!({"query": "{ viewer { role authMethod organizationId } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(res["data"]["viewer"]["authMethod"], "API_KEY");
    assert_eq!(res["data"]["viewer"]["role"], "MEMBER");
    assert_eq!(
        res["data"]["viewer"]["organizationId"],
        login["organization"]["id"]
    );
    let v = app
        .gql(Some(&secret), "{ apiKeys { totalCount } }", json!({}))
        .await;
    assert_eq!(
        code(&v),
        Some("FORBIDDEN"),
        "a MEMBER key cannot manage keys"
    );

    // A key cannot exceed its creator's role; a VIEWER cannot create keys.
    let viewer = app
        .token(
            Uuid::parse_str(login["organization"]["id"].as_str().unwrap()).unwrap(),
            Role::Viewer,
        )
        .await;
    assert_eq!(
        code(
            &app.gql(
                Some(&viewer),
                CREATE_KEY,
                json!({"name": "x", "role": "VIEWER"})
            )
            .await
        ),
        Some("FORBIDDEN")
    );
    let admin = app
        .token(
            Uuid::parse_str(login["organization"]["id"].as_str().unwrap()).unwrap(),
            Role::Admin,
        )
        .await;
    let v = app
        .gql(
            Some(&admin),
            CREATE_KEY,
            json!({"name": "x", "role": "OWNER"}),
        )
        .await;
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "input.role"
    );
    let v = app
        .gql(
            Some(&admin),
            CREATE_KEY,
            json!({"name": " ", "role": "MEMBER"}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));

    // Another organization cannot see or revoke it.
    let stranger = app.token(Uuid::now_v7(), Role::Owner).await;
    let revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }";
    assert_eq!(
        code(
            &app.gql(Some(&stranger), revoke, json!({"id": key_id}))
                .await
        ),
        Some("NOT_FOUND")
    );
    let v = app
        .gql(Some(&stranger), "{ apiKeys { totalCount } }", json!({}))
        .await;
    assert_eq!(v["data"]["apiKeys"]["totalCount"], 0);

    // An open WebSocket on the key is closed when it is revoked.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send(json!({"type": "connection_init", "payload": {"apiKey": secret}}))
        .await;
    assert_eq!(ws.next_json(5).await["type"], "connection_ack");
    let v = app.gql(Some(&owner), revoke, json!({"id": key_id})).await;
    assert!(v["data"]["revokeApiKey"]["revokedAt"].is_string(), "{v}");
    assert_eq!(ws.expect_close(5).await, 4403);
    // And HTTP refuses it at once.
    assert_eq!(
        code(
            &app.gql(Some(&secret), "{ viewer { role } }", json!({}))
                .await
        ),
        Some("UNAUTHENTICATED")
    );
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send(json!({"type": "connection_init", "payload": {"apiKey": secret}}))
        .await;
    match ws.next_frame(5).await {
        Some(Frame::Closed(Some(4403), _)) => {}
        _ => panic!("revoked key must be refused at init"),
    }
}

#[tokio::test]
async fn the_21st_login_in_a_minute_from_one_ip_is_rate_limited() {
    // The test client plays a proxy on loopback that forwards two different clients.
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("TRUSTED_PROXIES".into(), "127.0.0.1/32".into())]),
        ..Default::default()
    })
    .await;
    let ip = "203.0.113.1".to_string();
    let login = |ip: String| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/graphql"))
                .header("x-forwarded-for", ip)
                .json(&json!({"query": LOGIN, "variables": {"e": "nobody@example.com", "p": "wrong password!!"}}))
                .send()
                .await
                .unwrap()
        }
    };
    for i in 0..20 {
        let res = login(ip.clone()).await;
        assert_eq!(res.headers()["x-ratelimit-limit"], "20");
        assert_eq!(
            res.headers()["x-ratelimit-remaining"],
            (19 - i).to_string().as_str()
        );
        let v: Value = res.json().await.unwrap();
        assert_eq!(code(&v), Some("UNAUTHENTICATED"), "attempt {i}");
    }
    let res = login(ip.clone()).await;
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), Some("RATE_LIMITED"));
    let retry = v["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another address is unaffected.
    let v: Value = login("203.0.113.2".into()).await.json().await.unwrap();
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
}
