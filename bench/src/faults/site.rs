//! The website the `crash/scrape` scenario crawls, served in-process: `GET /` links to every
//! page, `GET /p/N` names one contact (`person-N@crash-site.example.com`) and links to the next
//! three pages, `/robots.txt` allows everything. Each page answers after a small delay, so a
//! crawl lasts long enough to be killed several times; the site counts page requests (pages
//! fetched again after a crash are expected, leads written twice are not).

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};

#[derive(Clone)]
struct Pages {
    count: usize,
    delay: Duration,
    hits: Arc<AtomicUsize>,
}

/// A running fixture site; stops when dropped.
pub struct Site {
    pub addr: SocketAddr,
    /// Pages besides the index.
    pub pages: usize,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Site {
    /// Serves `pages` pages (plus the index) on a free loopback port.
    pub async fn start(pages: usize, delay: Duration) -> anyhow::Result<Site> {
        let hits = Arc::new(AtomicUsize::new(0));
        let state = Pages {
            count: pages,
            delay,
            hits: hits.clone(),
        };
        let app = Router::new()
            .route("/", get(index))
            .route("/p/{n}", get(page))
            .route("/robots.txt", get(|| async { "User-agent: *\nAllow: /\n" }))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Site {
            addr,
            pages,
            hits,
            task,
        })
    }

    /// The seed URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Page requests so far (index included).
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::Relaxed)
    }

    /// The email of every page: what a complete crawl must turn into leads.
    pub fn emails(&self) -> Vec<String> {
        (0..self.pages).map(email).collect()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn email(n: usize) -> String {
    format!("person-{n}@crash-site.example.com")
}

fn html(title: &str, body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
        ),
    )
        .into_response()
}

async fn index(State(s): State<Pages>) -> Response {
    s.hits.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(s.delay).await;
    let links: String = (0..s.count)
        .map(|i| format!("<a href=\"/p/{i}\">page {i}</a>\n"))
        .collect();
    html("Crash Co", links)
}

async fn page(State(s): State<Pages>, Path(n): Path<usize>) -> Response {
    if n >= s.count {
        return StatusCode::NOT_FOUND.into_response();
    }
    s.hits.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(s.delay).await;
    let next: String = (1..=3)
        .map(|k| (n + k) % s.count)
        .map(|m| format!("<a href=\"/p/{m}\">next {m}</a> "))
        .collect();
    html(
        &format!("Page {n} | Crash Co"),
        format!(
            "<h1>Page {n}</h1><p>Write to {} for page {n}.</p>{next}",
            email(n)
        ),
    )
}
