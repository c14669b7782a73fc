//! Coordinates found by a geocoder (the places domain's lead geocoding job), written through
//! [`record_geocoded`] with provenance `{kind: geocoder, reference: "geocoder:<name>",
//! precision, query, at}` under `location`.

use chrono::Utc;
use entity::lead;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction};
use serde_json::json;
use uuid::Uuid;

use super::{emit_updated, get, record};
use crate::{
    auth::{Permission, Viewer},
    error::AppResult,
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
