//! Scraping: durable scrape jobs (website crawl, Brave web search, Google Places, Craigslist,
//! Greenhouse/Lever job boards, a people-search API), a polite and
//! SSRF-safe crawler, contact extraction into leads with provenance, live progress, and the
//! audience builder (saved lead filters).
//!
//! - **Operations.** `createScrapeJob(input: {source, name, website | search | googleMaps |
//!   craigslist | jobBoards | social, locationId})` (`locationId`: a saved location of places,
//!   through the [`LocationResolver`] places registers, `service/target.rs`: GOOGLE_MAPS biases
//!   around its point and radius, SEARCH appends its name; another organization's is NOT_FOUND)
//!   (`params.rs`, validation in `params/validate.rs`: exactly one parameter object, the one matching `source`; every bad field reported
//!   with its path, e.g. `input.website.maxDepth`; seed URLs pass the SSRF URL check at creation, so
//!   an IP literal in a private range is BAD_USER_INPUT), `scrapeJobs(filter, first, after)`,
//!   `scrapeJob(id)`, `cancelScrapeJob`, `retryScrapeJob`, `deleteScrapeJob`; `ScrapeJob.progress`,
//!   `.leads` (the `LeadConnection` type, newest first) and `.pages`. Roles: ReadScrapeJobs VIEWER,
//!   RunScrapeJobs (create, cancel, retry) MEMBER, DeleteScrapeJobs MANAGER. Another organization's
//!   job is NOT_FOUND everywhere, the subscription included.
//! - **Tables** (`m20261122_000009_create_scraping`): `scrape_jobs` (params JSON, status, counters,
//!   `seeded`, `run_attempt`, `job_id` of the queue job), `scrape_pages` (unique `(scrape_job_id,
//!   url)`: one row per canonical URL), `scrape_job_leads` (which leads a job created or updated,
//!   first page), `audiences`.
//! - **Durable run** (`run.rs`; its end, success or failure, in `run/end.rs`; job kind `scrape.run`,
//!   following the importer's pattern). The run claims the job (`status = running`, `run_attempt`
//!   = the queue attempt); every later write is fenced on both, so a cancelled or deleted job, or a worker whose lease was taken over, writes
//!   nothing more. Seeds and API contacts are stored once with `seeded = true`. **Group commit**
//!   (`run/writer.rs`): finished pages wait in memory while the previous commit runs (on a task of
//!   its own, so fetching goes on), then everything that finished meanwhile (≤ 64 pages) commits in
//!   one transaction once it has 32 pages or its first page waited 15 ms (`MIN_BATCH`, `LINGER`;
//!   at once when nothing is left to fetch: re-crawl batches were ~10 pages, and every
//!   transaction costs 5–8 statements whatever its size), with a fixed number of statements, whatever its size: the fenced counter
//!   update first, one `INSERT` of the new links, the batched lead writes (below), one write of
//!   the pages' outcomes, one update of the lead counters. On PostgreSQL the page and job-link
//!   rows travel as one JSON parameter (`INSERT … SELECT … FROM jsonb_to_recordset($n::jsonb)`;
//!   the outcomes as `UPDATE … FROM jsonb_to_recordset`, and the batch's lead lookup takes its
//!   emails and phones as `= ANY(ARRAY(SELECT jsonb_array_elements_text($n)))`), so each
//!   statement has one text, prepared once per connection, whatever the batch size (multi-row
//!   `VALUES` and `IN` lists made every new length a new statement to parse and plan; the index
//!   page's 499 links held the commit chain ~43 ms). The outcome update changes no indexed column
//!   and `scrape_pages` keeps half of each heap page free (fillfactor 50, migration
//!   `m20261202_000016`, which dropped the (job, status, id) index), so it is a HOT update that
//!   touches no index. SQLite gets multi-row `INSERT`s and an upsert of the outcomes. A batch that recorded no outbox event (a re-crawl finding
//!   leads the job already has) does not wake the relay. At a low page rate each page commits
//!   alone after the 15 ms linger; under load batches grow by themselves. The visited set is in memory, read once from `scrape_pages` when the
//!   run starts, so no statement is spent per link. A page is DONE only once its batch committed:
//!   after a crash (lease expiry), a cancel or a retry, the frontier is reloaded from
//!   `scrape_pages`; done pages are never fetched again, only pages that were in flight (fetched
//!   or being parsed: at most 4 × `concurrency`), waiting for their batch or in the batch that was committing are, and their
//!   leads were not written, so nothing is duplicated. Measured: 0.2–0.4 statements per page on
//!   the 61-page test site (3–5 transactions) against about 13 per page before (figure g in
//!   BENCHMARKS.md: median 245 → 2,281–2,396 pages/s). Retry creates a new queue job and
//!   re-queues failed pages. The seed stage keeps polling the source while a tick reads the job
//!   (a source paused mid-query would hold SQLite's only connection). A fresh job's seed commit
//!   runs in the background while its seed pages are fetched; it is the run's first commit, so the
//!   first batch commits after it (a resumed run reads its pages from `scrape_pages` instead). The
//!   progress ticker's first tick is one interval after the start, not at once (an immediate tick
//!   held the loop on a database round trip before it queued the index page's links: 35 ms on the
//!   first scrape after a start). When a job (or a CSV import) created more leads than
//!   autovacuum's analyze threshold (50 + 10 % of the rows the statistics know of, or any number
//!   on a never-analyzed table), `db::spawn_analyze_if_grown` runs `ANALYZE leads` in the
//!   background on PostgreSQL: until autovacuum's next round a new table keeps the planner's
//!   guesses for an empty one, and the batch's lead lookup scanned all of an organization's leads
//!   (0.6–0.9 ms) instead of probing the unique indexes (0.15 ms). Every 250 ms the run re-reads the job row: that is how a cancel stops it (within ~250 ms; pages
//!   in flight are dropped) and when `scrape.progress` is recorded (only if something changed);
//!   status changes record it too; the end records `scrape.completed`. A job whose every page failed
//!   ends FAILED with the first page's error. Database errors are retried by the queue (5
//!   attempts; the job shows QUEUED with the error in between).
//! - **Crawler** (`crawler.rs`). Canonical URLs (`url` crate normalization, no fragment, no
//!   `utm_*`/`fbclid`/`gclid`, sorted query, ≤ 2048 chars); breadth-first by depth, `maxDepth`
//!   (0–5, default 2) and `maxPages` (page rows, 1–10,000); `sameDomainOnly` (default true: hosts of
//!   the seeds, `www.` ignored); robots.txt per origin with `texting_robots` (agent `Leadgraph`;
//!   4xx = allow all, 5xx/network/refused = disallow all as RFC 9309 says; `Crawl-delay` honoured up
//!   to 30 s); politeness per origin with a `governor` direct limiter (`requestsPerSecond`, default 5,
//!   burst 1; `SCRAPE_POLITENESS=false` turns it off for benchmarks); `concurrency` requests in
//!   flight (1–16, default 4). **Fetchers and parsers** (`run/page.rs`): the crawl loop sends the
//!   pages to fetch into the frontier (a channel) and receives the results; `concurrency` fetchers
//!   take pages from it in order (so at most `concurrency` requests are in flight), hand each
//!   response to `concurrency` parsers through a bounded channel and start their next request at
//!   once: no fetch waits for a parse, for the loop or for another task to wake up (on this VM,
//!   waking an idle thread costs more than a small page's parse; a shared semaphore of slots had
//!   kept each slot idle between release and the next waiter's start, ≈ 13 % of the slot time). At
//!   most 3 × `concurrency` response bodies are held at once (in the fetchers, the parse channel
//!   and the parsers), plus `concurrency` parsed results waiting for the loop (the tasks'
//!   `JoinSet` is dropped when the loop ends or is cancelled; one that panics fails the attempt,
//!   retryably). The crawl is bound by latency more than CPU (figure g: concurrency
//!   4 / 8 / 16 gave ≈ 1,900 / 2,900 / 4,100 pages/s before the fetch workers of session 7). Every request goes through `state.http` (the
//!   SSRF-guarded client, redirects re-checked per hop, `OUTBOUND_TIMEOUT_SECS`,
//!   `OUTBOUND_MAX_BODY_BYTES`): a redirect loop fails the page ("too many redirects"), a 10 MB page
//!   fails it ("exceeds the limit", from `Content-Length` or while streaming), a non-HTML response
//!   is skipped without reading its body (`OutboundClient::execute_if`). Sitemaps (robots.txt
//!   `Sitemap:` lines, else `/sitemap.xml`, indexes one level, seed origin only) add depth-1 pages.
//!   `crawler/document.rs` (before extraction): the body is decoded with
//!   `encoding_rs` in the WHATWG order — byte-order mark, else the `Content-Type` charset, else
//!   `<meta charset>` / `<meta http-equiv=Content-Type>` within the first 1024 bytes, else UTF-8
//!   (no content guessing; a meta naming UTF-16 means UTF-8); the first `<base href>` (http(s)
//!   only) is the base relative links resolve against; links with `rel` containing `nofollow` are
//!   **not followed** (a crawler that honours robots.txt honours the site's own "do not follow"
//!   too; they are still read for `mailto:`/`tel:` contacts and social profiles, and a URL linked
//!   both with and without `nofollow` is followed), and `<meta name="robots|Leadgraph"
//!   content="nofollow|none">` stops every link of the page. `noindex` is not honoured (leads are
//!   not an index). Each page is parsed into one DOM (`scraper`/html5ever): these link facts are
//!   read from it and the extractor reads the same tree (`extract::extract_dom`); only the
//!   1024-byte `<meta charset>` prescan uses `lol_html`'s tokenizer. Bodies up to 64 KiB
//!   (`run/page.rs::INLINE_PARSE_BYTES`) are parsed on the task that fetched them, larger ones on
//!   the blocking pool (a small page parses faster than the two thread hand-offs of
//!   `spawn_blocking`).
//! - **Extraction** (`extract.rs`, with `scraper`; email and phone checks in `extract/validate.rs`). Emails from `mailto:`, text
//!   (`linkify`) after undoing `[at]`/`(at)`/`{at}` and `[dot]` obfuscation, and JSON-LD; syntax
//!   (`email_address`, dotted domain, no file-extension TLDs such as `logo@2x.png`), no-reply
//!   addresses and a small disposable-domain list are rejected, role addresses (`info@`, `sales@`,
//!   …) are kept and tagged `role-address`. **MX lookup** (`platform/mx.rs`, `hickory-resolver`; the contacts are annotated by `sink/mx.rs`): one
//!   lookup per email domain, `EMAIL_MX_TIMEOUT_MS` (2 s) timeout, system resolv.conf or
//!   `DNS_NAMESERVER=ip:port`; MX (or an A/AAAA record as implicit MX) = `customFields.mx: valid`,
//!   NXDOMAIN / no mail host / null MX = `none` plus the tag `no-mx`, timeout or DNS failure =
//!   `unknown` — it never rejects an email. One resolver per process and nameserver (its cache
//!   bounded to 4,096 answers, TTLs capped at 1 h / 5 min negative) and `unknown` answers remembered
//!   for 60 s. `EMAIL_MX_CHECK` defaults to on only with `LEADGRAPH_ENV=production`, so
//!   development and the test suite never need DNS. Applied to JOB_BOARDS and SOCIAL contacts by
//!   their sources, and to the contacts of crawled pages by the run's writer
//!   (`run/writer.rs::commit`, before its transaction opens, so a slow DNS never holds one).
//!   Phones from `tel:` links, JSON-LD and text
//!   (a pattern, dates excluded), valid per `phonenumber`, stored E.164; national numbers need
//!   `defaultCountry` or a JSON-LD address country; the page's contacts carry them marked
//!   `phone_e164`, so the writer does not parse them again. A site repeats its phone on every
//!   page and one `phonenumber` parse costs tens of microseconds, so verdicts are remembered per
//!   thread (≤ 1,024, `extract/validate.rs::phone`). Company: `og:site_name` > schema.org
//!   Organization/LocalBusiness `name` > `<title>` (last segment of `Page | Site`), the strongest
//!   seen per site wins. Address (JSON-LD `PostalAddress` → city/region/country) and social profile
//!   links (`customFields.social`).
//! - **Leads** (`sink.rs`). A page with exactly one email and one phone yields one contact with
//!   both; otherwise each email and each phone is a contact. Contacts go through
//!   `leads::service::create_in` with `OnConflict::Merge` (dedupe by email or phone: existing leads
//!   are filled, never duplicated) and `Origin::scrape(job, url)` provenance (merges now record
//!   provenance for the fields they fill, for imports too); a phone already on a lead with another
//!   email stays there. `leadsFound` = leads linked to the job (`leadsCreated` + `leadsUpdated`).
//!   The crawl saves a whole batch with `save_batch`, which goes through the leads domain's bulk
//!   API `leads::bulk::save_many` (job links in `sink/links.rs`); the one-by-one fallback `save`
//!   goes through `leads::bulk::save_one` (= `create_in` in a savepoint). Both apply one set of
//!   rules (see `leads::bulk`'s doc): one `SELECT` of the id, email, phone, website and company of
//!   the organization's leads with any of the batch's emails or phones, then one multi-row
//!   `INSERT` each for new leads, tags, `created`/`merged` timeline rows, outbox events and
//!   `scrape_job_leads`; only merges that change something cost more (a tags read, a notes count
//!   for the rescore, one `UPDATE` per changed lead). Differences from `create_in`, on purpose: a
//!   merge that fills nothing writes nothing (no `updated_at` bump); a lead met twice in one batch
//!   gets one event. If a concurrent writer takes an email or phone between the `SELECT` and the
//!   `INSERT` (unique index → CONFLICT), the batch is rolled back and redone through `save`. A
//!   property test (`leads/bulk/tests.rs`) checks both paths agree for random contacts.
//! - **Sources** (`sources/`, trait `ScrapeSource::seed`): WEBSITE (seed URLs + sitemaps); SEARCH
//!   (Brave `GET /res/v1/web/search?q=&count=&offset=` with `X-Subscription-Token`, `offset` = page
//!   0–9, stops when `more_results_available` is false or a page is short; result URLs are crawled at
//!   depth 0 or 1); GOOGLE_MAPS (Places API (New) `POST /v1/places:searchText` with `X-Goog-Api-Key`
//!   and `X-Goog-FieldMask`, `nextPageToken` paging up to 60 places, `locationBias.circle`; a place
//!   without phone and website is completed with `GET /v1/places/{id}`; places become leads with
//!   company, E.164 phone, website, coordinates, city/region/country; `crawlWebsites` crawls each
//!   site's first page). `sources/api.rs`: 4 attempts with exponential backoff (500 ms · 2ⁿ, jitter)
//!   on 429/5xx/timeouts honouring `Retry-After`, 401/403/4xx are permanent; responses cached
//!   (`platform/cache.rs`: Redis `lg:cache:*` with `EX` when `REDIS_URL` is set, else in process
//!   with TTL and a size bound) under a hash of method, URL, non-secret headers and body; Brave
//!   draws from a shared 100/min budget (`state.limiter`). CRAIGSLIST (`sources/craigslist.rs`):
//!   the public HTML search page `{CRAIGSLIST_BASE_URL}/search/{category}?query=` (base default
//!   `https://{city}.craigslist.org`, up to 5 pages via `s=<offset>`) fetched through the crawl's
//!   `Hosts` (robots.txt — a disallowed search page fails the job unfetched —, politeness, SSRF
//!   guard; 429/5xx retried with the API backoff); links ending in `/<posting id>.html` on the same
//!   host are crawled at depth 0 (`maxListings`, default 100), contacts come from the ordinary
//!   extraction (default country US). HTML only: Craigslist dropped its RSS feeds. JOB_BOARDS
//!   (`sources/job_boards.rs`): Greenhouse `GET /v1/boards/{board}/jobs?content=true` + `GET
//!   /v1/boards/{board}` and Lever `GET /v0/postings/{company}?mode=json` (`GREENHOUSE_BASE_URL`,
//!   `LEVER_BASE_URL`; no key), jobs filtered by title `keywords`; the emails/phones written in
//!   the postings become contacts tagged `hiring` with `customFields.jobTitles`, `openJobs`,
//!   `jobBoard`; the company site (a Greenhouse `absolute_url` not on greenhouse.io, or a link in
//!   the board description) is crawled at `crawlDepth` 0–1; an unknown board (404) is skipped, the
//!   job fails only if all are. SOCIAL (`sources/social.rs`): no social network is scraped (LinkedIn
//!   and the like forbid it); a client for a Proxycurl-style Person Search API, `GET
//!   {SOCIAL_BASE_URL}/api/v2/search/person?country=&current_role_title=&current_company_name=&city=&page_size=&enrich_profiles=enrich`
//!   with `Authorization: Bearer`, `results[].profile` (names, title from the current
//!   `experiences[]`, city/state/country, `personal_emails`, `personal_numbers`) → contacts with
//!   `customFields` `fullName/firstName/lastName/jobTitle/headline/social.linkedin`; `next_page` is
//!   followed only under `SOCIAL_BASE_URL`. **Keys** (`sources/settings.rs`, table
//!   `scraping_settings`, `m20261122_000015`): `updateScrapingSettings(input: {braveApiKey,
//!   googlePlacesApiKey, socialApiKey})` (ADMIN+; omitted = unchanged, null/"" = removed, else
//!   8–512 printable characters; stored encrypted, Security model S13) and `scrapingSettings`
//!   (VIEWER+: `hasBraveApiKey`, …, `searchAvailable`, … — never a key). Jobs of SEARCH/GOOGLE_MAPS/SOCIAL store their `orgId` in
//!   `params`; the run uses the organization's key, else the env key (`BRAVE_API_KEY`,
//!   `GOOGLE_PLACES_API_KEY`, `SOCIAL_API_KEY`); without either, creation is BAD_USER_INPUT on
//!   `input.source`. **Not built:** keys are stored in plain text (no encryption at rest); a
//!   JOB_BOARDS company or SOCIAL person without any email or phone is not stored (the sink keeps
//!   only reachable contacts), and names/job titles of SOCIAL people live in `customFields`, not in
//!   the lead's own `firstName`/`jobTitle` (the sink's `Contact` has no such fields); the
//!   Craigslist reply e-mail (behind a button) and Lever company websites are not available.
//! - **Live progress.** `scrapeJobProgress(jobId)` is built on `realtime::live` (subscribes to the
//!   bus before reading the job): the current state first, then the job's `scrape.progress` events,
//!   ending right after the final message (`isFinal`, from `scrape.completed`; a finished job sends
//!   one final message). Both events also appear in `events` (ReadScrapeJobs).
//! - **Audiences** (`audiences.rs`): `saveAudience(name, filter: LeadFilter)`, `audiences`,
//!   `audience(id)` with `leads` (the `leads` query code and ordering), `updateAudience`,
//!   `deleteAudience`; names unique per organization (CONFLICT); the filter is validated like
//!   `leads(filter:)` and read back in the `LeadFilter` shape. Campaigns use them as recipients.
//! - **Tests** (`tests/api/scraping.rs`): a fixture site on loopback (robots.txt disallowing a path,
//!   sitemap, obfuscated/mailto/role/disposable emails, a redirect loop, a slow page with a 2 s
//!   timeout, a 10 MB page, a PDF, depth beyond the cap) finding exactly the expected leads with the
//!   subscriber seeing progress and completion; cancel within a second and retry without refetching
//!   (fixture request counts); a worker killed mid-job resumed after its lease with no duplicates;
//!   politeness spacing; SSRF (IP literal refused at creation; `localhost` refused at connect; a
//!   redirect into loopback in a crawler unit test; canaries see no connection); Brave and Places
//!   against wiremock fakes (paging, 429/503 then success, details, cache hits); isolation, roles,
//!   validation, audiences. `tests/api/scraping/crawl.rs`: the group commit's statement log on a
//!   61-page site (≤ 9 statements per transaction whatever its size, pages grouped, ≤ 6 per page,
//!   0.2–0.4 measured, one `scrape_pages` read, one `lead.created` per lead); a worker killed
//!   with pages fetched but uncommitted (concurrency 8, leads repeating across pages and batches):
//!   counters equal the DONE rows at the crash, DONE pages never refetched, exactly the
//!   uncommitted ones refetched once, no duplicate lead, link or event; ISO-8859-1 from the header
//!   and Shift_JIS from a `<meta>` (the non-ASCII links are followed under their right names),
//!   `<base href>`, `rel=nofollow` and `<meta name=robots content=nofollow>`; unit tests of the
//!   sniffing order in `crawler/document.rs`. **Not tested:** a batch's CONFLICT fallback to
//!   `create_in` (it needs a concurrent writer between the batch's `SELECT` and `INSERT`).
//!   `tests/api/scraping_sources.rs`: CRAIGSLIST against a loopback site
//!   (429 then backoff, paging, robots.txt skipping a listing and refusing the search page),
//!   Greenhouse + Lever against wiremock (429, keywords, unknown board, company site crawled at
//!   depth 1), SOCIAL (refused without a key, the organization key set by an ADMIN and used by the
//!   run, 429, paging, MX flags from a fake DNS server on loopback UDP), an organization Brave key
//!   winning over the env key, MX valid/none/unknown with cache and off switch; unauthenticated,
//!   roles, other organization, invalid input with field paths.

pub mod resolver;
pub mod service;
pub mod types;

/// Kept while outreach moves to [`crate::platform::mx`].
pub use resolver::{ScrapingMutation, ScrapingQuery, ScrapingSubscription};
pub use service::{
    cancel, create_in,
    extract::warm_up,
    params::{validate_for, Params},
    run::{ScrapeRun, KIND as RUN_KIND},
    sources::{google_maps::SEARCH_FIELDS, settings::key_context, settings::Keys},
    target::{register_location_resolver, LocationResolver, TargetLocation},
};
