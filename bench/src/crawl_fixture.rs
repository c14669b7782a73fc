//! `lg-crawl-fixture`: the site of the crawl benchmark (docs/BENCHMARKS.md, figure g).
//!
//! `GET /` links to every page; `GET /p/N` (N < pages) is a small HTML page with one email, a
//! phone and links to the next five pages; `/robots.txt` allows everything. `GET /__stats`
//! returns `{"count", "spanSecs", "minGapMs", "firstGapMs", "firstAt", "lastAt"}` of the page requests (`/` and
//! `/p/…`) since the last `POST /__reset` (the last two as Unix seconds), so a driver can measure
//! the rate a crawler actually achieved and line the requests up with the job's timestamps.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use axum::{
    extract::{Path, State},
    http::header,
    response::IntoResponse,
    routing::{get, post},
    Json, Router,
};
use clap::Parser;

#[derive(Parser)]
#[command(name = "lg-crawl-fixture")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Pages besides the index.
    #[arg(long, default_value_t = 499)]
    pages: usize,
    /// Added latency per page response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

#[derive(Clone)]
struct Site {
    pages: usize,
    latency: Duration,
    hits: Arc<Mutex<Vec<Instant>>>,
    /// Wall-clock time of the first and the last page request since the reset.
    wall: Arc<Mutex<Option<(SystemTime, SystemTime)>>>,
}

impl Site {
    fn hit(&self) {
        if let Ok(mut h) = self.hits.lock() {
            h.push(Instant::now());
        }
        if let Ok(mut w) = self.wall.lock() {
            let now = SystemTime::now();
            *w = Some(w.map_or((now, now), |(first, _)| (first, now)));
        }
    }
}

async fn index(State(s): State<Site>) -> impl IntoResponse {
    s.hit();
    tokio::time::sleep(s.latency).await;
    let links: String = (0..s.pages)
        .map(|i| format!("<a href=\"/p/{i}\">page {i}</a>\n"))
        .collect();
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!doctype html><html><head><title>Bench Co</title></head><body>{links}</body></html>"
        ),
    )
}

async fn page(State(s): State<Site>, Path(n): Path<usize>) -> axum::response::Response {
    if n >= s.pages {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    s.hit();
    tokio::time::sleep(s.latency).await;
    let next: String = (1..=5)
        .map(|k| (n + k) % s.pages)
        .map(|m| format!("<a href=\"/p/{m}\">next {m}</a> "))
        .collect();
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!doctype html><html><head><title>Page {n} | Bench Co</title></head><body>\
             <h1>Page {n}</h1><p>Contact person{n}@bench-fixture.com or +1 415 555 2671.</p>\
             <p>{}</p>{next}</body></html>",
            "Lorem ipsum dolor sit amet. ".repeat(20)
        ),
    )
        .into_response()
}

async fn stats(State(s): State<Site>) -> Json<serde_json::Value> {
    let hits = s.hits.lock().map(|h| h.clone()).unwrap_or_default();
    let span = match (hits.first(), hits.last()) {
        (Some(a), Some(b)) => (*b - *a).as_secs_f64(),
        _ => 0.0,
    };
    let min_gap = hits
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0)
        .fold(f64::INFINITY, f64::min);
    let unix = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    };
    let wall = s.wall.lock().ok().and_then(|w| *w);
    Json(serde_json::json!({
        "firstAt": wall.map(|(a, _)| unix(a)),
        "lastAt": wall.map(|(_, b)| unix(b)),
        "count": hits.len(),
        "spanSecs": span,
        "minGapMs": if min_gap.is_finite() { min_gap } else { 0.0 },
        "firstGapMs": hits.get(1).zip(hits.first()).map(|(b, a)| (*b - *a).as_secs_f64() * 1000.0),
    }))
}

async fn reset(State(s): State<Site>) -> &'static str {
    if let Ok(mut h) = s.hits.lock() {
        h.clear();
    }
    if let Ok(mut w) = s.wall.lock() {
        *w = None;
    }
    "ok"
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let site = Site {
        pages: args.pages.max(1),
        latency: Duration::from_millis(args.latency_ms),
        hits: Arc::new(Mutex::new(Vec::new())),
        wall: Arc::new(Mutex::new(None)),
    };
    let app = Router::new()
        .route("/", get(index))
        .route("/p/{n}", get(page))
        .route("/robots.txt", get(|| async { "User-agent: *\nAllow: /\n" }))
        .route("/__stats", get(stats))
        .route("/__reset", post(reset))
        .with_state(site);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
