//! Compiled reads of the newest-first roots (`graphql::compiled::newest`) and of `lead(id)`:
//! `campaigns` with templates, recipients and their leads, `scrapeJobs` with their leads in
//! lead order, and one lead with its timeline, each answered by one statement and equal to the
//! resolvers' answers (key order included) on data with NULLs, a template of another
//! organization, more rows than a page, recipients whose lead was deleted and tied times.

use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::compiled::{at, compiled, pair_with_other, Pair};

async fn template(p: &Pair, org: Uuid, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    entity::email_template::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        name: Set(name.into()),
        category: Set(name.len().is_multiple_of(2).then(|| "intro".to_string())),
        subject: Set(format!("Hi {{{{ lead.firstName }}}} \"{name}\"")),
        body_html: Set("<p>Hello</p>".into()),
        body_text: Set("Hello\n".into()),
        favorite: Set(name.len() % 2 == 1),
        ai_generated: Set(false),
        created_by: Set(None),
        created_at: Set(at(3, 120_000_000)),
        updated_at: Set(at(4, 0)),
    }
    .insert(&p.compiled.state.db)
    .await
    .unwrap();
    id
}

/// Campaigns with and without templates (one of another organization, which must read as
/// null), 30 recipients on one (more than a default page), every status, some leads deleted.
async fn seed_campaigns(p: &Pair, org: Uuid, other: Uuid) {
    let db = &p.compiled.state.db;
    let mine = template(p, org, "Mine").await;
    let theirs = template(p, other, "Theirs").await;
    let leads: Vec<Uuid> = {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::lead::Entity::find()
            .filter(entity::lead::Column::OrgId.eq(org))
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.id)
            .collect()
    };
    let statuses = ["DRAFT", "RUNNING", "COMPLETED", "PAUSED", "bogus"];
    for (i, tpl) in [Some(mine), Some(theirs), None, Some(mine), None]
        .into_iter()
        .enumerate()
    {
        let id = Uuid::now_v7();
        entity::campaign::ActiveModel {
            id: Set(id),
            org_id: Set(org),
            name: Set(format!("Campaign {i} \"q\" ü")),
            template_id: Set(tpl),
            from_name: Set("Us".into()),
            from_email: Set("us@example.com".into()),
            reply_to: Set((i % 2 == 0).then(|| "reply@example.com".to_string())),
            send_rate_per_minute: Set((i % 2 == 1).then_some(60)),
            schedule_at: Set((i == 3).then(|| at(9, 5_000))),
            status: Set(statuses[i].into()),
            variants: Set(json!([])),
            launched_at: Set((i > 0).then(|| at(5, 123_456_000))),
            last_error: Set((i == 4).then(|| "smtp: 550".to_string())),
            created_at: Set(at(i as i64, 0)),
            updated_at: Set(at(i as i64, 1_000_000)),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        let n = [30, 3, 0, 21, 1][i];
        for k in 0..n {
            let rstatuses = ["SENT", "OPENED", "BOUNCED", "PENDING", "weird"];
            entity::campaign_recipient::ActiveModel {
                id: Set(Uuid::now_v7()),
                campaign_id: Set(id),
                org_id: Set(org),
                lead_id: Set((k % 7 != 3 && k < leads.len()).then(|| leads[k])),
                email: Set(format!("r{k}@x.test")),
                status: Set(rstatuses[k % 5].into()),
                variant: Set((k % 2 == 0).then(|| "A".to_string())),
                message_id: Set(format!("<{k}.{id}@x.test>")),
                attempts: Set(k as i32 % 3),
                open_count: Set(k as i32 % 4),
                click_count: Set(0),
                sent_at: Set((k % 3 != 0).then(|| at(k as i64, 120_000_000))),
                bounce_kind: Set((k % 5 == 2).then(|| "hard".to_string())),
                last_event_at: Set((k % 4 == 1).then(|| at(k as i64, 5_000))),
                error: Set((k % 6 == 5).then(|| "tab\there".to_string())),
                created_at: Set(at(k as i64, 0)),
                updated_at: Set(at(k as i64, 0)),
                ..Default::default()
            }
            .insert(db)
            .await
            .unwrap();
        }
    }
}

