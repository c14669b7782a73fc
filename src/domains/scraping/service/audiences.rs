//! Audience builder: a named, saved `LeadFilter` whose leads are computed when asked (usable as
//! campaign recipients later). Reading needs ReadLeads, changing needs WriteLeads.

use chrono::Utc;
use entity::audience;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    Select, TransactionTrait,
};
use uuid::Uuid;

pub use crate::domains::scraping::types::{Audience, UpdateAudienceInput};

use super::lead_pages::LeadPages;
use crate::{
    auth::{Permission, Viewer},
    domains::leads::{
        self as leads,
        types::{LeadFilter, LeadOrder},
        LeadKey,
    },
    error::{AppError, AppResult},
    graphql::pagination::{keyset_rows, ByColumn, IdConnection, KeysetArgs, PageArgs, TotalCount},
    state::AppState,
};

/// Every audience query starts here.
fn scoped(viewer: &Viewer) -> Select<audience::Entity> {
    audience::Entity::find().filter(audience::Column::OrgId.eq(viewer.org_id))
}

/// An audience of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<audience::Model> {
    viewer.require(Permission::ReadLeads)?;
    scoped(viewer)
        .filter(audience::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("audience"))
}

fn check_name(field: &str, name: &str) -> AppResult<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 200 {
        return Err(AppError::invalid(field, "must be 1–200 characters"));
    }
    Ok(n.to_string())
}

/// Validates the filter the way `leads(filter:)` does (owner id, search length) and stores it.
fn check_filter(state: &AppState, viewer: &Viewer, f: &LeadFilter) -> AppResult<serde_json::Value> {
    leads::filtered(state.db.get_database_backend(), viewer, f)?;
    Ok(serde_json::to_value(f)?)
}

async fn name_taken(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    name: &str,
    except: Option<Uuid>,
) -> AppResult<()> {
    let mut q = scoped(viewer).filter(audience::Column::Name.eq(name));
    if let Some(id) = except {
        q = q.filter(audience::Column::Id.ne(id));
    }
    if q.one(conn).await?.is_some() {
        return Err(AppError::Conflict(format!(
            "an audience named {name:?} already exists"
        )));
    }
    Ok(())
}

/// Saves a new audience (WriteLeads). A name is unique in the organization (CONFLICT).
pub async fn save(
    state: &AppState,
    viewer: &Viewer,
    name: &str,
    filter: &LeadFilter,
) -> AppResult<audience::Model> {
    viewer.require(Permission::WriteLeads)?;
    let name = check_name("name", name)?;
    let filter = check_filter(state, viewer, filter)?;
    let txn = state.db.begin().await?;
    name_taken(&txn, viewer, &name, None).await?;
    let now = Utc::now();
    let m = audience::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        name: Set(name),
        filter: Set(filter),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(m)
}

/// Renames an audience or replaces its filter (WriteLeads).
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: &UpdateAudienceInput,
) -> AppResult<audience::Model> {
    viewer.require(Permission::WriteLeads)?;
    let txn = state.db.begin().await?;
    let current = get(&txn, viewer, id).await?;
    let mut a: audience::ActiveModel = current.into();
    if let Some(n) = &input.name {
        let n = check_name("input.name", n)?;
        name_taken(&txn, viewer, &n, Some(id)).await?;
        a.name = Set(n);
    }
    if let Some(f) = &input.filter {
        a.filter = Set(check_filter(state, viewer, f)?);
    }
    a.updated_at = Set(Utc::now());
    let m = a.update(&txn).await?;
    txn.commit().await?;
    Ok(m)
}

/// Deletes an audience (WriteLeads); the leads are untouched.
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<audience::Model> {
    viewer.require(Permission::WriteLeads)?;
    let txn = state.db.begin().await?;
    let current = get(&txn, viewer, id).await?;
    audience::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(current)
}

/// A page of the organization's audiences, newest first; the audiences of the page share one
/// `AudiencePage` (their leads load together).
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
) -> AppResult<IdConnection<Audience>> {
    viewer.require(Permission::ReadLeads)?;
    let order = ByColumn {
        column: audience::Column::Id,
        desc: true,
        key_of: |m: &audience::Model| m.id,
    };
    let total = TotalCount::of(state.db.clone(), scoped(viewer));
    let page = keyset_rows(&state.db, scoped(viewer), &order, &args).await?;
    Ok(page.into_connection_batch(total, |m| m.id, Audience::wrap))
}

/// The first (or last) lead page of every audience of a page, for `Audience.leads`: one
/// statement, a `UNION ALL` of each audience's own filtered and ordered page with its own
/// LIMIT ([`LeadPages`]). A filter cannot be a partition of one select (each audience's rows
/// are defined by a whole filter), and one statement per distinct filter would still grow
/// with the page. An audience whose saved filter no longer builds (e.g. an owner id that is
/// not one) is left out: its field reads alone and answers the error as before.
pub async fn leads_of_audiences(
    state: &AppState,
    viewer: &Viewer,
    filters: &[(Uuid, LeadFilter)],
    order: LeadOrder,
    args: &KeysetArgs<LeadKey>,
) -> AppResult<LeadPages> {
    viewer.require(Permission::ReadLeads)?;
    let backend = state.db.get_database_backend();
    let queries = filters
        .iter()
        .filter_map(|(id, f)| {
            let q = leads::page_query(backend, viewer, f, order, args.clone()).ok()?;
            Some((*id, q))
        })
        .collect();
    LeadPages::load(&state.db, queries).await
}
