//! Security review, untrusted input (S7, S8, S9, S17, S18, S21): query cost and request
//! timeouts, uploads, template bounds, CSV export escaping, click redirects, limiter keys.

use std::time::Duration;

use leadgraph::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{code, raw_exchange, Options, TestApp};

/// Campaign → recipients → lead → campaigns → recipients: a dozen fields that would load
/// 200 × 200 × 10 × 200 rows.
const CYCLE: &str = "query($n: Int) { campaigns(first: 200) { nodes { recipients(first: $n) { nodes { lead { \
                     campaigns { campaign { recipients(first: 200) { nodes { lead { id } } } } } } } } } } }";

#[tokio::test]
async fn fan_out_through_cycles_is_refused_before_execution() {
    let app = TestApp::spawn().await;
    let t = app.token(Uuid::now_v7(), Role::Admin).await;
    for vars in [json!({"n": 200}), json!({})] {
        let v = app.gql(Some(&t), CYCLE, vars).await;
        assert_eq!(code(&v), Some("GRAPHQL_VALIDATION_FAILED"), "{v}");
        assert!(v["data"].is_null(), "nothing ran: {v}");
        assert!(
            v["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("too complex") && m.contains("first/last")),
            "{v}"
        );
    }
    // Over GET too (the extension-free schema).
    let mut u = url::Url::parse(&app.url("/graphql")).unwrap();
    u.query_pairs_mut()
        .append_pair("query", CYCLE)
        .append_pair("variables", "{\"n\": 200}");
    let v: Value = app
        .http
        .get(u)
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(code(&v), Some("GRAPHQL_VALIDATION_FAILED"), "{v}");
    // And on the full schema (a mutation document is never on the fast path; the cost is
    // counted over every operation in it).
    let doc = format!(
        "{} mutation M {{ markAllNotificationsRead }}",
        CYCLE.replace("query(", "query Q(")
    );
    let v: Value = app
        .gql_raw(
            Some(&t),
            json!({"query": doc, "operationName": "M", "variables": {"n": 200}}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(code(&v), Some("GRAPHQL_VALIDATION_FAILED"), "{v}");

    // Over the WebSocket (graphql-transport-ws): an `error` message, nothing executed.
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&t).await;
    ws.send(json!({"type": "subscribe", "id": "1", "payload": {"query": CYCLE, "variables": {"n": 200}}}))
        .await;
    let m = ws.next_json(5).await;
    assert_eq!(m["type"], "error", "{m}");
    assert_eq!(
        m["payload"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{m}"
    );

    // The benchmark shapes stay well under the default limit, at every page size.
    let figure = "query($n: Int!) { leads(first: $n) { nodes { id owner { id email } tags \
                  notes(first: 3) { nodes { body } } campaigns { campaign { id name } } } } }";
    for n in [10, 50, 200] {
        let v = app.gql(Some(&t), figure, json!({"n": n})).await;
        assert!(v.get("errors").is_none(), "{v}");
    }
    // An optional `$first` that is not sent is the default page, not an error.
    let v = app
        .gql(
            Some(&t),
            "query($first: Int, $after: String) { leads(first: $first, after: $after) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(v.get("errors").is_none(), "{v}");
}

#[tokio::test]
async fn the_limit_is_configurable() {
    let app = TestApp::spawn_with(Options::with_env(&[("MAX_QUERY_COMPLEXITY", "100")])).await;
    let t = app.token(Uuid::now_v7(), Role::Admin).await;
    // 1 + 50 × 2 = 101.
    let v = app
        .gql(Some(&t), "{ leads { nodes { id } } }", json!({}))
        .await;
    assert_eq!(code(&v), Some("GRAPHQL_VALIDATION_FAILED"), "{v}");
    let v = app
        .gql(Some(&t), "{ leads(first: 49) { nodes { id } } }", json!({}))
        .await;
    assert!(v.get("errors").is_none(), "{v}");
}

#[tokio::test]
async fn a_request_past_request_timeout_gets_timeout() {
    // Argon2id (m = 19 MiB, t = 2) takes far longer than 1 ms, even for an unknown email.
    const LOGIN: &str = "mutation { login(input: {email: \"nobody@example.com\", password: \"wrong-password-123\"}) { accessToken } }";
    let app = TestApp::spawn_with(Options::with_env(&[("REQUEST_TIMEOUT_MS", "1")])).await;
    let res = app.gql_raw(None, json!({ "query": LOGIN })).await;
    assert_eq!(res.status(), 504);
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), Some("TIMEOUT"), "{v}");
    // The server is fine afterwards, and with the default limit the same request is answered.
    let app = TestApp::spawn().await;
    let res = tokio::time::timeout(
        Duration::from_secs(60),
        app.gql_raw(None, json!({ "query": LOGIN })),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
}

/// A multipart import request whose file part is announced as `file_len` bytes; returns the
/// request head plus the parts up to the file's first byte, and the body's total length.
fn multipart_head(addr: &str, token: Option<&str>, file_len: usize) -> (String, usize) {
    let b = "lgtestboundary";
    let ops = json!({
        "query": "mutation($f: Upload!) { importLeads(file: $f) { id } }",
        "variables": {"f": null}
    });
    let parts = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{ops}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.f\"]}}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"big.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n"
    );
    let tail = format!("\r\n--{b}--\r\n");
    let total = parts.len() + file_len + tail.len();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={b}\r\n\
         Apollo-Require-Preflight: true\r\nX-Forwarded-For: 203.0.113.{}\r\n{auth}Content-Length: {total}\r\n\r\n{parts}",
        Uuid::now_v7().as_u128() as u8
    );
    (head, total)
}

/// Sends the head and 16 KiB of a 100 MB file part, then reads the answer without sending
/// more: only a server that answers before reading the file returns here.
async fn answer_before_the_file(app: &TestApp, token: Option<&str>) -> String {
    let (head, _) = multipart_head(&app.addr, token, 100 * 1024 * 1024);
    let mut bytes = head.into_bytes();
    bytes.extend(std::iter::repeat_n(b'x', 16 * 1024));
    raw_exchange(&app.addr, &bytes, 10)
        .await
        .expect("no answer while the file was still being sent: the server waited for the body")
}

#[tokio::test]
async fn anonymous_multipart_is_refused_before_the_file_is_read() {
    let app = TestApp::spawn().await;
    let answer = answer_before_the_file(&app, None).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("UNAUTHENTICATED"), "{answer}");
    // A viewer who may not import is refused the same way (403), before the file too.
    let t = app.token(Uuid::now_v7(), Role::Viewer).await;
    let answer = answer_before_the_file(&app, Some(&t)).await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("FORBIDDEN"), "{answer}");
    // Nothing was spooled.
    let uploads = app.dir.join("uploads");
    assert!(
        !uploads.exists() || std::fs::read_dir(&uploads).unwrap().next().is_none(),
        "files under {}",
        uploads.display()
    );
}

