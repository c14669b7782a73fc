//! Scraping: a fixture site on loopback (robots.txt, sitemap, obfuscated emails, a redirect
//! loop, a slow page, a 10 MB page), live progress, cancel and resume, a worker dying mid-job,
//! the SSRF guard, Brave and Places against local fakes, audiences, isolation and validation.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{
    http::{header, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use leadgraph::{
    auth::Role,
    domains::scraping::ScrapeRun,
    jobs::{JobRegistry, Worker},
};
use serde_json::{json, Value};
use uuid::Uuid;
use wiremock::{
    matchers::{body_partial_json, header as has_header, header_exists, method, path, query_param},
    Mock, MockServer, ResponseTemplate,
};

use crate::{
    fixtures::scrape_job,
    helpers::{code, Options, TestApp, Ws},
};

mod crawl;

// ---- the fixture site ------------------------------------------------------------------------

#[derive(Clone)]
enum Page {
    Html(String),
    Redirect(&'static str),
    Slow(Duration, String),
    Bytes(&'static str, Arc<Vec<u8>>),
}

struct Fixture {
    port: u16,
    hits: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl Fixture {
    /// Serves `pages` (by path) on 127.0.0.1:0; `{base}` in a body becomes the site's base URL.
    async fn start(pages: Vec<(&str, Page)>) -> Fixture {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let pages: Arc<HashMap<String, Page>> = Arc::new(
            pages
                .into_iter()
                .map(|(p, page)| {
                    let page = match page {
                        Page::Html(s) => Page::Html(s.replace("{base}", &base)),
                        Page::Slow(d, s) => Page::Slow(d, s.replace("{base}", &base)),
                        other => other,
                    };
                    (p.to_string(), page)
                })
                .collect(),
        );
        let hits = Arc::new(Mutex::new(Vec::new()));
        let h = hits.clone();
        let app = Router::new().fallback(move |uri: Uri| {
            let (pages, hits) = (pages.clone(), h.clone());
            async move {
                hits.lock()
                    .unwrap()
                    .push((uri.path().to_string(), Instant::now()));
                let html = |s: String| -> Response {
                    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], s).into_response()
                };
                match pages.get(uri.path()).cloned() {
                    None => StatusCode::NOT_FOUND.into_response(),
                    Some(Page::Html(s)) => html(s),
                    Some(Page::Redirect(to)) => {
                        (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
                    }
                    Some(Page::Slow(d, s)) => {
                        tokio::time::sleep(d).await;
                        html(s)
                    }
                    Some(Page::Bytes(ct, b)) => {
                        ([(header::CONTENT_TYPE, ct)], b.as_ref().clone()).into_response()
                    }
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Fixture { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The address to open with `OUTBOUND_ALLOW_HOSTS`.
    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn count(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    }

    fn counts(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for (p, _) in self.hits.lock().unwrap().iter() {
            *m.entry(p.clone()).or_insert(0) += 1;
        }
        m
    }
}

fn html(title: &str, body: &str) -> Page {
    Page::Html(format!(
        "<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"
    ))
}

/// The acceptance site: what is found, skipped and failed is listed in the test below.
async fn acme_site() -> Fixture {
    let huge = {
        let mut b = b"<html><body>".to_vec();
        b.resize(10 * 1024 * 1024, b'x');
        b.extend_from_slice(b" big@acme-fixture.com</body></html>");
        Arc::new(b)
    };
    Fixture::start(vec![
        (
            "/robots.txt",
            Page::Bytes(
                "text/plain",
                Arc::new(b"User-agent: *\nDisallow: /private/\n".to_vec()),
            ),
        ),
        (
            "/sitemap.xml",
            Page::Html(
                r#"<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{base}/from-sitemap</loc></url><url><loc>{base}/#top</loc></url></urlset>"#.into(),
            ),
        ),
        (
            "/",
            Page::Html(
                r#"<html><head><title>Home</title><meta property="og:site_name" content="Acme Fixture"></head><body>
                <p>Write to info [at] acme-fixture [dot] com or call <a href="tel:+1-415-555-2671">us</a>.</p>
                <a href="/about">About</a> <a href="/contact?utm_source=home#form">Contact</a> <a href="/team">Team</a>
                <a href="/private/secret">Secret</a> <a href="/loop">Loop</a> <a href="/slow">Slow</a>
                <a href="/huge">Huge</a> <a href="/brochure.pdf">Brochure</a> <a href="/deep/1">Deep</a>
                <a href="https://elsewhere.example/">Elsewhere</a> <a href="mailto:">empty</a>
                <a href="https://www.linkedin.com/company/acme-fixture">LinkedIn</a>
                </body></html>"#
                    .into(),
            ),
        ),
        (
            "/about",
            html(
                "About | Acme Fixture",
                r#"<p>Jane: jane.doe@acme-fixture.com. John: john (at) acme-fixture (dot) com.</p>
                   <p>info [at] acme-fixture [dot] com</p><a href="/missing">gone</a> <a href="/">home</a>"#,
            ),
        ),
        (
            "/contact",
            html(
                "Contact | Acme Fixture",
                r#"<a href="mailto:Sales@Acme-Fixture.com?subject=hi">sales</a>
                   <p>Not these: temp@mailinator.com, noreply@acme-fixture.com, logo@2x.png</p>
                   <p>London: +44 20 7946 0958</p>"#,
            ),
        ),
        ("/team", html("Team | Acme Fixture", "<p>Berlin desk: +49 30 901820</p>")),
        (
            "/private/secret",
            html("Secret", "<p>secret@acme-fixture.com</p>"),
        ),
        ("/loop", Page::Redirect("/loop")),
        (
            "/slow",
            Page::Slow(
                Duration::from_secs(5),
                "<p>slow@acme-fixture.com</p>".into(),
            ),
        ),
        ("/huge", Page::Bytes("text/html", huge)),
        (
            "/brochure.pdf",
            Page::Bytes("application/pdf", Arc::new(b"%PDF-1.4 pdf@acme-fixture.com".to_vec())),
        ),
        ("/deep/1", html("Deep | Acme Fixture", r#"<a href="/deep/2">next</a>"#)),
        (
            "/deep/2",
            html(
                "Deep | Acme Fixture",
                r#"<p>deep2@acme-fixture.com</p><a href="/deep/3">next</a>"#,
            ),
        ),
        ("/deep/3", html("Deep | Acme Fixture", "<p>deep3@acme-fixture.com</p>")),
        (
            "/from-sitemap",
            html("Listed | Acme Fixture", "<p>sitemap@acme-fixture.com</p>"),
        ),
    ])
    .await
}

/// A site of `n` pages linked from the index, each with one email.
async fn many_site(n: usize, delay: Duration) -> Fixture {
    let mut pages = vec![(
        "/",
        html(
            "Many",
            &(0..n)
                .map(|i| format!(r#"<a href="/p/{i}">{i}</a>"#))
                .collect::<String>(),
        ),
    )];
    let paths: Vec<String> = (0..n).map(|i| format!("/p/{i}")).collect();
    for (i, p) in paths.iter().enumerate() {
        let body = format!("<title>P | Many Co</title><p>p{i}@many-fixture.com</p>");
        let page = if delay.is_zero() {
            Page::Html(body)
        } else {
            Page::Slow(delay, body)
        };
        pages.push((Box::leak(p.clone().into_boxed_str()), page));
    }
    Fixture::start(pages).await
}

// ---- helpers ---------------------------------------------------------------------------------

const CREATE: &str =
    "mutation($i: CreateScrapeJobInput!) { createScrapeJob(input: $i) { id status source name } }";
const JOB: &str = "query($id: ID!) { scrapeJob(id: $id) { id status error startedAt finishedAt
  progress { pagesFetched pagesQueued pagesFailed pagesSkipped leadsFound leadsCreated leadsUpdated percent currentUrl }
  pages(first: 200) { totalCount nodes { url status depth httpStatus error } }
  leads(first: 200) { totalCount nodes { email phone company website source tags provenance { field kind reference } } } } }";

async fn job(app: &TestApp, token: &str, id: &str) -> Value {
    let v = app.gql(Some(token), JOB, json!({"id": id})).await;
    assert!(v["errors"].is_null(), "{v}");
    v["data"]["scrapeJob"].clone()
}

/// Polls until the job's status is one of `statuses`.
async fn wait_status(app: &TestApp, token: &str, id: &str, statuses: &[&str], secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let j = job(app, token, id).await;
        if statuses.contains(&j["status"].as_str().unwrap_or_default()) {
            return j;
        }
        assert!(
            Instant::now() < deadline,
            "job never reached {statuses:?}: {j}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_until(what: &str, secs: u64, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn by_url(j: &Value, suffix: &str) -> Value {
    j["pages"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["url"].as_str().unwrap().ends_with(suffix))
        .cloned()
        .unwrap_or(Value::Null)
}

fn emails(j: &Value) -> Vec<String> {
    let mut e: Vec<String> = j["leads"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["email"].as_str().map(str::to_string))
        .collect();
    e.sort();
    e
}

async fn subscribe_progress(app: &TestApp, token: &str, id: &str) -> Ws {
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(token).await;
    ws.send(json!({"type": "subscribe", "id": "p", "payload": {
        "query": "subscription($id: ID!) { scrapeJobProgress(jobId: $id) { eventId status isFinal progress { pagesFetched leadsCreated percent } } }",
        "variables": {"id": id}}}))
        .await;
    ws
}

/// Messages of subscription `p` until `complete` (panics on an error message or a timeout).
async fn collect_until_complete(ws: &mut Ws, secs: u64) -> Vec<Value> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        assert!(Instant::now() < deadline, "no complete; got {out:?}");
        let m = ws.next_json(secs).await;
        match m["type"].as_str() {
            Some("next") => out.push(m["payload"]["data"]["scrapeJobProgress"].clone()),
            Some("complete") => return out,
            _ => panic!("unexpected message {m}"),
        }
    }
}

fn fast_website(urls: Vec<String>) -> Value {
    json!({"source": "WEBSITE", "website": {"urls": urls, "requestsPerSecond": 50, "concurrency": 4}})
}

// ---- tests -----------------------------------------------------------------------------------

#[tokio::test]
async fn crawl_finds_exactly_the_expected_leads_skips_disallowed_survives_bad_pages_and_streams_progress(
) {
    let site = acme_site().await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("OUTBOUND_TIMEOUT_SECS".into(), "2".into())]),
        allow_hosts: vec![site.host()],
        ..Default::default()
    })
    .await;
    let token = app.token(Uuid::now_v7(), Role::Owner).await;
    // An existing lead: the crawl updates it instead of duplicating it.
    let v = app
        .gql(
            Some(&token),
            "mutation { createLead(input: {firstName: \"Jane\", email: \"JANE.DOE@acme-fixture.com\"}) { id } }",
            json!({}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");

    let id = scrape_job(
        &app,
        &token,
        json!({"source": "WEBSITE", "name": "Acme", "website": {
            "urls": [site.url("/")], "maxDepth": 2, "maxPages": 100, "requestsPerSecond": 50}}),
    )
    .await;
    let mut ws = subscribe_progress(&app, &token, &id).await;
    let messages = collect_until_complete(&mut ws, 30).await;
    let j = job(&app, &token, &id).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");

    // Exactly the expected leads: the obfuscated role address with the home page's phone,
    // both people on /about (Jane existed and was updated), sales@ (mailto, mixed case) with
    // the London number, the Berlin number alone, the depth-2 page and the sitemap-only page.
    assert_eq!(
        emails(&j),
        [
            "deep2@acme-fixture.com",
            "info@acme-fixture.com",
            "jane.doe@acme-fixture.com",
            "john@acme-fixture.com",
            "sales@acme-fixture.com",
            "sitemap@acme-fixture.com",
        ]
    );
    let leads = j["leads"]["nodes"].as_array().unwrap();
    assert_eq!(leads.len(), 7, "{leads:?}");
    let lead = |email: Option<&str>, phone: Option<&str>| {
        leads
            .iter()
            .find(|l| l["email"].as_str() == email && l["phone"].as_str() == phone)
            .unwrap_or_else(|| panic!("no lead {email:?} {phone:?} in {leads:?}"))
    };
    let info = lead(Some("info@acme-fixture.com"), Some("+14155552671"));
    assert_eq!(info["tags"], json!(["role-address"]));
    assert_eq!(info["company"], "Acme Fixture");
    assert_eq!(info["source"], "WEBSITE");
    assert_eq!(info["website"], site.url("/"));
    let prov = info["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["field"] == "email")
        .unwrap();
    assert_eq!(prov["kind"], "scrape");
    assert_eq!(prov["reference"], format!("scrape:{id} {}", site.url("/")));
    lead(Some("sales@acme-fixture.com"), Some("+442079460958"));
    let berlin = lead(None, Some("+4930901820"));
    assert_eq!(berlin["company"], "Acme Fixture");
    let jane = lead(Some("jane.doe@acme-fixture.com"), None);
    assert_eq!(
        jane["company"], "Acme Fixture",
        "merged into the existing lead"
    );
    let kind_of = |l: &Value, field: &str| {
        l["provenance"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["field"] == field)
            .map(|p| p["kind"].clone())
    };
    assert_eq!(kind_of(jane, "email"), Some(json!("manual")));
    assert_eq!(kind_of(jane, "company"), Some(json!("scrape")));
    assert_eq!(kind_of(jane, "website"), Some(json!("scrape")));
    let total = app
        .gql(Some(&token), "{ leads { totalCount } }", json!({}))
        .await;
    assert_eq!(total["data"]["leads"]["totalCount"], 7, "no duplicates");
    let p = &j["progress"];
    assert_eq!(
        (&p["leadsFound"], &p["leadsCreated"], &p["leadsUpdated"]),
        (&json!(7), &json!(6), &json!(1)),
        "{p}"
    );

    // Pages: what was fetched, skipped and failed, and why.
    assert_eq!(p["pagesFetched"], 7, "{j}");
    assert_eq!(p["pagesSkipped"], 2, "{j}");
    assert_eq!(p["pagesFailed"], 4, "{j}");
    assert_eq!(p["pagesQueued"], 0);
    assert_eq!(p["percent"], 100.0);
    assert_eq!(j["pages"]["totalCount"], 13);
    assert_eq!(by_url(&j, "/private/secret")["status"], "SKIPPED");
    assert_eq!(
        by_url(&j, "/private/secret")["error"],
        "disallowed by robots.txt"
    );
    assert_eq!(site.count("/private/secret"), 0, "robots.txt honoured");
    assert_eq!(by_url(&j, "/brochure.pdf")["status"], "SKIPPED");
    assert!(by_url(&j, "/brochure.pdf")["error"]
        .as_str()
        .unwrap()
        .contains("application/pdf"));
    assert_eq!(by_url(&j, "/loop")["error"], "too many redirects");
    assert_eq!(by_url(&j, "/slow")["error"], "request timed out");
    assert!(by_url(&j, "/huge")["error"]
        .as_str()
        .unwrap()
        .contains("exceeds the limit"));
    assert_eq!(by_url(&j, "/missing")["status"], "FAILED");
    assert_eq!(by_url(&j, "/missing")["httpStatus"], 404);
    assert_eq!(by_url(&j, "/from-sitemap")["depth"], 1);
    assert_eq!(by_url(&j, "/deep/2")["depth"], 2);
    assert!(by_url(&j, "/deep/3").is_null(), "beyond maxDepth");
    assert_eq!(site.count("/deep/3"), 0);
    // Canonical dedupe: /contact?utm_source=home#form is /contact, fetched once; `/#top` in the
    // sitemap is the home page.
    assert!(!by_url(&j, "/contact").is_null());
    assert_eq!(site.count("/contact"), 1);
    assert_eq!(site.count("/"), 1);
    assert_eq!(site.count("/robots.txt"), 1);
    assert_eq!(site.count("/about"), 1);

    // The subscriber saw progress while it ran, then the final message, then `complete`.
    assert!(!messages.is_empty());
    let last = messages.last().unwrap();
    assert_eq!(last["isFinal"], true, "{messages:?}");
    assert_eq!(last["status"], "SUCCEEDED");
    assert_eq!(last["progress"]["leadsCreated"], 6);
    assert!(
        messages
            .iter()
            .any(|m| m["status"] == "RUNNING" && !m["eventId"].is_null()),
        "{messages:?}"
    );
    let fetched: Vec<i64> = messages
        .iter()
        .map(|m| m["progress"]["pagesFetched"].as_i64().unwrap())
        .collect();
    assert!(fetched.windows(2).all(|w| w[0] <= w[1]), "{fetched:?}");
    assert_eq!(messages.iter().filter(|m| m["isFinal"] == true).count(), 1);

    // `events` carries them too (replayed from the outbox after the first event).
    let mut ev = app.ws("graphql-transport-ws").await;
    ev.init(&token).await;
    ev.send(json!({"type": "subscribe", "id": "e", "payload": {
        "query": "subscription($a: ID) { events(types: [SCRAPE_COMPLETED], after: $a) { type data } }",
        "variables": {"a": messages.iter().find(|m| !m["eventId"].is_null()).unwrap()["eventId"]}}}))
        .await;
    let m = ev.next_json(5).await;
    assert_eq!(
        m["payload"]["data"]["events"]["type"], "SCRAPE_COMPLETED",
        "{m}"
    );
    assert_eq!(
        m["payload"]["data"]["events"]["data"]["scrapeJobId"],
        id.as_str()
    );
}

#[tokio::test]
async fn cancel_stops_within_a_second_and_retry_resumes_without_refetching() {
    let site = many_site(30, Duration::from_millis(50)).await;
    let app = TestApp::spawn_with(Options::allowing(&[site.host()])).await;
    let token = app.token(Uuid::now_v7(), Role::Member).await;
    let id = scrape_job(
        &app,
        &token,
        json!({"source": "WEBSITE", "website": {"urls": [site.url("/")], "maxDepth": 1,
               "requestsPerSecond": 10, "concurrency": 2}}),
    )
    .await;
    wait_until("a few pages", 15, async || {
        job(&app, &token, &id).await["progress"]["pagesFetched"]
            .as_i64()
            .unwrap()
            >= 4
    })
    .await;
    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { cancelScrapeJob(id: $id) { status finishedAt } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(v["data"]["cancelScrapeJob"]["status"], "CANCELLED", "{v}");
    // Within a second the crawler stops: no request reaches the site after that.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after_cancel = site.counts();
    let snapshot = job(&app, &token, &id).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(site.counts(), after_cancel, "requests after cancel");
    assert_eq!(snapshot["status"], "CANCELLED");
    let done_before: Vec<String> = snapshot["pages"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "DONE")
        .map(|p| p["url"].as_str().unwrap().to_string())
        .collect();
    assert!(
        done_before.len() >= 4 && done_before.len() < 31,
        "{done_before:?}"
    );
    // Cancelling twice is a conflict; so is retrying a job that is not finished.
    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { cancelScrapeJob(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&v), Some("CONFLICT"));

    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { retryScrapeJob(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(v["data"]["retryScrapeJob"]["status"], "QUEUED", "{v}");
    let j = wait_status(&app, &token, &id, &["SUCCEEDED", "FAILED"], 30).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    assert_eq!(j["progress"]["pagesFetched"], 31);
    assert_eq!(j["progress"]["leadsCreated"], 30);
    assert_eq!(j["leads"]["totalCount"], 30);
    let counts = site.counts();
    for url in &done_before {
        let path = url.trim_start_matches(&site.url(""));
        assert_eq!(
            counts.get(path),
            Some(&1),
            "{path} fetched again after retry"
        );
    }
    // Only pages in flight at the cancel (concurrency 2) may have been requested twice.
    let extra: usize = (0..30)
        .map(|i| {
            counts
                .get(&format!("/p/{i}"))
                .copied()
                .unwrap_or(0)
                .saturating_sub(1)
        })
        .sum();
    assert!(extra <= 2, "{counts:?}");
    let v = app
        .gql(
            Some(&token),
            "mutation($id: ID!) { retryScrapeJob(id: $id) { status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&v), Some("CONFLICT"));
}

#[tokio::test]
async fn a_worker_dying_mid_job_is_resumed_after_its_lease_with_no_duplicate_leads() {
    let site = many_site(24, Duration::from_millis(40)).await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("WORKER_ENABLED".into(), "false".into())]),
        allow_hosts: vec![site.host()],
        ..Default::default()
    })
    .await;
    let token = app.token(Uuid::now_v7(), Role::Owner).await;
    let id = scrape_job(
        &app,
        &token,
        json!({"source": "WEBSITE", "website": {"urls": [site.url("/")], "maxDepth": 1,
               "requestsPerSecond": 20, "concurrency": 3}}),
    )
    .await;
    let registry = || {
        let mut r = JobRegistry::new();
        r.register(
            leadgraph::domains::scraping::RUN_KIND,
            ScrapeRun(app.state.clone()),
        );
        r
    };
    let lease = Duration::from_millis(900);
    let a = Worker::new(app.state.db.clone(), registry(), lease);
    let a_task = tokio::spawn({
        let a = a.clone();
        async move { a.run_once().await }
    });
    wait_until("worker A to make progress", 15, async || {
        job(&app, &token, &id).await["progress"]["pagesFetched"]
            .as_i64()
            .unwrap()
            >= 6
    })
    .await;
    a_task.abort(); // the worker dies: no heartbeat, no outcome, pages in flight dropped
    let _ = a_task.await;
    let mid = job(&app, &token, &id).await;
    assert_eq!(mid["status"], "RUNNING");
    let fetched_mid = mid["progress"]["pagesFetched"].as_i64().unwrap();
    assert!(fetched_mid < 25, "{mid}");

    let b = Worker::new(app.state.db.clone(), registry(), lease);
    assert!(!b.run_once().await, "the lease still holds");
    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    assert!(b.run_once().await, "B takes the job over");
    let j = job(&app, &token, &id).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    assert_eq!(j["progress"]["pagesFetched"], 25);
    assert_eq!(j["progress"]["leadsCreated"], 24);
    assert_eq!(j["progress"]["leadsFound"], 24);
    let total = app
        .gql(Some(&token), "{ leads { totalCount } }", json!({}))
        .await;
    assert_eq!(
        total["data"]["leads"]["totalCount"], 24,
        "no duplicate leads"
    );
    let counts = site.counts();
    assert_eq!(counts.get("/"), Some(&1), "the index was not fetched again");
    let extra: usize = (0..24)
        .map(|i| {
            counts
                .get(&format!("/p/{i}"))
                .copied()
                .unwrap_or(0)
                .saturating_sub(1)
        })
        .sum();
    assert!(
        extra <= 3,
        "only pages in flight are fetched again: {counts:?}"
    );
    let queue_job = crate::jobs::entity_job(
        &app,
        Uuid::parse_str(
            app.gql(
                Some(&token),
                "query($id: ID!) { scrapeJob(id: $id) { jobId } }",
                json!({"id": id}),
            )
            .await["data"]["scrapeJob"]["jobId"]
                .as_str()
                .unwrap(),
        )
        .unwrap(),
    )
    .await;
    assert_eq!(
        (queue_job.state.as_str(), queue_job.attempts),
        ("succeeded", 2)
    );
}

#[tokio::test]
async fn politeness_spaces_requests_to_a_host() {
    let site = many_site(10, Duration::ZERO).await;
    let app = TestApp::spawn_with(Options::allowing(&[site.host()])).await;
    let token = app.token(Uuid::now_v7(), Role::Owner).await;
    let id = scrape_job(
        &app,
        &token,
        json!({"source": "WEBSITE", "website": {"urls": [site.url("/")], "maxDepth": 1,
               "requestsPerSecond": 5, "concurrency": 4}}),
    )
    .await;
    let j = wait_status(&app, &token, &id, &["SUCCEEDED", "FAILED"], 30).await;
    assert_eq!(j["progress"]["pagesFetched"], 11, "{j}");
    // Every request after robots.txt (sitemap, index, 10 pages) waits its 200 ms turn.
    let times: Vec<Instant> = site
        .hits
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p != "/robots.txt")
        .map(|(_, t)| *t)
        .collect();
    assert_eq!(times.len(), 12);
    let gaps: Vec<u128> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    assert!(gaps.iter().all(|g| *g >= 185), "{gaps:?}");
    let span = (times[11] - times[0]).as_secs_f64();
    let rate = 11.0 / span;
    assert!(rate <= 5.25, "{rate} requests/s");
}

#[tokio::test]
async fn ssrf_guard_refuses_loopback_seeds_and_the_canary_sees_nothing() {
    let canary = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let canary_port = canary.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let c = connections.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = canary.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
        }
    });
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("OUTBOUND_ALLOW_PRIVATE_NETWORKS".into(), "false".into())]),
        ..Default::default()
    })
    .await;
    let token = app.token(Uuid::now_v7(), Role::Owner).await;
    // An IP literal is refused when the job is created.
    let v = app
        .gql(
            Some(&token),
            CREATE,
            json!({"i": fast_website(vec![format!("http://127.0.0.1:{canary_port}/")])}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "input.website.urls[0]"
    );
    // A name resolving to loopback passes the syntax check and is refused at connect time.
    let id = scrape_job(
        &app,
        &token,
        fast_website(vec![format!("http://localhost:{canary_port}/")]),
    )
    .await;
    let j = wait_status(&app, &token, &id, &["SUCCEEDED", "FAILED"], 20).await;
    assert_eq!(j["status"], "FAILED", "{j}");
    let err = j["error"].as_str().unwrap();
    assert!(err.contains("private or reserved network address"), "{err}");
    assert_eq!(j["pages"]["nodes"][0]["status"], "FAILED");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the canary was contacted"
    );
}

// ---- Brave Search and Google Places against local fakes ---------------------------------------

fn brave_results(site: &Fixture, paths: &[&str], more: bool) -> Value {
    json!({
        "type": "search",
        "query": {"original": "acme", "more_results_available": more},
        "web": {"type": "search", "results": paths.iter().map(|p| json!({
            "title": format!("Result {p}"), "url": site.url(p), "description": "…"
        })).collect::<Vec<_>>()}
    })
}

#[tokio::test]
async fn brave_search_pages_backs_off_on_429_caches_and_crawls_the_results() {
    let site = Fixture::start(vec![
        (
            "/a",
            html(
                "A | Alpha",
                r#"<p>a@alpha-fixture.com</p><a href="/a-child">child</a>"#,
            ),
        ),
        ("/b", html("B | Beta", "<p>b@beta-fixture.com</p>")),
        ("/c", html("C | Gamma", "<p>c@gamma-fixture.com</p>")),
        ("/a-child", html("Child", "<p>child@alpha-fixture.com</p>")),
    ])
    .await;
    let brave = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/res/v1/web/search"))
        .and(query_param("offset", "0"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&brave)
        .await;
    Mock::given(method("GET"))
        .and(path("/res/v1/web/search"))
        .and(query_param("q", "acme dentists"))
        .and(query_param("count", "2"))
        .and(query_param("offset", "0"))
        .and(has_header("x-subscription-token", "brave-test-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(brave_results(
            &site,
            &["/a", "/b"],
            true,
        )))
        .mount(&brave)
        .await;
    Mock::given(method("GET"))
        .and(path("/res/v1/web/search"))
        .and(query_param("offset", "1"))
        .and(has_header("x-subscription-token", "brave-test-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(brave_results(
            &site,
            &["/c"],
            false,
        )))
        .mount(&brave)
        .await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("BRAVE_API_KEY".into(), "brave-test-key".into()),
            ("BRAVE_BASE_URL".into(), brave.uri()),
        ]),
        allow_hosts: vec![site.host()],
        ..Default::default()
    })
    .await;
    let token = app.token(Uuid::now_v7(), Role::Owner).await;
    let input = json!({"source": "SEARCH", "search": {"query": "acme dentists", "count": 2, "pages": 5, "requestsPerSecond": 50}});
    let started = Instant::now();
    let id = scrape_job(&app, &token, input.clone()).await;
    let j = wait_status(&app, &token, &id, &["SUCCEEDED", "FAILED"], 30).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(
        emails(&j),
        [
            "a@alpha-fixture.com",
            "b@beta-fixture.com",
            "c@gamma-fixture.com"
        ]
    );
    assert!(j["leads"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["source"] == "SEARCH"));
    assert_eq!(site.count("/a-child"), 0, "crawlDepth 0: result pages only");
    // 429 + 200 for the first page, 200 for the second (fewer results than count: no third).
    assert_eq!(brave.received_requests().await.unwrap().len(), 3);

    // The same search again: answered from the cache; the leads are found again, not duplicated.
    let id2 = scrape_job(&app, &token, input).await;
    let j2 = wait_status(&app, &token, &id2, &["SUCCEEDED", "FAILED"], 30).await;
    assert_eq!(j2["status"], "SUCCEEDED", "{j2}");
    assert_eq!(
        brave.received_requests().await.unwrap().len(),
        3,
        "cache hit"
    );
    assert_eq!(j2["progress"]["leadsCreated"], 0);
    assert_eq!(j2["progress"]["leadsUpdated"], 3);
    let total = app
        .gql(Some(&token), "{ leads { totalCount } }", json!({}))
        .await;
    assert_eq!(total["data"]["leads"]["totalCount"], 3);
}

