//! The raw Redis hop the server's event bus rides on: PUBLISH on one connection → the message on
//! a pattern subscriber (`PSUBSCRIBE`, like the server's one `lg:org:*` connection), both in this
//! process, at a fixed open-loop rate. The floor under the subscription latency figure (c).

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::gql::{histogram, summary};

pub async fn hop(
    redis_url: &str,
    messages: usize,
    rate: f64,
    payload_bytes: usize,
) -> anyhow::Result<Value> {
    let client = redis::Client::open(redis_url).context("redis url")?;
    let mut pubsub = client.get_async_pubsub().await.context("subscriber")?;
    let channel = format!("lgbench:hop:{}", std::process::id());
    pubsub.psubscribe("lgbench:hop:*").await?;
    let mut publisher = client
        .get_multiplexed_async_connection()
        .await
        .context("publisher")?;
    let base = Instant::now();

    let receiver = tokio::spawn(async move {
        let mut hist = histogram()?;
        let mut stream = pubsub.into_on_message();
        let mut received = 0usize;
        let deadline = tokio::time::sleep(Duration::from_secs_f64(messages as f64 / rate + 10.0));
        tokio::pin!(deadline);
        while received < messages {
            let msg = tokio::select! {
                _ = &mut deadline => break,
                m = stream.next() => m,
            };
            let Some(msg) = msg else { break };
            let now = base.elapsed().as_micros() as u64;
            let payload = msg.get_payload_bytes();
            let stamp = payload
                .split(|b| *b == b'|')
                .next()
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.parse::<u64>().ok());
            if let Some(sent) = stamp {
                hist.record(now.saturating_sub(sent).max(1))?;
                received += 1;
            }
        }
        anyhow::Ok((received, hist))
    });

    // Roughly the size of an event envelope as the server publishes it.
    let padding = "x".repeat(payload_bytes);
    let start = Instant::now() + Duration::from_millis(100);
    let mut errors = 0u64;
    for i in 0..messages {
        let intended = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(intended.into()).await;
        let payload = format!("{}|{padding}", base.elapsed().as_micros());
        let res: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(payload)
            .query_async(&mut publisher)
            .await;
        if res.is_err() {
            errors += 1;
        }
    }
    let (received, hist) = receiver.await??;
    Ok(json!({
        "messages": messages,
        "received": received,
        "publish_errors": errors,
        "rate": rate,
        "payload_bytes": payload_bytes,
        "latency": summary(&hist),
    }))
}
