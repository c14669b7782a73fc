//! Creating leads: validation, dedupe (CONFLICT, MERGE or SKIP), provenance of the new values,
//! the `created`/`merged` timeline entries and events.

use chrono::Utc;
use entity::lead;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseTransaction, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use super::{
    add_tag_rows, check_batch, check_owner, emit, find_duplicate, record, rescore, validate::Check,
    Created, Origin,
};
use crate::{
    auth::{Permission, Viewer},
    domains::leads::types::{CreateLeadInput, LeadSource, LeadStatus, OnConflict},
    error::{AppError, AppResult},
    events::{DomainEvent, LeadChanged},
    ids::parse_id,
    state::{AppState, Wakes},
};

/// Validated values of a new lead.
struct NewLead {
    model: lead::ActiveModel,
    tags: Vec<String>,
    email: Option<String>,
    phone: Option<String>,
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
        email_status: Set(None),
        validated_at: Set(None),
        phone_type: Set(None),
        phone_carrier: Set(None),
        phone_country: Set(None),
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

/// Creates up to [`super::MAX_BATCH`] leads, each on its own: one result per input.
pub async fn create_many(
    state: &AppState,
    viewer: &Viewer,
    inputs: Vec<CreateLeadInput>,
    on_conflict: OnConflict,
) -> AppResult<Vec<AppResult<lead::Model>>> {
    viewer.require(Permission::WriteLeads)?;
    check_batch(inputs.len())?;
    let mut out = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        let prefix = format!("inputs[{i}].");
        out.push(create(state, viewer, &prefix, input, on_conflict).await);
    }
    Ok(out)
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
