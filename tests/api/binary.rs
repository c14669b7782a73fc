//! The shipped binary on embedded defaults: no configuration at all except a free port.

use std::{process::Stdio, time::Duration};

use serde_json::Value;

#[tokio::test]
async fn the_binary_serves_on_embedded_defaults() {
    let dir = std::env::temp_dir().join(format!("lg-bin-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_leadgraph"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let mut health: Option<Value> = None;
    for _ in 0..100 {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
        {
            health = Some(r.json().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health = health.expect("the binary answered /health");
    assert_eq!(health["database"]["kind"], "sqlite");
    assert_eq!(health["bus"]["kind"], "memory");
    let v: Value = client
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&serde_json::json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["data"]["__typename"], "Query");
    assert!(
        dir.join("data/leadgraph.db").exists(),
        "SQLite file under ./data"
    );
    // No JWT_SECRET: a random one was generated and kept for the next start.
    let secret = std::fs::read_to_string(dir.join("data/jwt_secret")).unwrap();
    assert!(secret.trim().len() >= 32);
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