#[tokio::test]
async fn multipart_parts_are_capped_and_ordered() {
    let app = TestApp::spawn_with(Options::with_env(&[("MAX_BODY_BYTES", "4096")])).await;
    let t = app.token(Uuid::now_v7(), Role::Admin).await;
    let send = |form: reqwest::multipart::Form| {
        app.http
            .post(app.url("/graphql"))
            .bearer_auth(&t)
            .header("apollo-require-preflight", "true")
            .multipart(form)
            .send()
    };
    // `operations` larger than the body limit.
    let big = json!({"query": "{ __typename }", "x": "a".repeat(8192)}).to_string();
    let res = send(
        reqwest::multipart::Form::new()
            .text("operations", big)
            .text("map", "{}"),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 413);
    // A file before `operations`/`map`.
    let res = send(
        reqwest::multipart::Form::new()
            .part(
                "0",
                reqwest::multipart::Part::bytes(b"a,b\n".to_vec()).file_name("x.csv"),
            )
            .text("operations", json!({"query": "{ __typename }"}).to_string())
            .text("map", "{}"),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), Some("BAD_REQUEST"), "{v}");
    // A well-formed one runs.
    let v: Value = send(
        reqwest::multipart::Form::new()
            .text("operations", json!({"query": "{ __typename }"}).to_string())
            .text("map", "{}"),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(v["data"]["__typename"], "Query", "{v}");
}

