//! Partner API keys: created by ADMIN+, secret shown once, stored as SHA-256, revocable.

use chrono::Utc;
use std::collections::HashSet;

use entity::{api_key, membership};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect,
    QueryTrait, Select, TransactionTrait,
};
use uuid::Uuid;

use crate::domains::identity::types::CreateApiKeyInput;
use crate::{
    auth::{credentials::API_KEY_PREFIX, secrets, Permission, Role, Viewer},
    error::{AppError, AppResult},
    events::{outbox, ApiKeyRevoked, DomainEvent, EventEnvelope},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::AppState,
    state::Wakes,
};

fn scoped(viewer: &Viewer) -> Select<api_key::Entity> {
    api_key::Entity::find().filter(api_key::Column::OrgId.eq(viewer.org_id))
}

async fn get(
    conn: &impl sea_orm::ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<api_key::Model> {
    scoped(viewer)
        .filter(api_key::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("API key"))
}

/// Creates a key; returns the row and the secret.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateApiKeyInput,
) -> AppResult<(api_key::Model, String)> {
    viewer.require(Permission::ManageApiKeys)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid("input.name", "must be 1–200 characters"));
    }
    if input.role > viewer.role {
        return Err(AppError::invalid(
            "input.role",
            "cannot exceed your own role",
        ));
    }
    if input.expires_at.is_some_and(|e| e <= Utc::now()) {
        return Err(AppError::invalid(
            "input.expiresAt",
            "must be in the future",
        ));
    }
    let secret = secrets::generate(API_KEY_PREFIX);
    let model = api_key::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        created_by: Set(viewer.user_id),
        name: Set(name.to_string()),
        role: Set(input.role.as_str().into()),
        prefix: Set(secret.chars().take(10).collect()),
        key_hash: Set(secrets::digest(&secret)),
        last_used_at: Set(None),
        expires_at: Set(input.expires_at),
        revoked_at: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(&state.db)
    .await?;
    Ok((model, secret))
}

/// Keys of the organization, newest first. `to_node` also gets whether the key's creator is
/// still a member: a key whose creator left stops working until an admin reassigns it.
pub async fn list<N: async_graphql::OutputType>(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
    to_node: impl Fn(api_key::Model, bool) -> N,
) -> AppResult<IdConnection<N>> {
    viewer.require(Permission::ManageApiKeys)?;
    // One statement whatever the page size: the members among the organization's key creators.
    let creators: HashSet<Uuid> = membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::OrgId.eq(viewer.org_id))
        .filter(
            membership::Column::UserId.in_subquery(
                scoped(viewer)
                    .select_only()
                    .column(api_key::Column::CreatedBy)
                    .into_query(),
            ),
        )
        .into_tuple::<Uuid>()
        .all(&state.db)
        .await?
        .into_iter()
        .collect();
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        api_key::Column::Id,
        &args,
        |m| m.id,
        |m| {
            let active = creators.contains(&m.created_by);
            to_node(m, active)
        },
    )
    .await
}

/// Makes `user_id` (a member whose role is at least the key's) the key's creator: the key acts
/// for them from now on. For keys whose creator left the organization.
pub async fn reassign(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    user_id: Uuid,
) -> AppResult<api_key::Model> {
    viewer.require(Permission::ManageApiKeys)?;
    let key = get(&state.db, viewer, id).await?;
    let member_role = membership::Entity::find()
        .filter(membership::Column::OrgId.eq(viewer.org_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(&state.db)
        .await?
        .and_then(|m| Role::parse(&m.role))
        .ok_or(AppError::NotFound("member"))?;
    let key_role = Role::parse(&key.role).unwrap_or(Role::Viewer);
    if key_role > member_role {
        return Err(AppError::invalid(
            "userId",
            "the member's role is below the key's role",
        ));
    }
    if key_role > viewer.role {
        return Err(AppError::forbidden(
            "you cannot reassign a key above your own role",
        ));
    }
    let mut active: api_key::ActiveModel = key.into();
    active.created_by = Set(user_id);
    let key = active.update(&state.db).await?;
    state.sessions.forget_key(key.id);
    Ok(key)
}

/// Revokes a key; it stops working on the next request.
pub async fn revoke(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<api_key::Model> {
    viewer.require(Permission::ManageApiKeys)?;
    let key = get(&state.db, viewer, id).await?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let txn = state.db.begin().await?;
    let mut active: api_key::ActiveModel = key.into();
    active.revoked_at = Set(Some(Utc::now()));
    let key = active.update(&txn).await?;
    let event = EventEnvelope::new(
        viewer.org_id,
        Some(viewer.user_id),
        DomainEvent::ApiKeyRevoked(ApiKeyRevoked { api_key_id: key.id }),
    );
    outbox::record(&txn, &event).await?;
    state.commit(txn, Wakes::Events).await?;
    state.sessions.forget_key(key.id);
    Ok(key)
}
