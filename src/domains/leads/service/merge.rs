//! `mergeLeads`: fold duplicates into a primary lead — fields, tags, notes, timeline, provenance.

use std::collections::BTreeSet;

use chrono::Utc;
use entity::{lead, lead_interaction, lead_note, lead_tag};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::{emit, emit_updated, get, record, rescore, scoped};
use crate::{
    auth::{Permission, Viewer},
    error::{AppError, AppResult},
    events::{DomainEvent, LeadChanged},
    state::{AppState, Wakes},
};

/// Most duplicates merged at once.
pub const MAX_DUPLICATES: usize = 50;

/// The primary as it is (or would be) after the merge, and what changed.
pub struct Merged {
    /// The primary lead.
    pub lead: lead::Model,
    /// Fields of the primary that took a duplicate's value.
    pub changed_fields: Vec<String>,
    /// Tags added to the primary.
    pub added_tags: Vec<String>,
    /// Notes moved to the primary.
    pub moved_notes: u64,
}

fn fill(primary: &mut lead::Model, dup: &lead::Model, changed: &mut BTreeSet<String>) {
    macro_rules! opt {
        ($f:ident, $name:literal) => {
            if primary.$f.is_none() && dup.$f.is_some() {
                primary.$f = dup.$f.clone();
                changed.insert($name.into());
            }
        };
    }
    opt!(first_name, "firstName");
    opt!(last_name, "lastName");
    opt!(email, "email");
    opt!(phone, "phone");
    // A phone look-up's details go with the number they describe.
    if primary.phone.is_some() && primary.phone == dup.phone {
        opt!(phone_type, "phoneType");
        opt!(phone_carrier, "phoneCarrier");
        opt!(phone_country, "phoneCountry");
    }
    opt!(title, "title");
    opt!(website, "website");
    opt!(industry, "industry");
    opt!(city, "city");
    opt!(region, "region");
    opt!(country, "country");
    opt!(owner_id, "owner");
    opt!(last_contacted_at, "lastContactedAt");
    if primary.company.is_empty() && !dup.company.is_empty() {
        primary.company = dup.company.clone();
        changed.insert("company".into());
    }
    if let (Some(p), Some(d)) = (
        primary.custom_fields.as_object_mut(),
        dup.custom_fields.as_object(),
    ) {
        for (k, v) in d {
            if !p.contains_key(k) {
                p.insert(k.clone(), v.clone());
                changed.insert("customFields".into());
            }
        }
    }
    if let (Some(p), Some(d)) = (
        primary.provenance.as_object_mut(),
        dup.provenance.as_object(),
    ) {
        for (k, v) in d {
            if changed.contains(k) || !p.contains_key(k) {
                p.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Merges `duplicates` into `primary`; with `dry_run` nothing is written.
pub async fn merge(
    state: &AppState,
    viewer: &Viewer,
    primary_id: Uuid,
    duplicate_ids: &[Uuid],
    dry_run: bool,
) -> AppResult<Merged> {
    viewer.require(Permission::DeleteLeads)?;
    let dups = check_ids(primary_id, duplicate_ids)?;
    let txn = state.db.begin().await?;
    let before = get(&txn, viewer, primary_id).await?;
    let mut planned = plan(&txn, viewer, &before, &dups).await?;
    if dry_run {
        // Dropping the transaction rolls it back; nothing was written anyway.
        return Ok(planned);
    }
    move_children(&txn, viewer, primary_id, &dups, &planned.added_tags).await?;
    let lead = write_primary(&txn, before, &planned.lead).await?;
    let data = json!({
        "mergedIds": dups,
        "changedFields": planned.changed_fields,
        "addedTags": planned.added_tags,
    });
    record(&txn, viewer, primary_id, "merged", data).await?;
    for d in &dups {
        let deleted = LeadChanged {
            lead_id: *d,
            changed_fields: vec![],
            owner_id: None,
        };
        emit(&txn, viewer, DomainEvent::LeadDeleted(deleted)).await?;
    }
    emit_updated(&txn, viewer, primary_id, planned.changed_fields.clone()).await?;
    planned.lead = rescore(&txn, lead).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(planned)
}

/// The duplicate ids, sorted and deduplicated: 1–[`MAX_DUPLICATES`], without the primary.
fn check_ids(primary_id: Uuid, duplicate_ids: &[Uuid]) -> AppResult<Vec<Uuid>> {
    let mut dups: Vec<Uuid> = duplicate_ids.to_vec();
    dups.sort();
    dups.dedup();
    if dups.is_empty() || dups.len() > MAX_DUPLICATES {
        return Err(AppError::invalid(
            "duplicateIds",
            format!("must hold 1–{MAX_DUPLICATES} ids"),
        ));
    }
    if dups.contains(&primary_id) {
        return Err(AppError::invalid(
            "duplicateIds",
            "must not contain the primary",
        ));
    }
    Ok(dups)
}

/// The primary as it would be after the merge (nothing written).
async fn plan(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    before: &lead::Model,
    dups: &[Uuid],
) -> AppResult<Merged> {
    let dup_rows = scoped(viewer)
        .filter(lead::Column::Id.is_in(dups.to_vec()))
        .all(txn)
        .await?;
    if dup_rows.len() != dups.len() {
        return Err(AppError::NotFound("lead"));
    }
    let mut merged = before.clone();
    let mut changed = BTreeSet::new();
    for d in &dup_rows {
        fill(&mut merged, d, &mut changed);
    }
    let have = tag_set(txn, &[before.id]).await?;
    let dup_tags = tag_set(txn, dups).await?;
    let moved_notes = lead_note::Entity::find()
        .filter(lead_note::Column::LeadId.is_in(dups.to_vec()))
        .count(txn)
        .await?;
    Ok(Merged {
        lead: merged,
        changed_fields: changed.into_iter().collect(),
        added_tags: dup_tags.difference(&have).cloned().collect(),
        moved_notes,
    })
}

async fn tag_set(txn: &DatabaseTransaction, leads: &[Uuid]) -> AppResult<BTreeSet<String>> {
    Ok(lead_tag::Entity::find()
        .filter(lead_tag::Column::LeadId.is_in(leads.to_vec()))
        .all(txn)
        .await?
        .into_iter()
        .map(|t| t.tag)
        .collect())
}

/// Moves notes and timeline to the primary, then removes the duplicates (freeing their unique
/// email/phone) and gives the primary the tags it lacked.
async fn move_children(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    primary_id: Uuid,
    dups: &[Uuid],
    added_tags: &[String],
) -> AppResult<()> {
    lead_note::Entity::update_many()
        .col_expr(lead_note::Column::LeadId, Expr::value(primary_id))
        .filter(lead_note::Column::LeadId.is_in(dups.to_vec()))
        .exec(txn)
        .await?;
    lead_interaction::Entity::update_many()
        .col_expr(lead_interaction::Column::LeadId, Expr::value(primary_id))
        .filter(lead_interaction::Column::LeadId.is_in(dups.to_vec()))
        .exec(txn)
        .await?;
    lead_tag::Entity::delete_many()
        .filter(lead_tag::Column::LeadId.is_in(dups.to_vec()))
        .exec(txn)
        .await?;
    lead::Entity::delete_many()
        .filter(lead::Column::Id.is_in(dups.to_vec()))
        .exec(txn)
        .await?;
    if !added_tags.is_empty() {
        lead_tag::Entity::insert_many(added_tags.iter().map(|t| lead_tag::ActiveModel {
            lead_id: Set(primary_id),
            tag: Set(t.clone()),
            org_id: Set(viewer.org_id),
        }))
        .exec(txn)
        .await?;
    }
    Ok(())
}

/// Writes the merged fields onto the primary.
async fn write_primary(
    txn: &DatabaseTransaction,
    before: lead::Model,
    merged: &lead::Model,
) -> AppResult<lead::Model> {
    let mut a: lead::ActiveModel = before.into();
    a.first_name = Set(merged.first_name.clone());
    a.last_name = Set(merged.last_name.clone());
    a.email = Set(merged.email.clone());
    a.phone = Set(merged.phone.clone());
    a.phone_type = Set(merged.phone_type.clone());
    a.phone_carrier = Set(merged.phone_carrier.clone());
    a.phone_country = Set(merged.phone_country.clone());
    a.company = Set(merged.company.clone());
    a.title = Set(merged.title.clone());
    a.website = Set(merged.website.clone());
    a.industry = Set(merged.industry.clone());
    a.city = Set(merged.city.clone());
    a.region = Set(merged.region.clone());
    a.country = Set(merged.country.clone());
    a.owner_id = Set(merged.owner_id);
    a.last_contacted_at = Set(merged.last_contacted_at);
    a.custom_fields = Set(merged.custom_fields.clone());
    a.provenance = Set(merged.provenance.clone());
    a.updated_at = Set(Utc::now());
    Ok(a.update(txn).await?)
}
