//! Stored integrations: the n8n connection (one per organization, replaced by
//! `configureN8n`), Slack incoming webhooks, deletion, and the outcome every call records.
//! Credentials are sealed under `integrations.secret:<id>`.

use chrono::Utc;
use entity::integration;
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait,
    QueryFilter, Select,
};
use uuid::Uuid;

use crate::{
    auth::{Permission, Viewer},
    domains::webhooks::integrations::types::{
        ConfigureN8nInput, CreateSlackIntegrationInput, IntegrationKind,
    },
    error::{AppError, AppResult, FieldError},
    platform::secrets_box,
    state::AppState,
};

/// Most Slack integrations per organization (keeps `integrations` a short list).
pub const MAX_SLACK: u64 = 20;
/// Longest name.
const MAX_NAME: usize = 200;
/// Longest URL.
const MAX_URL: usize = 2048;
/// Longest API key.
const MAX_KEY: usize = 2000;
/// Longest error kept.
const MAX_ERROR: usize = 500;

/// Every query starts here.
pub fn scoped(viewer: &Viewer) -> Select<integration::Entity> {
    integration::Entity::find().filter(integration::Column::OrgId.eq(viewer.org_id))
}

/// The encryption context of a row's credential.
pub fn secret_context(id: Uuid) -> String {
    secrets_box::context("integrations", "secret", id)
}

