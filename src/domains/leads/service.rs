//! Lead rules: validation, dedupe, scoring, timeline, provenance, events — org-scoped, one
//! transaction per change.

use chrono::Utc;
use entity::{lead, lead_interaction, lead_note, lead_tag, membership};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, Select, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    scoring,
    types::{CreateLeadInput, LeadSource, LeadStatus, OnConflict},
    validate::Check,
};
use crate::{
    auth::{Permission, Viewer},
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, LeadChanged},
    ids::parse_id,
    state::AppState,
    state::Wakes,
};

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

/// Validated values of a new lead.
struct NewLead {
    model: lead::ActiveModel,
    tags: Vec<String>,
    email: Option<String>,
    phone: Option<String>,
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

fn validate_new(viewer: &Viewer, prefix: &str, input: &CreateLeadInput) -> AppResult<NewLead> {
    let mut c = Check::new(prefix);
    let loc = input.location.clone().unwrap_or_default();
    let country = c.country("location.country", loc.country.as_deref());
    let email = c.email("email", input.email.as_deref());
    let phone = c.phone("phone", input.phone.as_deref(), country.as_deref());
    let now = Utc::now();
    let owner_id = match &input.owner_id {
        Some(id) => match parse_id(id) {
            Ok(u) => Some(u),
            Err(_) => {
                c.errors.push(crate::error::FieldError {
                    field: format!("{prefix}ownerId"),
                    message: "is not a valid id".into(),
                });
                None
            }
        },
        None => None,
    };
    let model = lead::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        first_name: Set(c.text("firstName", input.first_name.as_deref(), 200)),
        last_name: Set(c.text("lastName", input.last_name.as_deref(), 200)),
        email: Set(email.clone()),
        phone: Set(phone.clone()),
        company: Set(c
            .text("company", input.company.as_deref(), 300)
            .unwrap_or_default()),
        title: Set(c.text("title", input.title.as_deref(), 200)),
        website: Set(c.website("website", input.website.as_deref())),
        industry: Set(c.text("industry", input.industry.as_deref(), 200)),
        city: Set(c.text("location.city", loc.city.as_deref(), 200)),
        region: Set(c.text("location.region", loc.region.as_deref(), 200)),
        country: Set(country),
        latitude: Set(c.coordinate("location.latitude", loc.latitude, 90.0)),
        longitude: Set(c.coordinate("location.longitude", loc.longitude, 180.0)),
        source: Set(input.source.unwrap_or(LeadSource::Manual).as_str().into()),
        status: Set(input.status.unwrap_or(LeadStatus::New).as_str().into()),
        score: Set(0),
        score_reasons: Set(json!([])),
        custom_fields: Set(c.object("customFields", input.custom_fields.as_ref().map(|j| &j.0))),
        provenance: Set(json!({})),
        owner_id: Set(owner_id),
        last_contacted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let tags = c.tags("tags", input.tags.as_deref().unwrap_or_default());
    let has_identity = input.email.is_some()
        || input.phone.is_some()
        || input.first_name.is_some()
        || input.last_name.is_some()
        || input.company.is_some();
    if !has_identity {
        c.errors.push(crate::error::FieldError {
            field: format!("{prefix}email"),
            message: "a lead needs at least a name, company, email or phone".into(),
        });
    }
    c.finish()?;
    Ok(NewLead {
        model,
        tags,
        email,
        phone,
    })
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

/// Creates a lead. A duplicate (same email or phone in the organization) is CONFLICT naming the
/// existing lead, unless `on_conflict` is MERGE (fill empty fields, add tags) or SKIP.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    prefix: &str,
    input: CreateLeadInput,
    on_conflict: OnConflict,
) -> AppResult<lead::Model> {
    viewer.require(Permission::WriteLeads)?;
    let txn = state.db.begin().await?;
    let created = create_in(
        &txn,
        viewer,
        prefix,
        &input,
        on_conflict,
        &Origin::manual(viewer),
    )
    .await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(created.into_model())
}

/// [`create`] inside the caller's transaction (imports commit many at once).
pub async fn create_in(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    prefix: &str,
    input: &CreateLeadInput,
    on_conflict: OnConflict,
    origin: &Origin,
) -> AppResult<Created> {
    let new = validate_new(viewer, prefix, input)?;
    check_owner(txn, viewer, new.model.owner_id.clone().take().flatten()).await?;
    if let Some(existing) =
        find_duplicate(txn, viewer, new.email.as_deref(), new.phone.as_deref()).await?
    {
        return match on_conflict {
            OnConflict::Error => Err(AppError::Conflict(format!(
                "a lead with this email or phone already exists: {}",
                existing.id
            ))),
            OnConflict::Skip => Ok(Created::Skipped(existing)),
            OnConflict::Merge => Ok(Created::Merged(
                merge_into(txn, viewer, existing, new, origin).await?,
            )),
        };
    }
    let mut model = new.model;
    let mut prov = serde_json::Map::new();
    for (field, set) in [
        ("firstName", model.first_name.as_ref().is_some()),
        ("lastName", model.last_name.as_ref().is_some()),
        ("email", model.email.as_ref().is_some()),
        ("phone", model.phone.as_ref().is_some()),
        ("company", !model.company.as_ref().is_empty()),
        ("title", model.title.as_ref().is_some()),
        ("website", model.website.as_ref().is_some()),
    ] {
        if set {
            prov.insert(field.into(), origin.entry());
        }
    }
    model.provenance = Set(serde_json::Value::Object(prov));
    let lead = model.insert(txn).await?;
    add_tag_rows(txn, viewer, lead.id, &new.tags).await?;
    record(
        txn,
        viewer,
        lead.id,
        "created",
        json!({"source": lead.source, "origin": origin.kind}),
    )
    .await?;
    let lead = rescore(txn, lead).await?;
    emit(
        txn,
        viewer,
        DomainEvent::LeadCreated(LeadChanged {
            lead_id: lead.id,
            changed_fields: vec![],
            owner_id: None,
        }),
    )
    .await?;
    Ok(Created::New(lead))
}

async fn merge_into(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    existing: lead::Model,
    new: NewLead,
    origin: &Origin,
) -> AppResult<lead::Model> {
    let n = new.model;
    let mut a: lead::ActiveModel = existing.clone().into();
    let mut changed = Vec::new();
    macro_rules! fill {
        ($f:ident, $name:literal) => {
            if existing.$f.is_none() {
                if let Some(v) = n.$f.clone().take().flatten() {
                    a.$f = Set(Some(v));
                    changed.push($name.to_string());
                }
            }
        };
    }
    fill!(first_name, "firstName");
    fill!(last_name, "lastName");
    fill!(email, "email");
    fill!(phone, "phone");
    fill!(title, "title");
    fill!(website, "website");
    fill!(industry, "industry");
    if existing.company.is_empty() && !n.company.as_ref().is_empty() {
        a.company = Set(n.company.clone().take().unwrap_or_default());
        changed.push("company".into());
    }
    if !changed.is_empty() {
        // The filled fields came from `origin`.
        let mut prov = existing.provenance.as_object().cloned().unwrap_or_default();
        for f in &changed {
            prov.insert(f.clone(), origin.entry());
        }
        a.provenance = Set(serde_json::Value::Object(prov));
    }
    a.updated_at = Set(Utc::now());
    let lead = a.update(txn).await?;
    let added = add_tag_rows(txn, viewer, lead.id, &new.tags).await?;
    if !added.is_empty() {
        changed.push("tags".into());
    }
    if !changed.is_empty() {
        record(
            txn,
            viewer,
            lead.id,
            "merged",
            json!({"changedFields": changed}),
        )
        .await?;
        emit(
            txn,
            viewer,
            DomainEvent::LeadUpdated(LeadChanged {
                lead_id: lead.id,
                changed_fields: changed,
                owner_id: None,
            }),
        )
        .await?;
    }
    rescore(txn, lead).await
}

/// Deletes a lead with its notes, tags and timeline (MANAGER+).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<lead::Model> {
    viewer.require(Permission::DeleteLeads)?;
    let txn = state.db.begin().await?;
    let lead = get(&txn, viewer, id).await?;
    lead_tag::Entity::delete_many()
        .filter(lead_tag::Column::LeadId.eq(id))
        .exec(&txn)
        .await?;
    lead_note::Entity::delete_many()
        .filter(lead_note::Column::LeadId.eq(id))
        .exec(&txn)
        .await?;
    lead_interaction::Entity::delete_many()
        .filter(lead_interaction::Column::LeadId.eq(id))
        .exec(&txn)
        .await?;
    lead::Entity::delete_by_id(id).exec(&txn).await?;
    emit(
        &txn,
        viewer,
        DomainEvent::LeadDeleted(LeadChanged {
            lead_id: id,
            changed_fields: vec![],
            owner_id: None,
        }),
    )
    .await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(lead)
}
