//! Upload throughput (issue 28, bench/places.sh): `count` files of `size_mb` MiB through the
//! server's `uploadFile` (GraphQL multipart) against the same bytes written straight to the
//! S3-compatible server with `object_store` (the crate the server stores with), in the same
//! way the server's storage writes them: one PUT up to 8 MiB, above that a multipart upload
//! of 8 MiB parts with 4 in flight. Both sides run `concurrency` uploads at once and print one
//! JSON object. Every file's bytes differ (a per-file seed), so the server's per-organization
//! deduplication stores each one.

use std::{sync::Arc, time::Instant};

use anyhow::{bail, Context};
use futures::{stream, StreamExt, TryStreamExt};
use object_store::{
    aws::AmazonS3Builder, path::Path, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart,
};
use serde_json::{json, Value};

const MIB: usize = 1024 * 1024;
/// The server's single-PUT limit and part size (`platform::storage`).
const PART: usize = 8 * MIB;

const UPLOAD: &str =
    "mutation($f: Upload!) { uploadFile(input: {kind: ATTACHMENT, file: $f}) { id size } }";
const DELETE: &str = "mutation($id: ID!) { deleteFile(id: $id) }";

/// File `i` of a run: `size` bytes that sniff as a PDF, different for every `run` and `i`.
fn file_bytes(run: u64, i: usize, size: usize) -> Vec<u8> {
    let mut b = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut x = run ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d;
    while b.len() < size {
        // xorshift64*: cheap bytes that neither compress nor repeat between files.
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        b.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    b.truncate(size);
    b
}

fn run_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

fn report(side: &str, count: usize, size_mb: usize, concurrency: usize, secs: f64) -> Value {
    let mb = (count * size_mb) as f64;
    json!({
        "side": side, "files": count, "file_mib": size_mb, "concurrency": concurrency,
        "seconds": secs, "files_per_sec": count as f64 / secs, "mib_per_sec": mb / secs,
    })
}

/// `count` uploads through the server's `uploadFile`.
pub async fn through_server(
    url: &str,
    token: &str,
    count: usize,
    size_mb: usize,
    concurrency: usize,
) -> anyhow::Result<Value> {
    let http = reqwest::Client::new();
    let endpoint = format!("{}/graphql", url.trim_end_matches('/'));
    let seed = run_seed();
    let files: Vec<Vec<u8>> = (0..count)
        .map(|i| file_bytes(seed, i, size_mb * MIB))
        .collect();
    let started = Instant::now();
    let ids = stream::iter(files.into_iter().enumerate())
        .map(|(i, bytes)| {
            let (http, endpoint) = (http.clone(), endpoint.clone());
            async move {
                let ops = json!({"query": UPLOAD, "variables": {"f": null}});
                let part = reqwest::multipart::Part::bytes(bytes)
                    .file_name(format!("bench-{i}.pdf"))
                    .mime_str("application/pdf")?;
                let form = reqwest::multipart::Form::new()
                    .text("operations", ops.to_string())
                    .text("map", json!({"0": ["variables.f"]}).to_string())
                    .part("0", part);
                let res = http
                    .post(&endpoint)
                    .bearer_auth(token)
                    .header("apollo-require-preflight", "true")
                    .multipart(form)
                    .send()
                    .await
                    .context("send")?;
                let body: Value = res.json().await.context("decode")?;
                match body["data"]["uploadFile"]["id"].as_str() {
                    Some(id) if body.get("errors").is_none() => anyhow::Ok(id.to_string()),
                    _ => bail!("upload {i} failed: {body}"),
                }
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<String>>()
        .await?;
    let secs = started.elapsed().as_secs_f64();
    // Not timed: the files go again, so repeated rounds do not fill the S3 server's memory.
    let gql = crate::gql::Gql::new(url)?.with_token(token);
    for id in ids {
        gql.run(DELETE, json!({ "id": id })).await?;
    }
    Ok(report("server", count, size_mb, concurrency, secs))
}

/// `count` objects written straight to `bucket` at `endpoint` with `object_store`.
pub async fn raw_puts(
    endpoint: &str,
    bucket: &str,
    count: usize,
    size_mb: usize,
    concurrency: usize,
) -> anyhow::Result<Value> {
    let store: Arc<dyn ObjectStore> = Arc::new(
        AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_region("us-east-1")
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .build()?,
    );
    let seed = run_seed();
    let files: Vec<Vec<u8>> = (0..count)
        .map(|i| file_bytes(seed, i, size_mb * MIB))
        .collect();
    let started = Instant::now();
    let paths = stream::iter(files.into_iter().enumerate())
        .map(|(i, bytes)| {
            let store = store.clone();
            async move {
                let path = Path::from(format!("bench-raw/{seed}/{i}"));
                if bytes.len() <= PART {
                    store.put(&path, PutPayload::from(bytes)).await?;
                } else {
                    let upload = store.put_multipart(&path).await?;
                    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
                    for chunk in bytes.chunks(PART) {
                        writer.wait_for_capacity(4).await?;
                        writer.write(chunk);
                    }
                    writer.finish().await?;
                }
                anyhow::Ok(path)
            }
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<Path>>()
        .await?;
    let secs = started.elapsed().as_secs_f64();
    for path in paths {
        store.delete(&path).await?;
    }
    Ok(report("raw", count, size_mb, concurrency, secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_differ_and_sniff_as_pdf() {
        let (a, b) = (file_bytes(7, 0, 4096), file_bytes(7, 1, 4096));
        assert_eq!(a.len(), 4096);
        assert!(a.starts_with(b"%PDF-1.7"));
        assert_ne!(a, b);
        assert_ne!(file_bytes(8, 0, 4096), a);
    }
}