/// The viewer's organization's integration `id`, or NOT_FOUND.
pub async fn get(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<integration::Model> {
    scoped(viewer)
        .filter(integration::Column::Id.eq(id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("integration"))
}

/// An opened credential of `row`.
pub fn open(state: &AppState, row: &integration::Model) -> AppResult<String> {
    state
        .secrets
        .open(&row.secret, &secret_context(row.id))
        .map_err(AppError::internal)
}

/// The organization's n8n connection, key opened: what the workflow client needs.
#[derive(Clone)]
pub struct N8nConnection {
    /// The integration row (for [`record_outcome`]).
    pub id: Uuid,
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// The API key (only ever sent as `X-N8N-API-KEY`).
    pub api_key: String,
}

impl std::fmt::Debug for N8nConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("N8nConnection")
            .field("id", &self.id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The viewer's organization's n8n connection; CONFLICT when none is configured.
pub async fn n8n_connection(state: &AppState, viewer: &Viewer) -> AppResult<N8nConnection> {
    n8n_connection_of(state, viewer.org_id).await
}

/// Organization `org_id`'s n8n connection (jobs, which have no viewer).
pub async fn n8n_connection_of(state: &AppState, org_id: Uuid) -> AppResult<N8nConnection> {
    let row = integration::Entity::find()
        .filter(integration::Column::OrgId.eq(org_id))
        .filter(integration::Column::Kind.eq(IntegrationKind::N8n.as_str()))
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            AppError::Conflict("n8n is not configured for this organization (configureN8n)".into())
        })?;
    Ok(N8nConnection {
        id: row.id,
        base_url: row.base_url.clone().unwrap_or_default(),
        api_key: open(state, &row)?,
    })
}

/// Records a call's outcome on integration `id`: the time of a success, or the error.
pub async fn record_outcome(state: &AppState, id: Uuid, outcome: Result<(), &str>) {
    let now = Utc::now();
    let update = integration::Entity::update_many().filter(integration::Column::Id.eq(id));
    let update = match outcome {
        Ok(()) => update.col_expr(integration::Column::LastSuccessAt, Expr::value(Some(now))),
        Err(e) => {
            let e: String = e.chars().take(MAX_ERROR).collect();
            update
                .col_expr(integration::Column::LastError, Expr::value(Some(e)))
                .col_expr(integration::Column::LastErrorAt, Expr::value(Some(now)))
        }
    };
    if let Err(e) = update.exec(&state.db).await {
        tracing::warn!(integration = %id, error = %e, "could not record an integration's outcome");
    }
}

fn field(errors: &mut Vec<FieldError>, name: &str, message: String) {
    errors.push(FieldError {
        field: format!("input.{name}"),
        message,
    });
}

/// A URL the SSRF guard accepts, or why not.
fn clean_url(state: &AppState, raw: &str) -> Result<String, String> {
    let url = raw.trim();
    if url.chars().count() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    state
        .http
        .check_url(url)
        .map(|u| u.to_string().trim_end_matches('/').to_string())
        .map_err(|e| e.to_string())
}

/// Stores (or replaces) the organization's n8n connection (ADMIN+).
pub async fn configure_n8n(
    state: &AppState,
    viewer: &Viewer,
    input: ConfigureN8nInput,
) -> AppResult<integration::Model> {
    viewer.require(Permission::ManageIntegrations)?;
    let mut errors = Vec::new();
    let url = clean_url(state, &input.base_url)
        .map_err(|m| field(&mut errors, "baseUrl", m))
        .ok();
    let key = input.api_key.trim();
    if key.is_empty() || key.chars().count() > MAX_KEY {
        field(
            &mut errors,
            "apiKey",
            format!("must be 1–{MAX_KEY} characters"),
        );
    }
    let (Some(url), true) = (url, errors.is_empty()) else {
        return Err(AppError::invalid_fields(errors));
    };
    let now = Utc::now();
    let existing = scoped(viewer)
        .filter(integration::Column::Kind.eq(IntegrationKind::N8n.as_str()))
        .one(&state.db)
        .await?;
    let id = existing.as_ref().map_or_else(Uuid::now_v7, |r| r.id);
    let row = integration::ActiveModel {
        id: Set(id),
        org_id: Set(viewer.org_id),
        kind: Set(IntegrationKind::N8n.as_str().into()),
        name: Set("n8n".into()),
        base_url: Set(Some(url)),
        secret: Set(state.secrets.seal(key, &secret_context(id))),
        last_success_at: Set(None),
        last_error: Set(None),
        last_error_at: Set(None),
        last_tested_at: Set(None),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(existing.as_ref().map_or(now, |r| r.created_at)),
        updated_at: Set(now),
    };
    Ok(match existing {
        Some(_) => row.update(&state.db).await?,
        None => row.insert(&state.db).await?,
    })
}

/// Adds a Slack incoming webhook (ADMIN+); at most [`MAX_SLACK`] per organization.
pub async fn create_slack(
    state: &AppState,
    viewer: &Viewer,
    input: CreateSlackIntegrationInput,
) -> AppResult<integration::Model> {
    viewer.require(Permission::ManageIntegrations)?;
    let mut errors = Vec::new();
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        field(
            &mut errors,
            "name",
            format!("must be 1–{MAX_NAME} characters"),
        );
    }
    let url = clean_url(state, &input.webhook_url)
        .map_err(|m| field(&mut errors, "webhookUrl", m))
        .ok();
    let (Some(url), true) = (url, errors.is_empty()) else {
        return Err(AppError::invalid_fields(errors));
    };
    let count = scoped(viewer)
        .filter(integration::Column::Kind.eq(IntegrationKind::Slack.as_str()))
        .count(&state.db)
        .await?;
    if count >= MAX_SLACK {
        return Err(AppError::Conflict(format!(
            "at most {MAX_SLACK} Slack integrations per organization"
        )));
    }
    let id = Uuid::now_v7();
    let now = Utc::now();
    Ok(integration::ActiveModel {
        id: Set(id),
        org_id: Set(viewer.org_id),
        kind: Set(IntegrationKind::Slack.as_str().into()),
        name: Set(name),
        base_url: Set(None),
        secret: Set(state.secrets.seal(&url, &secret_context(id))),
        last_success_at: Set(None),
        last_error: Set(None),
        last_error_at: Set(None),
        last_tested_at: Set(None),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?)
}

/// Deletes an integration (ADMIN+). The workflow registry stays (a new connection can sync it).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<bool> {
    viewer.require(Permission::ManageIntegrations)?;
    let row = get(state, viewer, id).await?;
    integration::Entity::delete_by_id(row.id)
        .exec(&state.db)
        .await?;
    Ok(true)
}
