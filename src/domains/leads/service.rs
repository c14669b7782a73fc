//! Lead rules: validation, dedupe, scoring, timeline, provenance, events — org-scoped, one
//! transaction per change.

use chrono::Utc;
use entity::{lead, lead_interaction, lead_note, lead_tag, membership};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter, Select, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    scoring,
    types::{CreateLeadInput, LeadSource, LeadStatus, OnConflict, UpdateLeadInput},
    validate::Check,
};
use crate::{
    auth::{Permission, Viewer},
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, LeadChanged},
    ids::parse_id,
    state::AppState,
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

fn provenance_entry(viewer: &Viewer) -> serde_json::Value {
    Origin::manual(viewer).entry()
}

async fn check_owner(
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

async fn find_duplicate(
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

async fn record(
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

async fn emit(txn: &DatabaseTransaction, viewer: &Viewer, event: DomainEvent) -> AppResult<()> {
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

async fn rescore(txn: &DatabaseTransaction, lead: lead::Model) -> AppResult<lead::Model> {
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

async fn add_tag_rows(
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

    fn entry(&self) -> serde_json::Value {
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
    txn.commit().await?;
    state.events_committed();
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
    check_owner(txn, viewer, new.model.owner_id.clone().unwrap()).await?;
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
                merge_into(txn, viewer, existing, new).await?,
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
) -> AppResult<lead::Model> {
    let n = new.model;
    let mut a: lead::ActiveModel = existing.clone().into();
    let mut changed = Vec::new();
    macro_rules! fill {
        ($f:ident, $name:literal) => {
            if existing.$f.is_none() {
                if let Some(v) = n.$f.clone().unwrap() {
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
        a.company = Set(n.company.clone().unwrap());
        changed.push("company".into());
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
            }),
        )
        .await?;
    }
    rescore(txn, lead).await
}

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
    let mut changed: Vec<&str> = Vec::new();
    use async_graphql::MaybeUndefined as M;
    macro_rules! text {
        ($f:ident, $name:literal, $max:expr) => {
            match &input.$f {
                M::Undefined => {}
                M::Null => {
                    a.$f = Set(None);
                    changed.push($name);
                }
                M::Value(v) => {
                    a.$f = Set(c.text($name, Some(v), $max));
                    changed.push($name);
                }
            }
        };
    }
    text!(first_name, "firstName", 200);
    text!(last_name, "lastName", 200);
    text!(title, "title", 200);
    text!(industry, "industry", 200);
    match &input.company {
        M::Undefined => {}
        M::Null => {
            a.company = Set(String::new());
            changed.push("company");
        }
        M::Value(v) => {
            a.company = Set(c.text("company", Some(v), 300).unwrap_or_default());
            changed.push("company");
        }
    }
    match &input.email {
        M::Undefined => {}
        M::Null => {
            a.email = Set(None);
            changed.push("email");
        }
        M::Value(v) => {
            a.email = Set(c.email("email", Some(v)));
            changed.push("email");
        }
    }
    match &input.website {
        M::Undefined => {}
        M::Null => {
            a.website = Set(None);
            changed.push("website");
        }
        M::Value(v) => {
            a.website = Set(c.website("website", Some(v)));
            changed.push("website");
        }
    }
    match &input.location {
        M::Undefined => {}
        M::Null => {
            a.city = Set(None);
            a.region = Set(None);
            a.country = Set(None);
            a.latitude = Set(None);
            a.longitude = Set(None);
            changed.push("location");
        }
        M::Value(l) => {
            a.city = Set(c.text("location.city", l.city.as_deref(), 200));
            a.region = Set(c.text("location.region", l.region.as_deref(), 200));
            a.country = Set(c.country("location.country", l.country.as_deref()));
            a.latitude = Set(c.coordinate("location.latitude", l.latitude, 90.0));
            a.longitude = Set(c.coordinate("location.longitude", l.longitude, 180.0));
            changed.push("location");
        }
    }
    let country = a.country.clone().unwrap();
    match &input.phone {
        M::Undefined => {}
        M::Null => {
            a.phone = Set(None);
            changed.push("phone");
        }
        M::Value(v) => {
            a.phone = Set(c.phone("phone", Some(v), country.as_deref()));
            changed.push("phone");
        }
    }
    match &input.custom_fields {
        M::Undefined => {}
        M::Null => {
            a.custom_fields = Set(json!({}));
            changed.push("customFields");
        }
        M::Value(v) => {
            a.custom_fields = Set(c.object("customFields", Some(&v.0)));
            changed.push("customFields");
        }
    }
    if let Some(s) = input.source {
        a.source = Set(s.as_str().into());
        changed.push("source");
    }
    let status_change = input.status.filter(|s| s.as_str() != before.status);
    if let Some(s) = input.status {
        a.status = Set(s.as_str().into());
        changed.push("status");
    }
    c.finish()?;
    let mut prov = before.provenance.as_object().cloned().unwrap_or_default();
    for f in &changed {
        prov.insert((*f).to_string(), provenance_entry(viewer));
    }
    a.provenance = Set(serde_json::Value::Object(prov));
    a.updated_at = Set(Utc::now());
    let after = a.update(&txn).await?;
    let changed: Vec<String> = changed.into_iter().map(String::from).collect();
    if !changed.is_empty() {
        record(
            &txn,
            viewer,
            id,
            "updated",
            json!({"changedFields": changed}),
        )
        .await?;
    }
    if let Some(s) = status_change {
        record(
            &txn,
            viewer,
            id,
            "status_changed",
            json!({"from": before.status, "to": s.as_str()}),
        )
        .await?;
    }
    let after = rescore(&txn, after).await?;
    emit(
        &txn,
        viewer,
        DomainEvent::LeadUpdated(LeadChanged {
            lead_id: id,
            changed_fields: changed,
        }),
    )
    .await?;
    txn.commit().await?;
    state.events_committed();
    Ok((before, after))
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
        }),
    )
    .await?;
    txn.commit().await?;
    state.events_committed();
    Ok(lead)
}

/// Adds (`add = true`) or removes tags.
pub async fn change_tags(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    tags: &[String],
    add: bool,
) -> AppResult<lead::Model> {
    viewer.require(Permission::WriteLeads)?;
    let mut c = Check::new("");
    let tags = c.tags("tags", tags);
    c.finish()?;
    let txn = state.db.begin().await?;
    let lead = get(&txn, viewer, id).await?;
    let changed: Vec<String> = if add {
        add_tag_rows(&txn, viewer, id, &tags).await?
    } else {
        let res = lead_tag::Entity::delete_many()
            .filter(lead_tag::Column::LeadId.eq(id))
            .filter(lead_tag::Column::Tag.is_in(tags.clone()))
            .exec(&txn)
            .await?;
        if res.rows_affected > 0 {
            tags.clone()
        } else {
            vec![]
        }
    };
    if !changed.is_empty() {
        let kind = if add { "tags_added" } else { "tags_removed" };
        record(&txn, viewer, id, kind, json!({"tags": changed})).await?;
        touch(&txn, id).await?;
        emit(
            &txn,
            viewer,
            DomainEvent::LeadUpdated(LeadChanged {
                lead_id: id,
                changed_fields: vec!["tags".into()],
            }),
        )
        .await?;
    }
    txn.commit().await?;
    state.events_committed();
    Ok(lead)
}

async fn touch(txn: &DatabaseTransaction, id: Uuid) -> AppResult<()> {
    lead::Entity::update_many()
        .col_expr(lead::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(lead::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Assigns the lead to a member (or unassigns with `None`).
pub async fn assign(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    owner: Option<Uuid>,
) -> AppResult<lead::Model> {
    viewer.require(Permission::WriteLeads)?;
    let txn = state.db.begin().await?;
    let lead = get(&txn, viewer, id).await?;
    check_owner(&txn, viewer, owner)
        .await
        .map_err(|_| AppError::NotFound("member"))?;
    let from = lead.owner_id;
    let mut a: lead::ActiveModel = lead.into();
    a.owner_id = Set(owner);
    a.updated_at = Set(Utc::now());
    let lead = a.update(&txn).await?;
    record(
        &txn,
        viewer,
        id,
        "assigned",
        json!({"from": from, "to": owner}),
    )
    .await?;
    emit(
        &txn,
        viewer,
        DomainEvent::LeadUpdated(LeadChanged {
            lead_id: id,
            changed_fields: vec!["owner".into()],
        }),
    )
    .await?;
    txn.commit().await?;
    state.events_committed();
    Ok(lead)
}

/// Records a contact through `channel`, sets `lastContactedAt`, and moves NEW leads to CONTACTED.
pub async fn mark_contacted(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    channel: &str,
    note: Option<String>,
) -> AppResult<lead::Model> {
    viewer.require(Permission::WriteLeads)?;
    let mut c = Check::new("");
    let channel = c.text("channel", Some(channel), 32).unwrap_or_default();
    if channel.is_empty() {
        return Err(AppError::invalid(
            "channel",
            "is required (email, phone, linkedin, meeting, …)",
        ));
    }
    let note = c.text("note", note.as_deref(), 2000);
    c.finish()?;
    let txn = state.db.begin().await?;
    let lead = get(&txn, viewer, id).await?;
    let mut a: lead::ActiveModel = lead.clone().into();
    let now = Utc::now();
    a.last_contacted_at = Set(Some(now));
    a.updated_at = Set(now);
    let mut changed = vec!["lastContactedAt".to_string()];
    if lead.status == LeadStatus::New.as_str() {
        a.status = Set(LeadStatus::Contacted.as_str().into());
        changed.push("status".into());
    }
    let lead = a.update(&txn).await?;
    record(
        &txn,
        viewer,
        id,
        "contacted",
        json!({"channel": channel, "note": note}),
    )
    .await?;
    let lead = rescore(&txn, lead).await?;
    emit(
        &txn,
        viewer,
        DomainEvent::LeadUpdated(LeadChanged {
            lead_id: id,
            changed_fields: changed,
        }),
    )
    .await?;
    txn.commit().await?;
    state.events_committed();
    Ok(lead)
}

/// Recomputes the score now.
pub async fn score_now(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<lead::Model> {
    viewer.require(Permission::WriteLeads)?;
    let txn = state.db.begin().await?;
    let lead = get(&txn, viewer, id).await?;
    let lead = rescore(&txn, lead).await?;
    txn.commit().await?;
    Ok(lead)
}

/// Adds a note.
pub async fn add_note(
    state: &AppState,
    viewer: &Viewer,
    lead_id: Uuid,
    body: &str,
) -> AppResult<lead_note::Model> {
    viewer.require(Permission::WriteLeads)?;
    let body = note_body(body)?;
    let txn = state.db.begin().await?;
    let lead = get(&txn, viewer, lead_id).await?;
    let now = Utc::now();
    let note = lead_note::ActiveModel {
        id: Set(Uuid::now_v7()),
        lead_id: Set(lead_id),
        org_id: Set(viewer.org_id),
        author_id: Set(Some(viewer.user_id)),
        body: Set(body),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    record(
        &txn,
        viewer,
        lead_id,
        "note_added",
        json!({"noteId": note.id}),
    )
    .await?;
    touch(&txn, lead_id).await?;
    rescore(&txn, lead).await?;
    emit(
        &txn,
        viewer,
        DomainEvent::LeadUpdated(LeadChanged {
            lead_id,
            changed_fields: vec!["notes".into()],
        }),
    )
    .await?;
    txn.commit().await?;
    state.events_committed();
    Ok(note)
}

fn note_body(body: &str) -> AppResult<String> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 10_000 {
        return Err(AppError::invalid("body", "must be 1–10000 characters"));
    }
    Ok(body.to_string())
}

async fn own_note(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<lead_note::Model> {
    let note = lead_note::Entity::find_by_id(id)
        .filter(lead_note::Column::OrgId.eq(viewer.org_id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("note"))?;
    if note.author_id != Some(viewer.user_id) && viewer.require(Permission::DeleteLeads).is_err() {
        return Err(AppError::forbidden(
            "only the author or a MANAGER+ may change this note",
        ));
    }
    Ok(note)
}

/// Edits a note (its author, or MANAGER+).
pub async fn update_note(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    body: &str,
) -> AppResult<lead_note::Model> {
    viewer.require(Permission::WriteLeads)?;
    let body = note_body(body)?;
    let note = own_note(&state.db, viewer, id).await?;
    let mut a: lead_note::ActiveModel = note.into();
    a.body = Set(body);
    a.updated_at = Set(Utc::now());
    Ok(a.update(&state.db).await?)
}

/// Deletes a note (its author, or MANAGER+).
pub async fn delete_note(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<lead_note::Model> {
    viewer.require(Permission::WriteLeads)?;
    let txn = state.db.begin().await?;
    let note = own_note(&txn, viewer, id).await?;
    lead_note::Entity::delete_by_id(id).exec(&txn).await?;
    let lead = get(&txn, viewer, note.lead_id).await?;
    rescore(&txn, lead).await?;
    txn.commit().await?;
    Ok(note)
}
