//! One page's fetch and parse, as a task of the crawl.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;
use url::Url;
use uuid::Uuid;

use crate::domains::scraping::{
    crawler::{document::Document, Fetched, Hosts},
    extract::{extract_dom, PageData},
};

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
