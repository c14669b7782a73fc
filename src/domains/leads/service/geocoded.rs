//! Coordinates found by a geocoder (the places domain's lead geocoding job and sweep), written
//! through [`record_geocoded`] (one lead) or [`record_geocoded_many`] (a batch, in a bounded
//! number of statements) with provenance `{kind: geocoder, reference: "geocoder:<name>",
//! precision, query, at}` under `location`.

use std::collections::HashMap;

use chrono::Utc;
use entity::{lead, lead_interaction};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DatabaseBackend, DatabaseTransaction,
    EntityTrait, Statement, Value,
};
use serde_json::json;
use uuid::Uuid;

use super::{emit_updated, get, record};
use crate::{
    auth::{Permission, Viewer},
    error::AppResult,
    events::{outbox, DomainEvent, EventEnvelope, LeadChanged},
};

/// The provenance key of geocoded coordinates.
pub const GEOCODED_FIELD: &str = "location";

/// What a geocoder found for a lead.
#[derive(Debug, Clone)]
pub struct Geocoded {
    /// Degrees.
    pub latitude: f64,
    /// Degrees.
    pub longitude: f64,
    /// The geocoder's name (`gazetteer`, `nominatim`): provenance `geocoder:<name>`.
    pub geocoder: String,
    /// How precise the point is (`CITY`, `STREET`, …).
    pub precision: String,
    /// The text that was geocoded.
    pub query: String,
}

/// Stores `found` as lead `id`'s coordinates inside `txn`, unless the lead has coordinates
/// already (`Ok(None)`: a point given by a person wins over a geocoder). Another
/// organization's lead is NOT_FOUND. Records a `geocoded` timeline entry and `lead.updated`.
pub async fn record_geocoded(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    id: Uuid,
    found: &Geocoded,
) -> AppResult<Option<lead::Model>> {
    viewer.require(Permission::WriteLeads)?;
    let before = get(txn, viewer, id).await?;
    if before.latitude.is_some() || before.longitude.is_some() {
        return Ok(None);
    }
    let at = Utc::now();
    let reference = format!("geocoder:{}", found.geocoder);
    let mut prov = before.provenance.as_object().cloned().unwrap_or_default();
    prov.insert(
        GEOCODED_FIELD.into(),
        json!({"kind": "geocoder", "reference": reference, "precision": found.precision,
               "query": found.query, "at": at}),
    );
    let mut a: lead::ActiveModel = before.into();
    a.latitude = Set(Some(found.latitude));
    a.longitude = Set(Some(found.longitude));
    a.provenance = Set(serde_json::Value::Object(prov));
    a.updated_at = Set(at);
    let after = a.update(txn).await?;
    let data = json!({"geocoder": reference, "precision": found.precision});
    record(txn, viewer, id, "geocoded", data).await?;
    emit_updated(txn, viewer, id, vec!["location".to_string()]).await?;
    Ok(Some(after))
}

/// Stores `found` (lead id, coordinates) for leads of `org_id` that still have no
/// coordinates, in one `UPDATE … RETURNING` whatever the number (the provenance key
/// `location` is merged in the database, so a concurrent change of other provenance keys is
/// kept), then one multi-row insert each for the `geocoded` timeline entries and the
/// `lead.updated` events (no actor: the geocoding sweep). Returns the ids written; a lead that
/// got a point meanwhile, or another organization's, is left out.
pub async fn record_geocoded_many(
    txn: &DatabaseTransaction,
    org_id: Uuid,
    found: &[(Uuid, Geocoded)],
) -> AppResult<Vec<Uuid>> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let at = Utc::now();
    let written = update_points(txn, org_id, found, at).await?;
    let by_id: HashMap<Uuid, &Geocoded> = found.iter().map(|(id, g)| (*id, g)).collect();
    let timeline = written.iter().filter_map(|id| {
        let g = by_id.get(id)?;
        let data =
            json!({"geocoder": format!("geocoder:{}", g.geocoder), "precision": g.precision});
        Some(lead_interaction::ActiveModel {
            id: Set(Uuid::now_v7()),
            lead_id: Set(*id),
            org_id: Set(org_id),
            kind: Set("geocoded".into()),
            actor_id: Set(None),
            data: Set(data),
            created_at: Set(at),
        })
    });
    let timeline: Vec<_> = timeline.collect();
    if !timeline.is_empty() {
        lead_interaction::Entity::insert_many(timeline)
            .exec_without_returning(txn)
            .await?;
    }
    let events: Vec<EventEnvelope> = written
        .iter()
        .map(|id| {
            let changed = LeadChanged {
                lead_id: *id,
                changed_fields: vec![GEOCODED_FIELD.to_string()],
                owner_id: None,
            };
            EventEnvelope::new(org_id, None, DomainEvent::LeadUpdated(changed))
        })
        .collect();
    outbox::record_many(txn, &events).await?;
    Ok(written)
}

/// The one `UPDATE … RETURNING "id"` of [`record_geocoded_many`].
async fn update_points(
    txn: &DatabaseTransaction,
    org_id: Uuid,
    found: &[(Uuid, Geocoded)],
    at: chrono::DateTime<Utc>,
) -> AppResult<Vec<Uuid>> {
    let backend = txn.get_database_backend();
    let mut values: Vec<Value> = Vec::new();
    let mut ph = |v: Value| {
        values.push(v);
        match backend {
            DatabaseBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_string(),
        }
    };
    let mut case = |pick: &dyn Fn(&Geocoded) -> Value| {
        let arms: String = found
            .iter()
            .map(|(id, g)| format!(" WHEN {} THEN {}", ph((*id).into()), ph(pick(g))))
            .collect();
        format!(r#"CASE "id"{arms} END"#)
    };
    let lat = case(&|g| g.latitude.into());
    let lng = case(&|g| g.longitude.into());
    let prov = case(&|g| {
        let reference = format!("geocoder:{}", g.geocoder);
        json!({"kind": "geocoder", "reference": reference, "precision": g.precision,
               "query": g.query, "at": at})
        .into()
    });
    let now = ph(at.into());
    let org = ph(org_id.into());
    let ids: Vec<String> = found.iter().map(|(id, _)| ph((*id).into())).collect();
    let merged = match backend {
        DatabaseBackend::Postgres => {
            format!(r#""provenance" || jsonb_build_object('location', {prov})"#)
        }
        _ => format!(r#"json_set("provenance", '$.location', json({prov}))"#),
    };
    let sql = format!(
        r#"UPDATE "leads" SET "latitude" = {lat}, "longitude" = {lng}, "provenance" = {merged},
           "updated_at" = {now} WHERE "org_id" = {org} AND "id" IN ({})
           AND "latitude" IS NULL AND "longitude" IS NULL RETURNING "id""#,
        ids.join(", ")
    );
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let written = rows
        .iter()
        .map(|r| r.try_get::<Uuid>("", "id"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(written)
}
