//! Teams inside an organization (MANAGER+ to change them, anyone to read).

use chrono::Utc;
use entity::{membership, team, team_member};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, Select,
    TransactionTrait,
};
use uuid::Uuid;

use super::members_scoped;
use crate::{
    auth::{Permission, Viewer},
    error::{AppError, AppResult, FieldError},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::AppState,
};

fn scoped(viewer: &Viewer) -> Select<team::Entity> {
    team::Entity::find().filter(team::Column::OrgId.eq(viewer.org_id))
}

async fn get(
    conn: &impl sea_orm::ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<team::Model> {
    scoped(viewer)
        .filter(team::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("team"))
}

/// Team `id`, for a change to it or its members (MANAGER+).
async fn to_change(
    conn: &impl sea_orm::ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<team::Model> {
    viewer.require(Permission::ManageTeams)?;
    get(conn, viewer, id).await
}

fn clean(
    name: Option<&str>,
    description: Option<&str>,
) -> AppResult<(Option<String>, Option<String>)> {
    let mut errors = Vec::new();
    let name = name.map(|n| n.trim().to_string());
    if name
        .as_ref()
        .is_some_and(|n| n.is_empty() || n.chars().count() > 200)
    {
        errors.push(FieldError {
            field: "input.name".into(),
            message: "must be 1–200 characters".into(),
        });
    }
    let description = description.map(|d| d.trim().to_string());
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 2000)
    {
        errors.push(FieldError {
            field: "input.description".into(),
            message: "must be at most 2000 characters".into(),
        });
    }
    if errors.is_empty() {
        Ok((name, description))
    } else {
        Err(AppError::invalid_fields(errors))
    }
}

/// A page of teams, newest first.
pub async fn list<N: async_graphql::OutputType>(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
    to_node: impl Fn(team::Model) -> N,
) -> AppResult<IdConnection<N>> {
    viewer.require(Permission::ReadMembers)?;
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        team::Column::Id,
        &args,
        |m| m.id,
        to_node,
    )
    .await
}

/// One team, or `None`.
pub async fn find(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<Option<team::Model>> {
    viewer.require(Permission::ReadMembers)?;
    Ok(scoped(viewer)
        .filter(team::Column::Id.eq(id))
        .one(&state.db)
        .await?)
}

/// Creates a team. CONFLICT when the name is taken in the organization.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    name: &str,
    description: Option<&str>,
) -> AppResult<team::Model> {
    viewer.require(Permission::ManageTeams)?;
    let (name, description) = clean(Some(name), description)?;
    let now = Utc::now();
    Ok(team::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        name: Set(name.unwrap_or_default()),
        description: Set(description),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?)
}

/// Partial update; returns (before, after).
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
) -> AppResult<(team::Model, team::Model)> {
    viewer.require(Permission::ManageTeams)?;
    let (name, description) = clean(name, description)?;
    let before = get(&state.db, viewer, id).await?;
    let mut active: team::ActiveModel = before.clone().into();
    if let Some(n) = name {
        active.name = Set(n);
    }
    if let Some(d) = description {
        active.description = Set((!d.is_empty()).then_some(d));
    }
    active.updated_at = Set(Utc::now());
    let after = active.update(&state.db).await?;
    Ok((before, after))
}

/// Deletes a team and its memberships.
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<team::Model> {
    viewer.require(Permission::ManageTeams)?;
    let txn = state.db.begin().await?;
    let t = get(&txn, viewer, id).await?;
    team_member::Entity::delete_many()
        .filter(team_member::Column::TeamId.eq(id))
        .exec(&txn)
        .await?;
    team::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(t)
}

/// Adds an organization member to a team (NOT_FOUND for non-members; CONFLICT if already in).
pub async fn add_member(
    state: &AppState,
    viewer: &Viewer,
    team_id: Uuid,
    user_id: Uuid,
) -> AppResult<team::Model> {
    let t = to_change(&state.db, viewer, team_id).await?;
    members_scoped(viewer)
        .filter(membership::Column::UserId.eq(user_id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("member"))?;
    team_member::ActiveModel {
        id: Set(Uuid::now_v7()),
        team_id: Set(team_id),
        user_id: Set(user_id),
        org_id: Set(viewer.org_id),
        created_at: Set(Utc::now()),
    }
    .insert(&state.db)
    .await?;
    Ok(t)
}

/// Removes a user from a team (NOT_FOUND when not in it).
pub async fn remove_member(
    state: &AppState,
    viewer: &Viewer,
    team_id: Uuid,
    user_id: Uuid,
) -> AppResult<team::Model> {
    let t = to_change(&state.db, viewer, team_id).await?;
    let res = team_member::Entity::delete_many()
        .filter(team_member::Column::TeamId.eq(team_id))
        .filter(team_member::Column::UserId.eq(user_id))
        .exec(&state.db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("team member"));
    }
    Ok(t)
}