#[tokio::test]
async fn google_places_pages_fills_in_details_backs_off_and_caches() {
    let places = MockServer::start().await;
    let place = |id: &str, name: &str, phone: Option<&str>, site: Option<&str>| {
        let mut p = json!({
            "id": id, "displayName": {"text": name, "languageCode": "en"},
            "formattedAddress": "1 Main St, Austin, TX 78701, USA",
            "location": {"latitude": 30.27, "longitude": -97.74},
            "addressComponents": [
                {"longText": "Austin", "shortText": "Austin", "types": ["locality", "political"]},
                {"longText": "Texas", "shortText": "TX", "types": ["administrative_area_level_1", "political"]},
                {"longText": "United States", "shortText": "US", "types": ["country", "political"]}
            ]
        });
        if let Some(ph) = phone {
            p["internationalPhoneNumber"] = json!(ph);
            p["nationalPhoneNumber"] = json!("(512) 555-0100");
        }
        if let Some(s) = site {
            p["websiteUri"] = json!(s);
        }
        p
    };
    Mock::given(method("POST"))
        .and(path("/v1/places:searchText"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&places)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/places:searchText"))
        .and(body_partial_json(json!({"pageToken": "page-2"})))
        .and(has_header("x-goog-api-key", "places-test-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "places": [place("p3", "Gamma Dental", Some("+1 512-555-2673"), None)]
        })))
        .with_priority(2)
        .mount(&places)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/places:searchText"))
        .and(body_partial_json(json!({"textQuery": "dentists in austin", "pageSize": 20})))
        .and(has_header("x-goog-api-key", "places-test-key"))
        .and(header_exists("x-goog-fieldmask"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "places": [
                place("p1", "Alpha Dental", Some("+1 512-555-2671"), Some("https://alpha-dental.example/")),
                place("p2", "Beta Dental", None, None)
            ],
            "nextPageToken": "page-2"
        })))
        .with_priority(3)
        .mount(&places)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/places/p2"))
        .and(has_header("x-goog-api-key", "places-test-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "p2", "displayName": {"text": "Beta Dental"},
            "internationalPhoneNumber": "+1 512-555-2672", "websiteUri": "https://beta-dental.example/"
        })))
        .mount(&places)
        .await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("GOOGLE_PLACES_API_KEY".into(), "places-test-key".into()),
            ("GOOGLE_PLACES_BASE_URL".into(), places.uri()),
        ]),
        ..Default::default()
    })
    .await;
    let token = app.token(Uuid::now_v7(), Role::Owner).await;
    let input = json!({"source": "GOOGLE_MAPS", "googleMaps": {"query": "dentists in austin",
        "location": {"latitude": 30.27, "longitude": -97.74}, "radius": 10000, "maxResults": 40}});
    let id = scrape_job(&app, &token, input.clone()).await;
    let j = wait_status(&app, &token, &id, &["SUCCEEDED", "FAILED"], 30).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    let mut got: Vec<(String, String, String)> = j["leads"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["source"], "GOOGLE_MAPS");
            (
                l["company"].as_str().unwrap().to_string(),
                l["phone"].as_str().unwrap().to_string(),
                l["website"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "Alpha Dental".into(),
                "+15125552671".into(),
                "https://alpha-dental.example/".into()
            ),
            (
                "Beta Dental".into(),
                "+15125552672".into(),
                "https://beta-dental.example/".into()
            ),
            ("Gamma Dental".into(), "+15125552673".into(), "-".into()),
        ]
    );
    let v = app
        .gql(
            Some(&token),
            "{ leads(filter: {city: \"austin\", country: \"US\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["leads"]["totalCount"], 3, "{v}");
    // 503 + page 1 + page 2 + details of the place without contact data.
    let calls = places.received_requests().await.unwrap();
    assert_eq!(calls.len(), 4, "{calls:?}");
    // (wiremock splits header values at commas, so the field mask is compared here.)
    assert_eq!(
        calls[1]
            .headers
            .get("x-goog-fieldmask")
            .unwrap()
            .to_str()
            .unwrap(),
        leadgraph::domains::scraping::SEARCH_FIELDS
    );
    let first: Value = serde_json::from_slice(&calls[1].body).unwrap();
    assert_eq!(first["locationBias"]["circle"]["radius"], 10000.0);

    let id2 = scrape_job(&app, &token, input).await;
    let j2 = wait_status(&app, &token, &id2, &["SUCCEEDED", "FAILED"], 30).await;
    assert_eq!(j2["progress"]["leadsUpdated"], 3, "{j2}");
    assert_eq!(
        places.received_requests().await.unwrap().len(),
        4,
        "cache hit"
    );
}

