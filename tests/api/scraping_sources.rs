//! The CRAIGSLIST, JOB_BOARDS and SOCIAL sources against local fakes, organization-level API
//! keys (`updateScrapingSettings` / `scrapingSettings`) and the MX check against a fake DNS
//! server on loopback UDP.

use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    http::{header, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use leadgraph::{
    auth::Role,
    platform::{
        mx::{self, MxStatus},
        sources_config::SourcesConfig,
    },
};
use serde_json::{json, Value};
use uuid::Uuid;
use wiremock::{
    matchers::{header as has_header, method, path, query_param},
    Mock, MockServer, ResponseTemplate,
};

use crate::{
    fake_dns::FakeDns,
    fixtures::{field_errors, scrape_job},
    helpers::{code, Options, TestApp},
};

// ---- helpers ---------------------------------------------------------------------------------

/// A tiny site on loopback: `pages` by path (with query, when given), `{base}` replaced; a path
/// listed in `throttle` answers 429 that many times first.
struct Site {
    port: u16,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Site {
    async fn start(pages: Vec<(&str, String)>, throttle: Vec<(&str, usize)>) -> Site {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}");
        let pages: Arc<HashMap<String, String>> = Arc::new(
            pages
                .into_iter()
                .map(|(p, s)| (p.to_string(), s.replace("{base}", &base)))
                .collect(),
        );
        let throttle: Arc<Mutex<HashMap<String, usize>>> = Arc::new(Mutex::new(
            throttle
                .into_iter()
                .map(|(p, n)| (p.to_string(), n))
                .collect(),
        ));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let h = hits.clone();
        let app = Router::new().fallback(move |uri: Uri| {
            let (pages, hits, throttle) = (pages.clone(), h.clone(), throttle.clone());
            async move {
                let full = uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default();
                hits.lock().unwrap().push(full.clone());
                {
                    let mut t = throttle.lock().unwrap();
                    if let Some(n) = t.get_mut(uri.path()) {
                        if *n > 0 {
                            *n -= 1;
                            return StatusCode::TOO_MANY_REQUESTS.into_response();
                        }
                    }
                }
                let body = pages.get(&full).or_else(|| pages.get(uri.path())).cloned();
                match body {
                    Some(s) if uri.path() == "/robots.txt" => s.into_response(),
                    Some(s) => html_response(s),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Site { port, hits }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
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
            .filter(|p| p.split('?').next() == Some(path))
            .count()
    }
}

fn html_response(s: String) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], s).into_response()
}

fn page(title: &str, body: &str) -> String {
    format!("<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>")
}

const CREATE: &str =
    "mutation($i: CreateScrapeJobInput!) { createScrapeJob(input: $i) { id status source name } }";
const JOB: &str = "query($id: ID!) { scrapeJob(id: $id) { id status error
  progress { pagesFetched pagesFailed pagesSkipped leadsFound leadsCreated }
  pages(first: 200) { nodes { url status depth error } }
  leads(first: 200) { totalCount nodes { source email phone company website tags customFields location { city region country } } } } }";
const SETTINGS: &str = "{ scrapingSettings { hasBraveApiKey hasGooglePlacesApiKey hasSocialApiKey searchAvailable googleMapsAvailable socialAvailable updatedAt } }";
const UPDATE: &str = "mutation($i: UpdateScrapingSettingsInput!) { updateScrapingSettings(input: $i) { hasBraveApiKey hasGooglePlacesApiKey hasSocialApiKey searchAvailable googleMapsAvailable socialAvailable } }";

async fn wait_done(app: &TestApp, token: &str, id: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = app.gql(Some(token), JOB, json!({"id": id})).await;
        assert!(v["errors"].is_null(), "{v}");
        let j = v["data"]["scrapeJob"].clone();
        if matches!(
            j["status"].as_str(),
            Some("SUCCEEDED") | Some("FAILED") | Some("CANCELLED")
        ) {
            return j;
        }
        assert!(Instant::now() < deadline, "job never finished: {j}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `scrape.completed` events recorded in the outbox for job `id`, with the organization.
async fn completed_events(app: &TestApp, id: &str) -> Vec<(Uuid, Value)> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::EventType.eq("scrape.completed"))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.payload.to_string().contains(id))
        .map(|e| (e.org_id, e.payload))
        .collect()
}

