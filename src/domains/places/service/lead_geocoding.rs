//! Geocoding leads one by one: a lead a person updates with a city, region or country but
//! without coordinates gets them from the configured geocoder (created leads are swept in
//! batches: [`super::sweep`]). [`GeocodeOnLeadChange`] (registered in
//! `events::handlers`, so leads never names places) enqueues one durable `places.geocode_lead`
//! job per such lead in the writer's transaction; [`GeocodeLead`] runs it: it geocodes
//! "city, region, country" (cached, polite, see [`super::geocode`]) and writes the best
//! candidate through `leads::record_geocoded`, with provenance `geocoder:<name>` and the
//! precision. A point set meanwhile by a person is kept; nothing found leaves the lead as is.

use async_trait::async_trait;
use entity::lead;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::{json, Value};
use uuid::Uuid;

use super::geocode::{cached, configured};
use crate::{
    auth::{Role, Viewer, ViewerVia},
    domains::leads::{record_geocoded, Geocoded},
    error::AppResult,
    events::{
        handlers::{EventHandler, HandlerConn},
        DomainEvent, EventEnvelope,
    },
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    state::{AppState, Wakes},
};

/// The job kind.
pub const KIND: &str = "places.geocode_lead";

/// Fields whose change can make a lead geocodable.
const PLACE_FIELDS: [&str; 4] = ["city", "region", "country", "location"];

/// "city, region, country" from the parts given (blank ones left out), when any is given.
pub fn place_query(
    city: &Option<String>,
    region: &Option<String>,
    country: &Option<String>,
) -> Option<String> {
    let parts: Vec<&str> = [city, region, country]
        .into_iter()
        .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// "city, region, country" of a lead without coordinates, when it has any of them.
pub fn geocodable(l: &lead::Model) -> Option<String> {
    if l.latitude.is_some() || l.longitude.is_some() {
        return None;
    }
    place_query(&l.city, &l.region, &l.country)
}

/// Queues a geocoding job when a person changes a lead's place fields (not on creation).
pub struct GeocodeOnLeadChange;

#[async_trait]
impl EventHandler for GeocodeOnLeadChange {
    fn wants(&self, event: &EventEnvelope) -> bool {
        event.user_id.is_some()
            && match &event.event {
                // Not on creation: imports and crawls create leads in batches, and a read per
                // created lead in the writer's transaction is the N+1 the crawl's
                // statements-per-batch test refuses; `super::sweep` geocodes them in batches.
                DomainEvent::LeadUpdated(c) => c
                    .changed_fields
                    .iter()
                    .any(|f| PLACE_FIELDS.contains(&f.as_str())),
                _ => false,
            }
    }

    async fn handle(&self, conn: &HandlerConn<'_>, event: &EventEnvelope) -> AppResult<()> {
        let DomainEvent::LeadUpdated(c) = &event.event else {
            return Ok(());
        };
        let Some(actor) = event.user_id else {
            return Ok(());
        };
        let lead = lead::Entity::find_by_id(c.lead_id)
            .filter(lead::Column::OrgId.eq(event.org_id))
            .one(conn)
            .await?;
        if lead.as_ref().and_then(geocodable).is_none() {
            return Ok(());
        }
        let payload = json!({"orgId": event.org_id, "leadId": c.lead_id, "actorId": actor});
        let job = NewJob {
            org_id: Some(event.org_id),
            created_by: Some(actor),
            max_attempts: 3,
            ..NewJob::new(KIND, payload)
        };
        queue::enqueue(conn, job).await?;
        Ok(())
    }
}

/// The `places.geocode_lead` handler.
pub struct GeocodeLead(pub AppState);

fn id_of(payload: &Value, key: &str) -> Result<Uuid, JobError> {
    payload[key]
        .as_str()
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobError::Permanent(format!("bad payload: {key}")))
}

fn retryable(e: impl std::fmt::Debug) -> JobError {
    JobError::Retryable(format!("{e:?}"))
}

#[async_trait]
impl JobHandler for GeocodeLead {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p = &ctx.job.payload;
        let (org_id, lead_id, actor) = (
            id_of(p, "orgId")?,
            id_of(p, "leadId")?,
            id_of(p, "actorId")?,
        );
        let state = &self.0;
        let lead = lead::Entity::find_by_id(lead_id)
            .filter(lead::Column::OrgId.eq(org_id))
            .one(&state.db)
            .await
            .map_err(retryable)?;
        let Some(query) = lead.as_ref().and_then(geocodable) else {
            return Ok(json!({"status": "skipped"}));
        };
        let geocoder = configured(state);
        let found = cached(state, geocoder.as_ref(), &query)
            .await
            .map_err(retryable)?;
        let Some(best) = found.into_iter().next() else {
            return Ok(json!({"status": "not_found", "query": query}));
        };
        let found = Geocoded {
            latitude: best.latitude,
            longitude: best.longitude,
            geocoder: best.geocoder.clone(),
            precision: serde_json::to_value(best.precision)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            query,
        };
        // The job acts for whoever created or changed the lead, as a member (it only writes
        // the coordinates a member could write).
        let viewer = Viewer {
            user_id: actor,
            org_id,
            role: Role::Member,
            via: ViewerVia::Jwt,
            session_id: None,
        };
        let txn = state.db.begin().await.map_err(retryable)?;
        let written = record_geocoded(&txn, &viewer, lead_id, &found)
            .await
            .map_err(retryable)?;
        state.commit(txn, Wakes::Events).await.map_err(retryable)?;
        Ok(json!({
            "status": if written.is_some() { "geocoded" } else { "kept" },
            "geocoder": found.geocoder,
            "precision": found.precision,
        }))
    }
}