#[tokio::test]
async fn audit_csv_cells_cannot_become_formulas() {
    let app = TestApp::spawn().await;
    let org = Uuid::now_v7();
    let admin = app.token(org, Role::Admin).await;
    let res = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&admin)
        .header("user-agent", "=HYPERLINK(\"https://evil.example/\",\"x\")")
        .header("x-request-id", "@SUM(1+1)")
        .header("x-forwarded-for", "+2+3, 10.0.0.1")
        .json(&json!({"query": "mutation { markAllNotificationsRead }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut csv = String::new();
    for _ in 0..100 {
        let v = app
            .gql(
                Some(&admin),
                "{ exportAuditLogs(filter: {action: \"markAllNotificationsRead\"}) }",
                json!({}),
            )
            .await;
        csv = v["data"]["exportAuditLogs"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string();
        if csv.lines().count() > 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let headers = rows.headers().unwrap().clone();
    let row = rows.records().next().expect("one row").unwrap();
    let get = |name: &str| row[headers.iter().position(|h| h == name).unwrap()].to_string();
    assert_eq!(
        get("user_agent"),
        "'=HYPERLINK(\"https://evil.example/\",\"x\")"
    );
    assert_eq!(get("request_id"), "'@SUM(1+1)");
    // X-Forwarded-For from an untrusted peer never reaches the log (and a trusted one must
    // parse as an address), so the IP column cannot carry a formula.
    assert_eq!(get("ip"), "127.0.0.1");
    for field in row.iter() {
        assert!(
            !field.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "{field} in {csv}"
        );
    }
}

#[tokio::test]
async fn a_viewer_cannot_make_template_rendering_build_huge_values() {
    let app = TestApp::spawn().await;
    let viewer = app.token(Uuid::now_v7(), Role::Viewer).await;
    const RENDER: &str = "query($i: TemplateContentInput!, $s: JSON) { renderTemplate(input: $i, sampleData: $s) { subject html } }";
    let render = |html: &str, sample: Value| {
        app.gql(
            Some(&viewer),
            RENDER,
            json!({"i": {"subject": "Hi", "bodyHtml": html}, "s": sample}),
        )
    };
    // Allowed for a viewer, and ordinary templates render.
    let v = render("<p>{{ lead.firstName | upper }}</p>", json!(null)).await;
    assert_eq!(v["data"]["renderTemplate"]["html"], "<p>ADA</p>", "{v}");
    // 100 MB by repetition: refused before anything is built.
    let v = render("{{ \"x\" * 100000000 }}", json!(null)).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    let msg = v["errors"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("bodyHtml") && msg.contains("not available"),
        "{msg}"
    );
    // Doubling through `set` (2^30 bytes, no output): refused.
    let doubling = format!("{{% set s = \"x\" %}}{}", "{% set s = s ~ s %}".repeat(30));
    let v = render(&doubling, json!(null)).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not available"));
    // A loop writing 60 KiB 100,000 times stops at the output cap, and a filter multiplying
    // sample data is refused from its estimate.
    let sample = json!({"lead": {"company": "y".repeat(60 * 1024)}});
    let v = render(
        "{% for i in range(100000) %}{{ lead.company }}{% endfor %}",
        sample.clone(),
    )
    .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("exceeds"));
    let v = render("{{ lead.company | replace('y', 'yyyy') }}", sample).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("template limits"));
    // Saving such a template is refused the same way.
    let v = app
        .gql(
            Some(&viewer),
            "query($i: TemplateContentInput!) { validateTemplate(input: $i) { valid issues { kind message } } }",
            json!({"i": {"subject": "Hi", "bodyHtml": "{{ 'ab' * 50000000 }}"}}),
        )
        .await;
    assert_eq!(v["data"]["validateTemplate"]["valid"], false, "{v}");
    assert_eq!(
        v["data"]["validateTemplate"]["issues"][0]["kind"], "UNSUPPORTED",
        "{v}"
    );
}

#[tokio::test]
async fn password_reset_budget_is_per_normalised_email() {
    let app = TestApp::spawn_with(Options::with_env(&[(
        "RATE_LIMIT_PASSWORD_RESET_PER_HOUR",
        "2",
    )]))
    .await;
    let reset = |email: &'static str| {
        app.gql(
            None,
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": email }),
        )
    };
    for email in ["A@Example.com ", " a@example.COM"] {
        let v = reset(email).await;
        assert!(v.get("errors").is_none(), "{v}");
    }
    // The same address however it is written: the budget of 2 is spent.
    let v = reset("a@example.com").await;
    assert_eq!(code(&v), Some("RATE_LIMITED"), "{v}");
    // Another address has its own.
    let v = reset("b@example.com").await;
    assert!(v.get("errors").is_none(), "{v}");
}

/// A click token redirects only for a message that was sent to its recipient: forged, edited or
/// re-signed-by-us-for-nothing tokens never turn the server into an open redirect.
#[tokio::test]
async fn click_tokens_redirect_only_for_sent_messages() {
    use leadgraph::domains::outreach::tracking::{sign, TokenKind};
    let app = TestApp::spawn().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let secret = app.state.config.jwt_secret.clone();
    let get = |path: String| {
        let http = http.clone();
        let url = app.url(&path);
        async move { http.get(url).send().await.unwrap() }
    };
    // Correctly signed, but for a recipient that was never sent anything (no such message).
    let token = sign(
        &secret,
        TokenKind::Click,
        Uuid::now_v7(),
        Some("https://evil.example/phish"),
    );
    let r = get(format!("/t/c/{token}")).await;
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("location").is_none());
    // Edited: the URL changed inside a token (signature no longer matches).
    use base64::Engine;
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        json!({"r": Uuid::now_v7(), "k": "c", "u": "https://evil.example/", "aud": "leadgraph-track"})
            .to_string(),
    );
    let r = get(format!("/t/c/{}", parts.join("."))).await;
    assert_eq!(r.status(), 404);
    // Signed with another key, or `alg: none`.
    let other = sign(
        "another-secret-another-secret-another",
        TokenKind::Click,
        Uuid::now_v7(),
        Some("https://evil.example/"),
    );
    let r = get(format!("/t/c/{other}")).await;
    assert_eq!(r.status(), 404);
    let none = format!(
        "{}.{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let r = get(format!("/t/c/{none}")).await;
    assert_eq!(r.status(), 404);
}