// ---- API rules -------------------------------------------------------------------------------

#[tokio::test]
async fn scrape_api_is_authenticated_scoped_authorized_and_validated() {
    let site = many_site(1, Duration::ZERO).await;
    let app = TestApp::spawn_with(Options::allowing(&[site.host()])).await;
    let (org_a, org_b) = (Uuid::now_v7(), Uuid::now_v7());
    let owner_a = app.token(org_a, Role::Owner).await;
    let viewer_a = app.token(org_a, Role::Viewer).await;
    let member_a = app.token(org_a, Role::Member).await;
    let owner_b = app.token(org_b, Role::Owner).await;

    let input = fast_website(vec![site.url("/")]);
    let v = app.gql(None, CREATE, json!({"i": input})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
    let v = app.gql(Some(&viewer_a), CREATE, json!({"i": input})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"));
    let id = scrape_job(&app, &member_a, input.clone()).await;
    let other = scrape_job(&app, &owner_b, input.clone()).await;
    wait_status(&app, &owner_a, &id, &["SUCCEEDED"], 20).await;

    // Lists are per organization and filterable.
    let v = app
        .gql(
            Some(&viewer_a),
            "{ scrapeJobs(filter: {status: [SUCCEEDED], source: [WEBSITE]}) { totalCount nodes { id name source } } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["scrapeJobs"]["totalCount"], 1, "{v}");
    assert_eq!(v["data"]["scrapeJobs"]["nodes"][0]["id"], id.as_str());
    assert_eq!(v["data"]["scrapeJobs"]["nodes"][0]["name"], "127.0.0.1");
    let v = app
        .gql(
            Some(&viewer_a),
            "{ scrapeJobs(filter: {status: [FAILED]}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["scrapeJobs"]["totalCount"], 0);

    // Another organization's job reads as missing everywhere.
    let v = app
        .gql(
            Some(&owner_a),
            "query($id: ID!) { scrapeJob(id: $id) { id } }",
            json!({"id": other}),
        )
        .await;
    assert!(v["data"]["scrapeJob"].is_null(), "{v}");
    for m in [
        "mutation($id: ID!) { cancelScrapeJob(id: $id) { id } }",
        "mutation($id: ID!) { retryScrapeJob(id: $id) { id } }",
        "mutation($id: ID!) { deleteScrapeJob(id: $id) }",
    ] {
        for bad in [other.clone(), Uuid::now_v7().to_string(), "nope".into()] {
            let v = app.gql(Some(&owner_a), m, json!({"id": bad})).await;
            assert_eq!(code(&v), Some("NOT_FOUND"), "{m} {v}");
        }
    }
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(&owner_a).await;
    ws.send(json!({"type": "subscribe", "id": "x", "payload": {
        "query": "subscription($id: ID!) { scrapeJobProgress(jobId: $id) { status } }",
        "variables": {"id": other}}}))
        .await;
    let m = ws.next_json(5).await;
    let err = if m["type"] == "error" {
        &m["payload"][0]
    } else {
        &m["payload"]["errors"][0]
    };
    assert_eq!(err["extensions"]["code"], "NOT_FOUND", "{m}");
    // A finished job's subscription sends its final state and completes.
    let mut ws = subscribe_progress(&app, &owner_a, &id).await;
    let msgs = collect_until_complete(&mut ws, 5).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        (&msgs[0]["status"], &msgs[0]["isFinal"]),
        (&json!("SUCCEEDED"), &json!(true))
    );

    // Invalid input: every bad field, with its path.
    let v = app
        .gql(
            Some(&owner_a),
            CREATE,
            json!({"i": {"source": "WEBSITE", "website": {"urls": ["ftp://x.example/", "notaurl"],
                   "maxDepth": 9, "maxPages": 20000, "requestsPerSecond": 0.01, "concurrency": 0},
                   "googleMaps": {"query": "x"}}}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    let fields: Vec<&str> = v["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "input.googleMaps",
            "input.website.urls[0]",
            "input.website.urls[1]",
            "input.website.maxDepth",
            "input.website.maxPages",
            "input.website.requestsPerSecond",
            "input.website.concurrency"
        ]
    );
    for (input, field) in [
        (json!({"source": "SEARCH"}), "input.search"),
        (json!({"source": "CRAIGSLIST"}), "input.craigslist"),
        (json!({"source": "SOCIAL"}), "input.social"),
        (
            json!({"source": "SEARCH", "search": {"query": "x"}}),
            "input.source",
        ),
        (
            json!({"source": "WEBSITE", "website": {"urls": []}}),
            "input.website.urls",
        ),
    ] {
        let v = app.gql(Some(&owner_a), CREATE, json!({"i": input})).await;
        assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
        assert_eq!(
            v["errors"][0]["extensions"]["fields"][0]["field"], field,
            "{v}"
        );
    }
    assert!(app
        .gql(
            Some(&owner_a),
            CREATE,
            json!({"i": {"source": "SOCIAL", "social": {"jobTitle": "CTO", "country": "US"}}})
        )
        .await["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("not available"));

    // Delete: MANAGER+; the leads stay.
    let del = "mutation($id: ID!) { deleteScrapeJob(id: $id) }";
    let v = app.gql(Some(&member_a), del, json!({"id": id})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"));
    let v = app.gql(Some(&owner_a), del, json!({"id": id})).await;
    assert_eq!(v["data"]["deleteScrapeJob"], id.as_str(), "{v}");
    let v = app
        .gql(
            Some(&owner_a),
            "query($id: ID!) { scrapeJob(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert!(v["data"]["scrapeJob"].is_null());
    let v = app
        .gql(Some(&owner_a), "{ leads { totalCount } }", json!({}))
        .await;
    assert_eq!(v["data"]["leads"]["totalCount"], 1);
}

#[tokio::test]
async fn audiences_save_list_resolve_update_delete() {
    let app = TestApp::spawn().await;
    let (org_a, org_b) = (Uuid::now_v7(), Uuid::now_v7());
    let a = app.token(org_a, Role::Member).await;
    let viewer = app.token(org_a, Role::Viewer).await;
    let b = app.token(org_b, Role::Owner).await;
    for (company, tags) in [
        ("Acme", vec!["vip"]),
        ("Beta", vec!["vip", "eu"]),
        ("Gamma", vec![]),
    ] {
        let v = app
            .gql(
                Some(&a),
                "mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }",
                json!({"i": {"company": company, "tags": tags}}),
            )
            .await;
        assert!(v["errors"].is_null(), "{v}");
    }
    let save = "mutation($n: String!, $f: LeadFilter!) { saveAudience(name: $n, filter: $f) { id name filter } }";
    let v = app
        .gql(
            Some(&a),
            save,
            json!({"n": "VIPs", "f": {"tags": {"any": ["VIP"]}}}),
        )
        .await;
    let aud = &v["data"]["saveAudience"];
    assert_eq!(aud["name"], "VIPs", "{v}");
    assert_eq!(aud["filter"]["tags"]["any"], json!(["VIP"]));
    let id = aud["id"].as_str().unwrap().to_string();
    // The saved filter reads back in the LeadFilter shape and resolves to its leads.
    let q = "query($id: ID!) { audience(id: $id) { name leads(orderBy: {field: COMPANY, direction: ASC}) { totalCount nodes { company } } } }";
    let v = app.gql(Some(&viewer), q, json!({"id": id})).await;
    assert_eq!(v["data"]["audience"]["leads"]["totalCount"], 2, "{v}");
    assert_eq!(
        v["data"]["audience"]["leads"]["nodes"],
        json!([{"company": "Acme"}, {"company": "Beta"}])
    );
    // Names are unique; filters are validated like `leads(filter:)`; VIEWER may not save.
    let v = app.gql(Some(&a), save, json!({"n": "VIPs", "f": {}})).await;
    assert_eq!(code(&v), Some("CONFLICT"));
    let v = app
        .gql(
            Some(&a),
            save,
            json!({"n": "Bad", "f": {"ownerId": "nope"}}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "filter.ownerId"
    );
    let v = app.gql(Some(&a), save, json!({"n": " ", "f": {}})).await;
    assert_eq!(v["errors"][0]["extensions"]["fields"][0]["field"], "name");
    let v = app
        .gql(Some(&viewer), save, json!({"n": "X", "f": {}}))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));

    let v = app
        .gql(
            Some(&a),
            "mutation($id: ID!) { updateAudience(id: $id, input: {name: \"EU VIPs\", filter: {tags: {all: [\"vip\", \"eu\"]}}}) { name } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(v["data"]["updateAudience"]["name"], "EU VIPs", "{v}");
    let v = app.gql(Some(&a), q, json!({"id": id})).await;
    assert_eq!(
        v["data"]["audience"]["leads"]["nodes"],
        json!([{"company": "Beta"}])
    );
    let v = app
        .gql(
            Some(&a),
            "{ audiences { totalCount nodes { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(v["data"]["audiences"]["totalCount"], 1);

    // Other organizations see nothing and can change nothing.
    let v = app.gql(Some(&b), q, json!({"id": id})).await;
    assert!(v["data"]["audience"].is_null());
    let v = app
        .gql(
            Some(&b),
            "mutation($id: ID!) { deleteAudience(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"));
    let v = app
        .gql(Some(&b), "{ audiences { totalCount } }", json!({}))
        .await;
    assert_eq!(v["data"]["audiences"]["totalCount"], 0);

    let v = app
        .gql(
            Some(&a),
            "mutation($id: ID!) { deleteAudience(id: $id) }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(v["data"]["deleteAudience"], id.as_str());
    let v = app.gql(Some(&a), q, json!({"id": id})).await;
    assert!(v["data"]["audience"].is_null());
}

// ---- statement counts of nested lists (issue 22) ---------------------------------------------

/// Statements of `doc` at root and nested page sizes 4 and 10 on `crate::fixtures::rich_dataset`
/// (12 of everything); the pages must be full.
async fn nested_statements(root: &str, doc: &str) -> Vec<usize> {
    let app = TestApp::spawn_with(Options::with_env(&[
        ("RECORD_SQL", "true"),
        ("COMPILED_READS", "false"),
        ("MAX_QUERY_COMPLEXITY", "100000000"),
    ]))
    .await;
    let (me, org) = crate::fixtures::owner(&app).await;
    crate::fixtures::rich_dataset(&app, org, me.id, 12).await;
    let mut counts = Vec::new();
    for n in [4, 10] {
        app.state.sql_log.take();
        let v = app.gql(Some(&me.token), doc, json!({ "n": n })).await;
        assert!(v.get("errors").is_none(), "{v}");
        let nodes = v["data"][root]["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), n);
        assert_eq!(
            nodes[n - 1]["leads"]["nodes"].as_array().map(Vec::len),
            Some(n)
        );
        counts.push(app.request_statements().len());
    }
    counts
}

/// `ScrapeJob.leads` and `.pages` load for the whole page of jobs (one statement each), and the
/// leads shown under every job are one page: their tags, owners, campaigns and analyses load
/// once for the request.
#[tokio::test]
async fn nested_job_leads_and_pages_cost_the_same_statements_at_any_page_size() {
    let doc = "query($n: Int!) { scrapeJobs(first: $n) { nodes { id
        leads(first: $n) { nodes { id tags owner { id } campaigns { status } analysis { id } } }
        pages(first: $n) { nodes { id url } } } } }";
    let counts = nested_statements("scrapeJobs", doc).await;
    assert_eq!(counts[0], counts[1], "statements at 4 / 10 jobs");
}

/// `Audience.leads` for a whole page of audiences is one statement (a `UNION ALL` of each
/// audience's own filtered page), and their leads one page.
#[tokio::test]
async fn nested_audience_leads_cost_the_same_statements_at_any_page_size() {
    let doc = "query($n: Int!) { audiences(first: $n) { nodes { id
        leads(first: $n) { nodes { id tags owner { id } campaigns { status } analysis { id } } } } } }";
    let counts = nested_statements("audiences", doc).await;
    assert_eq!(counts[0], counts[1], "statements at 4 / 10 audiences");
}
