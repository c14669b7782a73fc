//! The crawler's group commit (statements per page, a worker dying with a batch uncommitted)
//! and its reading of pages (declared charsets, `<base href>`, `rel="nofollow"`).

use super::*;

/// A site of `n` pages (plus the index, which links to all of them); page `i` names
/// `shared{i % 7}@batch-fixture.com` (so leads repeat across pages and batches) and links to
/// the next page.
async fn repeating_site(n: usize, delay: Duration) -> Fixture {
    let mut pages = vec![(
        "/",
        html(
            "Batch Co",
            &(0..n)
                .map(|i| format!(r#"<a href="/p/{i}">{i}</a>"#))
                .collect::<String>(),
        ),
    )];
    for i in 0..n {
        let body = format!(
            r#"<title>P | Batch Co</title><p>shared{}@batch-fixture.com, own{i}@batch-fixture.com</p><a href="/p/{}">next</a>"#,
            i % 7,
            (i + 1) % n
        );
        let page = if delay.is_zero() {
            Page::Html(body)
        } else {
            Page::Slow(delay, body)
        };
        pages.push((Box::leak(format!("/p/{i}").into_boxed_str()), page));
    }
    Fixture::start(pages).await
}

/// Creates a depth-1 crawl of `site` (8 requests at a time).
async fn crawl_site(app: &TestApp, token: &str, site: &Fixture) -> String {
    scrape_job(
        app,
        token,
        json!({"source": "WEBSITE", "website": {"urls": [site.url("/")], "maxDepth": 1,
               "requestsPerSecond": 50, "concurrency": 8}}),
    )
    .await
}

/// An app that records its SQL, with politeness off, allowed to fetch from `site`.
async fn recording_app(site: &Fixture) -> TestApp {
    TestApp::spawn_with(Options {
        env: HashMap::from([
            ("RECORD_SQL".into(), "true".into()),
            ("SCRAPE_POLITENESS".into(), "false".into()),
        ]),
        allow_hosts: vec![site.host()],
        ..Default::default()
    })
    .await
}

/// Waits for job `id` to end, polling the status only (the full job query would read pages
/// and leads into the SQL log).
async fn wait_for_end(app: &TestApp, token: &str, id: &str) {
    wait_until("the job to end", 60, async || {
        let v = app
            .gql(
                Some(token),
                "query($id: ID!) { scrapeJob(id: $id) { status } }",
                json!({"id": id}),
            )
            .await;
        matches!(
            v["data"]["scrapeJob"]["status"].as_str(),
            Some("SUCCEEDED" | "FAILED")
        )
    })
    .await;
}

fn is_crawl_write(s: &str) -> bool {
    let s = s.to_ascii_lowercase();
    [
        "scrape_pages",
        "\"leads\"",
        "lead_interactions",
        "lead_tags",
        "lead_notes",
        "scrape_job_leads",
    ]
    .iter()
    .any(|t| s.contains(t))
        || (s.starts_with("update \"scrape_jobs\"") && !s.contains("\"status\" ="))
}

#[tokio::test]
async fn group_commit_keeps_the_statements_per_page_bounded() {
    let site = repeating_site(60, Duration::ZERO).await;
    let app = recording_app(&site).await;
    let token = app.token(Uuid::now_v7(), Role::Member).await;
    app.state.sql_log.take();
    let id = crawl_site(&app, &token, &site).await;
    wait_for_end(&app, &token, &id).await;
    let log = app.state.sql_log.take();
    let j = job(&app, &token, &id).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    assert_eq!(j["progress"]["pagesFetched"], 61);
    // 7 shared addresses + 60 own ones.
    assert_eq!(j["progress"]["leadsCreated"], 67);
    assert_eq!(j["progress"]["leadsFound"], 67);
    assert_eq!(j["leads"]["totalCount"], 67);
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let writes: Vec<&String> = log.iter().filter(|s| is_crawl_write(s)).collect();
    // Outbox inserts: the batches' lead events, plus one per progress event (timer-driven,
    // not per page), which are left out.
    let outbox_inserts = log
        .iter()
        .filter(|s| s.starts_with("INSERT INTO \"outbox_events\""))
        .count();
    let progress_events = entity::outbox_event::Entity::find()
        .filter(
            entity::outbox_event::Column::EventType.is_in(["scrape.progress", "scrape.completed"]),
        )
        .count(&app.state.db)
        .await
        .unwrap() as usize;
    let writes_len = writes.len() + outbox_inserts.saturating_sub(progress_events);
    // One fenced counter update opens every batch (the seed is the first).
    let batches = log
        .iter()
        .filter(|s| s.starts_with("UPDATE \"scrape_jobs\" SET \"pages_total\""))
        .count();
    let pages = 61;
    // Per batch, whatever its size: counters, links, pages, lead lookup, leads, timeline,
    // events, job links, lead counters.
    assert!(
        writes_len <= batches * 9,
        "{writes_len} statements in {batches} batches: {writes:#?}"
    );
    // Per page: one page per transaction used to cost ~13 statements (page status, new links
    // and their re-read, phone check, duplicate lookup, lead insert, tag read, timeline,
    // rescore read and update, event, job link, counters).
    let per_page = writes_len as f64 / pages as f64;
    assert!(
        batches < pages,
        "pages were grouped: {batches} batches for {pages} pages"
    );
    assert!(
        per_page <= 6.0,
        "{per_page:.2} statements per page ({writes_len} in {batches} batches)"
    );
    // No per-page reads of pages: the visited set is in memory (the one read is at the start).
    let page_reads = log
        .iter()
        .filter(|s| s.starts_with("SELECT") && s.contains("FROM \"scrape_pages\""))
        .count();
    assert!(page_reads <= 2, "{page_reads} reads of scrape_pages");
    println!(
        "group commit: {pages} pages, {batches} batches, {writes_len} statements ({per_page:.2}/page)"
    );
    // Exactly one lead.created event per lead.
    let created = app
        .gql(
            Some(&token),
            "{ leads(first: 200) { nodes { email provenance { field kind } } } }",
            json!({}),
        )
        .await;
    let nodes = created["data"]["leads"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 67);
    assert!(nodes.iter().all(|n| n["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["field"] == "email" && p["kind"] == "scrape")));
    let events = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::EventType.eq("lead.created"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(events, 67);
}

#[tokio::test]
async fn a_worker_dying_with_a_batch_uncommitted_resumes_without_duplicates() {
    let site = repeating_site(80, Duration::from_millis(40)).await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("WORKER_ENABLED".into(), "false".into()),
            ("SCRAPE_POLITENESS".into(), "false".into()),
        ]),
        allow_hosts: vec![site.host()],
        ..Default::default()
    })
    .await;
    let token = app.token(Uuid::now_v7(), Role::Owner).await;
    let id = crawl_site(&app, &token, &site).await;
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
    wait_until("worker A to commit some pages", 20, async || {
        job(&app, &token, &id).await["progress"]["pagesFetched"]
            .as_i64()
            .unwrap()
            >= 20
    })
    .await;
    a_task.abort();
    let _ = a_task.await;
    // Let a commit the dying worker had started settle, then note what is done.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mid = job(&app, &token, &id).await;
    assert_eq!(mid["status"], "RUNNING");
    let done_mid: Vec<String> = mid["pages"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "DONE")
        .map(|p| {
            p["url"]
                .as_str()
                .unwrap()
                .trim_start_matches(&site.url(""))
                .to_string()
        })
        .collect();
    assert_eq!(
        done_mid.len() as i64,
        mid["progress"]["pagesFetched"].as_i64().unwrap(),
        "counters and page rows commit together"
    );
    assert!(done_mid.len() < 81, "{mid}");
    let requested_mid = site.counts();

    let b = Worker::new(app.state.db.clone(), registry(), lease);
    tokio::time::sleep(lease + Duration::from_millis(200)).await;
    assert!(b.run_once().await, "B takes the job over");
    let j = job(&app, &token, &id).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    assert_eq!(j["progress"]["pagesFetched"], 81);
    assert_eq!(j["progress"]["leadsFound"], 87);
    assert_eq!(
        j["progress"]["leadsCreated"].as_i64().unwrap()
            + j["progress"]["leadsUpdated"].as_i64().unwrap(),
        87
    );
    let total = app
        .gql(Some(&token), "{ leads { totalCount } }", json!({}))
        .await;
    assert_eq!(
        total["data"]["leads"]["totalCount"], 87,
        "no duplicate leads"
    );
    let counts = site.counts();
    // Committed pages are never fetched again.
    for path in &done_mid {
        assert_eq!(counts.get(path), Some(&1), "{path} fetched again");
    }
    // Only what was in flight or waiting for its batch is: at most the concurrency plus two
    // batches (the one committing and the one waiting) of pages fetched before the crash.
    let refetched: usize = requested_mid
        .iter()
        .filter(|(p, _)| p.starts_with("/p/"))
        .map(|(p, n)| counts.get(p).copied().unwrap_or(0) - n)
        .sum();
    let uncommitted = requested_mid
        .keys()
        .filter(|p| p.starts_with("/p/") && !done_mid.contains(p))
        .count();
    assert_eq!(refetched, uncommitted, "{counts:?}");
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let links = entity::scrape_job_lead::Entity::find()
        .filter(entity::scrape_job_lead::Column::ScrapeJobId.eq(Uuid::parse_str(&id).unwrap()))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(links, 87);
    let created_events = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::EventType.eq("lead.created"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        created_events, 87,
        "one lead.created per lead, none repeated"
    );
}

/// `Café` and `東京` in the page's own encoding.
fn encoded(enc: &'static encoding_rs::Encoding, s: &str) -> Arc<Vec<u8>> {
    Arc::new(enc.encode(s).0.into_owned())
}

#[tokio::test]
async fn declared_charsets_base_href_and_nofollow_are_honoured() {
    let site = Fixture::start(vec![
        (
            "/",
            html(
                "Charsets",
                r#"<a href="/latin">latin</a> <a href="/sjis">sjis</a> <a href="/based/page">based</a>
                   <a href="/nofollow">nofollow</a> <a href="/robots-meta">robots meta</a>"#,
            ),
        ),
        // Declared in the header (ISO-8859-1 = windows-1252): the link is /café.
        (
            "/latin",
            Page::Bytes(
                "text/html; charset=ISO-8859-1",
                encoded(
                    encoding_rs::WINDOWS_1252,
                    r#"<html><body><p>Café</p><a href="/café">more</a></body></html>"#,
                ),
            ),
        ),
        ("/caf%C3%A9", html("Café", "<p>cafe@charset-fixture.com</p>")),
        // Declared in a meta tag only: the link is /東京.
        (
            "/sjis",
            Page::Bytes(
                "text/html",
                encoded(
                    encoding_rs::SHIFT_JIS,
                    r#"<html><head><meta charset="Shift_JIS"></head><body><a href="/東京">東京</a></body></html>"#,
                ),
            ),
        ),
        (
            "/%E6%9D%B1%E4%BA%AC",
            html("Tokyo", "<p>tokyo@charset-fixture.com</p>"),
        ),
        // <base href>: `target` resolves against /elsewhere/, not /based/.
        (
            "/based/page",
            html(
                "Based",
                r#"<base href="/elsewhere/"><a href="target">target</a>"#,
            ),
        ),
        ("/elsewhere/target", html("Target", "<p>base@charset-fixture.com</p>")),
        ("/based/target", html("Wrong", "<p>wrong@charset-fixture.com</p>")),
        // rel=nofollow links are not followed (their mailto: still counts).
        (
            "/nofollow",
            html(
                "Nofollow",
                r#"<a href="/sponsored" rel="sponsored nofollow">ad</a>
                   <a href="mailto:nf@charset-fixture.com" rel="nofollow">mail</a>
                   <a href="/both" rel="nofollow">both</a> <a href="/both">both again</a>"#,
            ),
        ),
        ("/sponsored", html("Ad", "<p>ad@charset-fixture.com</p>")),
        ("/both", html("Both", "<p>both@charset-fixture.com</p>")),
        (
            "/robots-meta",
            html(
                "Meta",
                r#"<meta name="robots" content="nofollow"><a href="/meta-child">child</a>"#,
            ),
        ),
        ("/meta-child", html("Child", "<p>child@charset-fixture.com</p>")),
    ])
    .await;
    let app = TestApp::spawn_with(Options::allowing(&[site.host()])).await;
    let token = app.token(Uuid::now_v7(), Role::Member).await;
    let id = scrape_job(
        &app,
        &token,
        json!({"source": "WEBSITE", "website": {"urls": [site.url("/")], "maxDepth": 2,
               "requestsPerSecond": 50, "concurrency": 4}}),
    )
    .await;
    let j = wait_status(&app, &token, &id, &["SUCCEEDED", "FAILED"], 30).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    assert_eq!(
        emails(&j),
        [
            "base@charset-fixture.com",
            "both@charset-fixture.com",
            "cafe@charset-fixture.com",
            "nf@charset-fixture.com",
            "tokyo@charset-fixture.com",
        ]
    );
    assert_eq!(by_url(&j, "/caf%C3%A9")["status"], "DONE", "{j}");
    assert_eq!(by_url(&j, "/%E6%9D%B1%E4%BA%AC")["status"], "DONE", "{j}");
    for never in ["/based/target", "/sponsored", "/meta-child"] {
        assert_eq!(site.count(never), 0, "{never} was requested");
        assert_eq!(by_url(&j, never), Value::Null, "{never} was queued");
    }
    assert_eq!(site.count("/both"), 1);
    // Nothing was fetched under a mis-decoded name.
    assert!(
        site.counts().keys().all(|p| !p.contains("%EF%BF%BD")),
        "{:?}",
        site.counts()
    );
}

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (SQLite plans without statistics)"]
async fn pg_only_a_crawl_that_grew_the_leads_refreshes_their_planner_statistics() {
    crate::helpers::require_postgres();
    let site = repeating_site(60, Duration::ZERO).await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([("SCRAPE_POLITENESS".into(), "false".into())]),
        allow_hosts: vec![site.host()],
        ..Default::default()
    })
    .await;
    let token = app.token(Uuid::now_v7(), Role::Member).await;
    let id = crawl_site(&app, &token, &site).await;
    let j = wait_status(&app, &token, &id, &["SUCCEEDED", "FAILED"], 60).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    assert_eq!(j["progress"]["leadsCreated"], 67);
    let db = &app.state.db;
    use sea_orm::{ConnectionTrait, Statement};
    let analyzed = || async {
        db.query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT last_analyze IS NOT NULL AS done FROM pg_stat_user_tables WHERE relname = 'leads'",
        ))
        .await
        .unwrap()
        .map(|r| r.try_get::<bool>("", "done").unwrap())
        .unwrap_or(false)
    };
    wait_until("the leads to be analyzed", 20, async || analyzed().await).await;
    // Now the statistics know the 67 leads: a few more rows are below the threshold, many are not.
    assert!(!leadgraph::db::analyze_if_grown(db, "leads", 10)
        .await
        .unwrap());
    assert!(leadgraph::db::analyze_if_grown(db, "leads", 100)
        .await
        .unwrap());
}

