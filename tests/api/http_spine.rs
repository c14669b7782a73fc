//! The HTTP surface: health, GraphQL over POST/GET, content negotiation, limits, bad input.

use leadgraph::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{code, postgres_url, redis_url, TestApp};

#[tokio::test]
async fn typename_and_health_name_the_backends() {
    let app = TestApp::spawn().await;
    let body = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(body["data"]["__typename"], "Query");

    let res = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let h: Value = res.json().await.unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(
        h["database"]["kind"],
        if postgres_url().is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    );
    assert_eq!(
        h["bus"]["kind"],
        if redis_url().is_some() {
            "redis"
        } else {
            "memory"
        }
    );
    assert_eq!(h["database"]["status"], "ok");
    assert!(h["version"].is_string());
}

#[tokio::test]
async fn get_runs_queries_but_refuses_mutations_with_405() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .get(get_url(&app, "{ __typename }"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["data"]["__typename"], "Query");

    let m = format!(
        "mutation {{ cancelJob(id: \"{}\") {{ id }} }}",
        Uuid::now_v7()
    );
    let res = app.http.get(get_url(&app, &m)).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    let v: Value = res.json().await.unwrap();
    assert_eq!(code(&v), Some("METHOD_NOT_ALLOWED"));
}

#[tokio::test]
async fn bad_input_gets_4xx_or_coded_errors_and_the_server_stays_up() {
    let app = TestApp::spawn().await;
    // Malformed JSON.
    let res = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(code(&res.json().await.unwrap()), Some("BAD_REQUEST"));

    // A 10 MB body: 413 as soon as the declared length is seen, with none of the body read
    // (the client is still sending when the answer arrives).
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{{\"query\": \"{{ __typename }}\", \"x\": \"",
        app.addr,
        10 * 1024 * 1024
    );
    let mut bytes = head.into_bytes();
    bytes.extend(std::iter::repeat_n(b'a', 64 * 1024));
    let answer = crate::helpers::raw_exchange(&app.addr, &bytes, 10)
        .await
        .expect("no answer to a 10 MB body while it was being sent");
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("BAD_REQUEST"), "{answer}");
    // A 1000-deep query.
    let deep = format!("{}{}", "{ a ".repeat(1000), "}".repeat(1000));
    let v = app.gql(None, &deep, json!({})).await;
    assert_eq!(code(&v), Some("GRAPHQL_PARSE_FAILED"), "{v}");

    // A depth beyond the limit (valid syntax, real fields).
    let q = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(14),
        "} ".repeat(14)
    );
    let v = app.gql(None, &q, json!({})).await;
    assert_eq!(code(&v), Some("GRAPHQL_VALIDATION_FAILED"), "{v}");

    // A batch of 1000 operations.
    let batch: Vec<Value> = (0..1000)
        .map(|_| json!({"query": "{ __typename }"}))
        .collect();
    let res = app.gql_raw(None, Value::Array(batch)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(code(&res.json().await.unwrap()), Some("BAD_REQUEST"));

    // A batch within the limit works.
    let batch: Vec<Value> = (0..3).map(|_| json!({"query": "{ __typename }"})).collect();
    let v: Value = app
        .gql_raw(None, Value::Array(batch))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);

    // Too many aliases.
    let aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let v = app.gql(None, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(code(&v), Some("GRAPHQL_VALIDATION_FAILED"), "{v}");

    // Unknown field: validation error, coded.
    let v = app.gql(None, "{ nope }", json!({})).await;
    assert_eq!(code(&v), Some("GRAPHQL_VALIDATION_FAILED"));

    // Still up.
    let v = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(v["data"]["__typename"], "Query");
}

#[tokio::test]
async fn graphql_response_json_gets_4xx_for_request_errors() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": "{ nope }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/graphql-response+json"));
    // Legacy JSON: 200 with errors.
    let res = app.gql_raw(None, json!({"query": "{ nope }"})).await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
}

