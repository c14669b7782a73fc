//! Partner API keys: created by ADMIN+, secret shown once, stored as SHA-256, revocable.

use chrono::{Duration, Utc};
use entity::api_key;
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter,
    Select, TransactionTrait,
};
use uuid::Uuid;

use super::types::CreateApiKeyInput;
use crate::{
    auth::{credentials::API_KEY_PREFIX, secrets, Permission, Role, Viewer, ViewerVia},
    error::{AppError, AppResult},
    events::{outbox, ApiKeyRevoked, DomainEvent, EventEnvelope},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::AppState,
};

fn scoped(viewer: &Viewer) -> Select<api_key::Entity> {
    api_key::Entity::find().filter(api_key::Column::OrgId.eq(viewer.org_id))
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

/// Keys of the organization, newest first.
pub async fn list<N: async_graphql::OutputType>(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
    to_node: impl Fn(api_key::Model) -> N,
) -> AppResult<IdConnection<N>> {
    viewer.require(Permission::ManageApiKeys)?;
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        api_key::Column::Id,
        &args,
        |m| m.id,
        to_node,
    )
    .await
}

/// Revokes a key; it stops working on the next request.
pub async fn revoke(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<api_key::Model> {
    viewer.require(Permission::ManageApiKeys)?;
    let key = scoped(viewer)
        .filter(api_key::Column::Id.eq(id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("API key"))?;
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
    txn.commit().await?;
    state.events_committed();
    Ok(key)
}

/// Resolves a presented `lg_…` secret to a viewer, or UNAUTHENTICATED.
pub async fn authenticate(state: &AppState, secret: &str) -> AppResult<Viewer> {
    let now = Utc::now();
    let key = api_key::Entity::find()
        .filter(api_key::Column::KeyHash.eq(secrets::digest(secret)))
        .one(&state.db)
        .await?
        .filter(|k| k.revoked_at.is_none() && k.expires_at.is_none_or(|e| e > now))
        .ok_or_else(|| AppError::Unauthenticated("invalid API key".into()))?;
    let role = Role::parse(&key.role).ok_or_else(|| AppError::internal("unknown API key role"))?;
    // Record use at most once a minute per key: no write on every request.
    if key
        .last_used_at
        .is_none_or(|t| now - t > Duration::minutes(1))
    {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(key.id))
            .exec(&state.db)
            .await?;
    }
    Ok(Viewer {
        user_id: key.created_by,
        org_id: key.org_id,
        role,
        via: ViewerVia::ApiKey,
        session_id: Some(key.id),
    })
}

/// True while the key behind a WebSocket connection is still valid.
pub async fn still_valid(state: &AppState, key_id: Uuid) -> AppResult<bool> {
    let now = Utc::now();
    Ok(api_key::Entity::find_by_id(key_id)
        .one(&state.db)
        .await?
        .is_some_and(|k| k.revoked_at.is_none() && k.expires_at.is_none_or(|e| e > now)))
}
