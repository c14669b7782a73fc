//! The geocoding sweep: leads created by an import (50, with cities) get points from the
//! offline gazetteer in a bounded number of statements per batch (no read per lead in the
//! import's transaction), each attempt is recorded so a place no geocoder finds is not asked
//! again, the events and timeline entries are written, and a sweep never touches another
//! organization's leads.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use leadgraph::{
    auth::Role,
    domains::places::GEOCODE_SWEEP_KIND,
    events::{outbox, DomainEvent, EventEnvelope, LeadChanged},
    jobs::{queue, NewJob},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{lead, member, org_named},
    helpers::{Options, TestApp},
    leads::import,
};

/// The organization's finished sweep jobs, once there are `n` (waits up to 30 s).
async fn sweeps(app: &TestApp, org: Uuid, n: usize) -> Vec<entity::job::Model> {
    for _ in 0..300 {
        let done: Vec<_> = entity::job::Entity::find()
            .filter(entity::job::Column::Kind.eq(GEOCODE_SWEEP_KIND))
            .all(&app.state.db)
            .await
            .unwrap()
            .into_iter()
            // A system job: the organization is in the payload.
            .filter(|j| j.org_id.is_none() && j.payload["orgId"] == json!(org))
            .filter(|j| j.state == "succeeded" || j.state == "failed")
            .collect();
        if done.len() >= n {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("fewer than {n} sweeps finished");
}

async fn leads_of(app: &TestApp, org: Uuid) -> HashMap<String, entity::lead::Model> {
    entity::lead::Entity::find()
        .filter(entity::lead::Column::OrgId.eq(org))
        .all(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.email.clone().unwrap_or_default(), l))
        .collect()
}

async fn attempts(app: &TestApp) -> Vec<entity::lead_geocode_attempt::Model> {
    entity::lead_geocode_attempt::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn imported_leads_are_geocoded_in_batches_and_failures_are_asked_once() {
    let app = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let org = org_named(&app, "Sweep Acme").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    let cities = [
        ("Austin", "TX", 30.26715, -97.74306),
        ("Dallas", "TX", 32.78306, -96.80667),
    ];
    let mut csv = String::from("Email,Company,City,Region,Country\n");
    for i in 0..50 {
        if i % 10 == 9 {
            csv.push_str(&format!("s{i}@sweep.test,Co,Qwxzy,ZZ,US\n"));
        } else {
            let (city, region, _, _) = cities[i % 2];
            csv.push_str(&format!("s{i}@sweep.test,Co,{city},{region},US\n"));
        }
    }
    // Start at the beginning of a sweep window, so the import's events fall in one window.
    window_start().await;
    let r = import(&app, &mel.token, csv.into_bytes(), "SKIP").await;
    assert_eq!(r["imported"], 50, "{r}");
    // What the import's writer ran is behind us: from here on, the sweep's statements.
    app.state.sql_log.take();
    app.state.jobs_enqueued();
    let jobs = sweeps(&app, org, 1).await;
    assert_eq!(jobs.len(), 1, "one sweep for the whole import");
    let result = jobs[0].result.clone().unwrap();
    assert_eq!(
        result,
        json!({"geocoded": 45, "notFound": 5, "batches": 1, "more": false})
    );
    let log = app.state.sql_log.take();

    let leads = leads_of(&app, org).await;
    for i in 0..50 {
        let l = &leads[&format!("s{i}@sweep.test")];
        if i % 10 == 9 {
            assert_eq!((l.latitude, l.longitude), (None, None));
            continue;
        }
        let (_, _, lat, lng) = cities[i % 2];
        assert!(
            (l.latitude.unwrap() - lat).abs() < 1e-4,
            "{i}: {:?}",
            l.latitude
        );
        assert!((l.longitude.unwrap() - lng).abs() < 1e-4);
        assert_eq!(l.provenance["location"]["reference"], "geocoder:gazetteer");
        assert_eq!(l.provenance["location"]["precision"], "CITY");
    }
    let tried = attempts(&app).await;
    assert_eq!(tried.len(), 50);
    assert_eq!(tried.iter().filter(|a| a.outcome == "not_found").count(), 5);

    // Statements of the batch: one keyset read, one UPDATE of the leads, one timeline insert,
    // one attempts insert (and the events' one multi-row insert, not told apart here from the
    // job runner's own events).
    let touching = |needle: &str| log.iter().filter(|s| s.contains(needle)).count();
    assert_eq!(
        touching(r#"NOT EXISTS (SELECT 1 FROM "lead_geocode_attempts""#),
        1,
        "{log:#?}"
    );
    assert_eq!(touching(r#"UPDATE "leads""#), 1, "{log:#?}");
    assert_eq!(touching(r#"INSERT INTO "lead_geocode_attempts""#), 1);
    assert_eq!(touching(r#"INSERT INTO "lead_interactions""#), 1);
    let on_leads = log
        .iter()
        .filter(|s| s.contains(r#""leads""#) || s.contains("lead_interactions"))
        .count();
    assert!(on_leads <= 4, "{on_leads} statements on leads: {log:#?}");

    // Events and timeline: one `lead.updated` (location, no actor) per geocoded lead.
    let events = entity::outbox_event::Entity::find()
        .filter(entity::outbox_event::Column::OrgId.eq(org))
        .filter(entity::outbox_event::Column::EventType.eq("lead.updated"))
        .all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(events.len(), 45);
    assert!(events
        .iter()
        .all(|e| e.user_id.is_none() && e.payload["data"]["changedFields"] == json!(["location"])));
    let timeline = entity::lead_interaction::Entity::find()
        .filter(entity::lead_interaction::Column::OrgId.eq(org))
        .filter(entity::lead_interaction::Column::Kind.eq("geocoded"))
        .count(&app.state.db)
        .await
        .unwrap();
    assert_eq!(timeline, 45);

    // A later lead starts another sweep: it geocodes the new lead only; the places no
    // geocoder found are not asked again.
    let before: HashMap<Uuid, _> = tried.iter().map(|a| (a.lead_id, a.attempted_at)).collect();
    tokio::time::sleep(Duration::from_millis(5_100)).await;
    let input = json!({"email": "late@sweep.test", "location": {"city": "Austin", "region": "TX"}});
    lead(&app, &mel.token, input).await;
    let jobs = sweeps(&app, org, 2).await;
    let results: Vec<&Value> = jobs.iter().filter_map(|j| j.result.as_ref()).collect();
    assert!(
        results.contains(&&json!({"geocoded": 1, "notFound": 0, "batches": 1, "more": false})),
        "{results:?}"
    );
    let after = attempts(&app).await;
    assert_eq!(after.len(), 51);
    for a in after.iter().filter(|a| before.contains_key(&a.lead_id)) {
        assert_eq!(Some(&a.attempted_at), before.get(&a.lead_id), "asked once");
    }
}

/// Waits until the current sweep window is at most 300 ms old.
async fn window_start() {
    while Utc::now().timestamp_millis() % 5_000 > 300 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_writer_that_rolls_back_does_not_use_up_the_window() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Sweep Rollback").await;
    let mel = member(&app, org, Role::Member, "Mel").await;
    window_start().await;
    // A writer records a `lead.created` and rolls back.
    let txn = app.state.db.begin().await.unwrap();
    let gone = LeadChanged {
        lead_id: Uuid::now_v7(),
        changed_fields: vec![],
        owner_id: None,
    };
    let event = EventEnvelope::new(org, None, DomainEvent::LeadCreated(gone));
    outbox::record(&txn, &event).await.unwrap();
    txn.rollback().await.unwrap();
    // A lead committed in the same window still gets its sweep.
    let input = json!({"email": "kept@sweep.test", "location": {"city": "Austin", "region": "TX"}});
    lead(&app, &mel.token, input).await;
    let jobs = sweeps(&app, org, 1).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].result,
        Some(json!({"geocoded": 1, "notFound": 0, "batches": 1, "more": false}))
    );
    let kept = &leads_of(&app, org).await["kept@sweep.test"];
    assert!((kept.latitude.unwrap() - 30.26715).abs() < 1e-4);
}

#[tokio::test]
async fn a_sweep_never_touches_another_organizations_leads() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Sweep Mine").await;
    let other = org_named(&app, "Sweep Theirs").await;
    // Their lead, written directly (no event, so no sweep of theirs is queued).
    let now = Utc::now();
    let theirs = Uuid::now_v7();
    entity::lead::ActiveModel {
        id: Set(theirs),
        org_id: Set(other),
        first_name: Set(None),
        last_name: Set(None),
        email: Set(Some("theirs@sweep.test".into())),
        phone: Set(None),
        company: Set("Theirs".into()),
        title: Set(None),
        website: Set(None),
        industry: Set(None),
        city: Set(Some("Austin".into())),
        region: Set(Some("TX".into())),
        country: Set(Some("US".into())),
        latitude: Set(None),
        longitude: Set(None),
        source: Set("MANUAL".into()),
        status: Set("NEW".into()),
        score: Set(0),
        score_reasons: Set(json!([])),
        custom_fields: Set(json!({})),
        provenance: Set(json!({})),
        owner_id: Set(None),
        last_contacted_at: Set(None),
        email_status: Set(None),
        validated_at: Set(None),
        phone_type: Set(None),
        phone_carrier: Set(None),
        phone_country: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&app.state.db)
    .await
    .unwrap();
    let job = NewJob::new(GEOCODE_SWEEP_KIND, json!({"orgId": org}));
    queue::enqueue(&app.state.db, job).await.unwrap();
    app.state.jobs_enqueued();
    let done = sweeps(&app, org, 1).await;
    assert_eq!(done[0].state, "succeeded");
    assert_eq!(done[0].result.as_ref().unwrap()["geocoded"], 0);
    let l = leads_of(&app, other).await;
    assert_eq!(l["theirs@sweep.test"].latitude, None);
    assert!(attempts(&app).await.is_empty());
    // A payload without an organization fails for good.
    queue::enqueue(&app.state.db, NewJob::new(GEOCODE_SWEEP_KIND, json!({})))
        .await
        .unwrap();
    app.state.jobs_enqueued();
    for _ in 0..300 {
        let failed = entity::job::Entity::find()
            .filter(entity::job::Column::Kind.eq(GEOCODE_SWEEP_KIND))
            .filter(entity::job::Column::State.eq("failed"))
            .count(&app.state.db)
            .await
            .unwrap();
        if failed == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the bad payload did not fail");
}
