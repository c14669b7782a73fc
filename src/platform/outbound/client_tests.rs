//! Tests of the guarded client against a local fixture server.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::tests::ip;
use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

// ---- a tiny HTTP/1.1 fixture server on 127.0.0.1:0 ----

struct Fixture {
    port: u16,
    connections: Arc<AtomicUsize>,
}

/// Serves every connection with `respond(path, port)`, which returns the raw response.
async fn serve(respond: fn(&str, u16) -> Vec<u8>) -> Fixture {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let response = respond(&path, port);
                let _ = stream.write_all(&response).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Fixture { port, connections }
}

fn ok(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn found(location: &str) -> Vec<u8> {
    format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .into_bytes()
}

fn routes(path: &str, port: u16) -> Vec<u8> {
    match path {
        "/" => ok(b"hello"),
        "/big-declared" => ok(&[b'x'; 2048]),
        // no Content-Length: the body ends when the connection closes
        "/big-streamed" => {
            let mut out = b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n".to_vec();
            out.extend_from_slice(&[b'y'; 4096]);
            out
        }
        "/to-metadata" => found("http://169.254.169.254/latest/meta-data"),
        "/to-localhost" => found(&format!("http://localhost:{port}/")),
        "/to-file" => found("file:///etc/passwd"),
        "/to-gopher" => found("gopher://127.0.0.1:70/_x"),
        "/loop" => found("/loop"),
        p if p.starts_with("/chain/") => {
            let n: usize = p["/chain/".len()..].parse().unwrap_or(0);
            if n == 0 {
                ok(b"end of chain")
            } else {
                found(&format!("/chain/{}", n - 1))
            }
        }
        _ => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
    }
}

fn config(allow_private: bool) -> OutboundConfig {
    OutboundConfig {
        allow_private_networks: allow_private,
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(2),
        max_body_bytes: 1024,
        max_redirects: 3,
        ..OutboundConfig::default()
    }
}

#[test]
fn default_config_matches_the_documented_values() {
    let cfg = OutboundConfig::default();
    assert!(!cfg.allow_private_networks);
    assert_eq!(cfg.timeout, Duration::from_secs(20));
    assert_eq!(cfg.connect_timeout, Duration::from_secs(5));
    assert_eq!(cfg.max_body_bytes, 5 * 1024 * 1024);
    assert_eq!(cfg.max_redirects, 5);
    assert_eq!(cfg.user_agent, "Leadgraph/0.1 (+https://leadgraph.dev/bot)");
    let client = OutboundClient::new(cfg).unwrap();
    assert!(!client.allow_private_networks());
}

#[tokio::test]
async fn guarded_client_refuses_loopback_without_connecting() {
    let server = serve(routes).await;
    let client = OutboundClient::new(config(false)).unwrap();
    let port = server.port;

    let literal = client.get(&format!("http://127.0.0.1:{port}/")).await;
    assert!(
        matches!(literal, Err(OutboundError::ForbiddenAddress { .. })),
        "{literal:?}"
    );

    let resolved = client.get(&format!("http://localhost:{port}/")).await;
    match resolved {
        Err(OutboundError::ForbiddenAddress { host, .. }) => assert_eq!(host, "localhost"),
        other => panic!("expected ForbiddenAddress, got {other:?}"),
    }

    // a builder made on the raw client is still checked by `execute`
    let sneaky = client
        .execute(client.inner().get(format!("http://127.0.0.1:{port}/")))
        .await;
    assert!(
        matches!(sneaky, Err(OutboundError::ForbiddenAddress { .. })),
        "{sneaky:?}"
    );

    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn private_networks_allowed_fetches_local_server() {
    let server = serve(routes).await;
    let client = OutboundClient::new(config(true)).unwrap();
    assert!(client.allow_private_networks());
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("http://{host}:{}/", server.port);
        let response = client.get(&url).await.unwrap();
        assert_eq!(response.status, 200);
        assert!(response.is_success());
        assert_eq!(response.body, b"hello");
        assert_eq!(response.text_lossy(), "hello");
        assert_eq!(response.content_type(), Some("text/plain"));
        assert_eq!(response.final_url.as_str(), url);
    }
}

#[tokio::test]
async fn request_and_execute_send_a_checked_request() {
    let server = serve(routes).await;
    let client = OutboundClient::new(config(true)).unwrap();
    let url = format!("http://127.0.0.1:{}/missing", server.port);
    let builder = client
        .request(reqwest::Method::POST, &url)
        .unwrap()
        .body("{}");
    let response = client.execute(builder).await.unwrap();
    assert_eq!(response.status, 404);
    assert!(!response.is_success());
    assert!(matches!(
        client.request(reqwest::Method::GET, "ftp://example.com/"),
        Err(OutboundError::UnsupportedScheme(_))
    ));
}

#[tokio::test]
async fn redirects_within_the_limit_are_followed() {
    let server = serve(routes).await;
    let client = OutboundClient::new(config(true)).unwrap();
    let response = client
        .get(&format!("http://127.0.0.1:{}/chain/3", server.port))
        .await
        .unwrap();
    assert_eq!(response.body, b"end of chain");
    assert_eq!(response.final_url.path(), "/chain/0");
}

#[tokio::test]
async fn redirect_chain_longer_than_max_is_refused() {
    let server = serve(routes).await;
    let client = OutboundClient::new(config(true)).unwrap();
    let chain = client
        .get(&format!("http://127.0.0.1:{}/chain/4", server.port))
        .await;
    assert!(
        matches!(chain, Err(OutboundError::TooManyRedirects)),
        "{chain:?}"
    );
    let endless = client
        .get(&format!("http://127.0.0.1:{}/loop", server.port))
        .await;
    assert!(
        matches!(endless, Err(OutboundError::TooManyRedirects)),
        "{endless:?}"
    );
}

#[tokio::test]
async fn redirect_to_non_http_scheme_is_refused() {
    let server = serve(routes).await;
    let client = OutboundClient::new(config(true)).unwrap();
    let result = client
        .get(&format!("http://127.0.0.1:{}/to-gopher", server.port))
        .await;
    assert!(
        matches!(result, Err(OutboundError::UnsupportedScheme(ref s)) if s == "gopher"),
        "{result:?}"
    );
    // a Location without an authority (file:///...) is not a valid request URI, so
    // reqwest (tower-http) never follows it and returns the 302 itself
    let response = client
        .get(&format!("http://127.0.0.1:{}/to-file", server.port))
        .await
        .unwrap();
    assert_eq!(response.status, 302);
    assert_eq!(response.final_url.path(), "/to-file");
}

/// The guarded client (private networks off) with one public-looking name pinned to the
/// fixture server, so the first hop connects and the redirect policy and resolver are
/// exercised end to end on later hops.
fn guarded_client_via(server: &Fixture) -> OutboundClient {
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
    OutboundClient::build(config(false), &[("fixture.example", addr)]).unwrap()
}

#[tokio::test]
async fn redirect_into_metadata_address_is_refused() {
    let server = serve(routes).await;
    let client = guarded_client_via(&server);
    let start = format!("http://fixture.example:{}/", server.port);
    assert_eq!(client.get(&start).await.unwrap().body, b"hello");

    let result = client
        .get(&format!(
            "http://fixture.example:{}/to-metadata",
            server.port
        ))
        .await;
    match result {
        Err(OutboundError::ForbiddenAddress { host, addr }) => {
            assert_eq!(host, "169.254.169.254");
            assert_eq!(addr, ip("169.254.169.254"));
        }
        other => panic!("expected ForbiddenAddress, got {other:?}"),
    }
}

#[tokio::test]
async fn redirect_into_a_name_resolving_to_loopback_is_refused() {
    let server = serve(routes).await;
    let client = guarded_client_via(&server);
    let result = client
        .get(&format!(
            "http://fixture.example:{}/to-localhost",
            server.port
        ))
        .await;
    match result {
        Err(OutboundError::ForbiddenAddress { host, .. }) => assert_eq!(host, "localhost"),
        other => panic!("expected ForbiddenAddress, got {other:?}"),
    }
    // only the first hop reached the server
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn body_over_the_declared_limit_is_refused() {
    let server = serve(routes).await;
    let client = OutboundClient::new(config(true)).unwrap();
    let result = client
        .get(&format!("http://127.0.0.1:{}/big-declared", server.port))
        .await;
    assert!(
        matches!(result, Err(OutboundError::BodyTooLarge { limit: 1024 })),
        "{result:?}"
    );
}

#[tokio::test]
async fn streamed_body_over_the_limit_is_refused() {
    let server = serve(routes).await;
    let client = OutboundClient::new(config(true)).unwrap();
    let result = client
        .get(&format!("http://127.0.0.1:{}/big-streamed", server.port))
        .await;
    assert!(
        matches!(result, Err(OutboundError::BodyTooLarge { limit: 1024 })),
        "{result:?}"
    );
}

#[tokio::test]
async fn slow_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        // accept and never answer
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let client = OutboundClient::new(OutboundConfig {
        timeout: Duration::from_millis(300),
        ..config(true)
    })
    .unwrap();
    let result = client.get(&format!("http://127.0.0.1:{port}/")).await;
    assert!(matches!(result, Err(OutboundError::Timeout)), "{result:?}");
    assert_eq!(result.unwrap_err().to_string(), "request timed out");
}

#[tokio::test]
async fn unresolvable_host_is_reported() {
    let client = OutboundClient::new(config(false)).unwrap();
    let result = client.get("http://does-not-exist.invalid/").await;
    match result {
        Err(OutboundError::Unresolvable { host }) => assert_eq!(host, "does-not-exist.invalid"),
        other => panic!("expected Unresolvable, got {other:?}"),
    }
}

#[tokio::test]
async fn allowed_hosts_open_exactly_those_addresses() {
    let server = serve(routes).await;
    let other = serve(routes).await;
    let port = server.port;
    let client = OutboundClient::new(OutboundConfig {
        allowed_hosts: AllowedHost::parse_list(&format!("127.0.0.1:{port}, localhost:{port}"))
            .unwrap(),
        ..config(false)
    })
    .unwrap();
    assert!(!client.allow_private_networks());
    for host in ["127.0.0.1", "localhost"] {
        let response = client.get(&format!("http://{host}:{port}/")).await.unwrap();
        assert_eq!(response.body, b"hello");
    }
    // Another port of the same host, the metadata address and a redirect out of the allowed
    // address stay refused.
    let next_door = client
        .get(&format!("http://127.0.0.1:{}/", other.port))
        .await;
    assert!(
        matches!(next_door, Err(OutboundError::ForbiddenAddress { .. })),
        "{next_door:?}"
    );
    let metadata = client
        .get(&format!("http://127.0.0.1:{port}/to-metadata"))
        .await;
    assert!(
        matches!(metadata, Err(OutboundError::ForbiddenAddress { .. })),
        "{metadata:?}"
    );
    assert_eq!(other.connections.load(Ordering::SeqCst), 0);
    // The listed name on another port is refused before any connection.
    let name_next_door = client
        .get(&format!("http://localhost:{}/", other.port))
        .await;
    assert!(
        matches!(name_next_door, Err(OutboundError::ForbiddenAddress { .. })),
        "{name_next_door:?}"
    );
    assert_eq!(other.connections.load(Ordering::SeqCst), 0);
    assert!(client.allows_host("127.0.0.1", port));
    assert!(!client.allows_host("127.0.0.1", other.port));
    assert!(client.check_url("http://10.0.0.1/").is_err());
}

#[test]
fn allowed_host_entries_parse_hosts_ports_and_urls() {
    let a = AllowedHost::parse_list("127.0.0.1:8080, LocalHost ,[::1]:9000,http://10.0.0.5/v1")
        .unwrap();
    assert_eq!(
        a,
        vec![
            AllowedHost {
                host: "127.0.0.1".into(),
                port: Some(8080)
            },
            AllowedHost {
                host: "localhost".into(),
                port: None
            },
            AllowedHost {
                host: "::1".into(),
                port: Some(9000)
            },
            AllowedHost {
                host: "10.0.0.5".into(),
                port: Some(80)
            },
        ]
    );
    assert!(AllowedHost::parse("bad host!").is_err());
    let any_port = &a[1..2];
    assert!(check_url_allowing("http://localhost:1234/", false, any_port).is_ok());
    assert!(check_url_allowing(
        "http://localhost:1234/",
        false,
        &[AllowedHost::parse("localhost:99").unwrap()]
    )
    .is_err());
    assert!(check_url_allowing("http://127.0.0.1:8080/", false, any_port).is_err());
    assert!(check_url_allowing("http://127.0.0.1:8080/", false, &a[..1]).is_ok());
    assert!(check_url_allowing("http://127.0.0.1:8081/", false, &a[..1]).is_err());
    assert!(check_url_allowing("http://[::1]:9000/x", false, &a).is_ok());
}

/// S11: a non-HTTP connection (SMTP) resolves once through the guard's rules and gets the
/// checked addresses to connect to.
#[tokio::test]
async fn resolve_checked_refuses_private_hosts_unless_allowed() {
    let t = Duration::from_secs(5);
    let guarded = OutboundClient::new(OutboundConfig::default()).unwrap();
    for host in [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "169.254.169.254",
        "10.1.2.3",
    ] {
        let err = guarded.resolve_checked(host, 25, t).await.unwrap_err();
        assert!(
            matches!(err, OutboundError::ForbiddenAddress { .. }),
            "{host}: {err:?}"
        );
    }
    assert!(matches!(
        guarded.resolve_checked("nonexistent.invalid", 25, t).await,
        Err(OutboundError::Unresolvable { .. })
    ));
    // A public literal passes unchanged (no network needed for a literal).
    assert_eq!(
        guarded
            .resolve_checked("93.184.216.34", 587, t)
            .await
            .unwrap(),
        vec!["93.184.216.34:587".parse().unwrap()]
    );
    // The allow-list opens exactly host:port.
    let allowing = OutboundClient::new(OutboundConfig {
        allowed_hosts: vec![AllowedHost::parse("127.0.0.1:2525").unwrap()],
        ..OutboundConfig::default()
    })
    .unwrap();
    assert_eq!(
        allowing
            .resolve_checked("127.0.0.1", 2525, t)
            .await
            .unwrap(),
        vec!["127.0.0.1:2525".parse().unwrap()]
    );
    assert!(allowing.resolve_checked("127.0.0.1", 25, t).await.is_err());
}