fn leads_by_email(j: &Value) -> HashMap<String, Value> {
    j["leads"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| Some((l["email"].as_str()?.to_string(), l.clone())))
        .collect()
}

fn sorted_emails(j: &Value) -> Vec<String> {
    let mut e: Vec<String> = leads_by_email(j).into_keys().collect();
    e.sort();
    e
}

// ---- CRAIGSLIST ------------------------------------------------------------------------------

#[tokio::test]
async fn craigslist_search_pages_seed_the_listing_pages_with_backoff_and_robots() {
    let listing = |n: u32, body: &str| {
        (
            format!("/sfc/bbb/d/listing-{n}/77000000{n:02}.html"),
            page(&format!("Listing {n}"), body),
        )
    };
    let (l1, p1) = listing(
        1,
        "<p>Call Bob's Plumbing: bob@plumb-fixture.com, (415) 555-2671</p>",
    );
    let (l2, p2) = listing(
        2,
        "<p>Handyman, write to handy [at] fix-fixture [dot] com</p>",
    );
    let (l3, p3) = listing(3, "<p>Painter: paint@color-fixture.com</p>");
    let search1 = page(
        "sfbay bbb",
        &format!(
            r#"<ol><li class="cl-static-search-result"><a href="{{base}}{l1}">1</a></li>
               <li class="cl-static-search-result"><a href="{l2}">2</a></li>
               <li class="cl-static-search-result"><a href="/private/bbb/d/x/7700000099.html">hidden</a></li>
               <li><a href="/about/help.html">help</a></li></ol>"#
        ),
    );
    let search2 = page(
        "sfbay bbb",
        &format!(r#"<ol><li class="cl-static-search-result"><a href="{l3}">3</a></li></ol>"#),
    );
    let site = Site::start(
        vec![
            ("/robots.txt", "User-agent: *\nDisallow: /private/\n".into()),
            ("/search/bbb?query=plumber", search1),
            ("/search/bbb?query=plumber&s=3", search2),
            ("/search/bbb?query=plumber&s=4", page("empty", "<ol></ol>")),
            (&l1, p1),
            (&l2, p2),
            (&l3, p3),
            (
                "/private/bbb/d/x/7700000099.html",
                page("p", "secret@private-fixture.com"),
            ),
        ],
        vec![("/search/bbb", 1)],
    )
    .await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("CRAIGSLIST_BASE_URL".into(), site.base())]),
        allow_hosts: vec![site.host()],
        ..Default::default()
    })
    .await;
    let (org_a, org_b) = (Uuid::now_v7(), Uuid::now_v7());
    let member = app.token(org_a, Role::Member).await;
    let other = app.token(org_b, Role::Owner).await;
    let input = json!({"source": "CRAIGSLIST", "craigslist": {
        "city": "sfbay", "category": "bbb", "query": "plumber", "maxListings": 10,
        "requestsPerSecond": 5}});

    // Unauthenticated and read-only callers cannot start it.
    let v = app.gql(None, CREATE, json!({"i": input})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
    let v = app
        .gql(
            Some(&app.token(org_a, Role::Viewer).await),
            CREATE,
            json!({"i": input}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));

    let started = Instant::now();
    let id = scrape_job(&app, &member, input.clone()).await;
    let j = wait_done(&app, &member, &id, 30).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the 429 on the search page was backed off"
    );
    // Search page: 429, then page 1 (2 listings + 1 disallowed), page 2 (1 listing), page 3
    // (nothing new: the end).
    assert_eq!(site.count("/search/bbb"), 4);
    assert_eq!(
        sorted_emails(&j),
        [
            "bob@plumb-fixture.com",
            "handy@fix-fixture.com",
            "paint@color-fixture.com"
        ]
    );
    let bob = &leads_by_email(&j)["bob@plumb-fixture.com"];
    assert_eq!(bob["phone"], "+14155552671", "US is the default country");
    assert_eq!(
        bob["source"], "CRAIGSLIST",
        "the lead names the source it came from"
    );
    // robots.txt: the disallowed listing is skipped, never fetched.
    assert_eq!(site.count("/private/bbb/d/x/7700000099.html"), 0);
    let pages = j["pages"]["nodes"].as_array().unwrap();
    assert_eq!(pages.len(), 4, "{j}");
    assert!(pages.iter().all(|p| p["depth"] == 0));
    assert!(pages
        .iter()
        .any(|p| p["url"].as_str().unwrap().contains("/private/") && p["status"] == "SKIPPED"));
    assert_eq!(site.count("/about/help.html"), 0, "not a listing");
    // The run recorded its completion event for the job's organization, with the counts.
    let events = completed_events(&app, &id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, org_a);
    assert!(
        events[0].1.to_string().contains("\"leadsCreated\":3"),
        "{events:?}"
    );

    // Another organization cannot see it.
    let v = app
        .gql(
            Some(&other),
            "query($id: ID!) { scrapeJob(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert!(v["data"]["scrapeJob"].is_null(), "{v}");

    // Invalid input: every bad field at once, with its path.
    let v = app
        .gql(
            Some(&member),
            CREATE,
            json!({"i": {"source": "CRAIGSLIST", "craigslist": {"city": "sf bay", "category": "b1", "maxListings": 0}}}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert_eq!(
        field_errors(&v),
        [
            "input.craigslist.city",
            "input.craigslist.category",
            "input.craigslist.maxListings"
        ]
    );
    let v = app
        .gql(
            Some(&member),
            CREATE,
            json!({"i": {"source": "CRAIGSLIST"}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.craigslist"]);
}

#[tokio::test]
async fn craigslist_search_page_disallowed_by_robots_fails_the_job_without_fetching_it() {
    let site = Site::start(
        vec![
            ("/robots.txt", "User-agent: *\nDisallow: /search\n".into()),
            (
                "/search/sss",
                page("s", "<a href=\"/x/7700000001.html\">1</a>"),
            ),
        ],
        vec![],
    )
    .await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("CRAIGSLIST_BASE_URL".into(), site.base())]),
        allow_hosts: vec![site.host()],
        ..Default::default()
    })
    .await;
    let token = app.token(Uuid::now_v7(), Role::Owner).await;
    let id = scrape_job(
        &app,
        &token,
        json!({"source": "CRAIGSLIST", "craigslist": {"city": "austin", "category": "sss"}}),
    )
    .await;
    let j = wait_done(&app, &token, &id, 20).await;
    assert_eq!(j["status"], "FAILED", "{j}");
    assert!(j["error"].as_str().unwrap().contains("robots.txt"), "{j}");
    assert_eq!(site.count("/search/sss"), 0);
}

// ---- JOB_BOARDS ------------------------------------------------------------------------------

#[tokio::test]
async fn job_boards_greenhouse_and_lever_become_hiring_leads_and_crawl_company_sites() {
    let company = Site::start(
        vec![
            ("/robots.txt", String::new()),
            (
                "/",
                page(
                    "Acme Robotics",
                    r#"<p>Sales: sales@acme-fixture.com</p><a href="/team">team</a>"#,
                ),
            ),
            ("/team", page("Team", "<p>ceo@acme-fixture.com</p>")),
        ],
        vec![],
    )
    .await;
    let gh = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/boards/acme/jobs"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/boards/acme/jobs"))
        .and(query_param("content", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"jobs": [
            {"id": 11, "title": "Senior Rust Engineer", "company_name": "Acme",
             "absolute_url": format!("{}/careers?gh_jid=11", company.base()),
             "location": {"name": "Remote"},
             "content": "&lt;p&gt;Questions: &lt;a href=&quot;mailto:talent@acme-fixture.com&quot;&gt;talent@acme-fixture.com&lt;/a&gt;&lt;/p&gt;"},
            {"id": 12, "title": "Office Manager", "company_name": "Acme",
             "absolute_url": format!("{}/careers?gh_jid=12", company.base()),
             "content": "&lt;p&gt;office@acme-fixture.com&lt;/p&gt;"}
        ], "meta": {"total": 2}})))
        .mount(&gh)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/boards/acme"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"name": "Acme Robotics", "content": ""})),
        )
        .mount(&gh)
        .await;
    // An unknown board: 404, skipped.
    Mock::given(method("GET"))
        .and(path("/v1/boards/ghost/jobs"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"status": 404})))
        .mount(&gh)
        .await;
    let lever = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v0/postings/beta"))
        .and(query_param("mode", "json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "p1", "text": "Rust Engineer", "hostedUrl": "https://jobs.lever.co/beta/p1",
             "categories": {"location": "Berlin", "team": "Eng"},
             "description": "<div>Build things.</div>",
             "lists": [{"text": "Apply", "content": "<li>Mail hiring@beta-fixture.com</li>"}],
             "additional": ""}
        ])))
        .mount(&lever)
        .await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("GREENHOUSE_BASE_URL".into(), gh.uri()),
            ("LEVER_BASE_URL".into(), lever.uri()),
        ]),
        allow_hosts: vec![company.host()],
        ..Default::default()
    })
    .await;
    let token = app.token(Uuid::now_v7(), Role::Member).await;
    let id = scrape_job(
        &app,
        &token,
        json!({"source": "JOB_BOARDS", "jobBoards": {"provider": "GREENHOUSE",
            "boards": ["acme", "ghost"], "keywords": ["engineer"], "crawlDepth": 1,
            "requestsPerSecond": 50}}),
    )
    .await;
    let j = wait_done(&app, &token, &id, 30).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    // From the matching job's description, and from the company's site (depth 1).
    assert_eq!(
        sorted_emails(&j),
        [
            "ceo@acme-fixture.com",
            "sales@acme-fixture.com",
            "talent@acme-fixture.com"
        ],
        "the Office Manager job does not match the keywords"
    );
    let talent = &leads_by_email(&j)["talent@acme-fixture.com"];
    assert_eq!(talent["company"], "Acme Robotics");
    assert_eq!(talent["source"], "JOB_BOARDS");
    assert_eq!(talent["website"], format!("{}/", company.base()));
    assert_eq!(
        talent["customFields"]["jobTitles"],
        json!(["Senior Rust Engineer"])
    );
    assert_eq!(talent["customFields"]["openJobs"], 1);
    assert_eq!(talent["customFields"]["jobBoard"]["provider"], "GREENHOUSE");
    assert!(talent["tags"]
        .as_array()
        .unwrap()
        .contains(&json!("hiring")));
    assert_eq!(company.count("/"), 1);
    assert_eq!(company.count("/team"), 1);
    // 429 then 200 for the jobs, plus the board's info; one 404 for the unknown board.
    let jobs_calls = gh
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/boards/acme/jobs")
        .count();
    assert_eq!(jobs_calls, 2);

    // Lever.
    let id = scrape_job(
        &app,
        &token,
        json!({"source": "JOB_BOARDS", "jobBoards": {"provider": "LEVER", "boards": ["beta"]}}),
    )
    .await;
    let j = wait_done(&app, &token, &id, 30).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    assert_eq!(sorted_emails(&j), ["hiring@beta-fixture.com"]);
    let l = &leads_by_email(&j)["hiring@beta-fixture.com"];
    assert_eq!(l["company"], "beta");
    assert_eq!(l["customFields"]["jobTitles"], json!(["Rust Engineer"]));

    // Only unknown boards: the job fails with the provider's answer.
    let id = scrape_job(
        &app,
        &token,
        json!({"source": "JOB_BOARDS", "jobBoards": {"provider": "GREENHOUSE", "boards": ["ghost"]}}),
    )
    .await;
    let j = wait_done(&app, &token, &id, 30).await;
    assert_eq!(j["status"], "FAILED", "{j}");
    assert!(j["error"].as_str().unwrap().contains("404"), "{j}");

    // Validation.
    let v = app
        .gql(
            Some(&token),
            CREATE,
            json!({"i": {"source": "JOB_BOARDS", "jobBoards": {"provider": "LEVER",
                "boards": ["ok", "bad/board"], "keywords": [" "], "crawlDepth": 2}}}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    assert_eq!(
        field_errors(&v),
        [
            "input.jobBoards.boards[1]",
            "input.jobBoards.keywords[0]",
            "input.jobBoards.crawlDepth"
        ]
    );
    let v = app
        .gql(
            Some(&token),
            CREATE,
            json!({"i": {"source": "JOB_BOARDS", "jobBoards": {"provider": "LEVER", "boards": []}}}),
        )
        .await;
    assert_eq!(field_errors(&v), ["input.jobBoards.boards"]);
}

// ---- SOCIAL, organization keys, MX -----------------------------------------------------------

fn person(n: &str, email: &str, company: &str) -> Value {
    json!({"linkedin_profile_url": format!("https://www.linkedin.com/in/{n}"), "profile": {
        "full_name": format!("{n} Doe"), "first_name": n, "last_name": "Doe",
        "occupation": format!("CTO at {company}"), "headline": "Builder",
        "city": "Austin", "state": "Texas", "country": "US",
        "experiences": [{"company": company, "title": "CTO", "ends_at": null}],
        "personal_emails": [email], "personal_numbers": []}})
}

#[tokio::test]
async fn social_needs_a_key_uses_the_organization_key_pages_backs_off_and_flags_mx() {
    let dns = FakeDns::start().await;
    let provider = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/search/person"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&provider)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/search/person"))
        .and(query_param("country", "US"))
        .and(query_param("current_role_title", "CTO"))
        .and(query_param("page_size", "3"))
        .and(query_param("enrich_profiles", "enrich"))
        .and(has_header("authorization", "Bearer org-social-key-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [person("ann", "ann@mx-ok.test", "Acme"), person("ben", "ben@nx.test", "Beta"),
                        {"linkedin_profile_url": "https://www.linkedin.com/in/ghost", "profile": null}],
            "next_page": format!("{}/api/v2/search/person?page=2", provider.uri()),
            "total_result_count": 4})))
        .mount(&provider)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/search/person"))
        .and(query_param("page", "2"))
        .and(has_header("authorization", "Bearer org-social-key-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [person("cat", "cat@silent.test", "Gamma")],
            "next_page": "https://elsewhere.example/steal-the-key", "total_result_count": 4})))
        .mount(&provider)
        .await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("SOCIAL_BASE_URL".into(), provider.uri()),
            ("EMAIL_MX_CHECK".into(), "true".into()),
            ("DNS_NAMESERVER".into(), dns.addr.to_string()),
            ("EMAIL_MX_TIMEOUT_MS".into(), "300".into()),
        ]),
        ..Default::default()
    })
    .await;
    let (org_a, org_b) = (Uuid::now_v7(), Uuid::now_v7());
    let admin = app.token(org_a, Role::Admin).await;
    let member = app.token(org_a, Role::Member).await;
    let other = app.token(org_b, Role::Owner).await;
    let input = json!({"source": "SOCIAL", "social": {"jobTitle": "CTO", "country": "us", "maxResults": 3}});

    // No key anywhere: refused with a clear message.
    let v = app.gql(Some(&member), CREATE, json!({"i": input})).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert_eq!(field_errors(&v), ["input.source"]);
    assert!(v.to_string().contains("LinkedIn"), "{v}");

    // Settings: authenticated, ADMIN+ to change, validated, never returning the secret.
    let v = app.gql(None, SETTINGS, json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
    let v = app
        .gql(
            None,
            UPDATE,
            json!({"i": {"socialApiKey": "org-social-key-1"}}),
        )
        .await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"));
    let v = app
        .gql(
            Some(&member),
            UPDATE,
            json!({"i": {"socialApiKey": "org-social-key-1"}}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));
    let v = app
        .gql(
            Some(&admin),
            UPDATE,
            json!({"i": {"socialApiKey": "has spaces in it", "braveApiKey": "short"}}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    assert_eq!(
        field_errors(&v),
        ["input.braveApiKey", "input.socialApiKey"]
    );
    let v = app
        .gql(
            Some(&admin),
            UPDATE,
            json!({"i": {"socialApiKey": "org-social-key-1"}}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    assert!(!v.to_string().contains("org-social-key-1"));
    assert_eq!(
        v["data"]["updateScrapingSettings"],
        json!({"hasBraveApiKey": false, "hasGooglePlacesApiKey": false, "hasSocialApiKey": true,
               "searchAvailable": false, "googleMapsAvailable": false, "socialAvailable": true})
    );
    let v = app.gql(Some(&member), SETTINGS, json!({})).await;
    assert_eq!(
        v["data"]["scrapingSettings"]["hasSocialApiKey"], true,
        "{v}"
    );
    assert!(!v.to_string().contains("org-social-key-1"));
    // Another organization has no key and still cannot run SOCIAL.
    let v = app.gql(Some(&other), SETTINGS, json!({})).await;
    assert_eq!(v["data"]["scrapingSettings"]["hasSocialApiKey"], false);
    let v = app.gql(Some(&other), CREATE, json!({"i": input})).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));

    // The run uses the organization's key (the fake only answers to it).
    let started = Instant::now();
    let id = scrape_job(&app, &member, input.clone()).await;
    let j = wait_done(&app, &member, &id, 30).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    let events = completed_events(&app, &id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, org_a);
    let leads = leads_by_email(&j);
    assert_eq!(
        sorted_emails(&j),
        ["ann@mx-ok.test", "ben@nx.test", "cat@silent.test"]
    );
    let ann = &leads["ann@mx-ok.test"];
    assert_eq!(ann["company"], "Acme");
    assert_eq!(ann["source"], "SOCIAL");
    assert_eq!(ann["customFields"]["jobTitle"], "CTO");
    assert_eq!(ann["customFields"]["fullName"], "ann Doe");
    assert_eq!(
        ann["customFields"]["social"]["linkedin"],
        "https://www.linkedin.com/in/ann"
    );
    assert_eq!(ann["location"]["region"], "Texas");
    assert_eq!(ann["customFields"]["mx"], "valid");
    assert_eq!(leads["ben@nx.test"]["customFields"]["mx"], "none");
    assert!(leads["ben@nx.test"]["tags"]
        .as_array()
        .unwrap()
        .contains(&json!("no-mx")));
    // No DNS answer: unknown, and the email is kept.
    assert_eq!(leads["cat@silent.test"]["customFields"]["mx"], "unknown");
    // 429 + page 1 + page 2; the foreign next_page was not followed.
    assert_eq!(provider.received_requests().await.unwrap().len(), 3);

    // Removing the key makes SOCIAL unavailable again.
    let v = app
        .gql(Some(&admin), UPDATE, json!({"i": {"socialApiKey": null}}))
        .await;
    assert_eq!(
        v["data"]["updateScrapingSettings"]["hasSocialApiKey"], false,
        "{v}"
    );
    let v = app.gql(Some(&member), CREATE, json!({"i": input})).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    // Invalid SOCIAL input.
    let v = app
        .gql(
            Some(&admin),
            UPDATE,
            json!({"i": {"socialApiKey": "org-social-key-1"}}),
        )
        .await;
    assert!(v["errors"].is_null(), "{v}");
    let v = app
        .gql(
            Some(&member),
            CREATE,
            json!({"i": {"source": "SOCIAL", "social": {"country": "USA", "maxResults": 101}}}),
        )
        .await;
    assert_eq!(
        field_errors(&v),
        [
            "input.social.jobTitle",
            "input.social.country",
            "input.social.maxResults"
        ]
    );
}

#[tokio::test]
async fn crawled_emails_are_flagged_by_their_mx_answer() {
    let dns = FakeDns::start().await;
    let site = Site::start(
        vec![(
            "/",
            page(
                "Acme",
                "<p>Write to ann@mx-ok.test or ben@nx.test, or cat@silent.test.</p>",
            ),
        )],
        vec![],
    )
    .await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("EMAIL_MX_CHECK".into(), "true".into()),
            ("DNS_NAMESERVER".into(), dns.addr.to_string()),
            ("EMAIL_MX_TIMEOUT_MS".into(), "300".into()),
        ]),
        allow_hosts: vec![site.host()],
        ..Default::default()
    })
    .await;
    let token = app.token(Uuid::now_v7(), Role::Member).await;
    let id = scrape_job(
        &app,
        &token,
        json!({"source": "WEBSITE", "website": {"urls": [format!("{}/", site.base())],
            "maxDepth": 0, "requestsPerSecond": 50}}),
    )
    .await;
    let j = wait_done(&app, &token, &id, 30).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    let leads = leads_by_email(&j);
    assert_eq!(
        sorted_emails(&j),
        ["ann@mx-ok.test", "ben@nx.test", "cat@silent.test"],
        "{j}"
    );
    assert_eq!(leads["ann@mx-ok.test"]["source"], "WEBSITE");
    assert_eq!(leads["ann@mx-ok.test"]["customFields"]["mx"], "valid");
    assert_eq!(leads["ben@nx.test"]["customFields"]["mx"], "none");
    assert!(leads["ben@nx.test"]["tags"]
        .as_array()
        .unwrap()
        .contains(&json!("no-mx")));
    assert_eq!(leads["cat@silent.test"]["customFields"]["mx"], "unknown");
    assert!(dns.queries.load(Ordering::SeqCst) >= 3);
}

