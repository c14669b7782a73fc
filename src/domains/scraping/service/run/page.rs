//! The crawl's fetch workers, and one page's fetch and parse.
//!
//! The crawl loop sends the pages to fetch into the frontier (a channel) and receives the
//! results. `concurrency` fetchers take pages from the frontier in order, so at most
//! `concurrency` requests are in flight; a fetcher hands the response to the parsers and starts
//! its next request at once, without waiting for the parse or for another task to wake up (on a
//! virtual machine, waking an idle thread costs more than a small page's parse). As many
//! parsers parse the responses and send the results to the loop.

use std::sync::{Arc, Mutex};

use tokio::{
    sync::{
        mpsc::{self, Receiver, Sender, UnboundedReceiver},
        Mutex as AsyncMutex,
    },
    task::JoinSet,
};
use url::Url;
use uuid::Uuid;

use super::Stop;
use crate::domains::scraping::service::{
    crawler::{document::Document, Body, Fetched, Hosts},
    extract::{extract_dom, PageData},
};

/// A page to fetch: row id, canonical URL, depth.
pub type Queued = (Uuid, Url, i32);

/// A fetched page waiting for its parse.
type Response = (Queued, Fetched);

/// The running fetchers and parsers of one crawl; dropping this stops them.
pub struct Workers {
    set: JoinSet<()>,
}

impl Workers {
    /// Starts `concurrency` fetchers taking pages from `feed` and as many parsers sending what
    /// was fetched to `done`; `current` is set to the URL of the page most recently started.
    pub fn start(
        concurrency: usize,
        feed: UnboundedReceiver<Queued>,
        done: Sender<PageResult>,
        hosts: Arc<Hosts>,
        region: Option<String>,
        current: Arc<Mutex<Option<String>>>,
    ) -> Workers {
        let feed = Arc::new(AsyncMutex::new(feed));
        let (fetched, responses) = mpsc::channel::<Response>(concurrency);
        let responses = Arc::new(AsyncMutex::new(responses));
        let mut set = JoinSet::new();
        for _ in 0..concurrency {
            set.spawn(fetcher(
                feed.clone(),
                fetched.clone(),
                hosts.clone(),
                current.clone(),
            ));
            set.spawn(parser(responses.clone(), done.clone(), region.clone()));
        }
        Workers { set }
    }

    /// Waits for a worker to end. Workers run until the frontier closes, so while the crawl
    /// runs this only returns when one panicked (its page would never be reported).
    pub async fn failure(&mut self) -> Stop {
        let message = match self.set.join_next().await {
            Some(Err(e)) => format!("page task: {e}"),
            _ => "the fetch workers stopped".to_string(),
        };
        Stop::Failed {
            message,
            retryable: true,
        }
    }
}

/// Fetches pages from `feed` one at a time and hands each response to the parsers.
async fn fetcher(
    feed: Arc<AsyncMutex<UnboundedReceiver<Queued>>>,
    fetched: Sender<Response>,
    hosts: Arc<Hosts>,
    current: Arc<Mutex<Option<String>>>,
) {
    loop {
        let next = feed.lock().await.recv().await;
        let Some(page) = next else { return };
        if let Ok(mut c) = current.lock() {
            *c = Some(page.1.to_string());
        }
        let response = hosts.fetch_page(&page.1).await;
        if fetched.send((page, response)).await.is_err() {
            return;
        }
    }
}

/// Parses the fetched pages and sends the results to the crawl loop.
async fn parser(
    responses: Arc<AsyncMutex<Receiver<Response>>>,
    done: Sender<PageResult>,
    region: Option<String>,
) {
    loop {
        let next = responses.lock().await.recv().await;
        let Some(((id, url, depth), response)) = next else {
            return;
        };
        let page = PageResult {
            id,
            url,
            depth,
            outcome: outcome(response, region.clone()).await,
        };
        if done.send(page).await.is_err() {
            return;
        }
    }
}

/// A page fetched (and parsed) by a task.
pub struct PageResult {
    /// Page row id.
    pub id: Uuid,
    /// Canonical URL.
    pub url: Url,
    /// Depth.
    pub depth: i32,
    /// How it went.
    pub outcome: Outcome,
}

/// How a page's fetch ended: an HTML page carries what it yields, parsed (links already without
/// the `nofollow` ones).
pub type Outcome = Fetched<Box<PageData>>;

/// Bodies up to this size are parsed on the task that fetched them; larger ones on the
/// blocking pool. A small page parses in well under a millisecond, less than the two thread
/// hand-offs of `spawn_blocking` cost; a large one would hold up a runtime worker.
pub const INLINE_PARSE_BYTES: usize = 64 * 1024;

/// Decodes and parses a page once (charset, `<base href>`, `rel="nofollow"`), then extracts from
/// the same tree.
fn parse(body: &[u8], content_type: Option<&str>, base: &Url, region: Option<&str>) -> PageData {
    let doc = Document::parse(body, content_type, base);
    let mut data = extract_dom(&doc.dom, &doc.base, region);
    data.links.retain(|l| doc.may_follow(l));
    data
}

/// What a fetched page yields: an HTML body is parsed (see [`parse`] and
/// [`INLINE_PARSE_BYTES`]).
async fn outcome(fetched: Fetched, region: Option<String>) -> Outcome {
    match fetched {
        Fetched::Html {
            status,
            final_url,
            page: Body {
                bytes: body,
                content_type,
            },
        } => {
            let parsed = if body.len() <= INLINE_PARSE_BYTES {
                Ok(parse(
                    &body,
                    content_type.as_deref(),
                    &final_url,
                    region.as_deref(),
                ))
            } else {
                let base = final_url.clone();
                tokio::task::spawn_blocking(move || {
                    parse(&body, content_type.as_deref(), &base, region.as_deref())
                })
                .await
            };
            match parsed {
                Ok(data) => Outcome::Html {
                    status,
                    final_url,
                    page: Box::new(data),
                },
                Err(_) => Outcome::Failed {
                    reason: "the page could not be parsed".into(),
                    status: Some(status),
                },
            }
        }
        Fetched::Skipped { reason, status } => Outcome::Skipped { reason, status },
        Fetched::Failed { reason, status } => Outcome::Failed { reason, status },
    }
}