/// The outgoing-webhook fan-out sees a group commit's events as one batch: it reads the
/// endpoints once per batch, not once per created lead, and still stores one delivery per
/// event to every endpoint that takes it (and none to another organization's endpoint).
#[tokio::test]
async fn the_webhook_fan_out_reads_the_endpoints_once_per_batch() {
    let site = repeating_site(40, Duration::ZERO).await;
    let app = recording_app(&site).await;
    const CREATE: &str = "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id } } }";
    let endpoint = async |token: &str| {
        let v = app
            .gql(
                Some(token),
                CREATE,
                json!({"i": {"url": site.url("/hook"), "eventTypes": ["LEAD_CREATED"]}}),
            )
            .await;
        let id = v["data"]["createWebhookEndpoint"]["endpoint"]["id"].as_str();
        Uuid::parse_str(id.unwrap_or_else(|| panic!("{v}"))).unwrap()
    };
    let token = app.token(Uuid::now_v7(), Role::Admin).await;
    let other = app.token(Uuid::now_v7(), Role::Admin).await;
    let ours = endpoint(&token).await;
    let theirs = endpoint(&other).await;
    app.state.sql_log.take();
    let id = crawl_site(&app, &token, &site).await;
    wait_for_end(&app, &token, &id).await;
    let log = app.state.sql_log.take();
    let j = job(&app, &token, &id).await;
    assert_eq!(j["status"], "SUCCEEDED", "{j}");
    // 7 shared addresses + 40 own ones.
    assert_eq!(j["progress"]["leadsCreated"], 47);
    // The fan-out's read (by organization); deliveries read their endpoint by id.
    let count = |s: &&String| {
        s.starts_with("SELECT")
            && s.contains("FROM \"webhook_endpoints\" WHERE \"webhook_endpoints\".\"org_id\"")
    };
    let endpoint_reads = log.iter().filter(count).count();
    // Every recording reads them at most once: a crawl batch's `record_many` (one multi-row
    // insert) and each progress event's own `record`. A read per lead would be 47 more.
    let recordings = log
        .iter()
        .filter(|s| s.starts_with("INSERT INTO \"outbox_events\""))
        .count();
    assert!(
        endpoint_reads <= recordings,
        "{endpoint_reads} endpoint reads for {recordings} recordings: {:#?}",
        log.iter().filter(count).collect::<Vec<_>>()
    );
    let batches = log
        .iter()
        .filter(|s| s.starts_with("UPDATE \"scrape_jobs\" SET \"pages_total\""))
        .count();
    assert!(batches < 41, "pages were grouped: {batches} batches");
    use entity::webhook_delivery::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let deliveries = |ep: Uuid| {
        Entity::find()
            .filter(Column::EndpointId.eq(ep))
            .filter(Column::EventType.eq("lead.created"))
            .count(&app.state.db)
    };
    assert_eq!(deliveries(ours).await.unwrap(), 47, "one per created lead");
    assert_eq!(deliveries(theirs).await.unwrap(), 0, "none to another org");
}
