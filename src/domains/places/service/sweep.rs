//! Geocoding the leads that imports, crawls and other batch writers create, in batches.
//!
//! [`SweepOnLeadCreated`] (an after-commit handler on `lead.created`, run by the outbox relay
//! once the writer committed, so a writer that rolls back claims nothing) costs the writers no
//! statement at all: an in-process flag lets the first published `lead.created` of an
//! organization in each [`WINDOW_MS`]-long window enqueue one durable `places.geocode_sweep`
//! job, due at the end of the window (plus [`GRACE_MS`] for other writers' commits); the flag
//! is set only once the job is stored, and every other event of that window is not even handed
//! to it. Several instances' relays may each enqueue one: sweeps are safe to overlap (the
//! update only fills leads that still have no point, attempts are inserted once). A process
//! that dies between the relay's commit and the enqueue leaves that window's leads to the
//! organization's next sweep.
//!
//! [`GeocodeSweep`] runs the job: per batch of [`BATCH`] leads of the organization with a
//! city, region or country, no point and no recorded attempt, it makes one keyset read
//! (`id` order), geocodes each distinct "city, region, country" once (cached and polite, see
//! [`super::geocode`]), then in one transaction writes the points through
//! `leads::record_geocoded_many` (one `UPDATE`, one timeline insert, one event insert) and
//! records every lead's attempt (`geocoded` / `not_found`) in `lead_geocode_attempts`, so a
//! lead no geocoder can place is not asked again. A geocoder error fails the job (retried,
//! nothing recorded for that batch). After [`MAX_BATCHES`] batches it queues its own
//! continuation. A lead whose creating transaction commits after its window's sweep started is
//! picked up by the organization's next sweep.

use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex},
};

use async_trait::async_trait;
use chrono::Utc;
use entity::{lead, lead_geocode_attempt};
use sea_orm::{
    sea_query::{Condition, Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    geocode::{cached, configured, Candidate, Geocoder},
    lead_geocoding::place_query,
};
use crate::{
    domains::leads::{record_geocoded_many, Geocoded},
    error::AppResult,
    events::{handlers::PublishedHandler, DomainEvent, EventEnvelope},
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    state::{AppState, Wakes},
};

/// The job kind.
pub const KIND: &str = "places.geocode_sweep";
/// Leads per batch.
pub const BATCH: u64 = 100;
/// Batches per job run before it queues its continuation.
pub const MAX_BATCHES: usize = 20;
/// At most one sweep per organization and process is queued per window, milliseconds.
pub const WINDOW_MS: i64 = 5_000;
/// A sweep starts this long after its window ends, milliseconds.
pub const GRACE_MS: i64 = 1_000;

/// The window each organization last queued a sweep for, in this process.
static QUEUED: LazyLock<Mutex<HashMap<Uuid, i64>>> = LazyLock::new(Mutex::default);

fn window_now() -> i64 {
    Utc::now().timestamp_millis().div_euclid(WINDOW_MS)
}

fn queued(org: Uuid, window: i64) -> bool {
    let map = QUEUED.lock().unwrap_or_else(|e| e.into_inner());
    map.get(&org) == Some(&window)
}

/// Records that `org`'s sweep for `window` is queued.
fn claim(org: Uuid, window: i64) {
    let mut map = QUEUED.lock().unwrap_or_else(|e| e.into_inner());
    map.insert(org, window);
}

/// A sweep job for `org_id`, due at `run_at_ms`. A system job (the organization is in the
/// payload, not the job's `org_id`): nobody asked for it, so it records no `job.updated` events
/// on the organization's stream and does not show in its `jobs` list.
fn sweep_job(org_id: Uuid, run_at_ms: Option<i64>) -> NewJob {
    NewJob {
        max_attempts: 5,
        run_at_ms,
        ..NewJob::new(KIND, json!({ "orgId": org_id }))
    }
}

/// Queues the organization's sweep on the first committed `lead.created` of each window.
pub struct SweepOnLeadCreated;

#[async_trait]
impl PublishedHandler for SweepOnLeadCreated {
    fn wants(&self, event: &EventEnvelope) -> bool {
        matches!(event.event, DomainEvent::LeadCreated(_)) && !queued(event.org_id, window_now())
    }

    async fn handle(&self, db: &DatabaseConnection, events: &[&EventEnvelope]) -> AppResult<()> {
        let window = window_now();
        let due = (window + 1) * WINDOW_MS + GRACE_MS;
        for event in events {
            if queued(event.org_id, window) {
                continue;
            }
            // Claimed only once the job is stored: a failed enqueue leaves the window to the
            // next published `lead.created`.
            queue::enqueue(db, sweep_job(event.org_id, Some(due))).await?;
            claim(event.org_id, window);
        }
        Ok(())
    }
}

/// The `places.geocode_sweep` handler.
pub struct GeocodeSweep(pub AppState);

fn retryable(e: impl std::fmt::Debug) -> JobError {
    JobError::Retryable(format!("{e:?}"))
}

/// One keyset read: the next [`BATCH`] leads of `org_id` after `after` that have a place,
/// no point and no attempt, with their "city, region, country".
async fn pending(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    after: Option<Uuid>,
) -> AppResult<Vec<(Uuid, Option<String>)>> {
    type Row = (Uuid, Option<String>, Option<String>, Option<String>);
    let mut q = lead::Entity::find()
        .select_only()
        .columns([
            lead::Column::Id,
            lead::Column::City,
            lead::Column::Region,
            lead::Column::Country,
        ])
        .filter(lead::Column::OrgId.eq(org_id))
        .filter(lead::Column::Latitude.is_null())
        .filter(lead::Column::Longitude.is_null())
        .filter(
            Condition::any()
                .add(lead::Column::City.is_not_null())
                .add(lead::Column::Region.is_not_null())
                .add(lead::Column::Country.is_not_null()),
        )
        .filter(Expr::cust(
            r#"NOT EXISTS (SELECT 1 FROM "lead_geocode_attempts" WHERE "lead_geocode_attempts"."lead_id" = "leads"."id")"#,
        ));
    if let Some(after) = after {
        q = q.filter(lead::Column::Id.gt(after));
    }
    let rows: Vec<Row> = q
        .order_by_asc(lead::Column::Id)
        .limit(BATCH)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, city, region, country)| (id, place_query(&city, &region, &country)))
        .collect())
}

