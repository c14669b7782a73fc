//! The writing half of [`super::save_many`]: completes the leads merges changed (tags they
//! lack, note counts for the score, full rows), then writes new leads, updates, tags, timeline
//! rows and events with a fixed number of statements.

use std::collections::HashMap;

use chrono::Utc;
use entity::{lead, lead_interaction, lead_note, lead_tag};
use sea_orm::{
    sea_query::OnConflict as SqlOnConflict, ActiveModelTrait, ActiveValue::Set, ColumnTrait,
    DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

use super::{known, plan::Touched, CHUNK};
use crate::{
    auth::Viewer,
    domains::leads::service::scoring,
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, LeadChanged},
};

/// The statements of one call.
#[derive(Default)]
struct Rows {
    inserts: Vec<lead::ActiveModel>,
    tags: Vec<lead_tag::ActiveModel>,
    timeline: Vec<lead_interaction::ActiveModel>,
    events: Vec<EventEnvelope>,
}

/// Writes what the plan decided; returns the number of outbox events recorded.
pub async fn write(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    mut touched: Vec<Touched>,
) -> AppResult<usize> {
    drop_known_tags(txn, &mut touched).await?;
    let changing: Vec<Uuid> = touched
        .iter()
        .filter(|t| !t.new && !t.changed.is_empty())
        .map(|t| t.model.id)
        .collect();
    let notes = note_counts(txn, &changing).await?;
    let mut full = known::full_rows(txn, viewer, &changing).await?;
    for t in touched
        .iter_mut()
        .filter(|t| !t.new && !t.changed.is_empty())
    {
        let Some(mut m) = full.remove(&t.model.id) else {
            // Deleted since the lookup: the caller redoes the list contact by contact.
            return Err(AppError::Conflict("a lead changed during the write".into()));
        };
        known::complete(&mut m, &t.model, &t.changed);
        t.model = m;
    }
    let now = Utc::now();
    let mut rows = Rows::default();
    for t in touched {
        if t.new || !t.changed.is_empty() {
            row(txn, viewer, &mut rows, t, &notes, now).await?;
        }
    }
    insert_rows(txn, rows).await
}

/// Drops from the tags merges would add those the leads already have; marks `tags` changed
/// where some are left. A lead has at most 50 tags; extra ones are dropped.
async fn drop_known_tags(txn: &DatabaseTransaction, touched: &mut [Touched]) -> AppResult<()> {
    let tagging: Vec<Uuid> = touched
        .iter()
        .filter(|t| !t.new && !t.tags.is_empty())
        .map(|t| t.model.id)
        .collect();
    let mut have: HashMap<Uuid, Vec<String>> = HashMap::new();
    for ids in tagging.chunks(CHUNK) {
        for r in lead_tag::Entity::find()
            .filter(lead_tag::Column::LeadId.is_in(ids.to_vec()))
            .all(txn)
            .await?
        {
            have.entry(r.lead_id).or_default().push(r.tag);
        }
    }
    for t in touched.iter_mut().filter(|t| !t.new) {
        let old = have.get(&t.model.id).cloned().unwrap_or_default();
        t.tags.retain(|tag| !old.contains(tag));
        t.tags.truncate(50usize.saturating_sub(old.len()));
        if !t.tags.is_empty() {
            t.changed.push("tags".into());
        }
    }
    Ok(())
}

/// Notes per lead, for the score (new leads have none).
async fn note_counts(txn: &DatabaseTransaction, ids: &[Uuid]) -> AppResult<HashMap<Uuid, u64>> {
    let mut notes = HashMap::new();
    for ids in ids.chunks(CHUNK) {
        let found: Vec<(Uuid, i64)> = lead_note::Entity::find()
            .select_only()
            .column(lead_note::Column::LeadId)
            .column_as(lead_note::Column::Id.count(), "n")
            .filter(lead_note::Column::LeadId.is_in(ids.to_vec()))
            .group_by(lead_note::Column::LeadId)
            .into_tuple()
            .all(txn)
            .await?;
        for (id, n) in found {
            notes.insert(id, u64::try_from(n).unwrap_or(0));
        }
    }
    Ok(notes)
}

/// Adds lead `t`'s rows (scored), or updates it now when it exists.
async fn row(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    rows: &mut Rows,
    t: Touched,
    notes: &HashMap<Uuid, u64>,
    now: chrono::DateTime<Utc>,
) -> AppResult<()> {
    let mut m = t.model;
    let (score, reasons) = scoring::score(&m, notes.get(&m.id).copied().unwrap_or(0));
    m.score = score;
    m.score_reasons = serde_json::to_value(&reasons)?;
    rows.tags
        .extend(t.tags.iter().map(|tag| lead_tag::ActiveModel {
            lead_id: Set(m.id),
            tag: Set(tag.clone()),
            org_id: Set(viewer.org_id),
        }));
    let changed = LeadChanged {
        lead_id: m.id,
        changed_fields: if t.new { vec![] } else { t.changed.clone() },
        owner_id: None,
    };
    let (kind, data, event) = if t.new {
        let data = json!({"source": m.source, "origin": t.origin});
        ("created", data, DomainEvent::LeadCreated(changed))
    } else {
        let data = json!({"changedFields": t.changed});
        ("merged", data, DomainEvent::LeadUpdated(changed))
    };
    rows.timeline.push(lead_interaction::ActiveModel {
        id: Set(Uuid::now_v7()),
        lead_id: Set(m.id),
        org_id: Set(viewer.org_id),
        kind: Set(kind.into()),
        actor_id: Set(Some(viewer.user_id)),
        data: Set(data),
        created_at: Set(now),
    });
    rows.events.push(EventEnvelope::new(
        viewer.org_id,
        Some(viewer.user_id),
        event,
    ));
    if t.new {
        rows.inserts.push(m.into());
        return Ok(());
    }
    let mut a: lead::ActiveModel = m.into();
    for (col, f) in [
        (lead::Column::Email, "email"),
        (lead::Column::Phone, "phone"),
        (lead::Column::Website, "website"),
        (lead::Column::Company, "company"),
    ] {
        if t.changed.iter().any(|c| c == f) {
            a.reset(col);
        }
    }
    a.reset(lead::Column::Provenance);
    a.reset(lead::Column::Score);
    a.reset(lead::Column::ScoreReasons);
    a.updated_at = Set(now);
    a.update(txn).await?;
    Ok(())
}

/// The multi-row inserts; returns the number of events.
async fn insert_rows(txn: &DatabaseTransaction, rows: Rows) -> AppResult<usize> {
    for part in chunked(rows.inserts) {
        lead::Entity::insert_many(part)
            .exec_without_returning(txn)
            .await?;
    }
    for part in chunked(rows.tags) {
        lead_tag::Entity::insert_many(part)
            .on_conflict(
                SqlOnConflict::columns([lead_tag::Column::LeadId, lead_tag::Column::Tag])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    for part in chunked(rows.timeline) {
        lead_interaction::Entity::insert_many(part)
            .exec_without_returning(txn)
            .await?;
    }
    outbox::record_many(txn, &rows.events).await?;
    Ok(rows.events.len())
}

fn chunked<T>(rows: Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut it = rows.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(CHUNK).collect());
    }
    out
}
