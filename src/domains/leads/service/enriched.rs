//! A field filled by an enrichment provider (enrichment's waterfall): validated like a manual
//! value, written only into an empty field unless `overwrite` (a manual edit wins over later
//! enrichment), with provenance `{kind: enrichment, reference: "<provider>: <request>", at,
//! confidence}`, an `enriched` timeline entry, a rescore and `lead.updated`, in the caller's
//! transaction.

use chrono::Utc;
use entity::lead;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction};
use serde_json::json;
use uuid::Uuid;

use super::{emit_updated, find_duplicate, get, record, rescore, validate::Check};
use crate::{
    auth::{Permission, Viewer},
    error::{AppError, AppResult},
};

/// The lead fields enrichment may fill, by their GraphQL names.
pub const ENRICHABLE_FIELDS: [&str; 9] = [
    "email",
    "phone",
    "title",
    "company",
    "website",
    "industry",
    "phoneType",
    "phoneCarrier",
    "phoneCountry",
];

/// The line types `Lead.phoneType` holds (a provider's own words are mapped onto these).
pub const PHONE_TYPES: [&str; 10] = [
    "MOBILE",
    "FIXED_LINE",
    "FIXED_LINE_OR_MOBILE",
    "VOIP",
    "TOLL_FREE",
    "PREMIUM_RATE",
    "SATELLITE",
    "PAGING",
    "SPECIAL_SERVICES",
    "OTHER",
];

/// One enriched value and where it came from.
#[derive(Debug, Clone)]
pub struct EnrichedValue<'a> {
    /// One of [`ENRICHABLE_FIELDS`].
    pub field: &'a str,
    /// The value as the provider gave it (normalised here).
    pub value: &'a str,
    /// `<provider>: <request reference>`.
    pub reference: String,
    /// The provider's confidence 0–100, when it gave one.
    pub confidence: Option<i32>,
    /// Replace a value already there.
    pub overwrite: bool,
}

/// The current value of `field` on `l` (`None` when empty or not enrichable).
pub fn enrichable_value<'a>(l: &'a lead::Model, field: &str) -> Option<&'a str> {
    let v = match field {
        "email" => l.email.as_deref(),
        "phone" => l.phone.as_deref(),
        "title" => l.title.as_deref(),
        "company" => Some(l.company.as_str()),
        "website" => l.website.as_deref(),
        "industry" => l.industry.as_deref(),
        "phoneType" => l.phone_type.as_deref(),
        "phoneCarrier" => l.phone_carrier.as_deref(),
        "phoneCountry" => l.phone_country.as_deref(),
        _ => None,
    };
    v.filter(|s| !s.trim().is_empty())
}

/// Writes `v` on lead `id` inside `txn`. `Ok(None)` when the field already holds a value (and
/// `overwrite` is off) or the value is unusable; CONFLICT when another lead of the organization
/// has that email or phone; another organization's lead is NOT_FOUND.
pub async fn record_enriched(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    id: Uuid,
    v: EnrichedValue<'_>,
) -> AppResult<Option<lead::Model>> {
    viewer.require(Permission::WriteLeads)?;
    let before = get(txn, viewer, id).await?;
    if !v.overwrite && enrichable_value(&before, v.field).is_some() {
        return Ok(None);
    }
    let mut c = Check::new("");
    let mut a: lead::ActiveModel = before.clone().into();
    match v.field {
        "email" => {
            let Some(e) = c.email("email", Some(v.value)) else {
                return Ok(None);
            };
            if find_duplicate(txn, viewer, Some(&e), None).await?.is_some() {
                return Err(AppError::Conflict("another lead has this email".into()));
            }
            a.email = Set(Some(e));
            a.email_status = Set(None);
            a.validated_at = Set(None);
        }
        "phone" => {
            let country = before.country.as_deref();
            let Some(p) = c.phone("phone", Some(v.value), country) else {
                return Ok(None);
            };
            if find_duplicate(txn, viewer, None, Some(&p)).await?.is_some() {
                return Err(AppError::Conflict("another lead has this phone".into()));
            }
            if before.phone.as_deref() != Some(p.as_str()) {
                super::update::clear_phone_details(&mut a);
            }
            a.phone = Set(Some(p));
        }
        "title" => a.title = Set(c.text("title", Some(v.value), 200)),
        "company" => a.company = Set(c.text("company", Some(v.value), 200).unwrap_or_default()),
        "website" => a.website = Set(c.website("website", Some(v.value))),
        "industry" => a.industry = Set(c.text("industry", Some(v.value), 200)),
        // The phone's details need the phone they describe.
        "phoneType" | "phoneCarrier" | "phoneCountry" if before.phone.is_none() => return Ok(None),
        "phoneType" => {
            let t = v.value.trim().to_uppercase();
            let Some(t) = PHONE_TYPES.iter().find(|k| **k == t) else {
                return Ok(None);
            };
            a.phone_type = Set(Some((*t).to_string()));
        }
        "phoneCarrier" => a.phone_carrier = Set(c.text("phoneCarrier", Some(v.value), 200)),
        "phoneCountry" => a.phone_country = Set(c.country("phoneCountry", Some(v.value))),
        _ => return Err(AppError::invalid("field", "is not enrichable")),
    }
    if !c.errors.is_empty() {
        return Ok(None);
    }
    let at = Utc::now();
    let mut prov = before.provenance.as_object().cloned().unwrap_or_default();
    prov.insert(
        v.field.into(),
        json!({"kind": "enrichment", "reference": v.reference, "at": at, "confidence": v.confidence}),
    );
    a.provenance = Set(serde_json::Value::Object(prov));
    a.updated_at = Set(at);
    let after = a.update(txn).await?;
    let data = json!({"field": v.field, "reference": v.reference});
    record(txn, viewer, id, "enriched", data).await?;
    let after = rescore(txn, after).await?;
    emit_updated(txn, viewer, id, vec![v.field.to_string()]).await?;
    Ok(Some(after))
}
