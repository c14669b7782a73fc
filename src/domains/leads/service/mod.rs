//! Lead rules: validation, dedupe, scoring, timeline, provenance, events — org-scoped, one
//! transaction per change. This file holds the shared pieces (scoping, lookups, the timeline,
//! events, rescoring, tags); the operations are in the submodules.

pub mod actions;
pub mod bulk;
mod create;
mod email_status;
mod enriched;
pub mod export;
mod geocoded;
pub mod import;
pub mod merge;
pub mod query;
pub mod scoring;
pub mod stats;
mod update;
pub mod validate;

pub use actions::{delete, delete_many};
pub use create::{create, create_in, create_many};
pub use email_status::{
    record_email_status, send_gate_reason, undeliverable_reason, EMAIL_STATUS_FIELD, NOT_VALIDATED,
};
pub use enriched::{enrichable_value, record_enriched, EnrichedValue, ENRICHABLE_FIELDS};
pub use geocoded::{record_geocoded, record_geocoded_many, Geocoded, GEOCODED_FIELD};
pub use query::{
    filtered, page, page_query, sort_expr, LeadConnection, LeadKey, PageQuery, SortValue,
};
pub use update::{update, update_many};
pub use validate::Check;

use chrono::Utc;
use entity::{lead, lead_interaction, lead_note, lead_tag, membership};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, Select,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::Viewer,
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, LeadChanged},
};

/// Most items in one batch mutation.
pub const MAX_BATCH: usize = 200;

fn check_batch(n: usize) -> AppResult<()> {
    if n == 0 || n > MAX_BATCH {
        return Err(AppError::invalid(
            "inputs",
            format!("must hold 1–{MAX_BATCH} items"),
        ));
    }
    Ok(())
}

/// Every lead query starts here.
pub fn scoped(viewer: &Viewer) -> Select<lead::Entity> {
    lead::Entity::find().filter(lead::Column::OrgId.eq(viewer.org_id))
}

/// A lead of the viewer's organization, or NOT_FOUND.
pub async fn get(conn: &impl ConnectionTrait, viewer: &Viewer, id: Uuid) -> AppResult<lead::Model> {
    scoped(viewer)
        .filter(lead::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("lead"))
}

pub(super) async fn check_owner(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    owner: Option<Uuid>,
) -> AppResult<()> {
    if let Some(owner) = owner {
        let member = membership::Entity::find()
            .filter(membership::Column::OrgId.eq(viewer.org_id))
            .filter(membership::Column::UserId.eq(owner))
            .one(conn)
            .await?;
        if member.is_none() {
            return Err(AppError::invalid(
                "ownerId",
                "is not a member of the organization",
            ));
        }
    }
    Ok(())
}

pub(super) async fn find_duplicate(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    email: Option<&str>,
    phone: Option<&str>,
) -> AppResult<Option<lead::Model>> {
    let mut any = Condition::any();
    if let Some(e) = email {
        any = any.add(lead::Column::Email.eq(e));
    }
    if let Some(p) = phone {
        any = any.add(lead::Column::Phone.eq(p));
    }
    if email.is_none() && phone.is_none() {
        return Ok(None);
    }
    Ok(scoped(viewer).filter(any).one(conn).await?)
}

pub(super) async fn record(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    lead_id: Uuid,
    kind: &str,
    data: serde_json::Value,
) -> AppResult<()> {
    lead_interaction::ActiveModel {
        id: Set(Uuid::now_v7()),
        lead_id: Set(lead_id),
        org_id: Set(viewer.org_id),
        kind: Set(kind.into()),
        actor_id: Set(Some(viewer.user_id)),
        data: Set(data),
        created_at: Set(Utc::now()),
    }
    .insert(txn)
    .await?;
    Ok(())
}

pub(super) async fn emit(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    event: DomainEvent,
) -> AppResult<()> {
    outbox::record(
        txn,
        &EventEnvelope::new(viewer.org_id, Some(viewer.user_id), event),
    )
    .await
}

/// Records `lead.updated` with the changed fields.
pub(super) async fn emit_updated(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    lead_id: Uuid,
    changed_fields: Vec<String>,
) -> AppResult<()> {
    let changed = LeadChanged {
        lead_id,
        changed_fields,
        owner_id: None,
    };
    emit(txn, viewer, DomainEvent::LeadUpdated(changed)).await
}

/// Recomputes the score and reasons of `lead` inside `txn`.
pub async fn rescore_in(txn: &DatabaseTransaction, lead: lead::Model) -> AppResult<lead::Model> {
    rescore(txn, lead).await
}

pub(super) async fn rescore(
    txn: &DatabaseTransaction,
    lead: lead::Model,
) -> AppResult<lead::Model> {
    let notes = lead_note::Entity::find()
        .filter(lead_note::Column::LeadId.eq(lead.id))
        .count(txn)
        .await?;
    let (score, reasons) = scoring::score(&lead, notes);
    if score == lead.score && serde_json::to_value(&reasons)? == lead.score_reasons {
        return Ok(lead);
    }
    let mut active: lead::ActiveModel = lead.into();
    active.score = Set(score);
    active.score_reasons = Set(serde_json::to_value(&reasons)?);
    Ok(active.update(txn).await?)
}

pub(super) async fn add_tag_rows(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    lead_id: Uuid,
    tags: &[String],
) -> AppResult<Vec<String>> {
    let existing: Vec<String> = lead_tag::Entity::find()
        .filter(lead_tag::Column::LeadId.eq(lead_id))
        .all(txn)
        .await?
        .into_iter()
        .map(|t| t.tag)
        .collect();
    let new: Vec<String> = tags
        .iter()
        .filter(|t| !existing.contains(t))
        .cloned()
        .collect();
    if existing.len() + new.len() > 50 {
        return Err(AppError::invalid("tags", "a lead has at most 50 tags"));
    }
    if !new.is_empty() {
        lead_tag::Entity::insert_many(new.iter().map(|t| lead_tag::ActiveModel {
            lead_id: Set(lead_id),
            tag: Set(t.clone()),
            org_id: Set(viewer.org_id),
        }))
        .exec(txn)
        .await?;
    }
    Ok(new)
}

/// Where new values came from (recorded as provenance).
pub struct Origin {
    /// `manual`, `import`, `scrape`, `enrichment`.
    pub kind: &'static str,
    /// Who or what (user id, file + row, job + URL, provider).
    pub reference: String,
}

impl Origin {
    /// Typed in by the viewer.
    pub fn manual(viewer: &Viewer) -> Self {
        Origin {
            kind: "manual",
            reference: format!("user:{}", viewer.user_id),
        }
    }

    /// Found by scrape job `job_id` at `url` (a page, or a search/places API result).
    pub fn scrape(job_id: Uuid, url: &str) -> Self {
        Origin {
            kind: "scrape",
            reference: format!("scrape:{job_id} {url}"),
        }
    }

    pub(super) fn entry(&self) -> serde_json::Value {
        json!({"kind": self.kind, "reference": self.reference, "at": Utc::now()})
    }
}

/// How a create ended.
pub enum Created {
    /// A new lead.
    New(lead::Model),
    /// An existing duplicate took the new values (`OnConflict::Merge`).
    Merged(lead::Model),
    /// An existing duplicate was left as it was (`OnConflict::Skip`).
    Skipped(lead::Model),
}

impl Created {
    /// The resulting lead.
    pub fn into_model(self) -> lead::Model {
        match self {
            Created::New(m) | Created::Merged(m) | Created::Skipped(m) => m,
        }
    }
}
