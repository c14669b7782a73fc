//! The crawl's fetch workers, and one page's fetch and parse.
//!
//! The crawl loop sends the pages to fetch into the frontier (a channel) and receives the
//! results; the workers take pages from the frontier in order. A worker that finished a page
//! takes the next one itself, so starting a fetch costs no round trip through the loop.
//! `concurrency` fetch slots bound the requests in flight; each worker holds one page at a time,
//! and there are twice as many workers as slots, so a page is parsed while the next one is
//! fetched.

use std::sync::{Arc, Mutex};

use tokio::{
    sync::{
        mpsc::{Sender, UnboundedReceiver},
        Mutex as AsyncMutex, OwnedSemaphorePermit, Semaphore,
    },
    task::JoinSet,
};
use url::Url;
use uuid::Uuid;

use super::Stop;
use crate::domains::scraping::{
    crawler::{document::Document, Fetched, Hosts},
    extract::{extract_dom, PageData},
};

/// A page to fetch: row id, canonical URL, depth.
pub type Queued = (Uuid, Url, i32);

/// The running fetch workers of one crawl; dropping this stops them.
pub struct Workers {
    set: JoinSet<()>,
}

impl Workers {
    /// Starts `2 × concurrency` workers taking pages from `feed` and sending what they fetched
    /// to `done`; `current` is set to the URL of the page most recently started.
    pub fn start(
        concurrency: usize,
        feed: UnboundedReceiver<Queued>,
        done: Sender<PageResult>,
        hosts: Arc<Hosts>,
        region: Option<String>,
        current: Arc<Mutex<Option<String>>>,
    ) -> Workers {
        let feed = Arc::new(AsyncMutex::new(feed));
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut set = JoinSet::new();
        for _ in 0..2 * concurrency {
            set.spawn(work(
                feed.clone(),
                slots.clone(),
                done.clone(),
                hosts.clone(),
                region.clone(),
                current.clone(),
            ));
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

async fn work(
    feed: Arc<AsyncMutex<UnboundedReceiver<Queued>>>,
    slots: Arc<Semaphore>,
    done: Sender<PageResult>,
    hosts: Arc<Hosts>,
    region: Option<String>,
    current: Arc<Mutex<Option<String>>>,
) {
    loop {
        let next = feed.lock().await.recv().await;
        let Some((id, url, depth)) = next else { return };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        if let Ok(mut c) = current.lock() {
            *c = Some(url.to_string());
        }
        let page = fetch(hosts.clone(), slot, id, url, depth, region.clone()).await;
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

/// How a page's fetch ended.
pub enum Outcome {
    /// An HTML page, parsed (links already without the `nofollow` ones).
    Html {
        /// HTTP status.
        status: u16,
        /// URL after redirects.
        final_url: Url,
        /// What the page yields.
        data: Box<PageData>,
    },
    /// Not fetched or not usable (robots.txt, not HTML).
    Skipped {
        /// Why.
        reason: String,
        /// HTTP status, when a request was made.
        status: Option<u16>,
    },
    /// The fetch failed.
    Failed {
        /// Why.
        reason: String,
        /// HTTP status, when there was a response.
        status: Option<u16>,
    },
}

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

/// Fetches and parses one page (see [`parse`] and [`INLINE_PARSE_BYTES`]). `slot` is one of the
/// crawl's `concurrency` fetch slots: it is given back once the response is read, so the next
/// request starts while this page is parsed.
pub async fn fetch(
    hosts: Arc<Hosts>,
    slot: OwnedSemaphorePermit,
    id: Uuid,
    url: Url,
    depth: i32,
    region: Option<String>,
) -> PageResult {
    let fetched = hosts.fetch_page(&url).await;
    drop(slot);
    let outcome = match fetched {
        Fetched::Html {
            status,
            final_url,
            body,
            content_type,
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
                    data: Box::new(data),
                },
                Err(_) => Outcome::Failed {
                    reason: "the page could not be parsed".into(),
                    status: Some(status),
                },
            }
        }
        Fetched::Skipped { reason, status } => Outcome::Skipped { reason, status },
        Fetched::Failed { reason, status } => Outcome::Failed { reason, status },
    };
    PageResult {
        id,
        url,
        depth,
        outcome,
    }
}