#[tokio::test]
async fn organization_brave_key_is_used_instead_of_the_server_key() {
    let brave = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/res/v1/web/search"))
        .and(has_header("x-subscription-token", "org-brave-key-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "web": {"results": []}, "query": {"more_results_available": false}})))
        .mount(&brave)
        .await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("BRAVE_API_KEY".into(), "server-brave-key".into()),
            ("BRAVE_BASE_URL".into(), brave.uri()),
        ]),
        ..Default::default()
    })
    .await;
    let (org_a, org_b) = (Uuid::now_v7(), Uuid::now_v7());
    let owner = app.token(org_a, Role::Owner).await;
    let v = app.gql(Some(&owner), SETTINGS, json!({})).await;
    assert_eq!(
        v["data"]["scrapingSettings"]["searchAvailable"], true,
        "the server key makes SEARCH available: {v}"
    );
    assert_eq!(v["data"]["scrapingSettings"]["hasBraveApiKey"], false);
    let v = app
        .gql(
            Some(&owner),
            UPDATE,
            json!({"i": {"braveApiKey": "org-brave-key-1"}}),
        )
        .await;
    assert_eq!(
        v["data"]["updateScrapingSettings"]["hasBraveApiKey"], true,
        "{v}"
    );
    let input = json!({"source": "SEARCH", "search": {"query": "dentists austin"}});
    let id = scrape_job(&app, &owner, input.clone()).await;
    let j = wait_done(&app, &owner, &id, 20).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    let reqs = brave.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].headers["x-subscription-token"], "org-brave-key-1");
    // Another organization runs on the server key (which the fake refuses: 404 = permanent).
    let other = app.token(org_b, Role::Owner).await;
    let id = scrape_job(
        &app,
        &other,
        json!({"source": "SEARCH", "search": {"query": "plumbers austin"}}),
    )
    .await;
    let j = wait_done(&app, &other, &id, 20).await;
    assert_eq!(j["status"], "FAILED", "{j}");
    let reqs = brave.received_requests().await.unwrap();
    assert_eq!(reqs[1].headers["x-subscription-token"], "server-brave-key");
}