const SHAPE_06: &str = "{ campaigns(first: 10) { nodes { id name status recipients(first: 20) { nodes { status email lead { id email company score } } } } } }";
const SHAPE_12: &str =
    "{ campaigns(first: 50) { nodes { id name status template { id name subject } } } }";

const EVERY_CAMPAIGN_FIELD: &str = "query($n: Int, $r: Int, $a: String, $b: String, $l: Int, $f: CampaignFilter) { \
    campaigns(first: $n, after: $a, before: $b, last: $l, filter: $f) { __typename totalCount \
    pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } \
    edges { __typename cursor node { id } } \
    nodes { __typename id name status fromName fromEmail replyTo sendRatePerMinute scheduleAt \
      launchedAt completedAt lastError createdById createdAt updatedAt \
      template { __typename id name category subject bodyHtml bodyText favorite aiGenerated createdById createdAt updatedAt } \
      recipients(first: $r) { __typename totalCount pageInfo { __typename hasNextPage hasPreviousPage } \
        nodes { __typename id email status variant messageId attempts openCount clickCount sentAt openedAt \
          clickedAt repliedAt bouncedAt bounceKind unsubscribedAt lastEventAt error \
          lead { __typename id fullName email tags owner { id } notes(first: 2) { totalCount nodes { body } } campaigns { status campaign { id name } } } } } } } }";

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_compiled_campaigns_match_the_resolvers() {
    crate::helpers::require_postgres();
    let (p, org, other) = pair_with_other().await;
    seed_campaigns(&p, org, other).await;

    for q in [SHAPE_06, SHAPE_12] {
        let (v, stmts) = p.both(q, json!({})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert_eq!(v["data"]["campaigns"]["nodes"].as_array().unwrap().len(), 6);
        assert_eq!(stmts.len(), 1, "{q}: {stmts:#?}");
        assert!(compiled(&stmts));
    }
    let (v, _) = p.both(SHAPE_12, json!({})).await;
    let names: Vec<&Value> = v["data"]["campaigns"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["template"])
        .collect();
    // The template of another organization reads as null, as in the resolvers.
    assert_eq!(names.iter().filter(|t| t.is_null()).count(), 4, "{v}");

    for (n, r) in [
        (json!(null), json!(2)),
        (json!(2), json!(0)),
        (json!(6), json!(25)),
        (json!(0), json!(5)),
    ] {
        let (v, stmts) = p.both(EVERY_CAMPAIGN_FIELD, json!({"n": n, "r": r})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert_eq!(stmts.len(), 2, "the page and its totalCount: {stmts:#?}");
    }
    // Keyset pages through the root's cursors, both directions, and filters.
    let (v, _) = p.both(EVERY_CAMPAIGN_FIELD, json!({"n": 2})).await;
    let end = v["data"]["campaigns"]["pageInfo"]["endCursor"].clone();
    let (v, stmts) = p
        .both(EVERY_CAMPAIGN_FIELD, json!({"n": 2, "a": end}))
        .await;
    assert!(compiled(&stmts));
    assert_eq!(
        v["data"]["campaigns"]["pageInfo"]["hasPreviousPage"], true,
        "{v}"
    );
    let start = v["data"]["campaigns"]["pageInfo"]["startCursor"].clone();
    p.both(EVERY_CAMPAIGN_FIELD, json!({"l": 1, "b": start}))
        .await;
    for f in [
        json!({"status": ["RUNNING", "DRAFT"]}),
        json!({"search": "campaign 3"}),
        json!({"status": []}),
    ] {
        let (v, stmts) = p.both(EVERY_CAMPAIGN_FIELD, json!({"n": 10, "f": f})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(compiled(&stmts), "{f}");
    }

    // Left to the resolvers (same answers, more statements): nested cursors, a status filter on
    // recipients, statistics; and refused input gets the resolvers' errors.
    for q in [
        "{ campaigns { nodes { recipients(first: 2) { edges { cursor } } } } }",
        "{ campaigns { nodes { recipients(first: 2, status: [SENT]) { nodes { id } } } } }",
        "{ campaigns { nodes { counters { sent } } } }",
        "{ campaigns(filter: {status: RUNNING}) { nodes { id } } }",
    ] {
        let (v, stmts) = p.both(q, json!({})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(!compiled(&stmts), "{q}: {stmts:#?}");
    }
    for q in [
        "{ campaigns(first: 500) { nodes { id } } }",
        "{ campaigns(filter: {templateId: \"nope\"}) { nodes { id } } }",
        "{ campaigns { nodes { recipients(first: -1) { nodes { id } } } } }",
    ] {
        let (v, _) = p.both(q, json!({})).await;
        assert_eq!(crate::helpers::code(&v), Some("BAD_USER_INPUT"), "{q}: {v}");
    }
}

/// Statement count of the compiled campaigns page does not grow with the page sizes.
#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_compiled_campaigns_cost_one_statement_at_every_page_size() {
    crate::helpers::require_postgres();
    let (p, org, other) = pair_with_other().await;
    seed_campaigns(&p, org, other).await;
    let q = "query($n: Int!, $r: Int!) { campaigns(first: $n) { nodes { id template { name } recipients(first: $r) { nodes { email lead { id tags } } } } } }";
    for (n, r) in [(1, 1), (3, 10), (6, 50)] {
        let (v, stmts) = p.both(q, json!({"n": n, "r": r})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert_eq!(stmts.len(), 1, "{stmts:#?}");
    }
}

/// Timeline entries for every other lead of `org` (kinds, actors, JSON data, tied times).
async fn seed_timeline(p: &Pair, org: Uuid) -> Vec<Uuid> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let db = &p.compiled.state.db;
    let leads: Vec<Uuid> = entity::lead::Entity::find()
        .filter(entity::lead::Column::OrgId.eq(org))
        .order_by_asc(entity::lead::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    for (i, lead) in leads.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
        for k in 0..(i % 7) * 5 {
            entity::lead_interaction::ActiveModel {
                id: Set(Uuid::now_v7()),
                lead_id: Set(*lead),
                org_id: Set(org),
                kind: Set(["created", "note_added", "status_changed", "ünï \"q\""][k % 4].into()),
                actor_id: Set((k % 3 == 0).then(Uuid::now_v7)),
                data: Set(json!({"b": k, "a": [1, "x"]})),
                created_at: Set(at((k / 3) as i64, [0, 120_000_000, 123_456_000][k % 3])),
            }
            .insert(db)
            .await
            .unwrap();
        }
    }
    leads
}

const SHAPE_07: &str = "query($id: ID!) { lead(id: $id) { id fullName email campaigns { campaign { id name } } notes(first: 10) { nodes { body createdAt } } timeline(first: 20) { nodes { kind createdAt } } } }";

const EVERY_TIMELINE_FIELD: &str = "query($id: ID!, $n: Int) { lead(id: $id) { __typename id status tags owner { id } \
    timeline(first: $n) { __typename totalCount pageInfo { __typename hasNextPage hasPreviousPage } \
      nodes { __typename id kind actorId createdAt } } } }";

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_compiled_lead_detail_matches_the_resolvers() {
    crate::helpers::require_postgres();
    let (p, org, other) = pair_with_other().await;
    let leads = seed_timeline(&p, org).await;
    let theirs = seed_timeline(&p, other).await;
    assert!(leads.len() >= 12, "{}", leads.len());

    for id in &leads {
        let (v, stmts) = p.both(SHAPE_07, json!({"id": id})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert_eq!(v["data"]["lead"]["id"], json!(id), "{v}");
        assert_eq!(stmts.len(), 1, "{stmts:#?}");
        assert!(compiled(&stmts));
        for n in [json!(null), json!(0), json!(3), json!(50)] {
            let (v, stmts) = p
                .both(EVERY_TIMELINE_FIELD, json!({"id": id, "n": n}))
                .await;
            assert!(v.get("errors").is_none(), "{v}");
            assert_eq!(stmts.len(), 1, "{stmts:#?}");
        }
    }
    // Another organization's lead and a missing one read as null, compiled too.
    for id in [theirs[0], Uuid::now_v7()] {
        let (v, stmts) = p.both(SHAPE_07, json!({"id": id})).await;
        assert_eq!(v["data"]["lead"], Value::Null, "{v}");
        assert_eq!(stmts.len(), 1, "{stmts:#?}");
        assert!(compiled(&stmts));
    }
    // Left to the resolvers (same answers): an id that is not a UUID (null without a
    // statement), the timeline's JSON data and cursors.
    let (v, _) = p.both(SHAPE_07, json!({"id": "nope"})).await;
    assert_eq!(v["data"]["lead"], Value::Null, "{v}");
    for q in [
        "query($id: ID!) { lead(id: $id) { timeline(first: 3) { nodes { data } } } }",
        "query($id: ID!) { lead(id: $id) { timeline(first: 3) { edges { cursor } } } }",
        "query($id: ID!) { lead(id: $id) { analysis { fitScore } } }",
    ] {
        let (v, stmts) = p.both(q, json!({"id": leads[0]})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(!compiled(&stmts), "{q}: {stmts:#?}");
    }
    let (v, _) = p
        .both(EVERY_TIMELINE_FIELD, json!({"id": leads[0], "n": 500}))
        .await;
    assert_eq!(crate::helpers::code(&v), Some("BAD_USER_INPUT"), "{v}");
}

/// Scrape jobs of `org` (every status, one unknown, some without leads), each linked to leads
/// of `org` as the scraper links them (the lead's creation time on the link), one job of
/// `other`.
async fn seed_jobs(p: &Pair, org: Uuid, other: Uuid) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let db = &p.compiled.state.db;
    let leads: Vec<Uuid> = entity::lead::Entity::find()
        .filter(entity::lead::Column::OrgId.eq(org))
        .order_by_asc(entity::lead::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    let statuses = [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "bogus",
    ];
    for (i, (owner, status)) in [org, org, org, org, other, org, org]
        .into_iter()
        .zip(statuses.iter().cycle())
        .enumerate()
    {
        let job = Uuid::now_v7();
        entity::scrape_job::ActiveModel {
            id: Set(job),
            org_id: Set(owner),
            created_by: Set(None),
            source: Set(["WEBSITE", "GOOGLE_MAPS", "legacy"][i % 3].into()),
            name: Set(format!("Scrape {i} \"q\" ü")),
            params: Set(json!({"urls": ["https://example.com/"]})),
            status: Set((*status).into()),
            seeded: Set(true),
            run_attempt: Set(1),
            pages_total: Set(1),
            pages_fetched: Set(1),
            pages_failed: Set(0),
            pages_skipped: Set(0),
            leads_found: Set(0),
            leads_created: Set(0),
            leads_updated: Set(0),
            error: Set((i == 3).then(|| "tab\there".to_string())),
            started_at: Set((i % 2 == 1).then(|| at(i as i64, 5_000))),
            created_at: Set(at(i as i64, 0)),
            updated_at: Set(at(i as i64, 120_000_000)),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        if owner != org {
            continue;
        }
        let n = [30, 0, 3, 1, 0, 12, 25][i].min(leads.len());
        for (k, lead) in leads
            .iter()
            .enumerate()
            .filter(|(k, _)| (k + i) % 2 == 0)
            .take(n)
        {
            entity::scrape_job_lead::ActiveModel {
                scrape_job_id: Set(job),
                lead_id: Set(*lead),
                org_id: Set(org),
                outcome: Set(["created", "updated"][k % 2].into()),
                url: Set(format!("https://example.com/{k}")),
                created_at: Set(at(k as i64, 0)),
                lead_created_at: Set(None),
            }
            .insert(db)
            .await
            .unwrap();
        }
    }
    crate::fixtures::link_lead_order(&p.compiled).await;
}

const SHAPE_08: &str = "{ scrapeJobs(first: 10) { nodes { id name status leads(first: 20) { nodes { id email company } } } } }";

const EVERY_JOB_FIELD: &str = "query($n: Int, $r: Int, $a: String, $f: ScrapeJobFilter) { \
    scrapeJobs(first: $n, after: $a, filter: $f) { __typename totalCount \
    pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor } \
    edges { __typename cursor node { id } } \
    nodes { __typename id name source status error jobId createdById startedAt finishedAt createdAt updatedAt \
      leads(first: $r) { __typename totalCount nodes { __typename id fullName email createdAt tags \
        owner { id } } } } } }";

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_compiled_scrape_jobs_match_the_resolvers() {
    crate::helpers::require_postgres();
    let (p, org, other) = pair_with_other().await;
    seed_jobs(&p, org, other).await;

    let (v, stmts) = p.both(SHAPE_08, json!({})).await;
    assert!(v.get("errors").is_none(), "{v}");
    assert_eq!(
        v["data"]["scrapeJobs"]["nodes"].as_array().unwrap().len(),
        6
    );
    assert_eq!(stmts.len(), 1, "{stmts:#?}");
    assert!(compiled(&stmts));
    for (n, r) in [
        (json!(null), json!(3)),
        (json!(2), json!(null)),
        (json!(6), json!(5)),
        (json!(0), json!(50)),
    ] {
        let (v, stmts) = p.both(EVERY_JOB_FIELD, json!({"n": n, "r": r})).await;
        assert!(v.get("errors").is_none(), "{v}");
        // The root's totalCount is a second statement; the jobs' lead counts are in the first.
        assert_eq!(stmts.len(), 2, "{stmts:#?}");
    }
    // The root's cursors, and filters.
    let (v, _) = p.both(EVERY_JOB_FIELD, json!({"n": 2})).await;
    let end = v["data"]["scrapeJobs"]["pageInfo"]["endCursor"].clone();
    let (v, stmts) = p.both(EVERY_JOB_FIELD, json!({"n": 2, "a": end})).await;
    assert!(compiled(&stmts));
    assert_eq!(
        v["data"]["scrapeJobs"]["pageInfo"]["hasPreviousPage"], true,
        "{v}"
    );
    for f in [
        json!({"status": ["SUCCEEDED", "QUEUED"]}),
        json!({"source": ["GOOGLE_MAPS"]}),
        json!({"status": []}),
    ] {
        let (v, stmts) = p.both(EVERY_JOB_FIELD, json!({"n": 10, "f": f})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(compiled(&stmts), "{f}");
    }
    // Left to the resolvers: nested cursors and page info, counters, parameters.
    for q in [
        "{ scrapeJobs { nodes { leads(first: 2) { edges { cursor } } } } }",
        "{ scrapeJobs { nodes { leads(first: 2) { pageInfo { hasNextPage } } } } }",
        "{ scrapeJobs { nodes { progress { currentUrl } params } } }",
    ] {
        let (v, stmts) = p.both(q, json!({})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert!(!compiled(&stmts), "{q}: {stmts:#?}");
    }
    for q in [
        "{ scrapeJobs(first: 500) { nodes { id } } }",
        "{ scrapeJobs { nodes { leads(first: -1) { nodes { id } } } } }",
    ] {
        let (v, _) = p.both(q, json!({})).await;
        assert_eq!(crate::helpers::code(&v), Some("BAD_USER_INPUT"), "{q}: {v}");
    }
    // One statement at every page size.
    let q = "query($n: Int!, $r: Int!) { scrapeJobs(first: $n) { nodes { id leads(first: $r) { nodes { email tags } } } } }";
    for (n, r) in [(1, 1), (3, 10), (6, 50)] {
        let (v, stmts) = p.both(q, json!({"n": n, "r": r})).await;
        assert!(v.get("errors").is_none(), "{v}");
        assert_eq!(stmts.len(), 1, "{stmts:#?}");
    }
}