fn geocoded(best: &Candidate, query: &str) -> Geocoded {
    Geocoded {
        latitude: best.latitude,
        longitude: best.longitude,
        geocoder: best.geocoder.clone(),
        precision: serde_json::to_value(best.precision)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        query: query.to_string(),
    }
}

/// Geocodes one batch and writes it: `(written, not found)`.
async fn sweep_batch(
    state: &AppState,
    geocoder: &dyn Geocoder,
    org_id: Uuid,
    batch: &[(Uuid, Option<String>)],
) -> AppResult<(usize, usize)> {
    let mut answers: HashMap<&str, Option<Candidate>> = HashMap::new();
    for q in batch.iter().filter_map(|(_, q)| q.as_deref()) {
        if !answers.contains_key(q) {
            let best = cached(state, geocoder, q).await?.into_iter().next();
            answers.insert(q, best);
        }
    }
    let found: Vec<(Uuid, Geocoded)> = batch
        .iter()
        .filter_map(|(id, q)| {
            let q = q.as_deref()?;
            let best = answers.get(q)?.as_ref()?;
            Some((*id, geocoded(best, q)))
        })
        .collect();
    let now = Utc::now();
    let attempts = batch.iter().map(|(id, _)| {
        let hit = found.iter().any(|(f, _)| f == id);
        lead_geocode_attempt::ActiveModel {
            lead_id: Set(*id),
            org_id: Set(org_id),
            outcome: Set(if hit { "geocoded" } else { "not_found" }.into()),
            attempted_at: Set(now),
        }
    });
    let txn = state.db.begin().await?;
    let written = record_geocoded_many(&txn, org_id, &found).await?;
    lead_geocode_attempt::Entity::insert_many(attempts)
        .on_conflict(
            OnConflict::column(lead_geocode_attempt::Column::LeadId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    state.commit(txn, Wakes::Events).await?;
    Ok((written.len(), batch.len() - found.len()))
}

#[async_trait]
impl JobHandler for GeocodeSweep {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let org_id = ctx.job.payload["orgId"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| JobError::Permanent("bad payload: orgId".into()))?;
        let state = &self.0;
        let geocoder = configured(state);
        let (mut after, mut written, mut not_found, mut batches) = (None, 0, 0, 0);
        let mut done = false;
        while !done && batches < MAX_BATCHES {
            let batch = pending(&state.db, org_id, after).await.map_err(retryable)?;
            done = (batch.len() as u64) < BATCH;
            let Some(last) = batch.last() else { break };
            after = Some(last.0);
            let (w, n) = sweep_batch(state, geocoder.as_ref(), org_id, &batch)
                .await
                .map_err(retryable)?;
            (written, not_found, batches) = (written + w, not_found + n, batches + 1);
        }
        if !done {
            queue::enqueue(&state.db, sweep_job(org_id, None))
                .await
                .map_err(retryable)?;
            state.jobs_enqueued();
        }
        Ok(json!({
            "geocoded": written, "notFound": not_found, "batches": batches, "more": !done,
        }))
    }
}
