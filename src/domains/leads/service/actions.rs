//! Focused lead actions: tags, assignment, contacts, rescoring, notes and delete.

use chrono::Utc;
use entity::{lead, lead_interaction, lead_note, lead_tag};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    add_tag_rows, check_batch, check_owner, emit, emit_updated, get, record, rescore,
    validate::Check,
};
use crate::{
    auth::{Permission, Viewer},
    domains::leads::types::LeadStatus,
    error::{AppError, AppResult},
    events::{DomainEvent, LeadChanged},
    ids::parse_id,
    state::{AppState, Wakes},
};

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
        emit_updated(&txn, viewer, id, vec!["tags".into()]).await?;
    }
    state.commit(txn, Wakes::Events).await?;
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
            owner_id: owner,
        }),
    )
    .await?;
    state.commit(txn, Wakes::Events).await?;
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
    emit_updated(&txn, viewer, id, changed).await?;
    state.commit(txn, Wakes::Events).await?;
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
    emit_updated(&txn, viewer, lead_id, vec!["notes".into()]).await?;
    state.commit(txn, Wakes::Events).await?;
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

/// Deletes up to [`super::MAX_BATCH`] leads (MANAGER+): one result per id.
pub async fn delete_many(
    state: &AppState,
    viewer: &Viewer,
    ids: &[async_graphql::ID],
) -> AppResult<Vec<AppResult<lead::Model>>> {
    viewer.require(Permission::DeleteLeads)?;
    check_batch(ids.len())?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(match parse_id(id) {
            Ok(u) => delete(state, viewer, u).await,
            Err(e) => Err(e),
        });
    }
    Ok(out)
}
