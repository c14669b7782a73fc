//! A small GraphQL-over-HTTP client that checks every response body, not only the status.

use anyhow::{bail, Context};
use serde_json::{json, Value};

/// Client bound to one server.
#[derive(Clone)]
pub struct Gql {
    http: reqwest::Client,
    url: String,
}

impl Gql {
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Gql {
            http,
            url: format!("{}/graphql", base.trim_end_matches('/')),
        })
    }

    /// Runs an operation; an `errors` entry is an error.
    pub async fn run(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let res = self
            .http
            .post(&self.url)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .context("send")?;
        let body: Value = res.json().await.context("decode")?;
        if let Some(errs) = body.get("errors") {
            bail!("graphql errors: {errs}");
        }
        Ok(body["data"].clone())
    }
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
