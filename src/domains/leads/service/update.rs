//! `updateLead`: the partial update. Absent fields stay as they are, `null` clears a field,
//! every present field is validated (all problems reported at once) and recorded as changed,
//! with manual provenance.

use async_graphql::{MaybeUndefined, ID};
use chrono::Utc;
use entity::lead;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::{check_batch, emit_updated, get, record, rescore, validate::Check, Origin};
use crate::{
    auth::{Permission, Viewer},
    domains::leads::types::UpdateLeadInput,
    error::AppResult,
    ids::parse_id,
    state::{AppState, Wakes},
};

/// Partial update; returns (before, after).
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    prefix: &str,
    input: UpdateLeadInput,
) -> AppResult<(lead::Model, lead::Model)> {
    viewer.require(Permission::WriteLeads)?;
    let txn = state.db.begin().await?;
    let before = get(&txn, viewer, id).await?;
    let mut c = Check::new(prefix);
    let mut a: lead::ActiveModel = before.clone().into();
    let changed = apply(&input, &mut a, &mut c);
    let status_change = input.status.filter(|s| s.as_str() != before.status);
    c.finish()?;
    let mut prov = before.provenance.as_object().cloned().unwrap_or_default();
    for f in &changed {
        prov.insert((*f).to_string(), Origin::manual(viewer).entry());
    }
    a.provenance = Set(serde_json::Value::Object(prov));
    a.updated_at = Set(Utc::now());
    let after = a.update(&txn).await?;
    let changed: Vec<String> = changed.into_iter().map(String::from).collect();
    if !changed.is_empty() {
        let data = json!({"changedFields": changed});
        record(&txn, viewer, id, "updated", data).await?;
    }
    if let Some(s) = status_change {
        let data = json!({"from": before.status, "to": s.as_str()});
        record(&txn, viewer, id, "status_changed", data).await?;
    }
    let after = rescore(&txn, after).await?;
    emit_updated(&txn, viewer, id, changed).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok((before, after))
}

/// Applies one partial update to up to [`super::MAX_BATCH`] leads: one result per id.
pub async fn update_many(
    state: &AppState,
    viewer: &Viewer,
    ids: &[ID],
    input: UpdateLeadInput,
) -> AppResult<Vec<AppResult<(lead::Model, lead::Model)>>> {
    viewer.require(Permission::WriteLeads)?;
    check_batch(ids.len())?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(match parse_id(id) {
            Ok(id) => update(state, viewer, id, "input.", input.clone()).await,
            Err(e) => Err(e),
        });
    }
    Ok(out)
}

/// The value of a present field (`Some(None)` for `null`), recording it as changed.
fn given<'v, T>(
    v: &'v MaybeUndefined<T>,
    name: &'static str,
    changed: &mut Vec<&'static str>,
) -> Option<Option<&'v T>> {
    match v {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => {
            changed.push(name);
            Some(None)
        }
        MaybeUndefined::Value(v) => {
            changed.push(name);
            Some(Some(v))
        }
    }
}

fn as_str(v: Option<&String>) -> Option<&str> {
    v.map(String::as_str)
}

/// Forgets what a phone look-up said (type, carrier, country) when the number changes.
pub(super) fn clear_phone_details(a: &mut lead::ActiveModel) {
    a.phone_type = Set(None);
    a.phone_carrier = Set(None);
    a.phone_country = Set(None);
}

type Setter = fn(&mut lead::ActiveModel, Option<String>);

/// Applies the present fields of `input` to `a` (problems go to `c`); returns the changed
/// field names in input order.
fn apply(input: &UpdateLeadInput, a: &mut lead::ActiveModel, c: &mut Check) -> Vec<&'static str> {
    let mut changed = Vec::new();
    let texts: [(&MaybeUndefined<String>, &'static str, Setter); 4] = [
        (&input.first_name, "firstName", |a, v| a.first_name = Set(v)),
        (&input.last_name, "lastName", |a, v| a.last_name = Set(v)),
        (&input.title, "title", |a, v| a.title = Set(v)),
        (&input.industry, "industry", |a, v| a.industry = Set(v)),
    ];
    for (value, name, set) in texts {
        if let Some(v) = given(value, name, &mut changed) {
            set(a, c.text(name, as_str(v), 200));
        }
    }
    if let Some(v) = given(&input.company, "company", &mut changed) {
        a.company = Set(c.text("company", as_str(v), 300).unwrap_or_default());
    }
    if let Some(v) = given(&input.email, "email", &mut changed) {
        a.email = Set(c.email("email", as_str(v)));
        // A verdict speaks about the address it checked.
        a.email_status = Set(None);
        a.validated_at = Set(None);
    }
    if let Some(v) = given(&input.website, "website", &mut changed) {
        a.website = Set(c.website("website", as_str(v)));
    }
    if let Some(l) = given(&input.location, "location", &mut changed) {
        let l = l.cloned().unwrap_or_default();
        a.city = Set(c.text("location.city", l.city.as_deref(), 200));
        a.region = Set(c.text("location.region", l.region.as_deref(), 200));
        a.country = Set(c.country("location.country", l.country.as_deref()));
        a.latitude = Set(c.coordinate("location.latitude", l.latitude, 90.0));
        a.longitude = Set(c.coordinate("location.longitude", l.longitude, 180.0));
    }
    let country = a.country.clone().take().flatten();
    if let Some(v) = given(&input.phone, "phone", &mut changed) {
        a.phone = Set(c.phone("phone", as_str(v), country.as_deref()));
        // A look-up's details speak about the number it looked up.
        clear_phone_details(a);
    }
    if let Some(v) = given(&input.custom_fields, "customFields", &mut changed) {
        a.custom_fields = Set(c.object("customFields", v.map(|j| &j.0)));
    }
    if let Some(s) = input.source {
        a.source = Set(s.as_str().into());
        changed.push("source");
    }
    if let Some(s) = input.status {
        a.status = Set(s.as_str().into());
        changed.push("status");
    }
    changed
}