#[tokio::test]
async fn mx_lookup_against_a_fake_dns_server_with_cache_timeout_and_off_switch() {
    let dns = FakeDns::start().await;
    let lookup = |pairs: Vec<(&str, String)>| {
        let map: HashMap<String, String> =
            pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        SourcesConfig::from_lookup(&move |k: &str| map.get(k).cloned()).unwrap()
    };
    let cfg = lookup(vec![
        ("EMAIL_MX_CHECK", "true".into()),
        ("DNS_NAMESERVER", dns.addr.to_string()),
        ("EMAIL_MX_TIMEOUT_MS", "300".into()),
    ]);
    assert_eq!(mx::check_domain(&cfg, "mx-ok.test").await, MxStatus::Valid);
    assert_eq!(mx::check_domain(&cfg, "nx.test").await, MxStatus::None);
    let before = dns.queries.load(Ordering::SeqCst);
    assert_eq!(mx::check_domain(&cfg, "mx-ok.test").await, MxStatus::Valid);
    assert_eq!(mx::check_domain(&cfg, "nx.test").await, MxStatus::None);
    assert_eq!(
        dns.queries.load(Ordering::SeqCst),
        before,
        "answered from the cache"
    );
    // A server that never answers: unknown within the timeout, and remembered.
    let started = Instant::now();
    assert_eq!(
        mx::check_domain(&cfg, "silent.test").await,
        MxStatus::Unknown
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    assert_eq!(
        mx::check_domain(&cfg, "silent.test").await,
        MxStatus::Unknown
    );
    assert!(started.elapsed() < Duration::from_millis(100));

    // The default (non-production) config never touches DNS: the tests run offline.
    let default = lookup(vec![]);
    assert!(!default.mx_check);
    let q = dns.queries.load(Ordering::SeqCst);
    let started = Instant::now();
    assert_eq!(
        mx::check_domain(&default, "mx-ok.test").await,
        MxStatus::Unknown
    );
    assert!(started.elapsed() < Duration::from_millis(50));
    assert_eq!(dns.queries.load(Ordering::SeqCst), q);
    // The switch also turns it off in production.
    let off = lookup(vec![
        ("LEADGRAPH_ENV", "production".into()),
        ("JWT_SECRET", "x".repeat(40)),
        ("EMAIL_MX_CHECK", "false".into()),
        ("DNS_NAMESERVER", dns.addr.to_string()),
    ]);
    assert_eq!(
        mx::check_domain(&off, "mx-ok.test").await,
        MxStatus::Unknown
    );
    assert_eq!(dns.queries.load(Ordering::SeqCst), q);
}
