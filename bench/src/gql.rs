//! A small GraphQL-over-HTTP client that checks every response body, not only the status.

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// Client bound to one server.
#[derive(Clone)]
pub struct Gql {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
}

impl Gql {
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Gql {
            http,
            url: format!("{}/graphql", base.trim_end_matches('/')),
            token: None,
        })
    }

    /// The same client sending `Authorization: Bearer <token>`.
    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }

    /// Runs an operation; an `errors` entry is an error.
    pub async fn run(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .post(&self.url)
            .json(&json!({"query": query, "variables": variables}));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.context("send")?;
        let body: Value = res.json().await.context("decode")?;
        if let Some(errs) = body.get("errors") {
            bail!("graphql errors: {errs}");
        }
        Ok(body["data"].clone())
    }

    /// Runs an operation and checks its response like [`Gql::run`] (a JSON body with `data`
    /// and no `errors`), without building a tree of the data: the saturation loops only need
    /// to know that the request succeeded, and the load generator shares the cores with the
    /// server it measures.
    pub async fn check(&self, body: &bytes::Bytes) -> anyhow::Result<()> {
        let mut req = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone());
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.context("send")?;
        let bytes = res.bytes().await.context("read")?;
        let checked: Checked = serde_json::from_slice(&bytes).context("decode")?;
        if let Some(errs) = checked.errors {
            bail!("graphql errors: {errs}");
        }
        if checked.data.is_none() {
            bail!("no data");
        }
        Ok(())
    }
}

/// A response read for its verdict only (every byte is still parsed as JSON).
#[derive(serde::Deserialize)]
struct Checked {
    data: Option<serde::de::IgnoredAny>,
    errors: Option<Value>,
}

/// Latency histogram in microseconds.
pub fn histogram() -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    Ok(hdrhistogram::Histogram::new_with_bounds(1, 120_000_000, 3)?)
}

/// p50/p99/max in milliseconds.
pub fn summary(h: &hdrhistogram::Histogram<u64>) -> Value {
    let ms = |us: u64| us as f64 / 1000.0;
    json!({
        "count": h.len(),
        "p50_ms": ms(h.value_at_quantile(0.50)),
        "p99_ms": ms(h.value_at_quantile(0.99)),
        "max_ms": ms(h.max()),
    })
}

/// Closed-loop saturation: `concurrency` workers repeat `query` for `seconds`.
pub async fn saturate(
    url: &str,
    token: &str,
    query: &str,
    concurrency: usize,
    seconds: f64,
) -> anyhow::Result<Value> {
    use std::sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    };
    let g = Gql::new(url)?.with_token(token);
    g.run(query, json!({})).await.context("warm-up")?;
    let body = bytes::Bytes::from(serde_json::to_vec(
        &json!({"query": query, "variables": {}}),
    )?);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (g, stop, ok, errors, body) = (
                g.clone(),
                stop.clone(),
                ok.clone(),
                errors.clone(),
                body.clone(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match g.check(&body).await {
                        Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    let n = ok.load(Ordering::Relaxed);
    Ok(
        json!({"requests_per_sec": n as f64 / elapsed, "requests": n, "errors": errors.load(Ordering::Relaxed), "concurrency": concurrency}),
    )
}