#[tokio::test]
async fn simple_content_types_need_a_preflight_header() {
    let app = TestApp::spawn().await;
    let body = json!({"query": "{ __typename }"}).to_string();
    let res = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "text/plain")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", "text/plain")
        .header("apollo-require-preflight", "true")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn credentials_are_checked() {
    let app = TestApp::spawn().await;
    // Anonymous: viewer is null, protected fields are UNAUTHENTICATED.
    let v = app.gql(None, "{ viewer { role } }", json!({})).await;
    assert!(v["data"]["viewer"].is_null());
    let v = app.gql(None, "{ jobs { totalCount } }", json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
    // A forged token.
    let v = app
        .gql(Some("not.a.jwt"), "{ __typename }", json!({}))
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
    // A real one.
    let org = Uuid::now_v7();
    let t = app.token(org, Role::Admin).await;
    let v = app
        .gql(
            Some(&t),
            "{ viewer { role organizationId authMethod } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["viewer"]["role"], "ADMIN");
    assert_eq!(v["data"]["viewer"]["organizationId"], org.to_string());
    assert_eq!(v["data"]["viewer"]["authMethod"], "ACCESS_TOKEN");
}

#[tokio::test]
async fn metrics_count_operations_by_name() {
    let app = TestApp::spawn().await;
    // Named after a root field: a schema-bounded label (other names count as `other`).
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
    assert!(text.contains("graphql_requests_total"), "{text}");
    assert!(text.contains("operation=\"viewer\""), "{text}");
    // The runtime's live task count (the soak's "task count stays bounded"): at least the
    // server's own accept loop and this request.
    let tasks: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("tokio_tasks_alive "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no tokio_tasks_alive in {text}"));
    assert!(tasks >= 1.0, "{text}");
}

fn get_url(app: &TestApp, query: &str) -> url::Url {
    let mut u = url::Url::parse(&app.url("/graphql")).unwrap();
    u.query_pairs_mut().append_pair("query", query);
    u
}

#[tokio::test]
async fn graphiql_is_self_hosted_and_can_be_turned_off() {
    let app = TestApp::spawn().await;
    let res = app.http.get(app.url("/graphiql")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("https://") && !html.contains("http://"),
        "no external references"
    );
    for asset in [
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
    ] {
        assert!(html.contains(asset), "{asset} referenced");
        let res = app
            .http
            .get(app.url(&format!("/graphiql/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{asset}");
        assert!(
            res.bytes().await.unwrap().len() > 1000,
            "{asset} is the real bundle"
        );
    }
    let off = TestApp::spawn_with(crate::helpers::Options {
        env: std::collections::HashMap::from([(
            "GRAPHIQL_ENABLED".to_string(),
            "false".to_string(),
        )]),
        ..Default::default()
    })
    .await;
    assert_eq!(
        off.http
            .get(off.url("/graphiql"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// `GET /` links a developer to GraphiQL, the schema and health; `/schema.graphql` is the SDL.
/// Production serves neither (404): no landing page, and no schema where introspection is off.
#[tokio::test]
async fn development_landing_page_and_schema_download_are_absent_in_production() {
    let app = TestApp::spawn().await;
    let res = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    for link in ["/graphiql", "/schema.graphql", "/health"] {
        assert!(
            page.contains(&format!("href=\"{link}\"")),
            "{link} in {page}"
        );
    }
    let sdl = app
        .http
        .get(app.url("/schema.graphql"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sdl.contains("createLead("), "{sdl}");

    let prod = TestApp::spawn_with(crate::helpers::Options {
        env: [
            ("LEADGRAPH_ENV", "production"),
            ("JWT_SECRET", "a-production-secret-of-forty-characters!!"),
            (
                "SECRETS_KEY",
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Default::default()
    })
    .await;
    for path in ["/", "/schema.graphql", "/graphiql"] {
        let res = prod.http.get(prod.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
}
