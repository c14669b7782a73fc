//! Fetching pages politely and safely: canonical URLs, robots.txt (`texting_robots`, RFC 9309
//! semantics), per-host politeness (`governor`, `requestsPerSecond` and any `Crawl-delay`),
//! content-type and size caps, sitemap.xml discovery. Every request goes through the SSRF-guarded
//! [`OutboundClient`] (redirects are re-checked on every hop there). [`document`] decodes the
//! body (declared charsets) and reads `<base href>` and `rel="nofollow"`.

pub mod document;

use std::{
    collections::HashMap,
    num::NonZeroU32,
    sync::{Arc, Mutex},
    time::Duration,
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use texting_robots::Robot;
use tokio::sync::OnceCell;
use url::Url;

use crate::platform::outbound::OutboundClient;

/// The robots.txt user-agent token we match (and send, in the `User-Agent` header).
pub const AGENT: &str = "Leadgraph";
/// Longest URL stored and fetched.
pub const MAX_URL_LEN: usize = 2048;
/// Longest `Crawl-delay` honoured; longer ones are capped.
const MAX_CRAWL_DELAY: Duration = Duration::from_secs(30);
/// Sitemap entries read per sitemap file, and nested sitemaps followed per host.
const SITEMAP_MAX_LOCS: usize = 50_000;
const SITEMAP_MAX_NESTED: usize = 5;

/// Query parameters that only track clicks; dropped from canonical URLs.
fn is_tracking_param(k: &str) -> bool {
    k.starts_with("utm_") || matches!(k, "fbclid" | "gclid" | "msclkid" | "mc_cid" | "mc_eid")
}

/// The canonical form used for dedupe: http(s) only, no fragment, no tracking parameters, the
/// remaining query sorted, no empty `?`; the `url` crate already lowercases the scheme and
/// host, removes default ports and resolves dot segments. `None` for anything else or longer
/// than [`MAX_URL_LEN`].
pub fn canonical(u: &Url) -> Option<Url> {
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return None;
    }
    let mut u = u.clone();
    u.set_fragment(None);
    if u.query().is_some() {
        let mut pairs: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        pairs.sort();
        if pairs.is_empty() {
            u.set_query(None);
        } else {
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    (u.as_str().len() <= MAX_URL_LEN).then_some(u)
}

/// The site a URL belongs to for `sameDomainOnly`: its host without a leading `www.`.
pub fn site_of(u: &Url) -> String {
    u.host_str()
        .unwrap_or_default()
        .trim_start_matches("www.")
        .to_string()
}

/// `scheme://host[:port]` of a URL (robots.txt and politeness are per origin).
pub fn origin_of(u: &Url) -> String {
    u.origin().ascii_serialization()
}

/// What robots.txt allows for one origin.
pub enum Robots {
    /// Parsed rules.
    Rules(Box<Robot>),
    /// No robots.txt (4xx): everything is allowed.
    AllowAll,
    /// robots.txt could not be fetched (5xx, network error, refused): nothing is allowed
    /// (RFC 9309 §2.3.1.4). The message says why.
    Unreachable(String),
}

impl Robots {
    /// `Ok(())` when `url` may be fetched, else why not.
    pub fn check(&self, url: &Url) -> Result<(), String> {
        match self {
            Robots::AllowAll => Ok(()),
            Robots::Rules(r) if r.allowed(url.as_str()) => Ok(()),
            Robots::Rules(_) => Err("disallowed by robots.txt".into()),
            Robots::Unreachable(why) => Err(format!("robots.txt unavailable: {why}")),
        }
    }

    fn crawl_delay(&self) -> Option<Duration> {
        match self {
            Robots::Rules(r) => r
                .delay
                .filter(|d| d.is_finite() && *d > 0.0)
                .map(|d| Duration::from_secs_f32(d).min(MAX_CRAWL_DELAY)),
            _ => None,
        }
    }

    /// `Sitemap:` lines.
    pub fn sitemaps(&self) -> Vec<String> {
        match self {
            Robots::Rules(r) => r.sitemaps.clone(),
            _ => Vec::new(),
        }
    }
}

/// Per-origin state: robots rules (fetched once) and the politeness limiter.
struct Host {
    robots: OnceCell<Robots>,
    limiter: OnceCell<Option<DefaultDirectRateLimiter>>,
}

/// Robots and politeness for every origin a crawl touches.
pub struct Hosts {
    http: OutboundClient,
    /// Minimum interval between requests to one origin; `None` = politeness off.
    interval: Option<Duration>,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

/// How a fetch ended. An HTML page carries `P`: its [`Body`] as received, or what a later step
/// made of it (a crawl parses it: `run::page::Outcome`).
#[derive(Debug)]
pub enum Fetched<P = Body> {
    /// An HTML page.
    Html {
        /// HTTP status.
        status: u16,
        /// URL after redirects.
        final_url: Url,
        /// The page.
        page: P,
    },
    /// Not fetched or not usable, and not an error (robots.txt, not HTML).
    Skipped {
        /// Why.
        reason: String,
        /// HTTP status, when a request was made.
        status: Option<u16>,
    },
    /// The fetch failed (HTTP error status, timeout, too large, refused by the SSRF guard).
    Failed {
        /// Why (safe to show users).
        reason: String,
        /// HTTP status, when there was a response.
        status: Option<u16>,
    },
}

/// An HTML page as received.
#[derive(Debug)]
pub struct Body {
    /// The bytes (decode them with [`document::Document::parse`]).
    pub bytes: Vec<u8>,
    /// The `Content-Type` header (its `charset` decides the decoding).
    pub content_type: Option<String>,
}

fn is_html(content_type: Option<&str>) -> bool {
    match content_type {
        // No Content-Type: give it a try; the parser copes with anything.
        None => true,
        Some(ct) => {
            let mime = ct
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            mime == "text/html" || mime == "application/xhtml+xml"
        }
    }
}

impl Hosts {
    /// `requests_per_second` per origin; `None` turns politeness off (benchmarks only).
    pub fn new(http: OutboundClient, requests_per_second: Option<f64>) -> Self {
        let interval = requests_per_second
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r));
        Hosts {
            http,
            interval,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn host(&self, origin: &str) -> Arc<Host> {
        let fresh = || {
            Arc::new(Host {
                robots: OnceCell::new(),
                limiter: OnceCell::new(),
            })
        };
        match self.hosts.lock() {
            Ok(mut m) => m.entry(origin.to_string()).or_insert_with(fresh).clone(),
            // A poisoned map only loses sharing, never safety: robots are fetched again.
            Err(_) => fresh(),
        }
    }

    /// Whether robots.txt of `url`'s origin (fetched on first use) allows it.
    async fn robots_of(&self, host: &Host, url: &Url) -> Result<(), String> {
        let robots = host
            .robots
            .get_or_init(|| async {
                let robots_url = format!("{}/robots.txt", origin_of(url));
                match self.http.get(&robots_url).await {
                    Ok(r) if r.is_success() => match Robot::new(AGENT, &r.body) {
                        Ok(robot) => Robots::Rules(Box::new(robot)),
                        // Unparseable rules: treat like a missing file.
                        Err(_) => Robots::AllowAll,
                    },
                    Ok(r) if (400..500).contains(&r.status) => Robots::AllowAll,
                    Ok(r) => Robots::Unreachable(format!("HTTP {}", r.status)),
                    Err(e) => Robots::Unreachable(e.to_string()),
                }
            })
            .await;
        robots.check(url)
    }

    /// Sitemap URLs of `url`'s origin: robots.txt `Sitemap:` lines, else `/sitemap.xml`.
    pub async fn sitemap_urls(&self, url: &Url) -> Vec<String> {
        let host = self.host(&origin_of(url));
        let _ = self.robots_of(&host, url).await;
        let mut out = host.robots.get().map(Robots::sitemaps).unwrap_or_default();
        if out.is_empty() {
            out.push(format!("{}/sitemap.xml", origin_of(url)));
        }
        out
    }

    /// Waits for `origin`'s politeness slot (after its robots.txt is known, for `Crawl-delay`).
    async fn wait_turn(&self, host: &Host) {
        let limiter = host
            .limiter
            .get_or_init(|| async {
                let delay = host.robots.get().and_then(Robots::crawl_delay);
                let interval = match (self.interval, delay) {
                    (None, _) => return None,
                    (Some(i), Some(d)) => i.max(d),
                    (Some(i), None) => i,
                };
                Quota::with_period(interval)
                    .map(|q| RateLimiter::direct(q.allow_burst(NonZeroU32::MIN)))
            })
            .await;
        if let Some(l) = limiter {
            l.until_ready().await;
        }
    }

    /// Fetches one page: robots check, politeness, GET, status, content type and size caps.
    pub async fn fetch_page(&self, url: &Url) -> Fetched {
        let host = self.host(&origin_of(url));
        if let Err(reason) = self.robots_of(&host, url).await {
            return if reason.starts_with("robots.txt unavailable") {
                Fetched::Failed {
                    reason,
                    status: None,
                }
            } else {
                Fetched::Skipped {
                    reason,
                    status: None,
                }
            };
        }
        self.wait_turn(&host).await;
        let builder = match self.http.request(reqwest::Method::GET, url.as_str()) {
            Ok(b) => b.header(
                http::header::ACCEPT,
                "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
            ),
            Err(e) => {
                return Fetched::Failed {
                    reason: e.to_string(),
                    status: None,
                }
            }
        };
        let res = self
            .http
            .execute_if(builder, |status, headers| {
                (200..300).contains(&status)
                    && is_html(
                        headers
                            .get(http::header::CONTENT_TYPE)
                            .and_then(|v| v.to_str().ok()),
                    )
            })
            .await;
        match res {
            Ok((r, true)) => Fetched::Html {
                status: r.status,
                page: Body {
                    content_type: r.content_type().map(str::to_string),
                    bytes: r.body,
                },
                final_url: r.final_url,
            },
            Ok((r, false)) if r.is_success() => Fetched::Skipped {
                reason: format!(
                    "not HTML ({})",
                    r.content_type().unwrap_or("no content type")
                ),
                status: Some(r.status),
            },
            Ok((r, false)) => Fetched::Failed {
                reason: format!("HTTP {}", r.status),
                status: Some(r.status),
            },
            Err(e) => Fetched::Failed {
                reason: e.to_string(),
                status: None,
            },
        }
    }

    /// Page URLs listed in the sitemaps of `seed`'s origin (sitemap indexes followed one level,
    /// at most [`SITEMAP_MAX_NESTED`] files), at most `limit` of them. Missing or broken
    /// sitemaps yield nothing.
    pub async fn sitemap_pages(&self, seed: &Url, limit: usize) -> Vec<Url> {
        let mut pending: Vec<String> = self.sitemap_urls(seed).await;
        let host = self.host(&origin_of(seed));
        let mut pages = Vec::new();
        let mut fetched = 0;
        while let Some(sm) = pending.pop() {
            if fetched > SITEMAP_MAX_NESTED || pages.len() >= limit {
                break;
            }
            fetched += 1;
            let Ok(sm_url) = Url::parse(&sm) else {
                continue;
            };
            // Only the seed's own origin: a robots.txt may name sitemaps anywhere.
            if origin_of(&sm_url) != origin_of(seed) {
                continue;
            }
            self.wait_turn(&host).await;
            let body = match self.http.get(sm_url.as_str()).await {
                Ok(r) if r.is_success() => r.text_lossy(),
                Ok(_) | Err(_) => continue,
            };
            let (is_index, locs) = parse_sitemap(&body);
            for loc in locs {
                let Ok(u) = Url::parse(&loc) else { continue };
                if is_index {
                    pending.push(u.to_string());
                } else if pages.len() < limit {
                    pages.push(u);
                }
            }
        }
        pages
    }
}

/// `(is a sitemap index, <loc> values)` of a sitemap document. A plain scan for `<loc>`
/// elements (namespaces and attributes ignored, `&amp;` and friends decoded).
pub fn parse_sitemap(xml: &str) -> (bool, Vec<String>) {
    let is_index = xml.contains("<sitemapindex");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<loc") {
        let after = &rest[start + 4..];
        let Some(gt) = after.find('>') else { break };
        let body = &after[gt + 1..];
        let Some(end) = body.find("</loc>") else {
            break;
        };
        let raw = body[..end].trim();
        let raw = raw
            .strip_prefix("<![CDATA[")
            .and_then(|r| r.strip_suffix("]]>"))
            .unwrap_or(raw);
        let loc = raw
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'");
        if !loc.is_empty() {
            out.push(loc);
        }
        if out.len() >= SITEMAP_MAX_LOCS {
            break;
        }
        rest = &body[end + 6..];
    }
    (is_index, out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn c(s: &str) -> Option<String> {
        canonical(&Url::parse(s).unwrap()).map(|u| u.to_string())
    }

    #[test]
    fn canonical_urls() {
        assert_eq!(
            c("HTTP://Acme.EXAMPLE:80/a/../b?utm_source=x&z=1&a=2#top").as_deref(),
            Some("http://acme.example/b?a=2&z=1")
        );
        assert_eq!(
            c("https://acme.example/?utm_campaign=y").as_deref(),
            Some("https://acme.example/")
        );
        assert_eq!(c("mailto:x@y.z"), None);
        assert_eq!(c(&format!("https://a.example/{}", "x".repeat(3000))), None);
        assert_eq!(
            site_of(&Url::parse("https://www.acme.example/x").unwrap()),
            "acme.example"
        );
    }

    #[test]
    fn sitemaps_and_indexes() {
        let xml = r#"<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
          <url><loc> https://a.example/one </loc></url>
          <url><loc><![CDATA[https://a.example/two?x=1&y=2]]></loc></url>
          <url><loc>https://a.example/three?a=1&amp;b=2</loc></url></urlset>"#;
        let (idx, locs) = parse_sitemap(xml);
        assert!(!idx);
        assert_eq!(
            locs,
            [
                "https://a.example/one",
                "https://a.example/two?x=1&y=2",
                "https://a.example/three?a=1&b=2"
            ]
        );
        let (idx, locs) = parse_sitemap(
            "<sitemapindex><sitemap><loc>https://a.example/s1.xml</loc></sitemap></sitemapindex>",
        );
        assert!(idx);
        assert_eq!(locs, ["https://a.example/s1.xml"]);
        assert_eq!(parse_sitemap("not xml").1.len(), 0);
    }

    /// A page on a "public" name (overridden to a local fixture) that redirects to loopback: the
    /// guard refuses the hop and the canary listener is never contacted.
    #[tokio::test]
    async fn a_redirect_into_loopback_is_refused_and_the_canary_sees_nothing() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let canary = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let canary_port = canary.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        tokio::spawn(async move {
            while let Ok(_conn) = canary.accept().await {
                h.fetch_add(1, Ordering::SeqCst);
            }
        });
        let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let site_addr = site.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = site.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).to_string();
                    let resp = if head.starts_with("GET /robots.txt") {
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_string()
                    } else {
                        format!("HTTP/1.1 302 Found\r\nlocation: http://localhost:{canary_port}/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    };
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        let client = OutboundClient::with_overrides(
            crate::platform::outbound::OutboundConfig::default(),
            &[("public.test", site_addr)],
        )
        .unwrap();
        let hosts = Hosts::new(client, None);
        let url = Url::parse(&format!("http://public.test:{}/go", site_addr.port())).unwrap();
        match hosts.fetch_page(&url).await {
            Fetched::Failed { reason, .. } => {
                assert!(reason.contains("private or reserved"), "{reason}")
            }
            other => panic!("fetched {other:?}"),
        }
        assert_eq!(hits.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn robots_semantics() {
        let r = Robots::Rules(Box::new(
            Robot::new(AGENT, b"User-agent: *\nDisallow: /private/\nCrawl-delay: 99\nSitemap: https://a.example/sm.xml\n").unwrap(),
        ));
        let ok = Url::parse("https://a.example/public").unwrap();
        let no = Url::parse("https://a.example/private/x").unwrap();
        assert!(r.check(&ok).is_ok());
        assert_eq!(r.check(&no).unwrap_err(), "disallowed by robots.txt");
        assert_eq!(r.crawl_delay(), Some(MAX_CRAWL_DELAY));
        assert_eq!(r.sitemaps(), ["https://a.example/sm.xml"]);
        assert!(Robots::AllowAll.check(&no).is_ok());
        assert!(Robots::Unreachable("HTTP 503".into()).check(&ok).is_err());
        assert!(is_html(Some("text/html; charset=utf-8")));
        assert!(!is_html(Some("application/pdf")));
    }
}
