//! Identity figures (e): login throughput against the Argon2 limit, latency at half that rate,
//! a cheap query's latency while logins saturate, refresh latency.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHasher, SaltString},
    Algorithm, Argon2, Params, Version,
};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use crate::gql::{histogram, summary, Gql};

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken refreshToken } }";

fn email(i: usize) -> String {
    format!("bench-{i}@example.com")
}

/// Median time of one hash with the server's parameters, and cores ÷ that time.
pub async fn argon2_limit(samples: usize) -> anyhow::Result<Value> {
    let times = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<f64>> {
        let params = Params::new(19_456, 2, 1, None).map_err(|e| anyhow::anyhow!("{e}"))?;
        let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut t = Vec::with_capacity(samples);
        for _ in 0..samples.max(3) {
            let salt = SaltString::generate(&mut OsRng);
            let start = Instant::now();
            a.hash_password(b"bench password 123", &salt)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            t.push(start.elapsed().as_secs_f64());
        }
        Ok(t)
    })
    .await??;
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = sorted[sorted.len() / 2];
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    Ok(
        json!({"hash_ms_median": median * 1000.0, "cores": cores, "limit_per_sec": cores as f64 / median}),
    )
}

pub async fn setup_users(url: &str, count: usize, password: &str) -> anyhow::Result<Value> {
    let g = Gql::new(url)?;
    let mut created = 0;
    for i in 0..count {
        let r = g
            .run(
                "mutation($i: RegisterInput!) { register(input: $i) { user { id } } }",
                json!({"i": {"email": email(i), "password": password, "name": format!("Bench {i}"), "organizationName": format!("Bench org {i}")}}),
            )
            .await;
        match r {
            Ok(_) => created += 1,
            Err(e) if e.to_string().contains("CONFLICT") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(json!({"created": created, "count": count}))
}

pub async fn login_saturation(
    url: &str,
    users: usize,
    password: &str,
    concurrency: usize,
    seconds: f64,
    probe_rate: f64,
) -> anyhow::Result<Value> {
    let g = Gql::new(url)?;
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let logins = Arc::new(Mutex::new(histogram()?));
    let mut tasks = Vec::new();
    // Warm-up: one login per worker, not counted.
    for w in 0..concurrency {
        g.run(LOGIN, json!({"e": email(w % users), "p": password}))
            .await
            .context("warm-up login")?;
    }
    let started = Instant::now();
    for w in 0..concurrency {
        let (g, stop, ok, errors, logins) = (
            g.clone(),
            stop.clone(),
            ok.clone(),
            errors.clone(),
            logins.clone(),
        );
        let password = password.to_string();
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match g
                    .run(LOGIN, json!({"e": email(i % users), "p": password}))
                    .await
                {
                    Ok(_) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        let _ = logins.lock().await.record(t.elapsed().as_micros() as u64);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += concurrency;
            }
        }));
    }
    // The probe: `{ __typename }` at a fixed rate while logins saturate.
    let probe = histogram()?;
    let probe = Arc::new(Mutex::new(probe));
    let probe_errors = Arc::new(AtomicU64::new(0));
    let probe_task = if probe_rate > 0.0 {
        let (g, stop, probe, probe_errors) =
            (g.clone(), stop.clone(), probe.clone(), probe_errors.clone());
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / probe_rate));
            let mut inflight = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let intended = Instant::now();
                let (g, probe, probe_errors) = (g.clone(), probe.clone(), probe_errors.clone());
                inflight.push(tokio::spawn(async move {
                    match g.run("{ __typename }", json!({})).await {
                        Ok(_) => {
                            let _ = probe
                                .lock()
                                .await
                                .record(intended.elapsed().as_micros() as u64);
                        }
                        Err(_) => {
                            probe_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }));
            }
            for t in inflight {
                let _ = t.await;
            }
        }))
    } else {
        None
    };
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    if let Some(p) = probe_task {
        let _ = p.await;
    }
    let n = ok.load(Ordering::Relaxed);
    let logins = logins.lock().await;
    let probe = probe.lock().await;
    Ok(json!({
        "logins_per_sec": n as f64 / elapsed,
        "logins": n,
        "errors": errors.load(Ordering::Relaxed),
        "login_latency": summary(&logins),
        "probe_latency": summary(&probe),
        "probe_errors": probe_errors.load(Ordering::Relaxed),
        "concurrency": concurrency,
        "seconds": elapsed,
    }))
}

pub async fn login_open(
    url: &str,
    users: usize,
    password: &str,
    rate: f64,
    seconds: f64,
) -> anyhow::Result<Value> {
    let g = Gql::new(url)?;
    let hist = Arc::new(Mutex::new(histogram()?));
    let errors = Arc::new(AtomicU64::new(0));
    let total = (rate * seconds).round() as usize;
    let start = Instant::now() + Duration::from_millis(100);
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let intended = start + Duration::from_secs_f64(i as f64 / rate);
        let (g, hist, errors) = (g.clone(), hist.clone(), errors.clone());
        let password = password.to_string();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(intended.into()).await;
            match g
                .run(LOGIN, json!({"e": email(i % users), "p": password}))
                .await
            {
                // Counted from the intended start: no coordinated omission.
                Ok(_) => {
                    let _ = hist
                        .lock()
                        .await
                        .record(intended.elapsed().as_micros() as u64);
                }
                Err(_) => {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let hist = hist.lock().await;
    Ok(
        json!({"rate": rate, "sent": total, "errors": errors.load(Ordering::Relaxed), "latency": summary(&hist)}),
    )
}

pub async fn refresh(url: &str, password: &str, iterations: usize) -> anyhow::Result<Value> {
    let g = Gql::new(url)?;
    let data = g.run(LOGIN, json!({"e": email(0), "p": password})).await?;
    let mut token = data["login"]["refreshToken"]
        .as_str()
        .context("refresh token")?
        .to_string();
    let mut hist = histogram()?;
    for _ in 0..iterations {
        let t = Instant::now();
        let d = g
            .run(
                "mutation($t: String!) { refreshAccessToken(refreshToken: $t) { refreshToken } }",
                json!({"t": token}),
            )
            .await?;
        hist.record(t.elapsed().as_micros() as u64)?;
        token = d["refreshAccessToken"]["refreshToken"]
            .as_str()
            .context("rotated token")?
            .to_string();
    }
    Ok(json!({"iterations": iterations, "latency": summary(&hist)}))
}
