//! Endpoint management: create (the secret is returned once), update, delete, rotate the secret
//! (the old one keeps signing for [`ROTATION_OVERLAP`]), toggle. Secrets are sealed by the
//! secrets box under a context naming the row and column, like the SMTP password.

use chrono::{DateTime, Utc};
use entity::{webhook_attempt, webhook_delivery, webhook_endpoint};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, Select, TransactionTrait,
};
use serde_json::Value;
use uuid::Uuid;

use super::signing;
use crate::{
    auth::{Permission, Viewer},
    domains::webhooks::types::{
        CreateWebhookEndpointInput, UpdateWebhookEndpointInput, WebhookEndpoint,
    },
    error::{AppError, AppResult, FieldError},
    events::EventType,
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    platform::secrets_box::{self, SecretsBox},
    state::AppState,
};

/// How long the secret before a rotation keeps signing (both signatures are sent).
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);
/// Longest URL.
const MAX_URL: usize = 2048;
/// Longest description.
const MAX_DESCRIPTION: usize = 500;

/// Every query starts here.
fn scoped(viewer: &Viewer) -> Select<webhook_endpoint::Entity> {
    webhook_endpoint::Entity::find().filter(webhook_endpoint::Column::OrgId.eq(viewer.org_id))
}

/// The viewer's organization's endpoint `id`, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<webhook_endpoint::Model> {
    scoped(viewer)
        .filter(webhook_endpoint::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("webhook endpoint"))
}

/// The encryption context of an endpoint's current secret.
pub fn secret_context(id: Uuid) -> String {
    secrets_box::context("webhook_endpoints", "secret", id)
}

/// The encryption context of an endpoint's previous secret.
pub fn previous_secret_context(id: Uuid) -> String {
    secrets_box::context("webhook_endpoints", "previous_secret", id)
}

/// The secrets that sign a request to `ep` at `now`: the current one, and the previous one
/// during the rotation overlap.
pub fn signing_secrets(
    secrets: &SecretsBox,
    ep: &webhook_endpoint::Model,
    now: DateTime<Utc>,
) -> AppResult<Vec<String>> {
    let mut out = vec![secrets
        .open(&ep.secret, &secret_context(ep.id))
        .map_err(AppError::internal)?];
    if ep.previous_secret_expires_at.is_some_and(|at| at > now) {
        if let Some(prev) = secrets
            .open_opt(
                ep.previous_secret.as_deref(),
                &previous_secret_context(ep.id),
            )
            .map_err(AppError::internal)?
        {
            out.push(prev);
        }
    }
    Ok(out)
}

/// A page of the organization's endpoints, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
) -> AppResult<IdConnection<WebhookEndpoint>> {
    viewer.require(Permission::ManageWebhooks)?;
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        webhook_endpoint::Column::Id,
        &args,
        |m| m.id,
        WebhookEndpoint,
    )
    .await
}

/// One endpoint.
pub async fn find(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<webhook_endpoint::Model> {
    viewer.require(Permission::ManageWebhooks)?;
    get(&state.db, viewer, id).await
}

/// A URL as given, or why it is refused (the SSRF guard's verdict included).
fn clean_url(state: &AppState, raw: &str) -> Result<String, String> {
    let url = raw.trim();
    if url.chars().count() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    state
        .http
        .check_url(url)
        .map(|u| u.to_string())
        .map_err(|e| e.to_string())
}

/// Event types as stored (public names), or why they are refused.
fn clean_event_types(types: &[EventType]) -> Result<Value, String> {
    if types.is_empty() {
        return Err("must name at least one event type".into());
    }
    if types.contains(&EventType::NotificationNew) {
        return Err("NOTIFICATION_NEW is addressed to one person and is not deliverable".into());
    }
    let mut names: Vec<&str> = types.iter().map(|t| t.type_name()).collect();
    names.sort_unstable();
    names.dedup();
    Ok(Value::from(names))
}

fn clean_description(raw: &str) -> Result<String, String> {
    let d = raw.trim();
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(format!("must be at most {MAX_DESCRIPTION} characters"));
    }
    Ok(d.to_string())
}

/// Collects field errors: `Ok` values pass through, each `Err` becomes one field error.
pub(super) struct Checks(pub(super) Vec<FieldError>);

impl Checks {
    /// One field error.
    pub(super) fn push(&mut self, field: &str, message: String) {
        self.0.push(FieldError {
            field: field.to_string(),
            message,
        });
    }

    pub(super) fn take<T>(&mut self, field: &str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(message) => {
                self.0.push(FieldError {
                    field: field.to_string(),
                    message,
                });
                None
            }
        }
    }

    pub(super) fn finish(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::invalid_fields(self.0))
        }
    }
}

/// Creates an endpoint with a new secret; returns it and the secret in clear (shown once).
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateWebhookEndpointInput,
) -> AppResult<(webhook_endpoint::Model, String)> {
    viewer.require(Permission::ManageWebhooks)?;
    let mut checks = Checks(Vec::new());
    let url = checks.take("url", clean_url(state, &input.url));
    let description = checks.take(
        "description",
        clean_description(input.description.as_deref().unwrap_or("")),
    );
    let types = checks.take("eventTypes", clean_event_types(&input.event_types));
    checks.finish()?;
    let (Some(url), Some(description), Some(types)) = (url, description, types) else {
        return Err(AppError::internal("checked input missing"));
    };
    let id = Uuid::now_v7();
    let secret = signing::new_secret();
    let now = Utc::now();
    let row = webhook_endpoint::ActiveModel {
        id: Set(id),
        org_id: Set(viewer.org_id),
        url: Set(url),
        description: Set(description),
        event_types: Set(types),
        enabled: Set(input.enabled.unwrap_or(true)),
        ordered: Set(input.ordered.unwrap_or(false)),
        secret: Set(state.secrets.seal(&secret, &secret_context(id))),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        failing_since: Set(None),
        disabled_reason: Set(None),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?;
    Ok((row, secret))
}

/// Applies the given fields.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateWebhookEndpointInput,
) -> AppResult<webhook_endpoint::Model> {
    viewer.require(Permission::ManageWebhooks)?;
    let mut checks = Checks(Vec::new());
    let url = input
        .url
        .as_deref()
        .and_then(|u| checks.take("url", clean_url(state, u)));
    let description = input
        .description
        .as_deref()
        .and_then(|d| checks.take("description", clean_description(d)));
    let types = input
        .event_types
        .as_deref()
        .and_then(|t| checks.take("eventTypes", clean_event_types(t)));
    checks.finish()?;
    let row = get(&state.db, viewer, id).await?;
    let mut active: webhook_endpoint::ActiveModel = row.into();
    if let Some(url) = url {
        active.url = Set(url);
    }
    if let Some(d) = description {
        active.description = Set(d);
    }
    if let Some(t) = types {
        active.event_types = Set(t);
    }
    if let Some(o) = input.ordered {
        active.ordered = Set(o);
    }
    if let Some(enabled) = input.enabled {
        set_enabled(&mut active, enabled);
    }
    active.updated_at = Set(Utc::now());
    Ok(active.update(&state.db).await?)
}

/// Enabling by hand clears the failure streak and the server's reason for disabling.
fn set_enabled(active: &mut webhook_endpoint::ActiveModel, enabled: bool) {
    active.enabled = Set(enabled);
    if enabled {
        active.failing_since = Set(None);
        active.disabled_reason = Set(None);
    }
}

/// Flips `enabled`.
pub async fn toggle(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<webhook_endpoint::Model> {
    viewer.require(Permission::ManageWebhooks)?;
    let row = get(&state.db, viewer, id).await?;
    let enabled = !row.enabled;
    let mut active: webhook_endpoint::ActiveModel = row.into();
    set_enabled(&mut active, enabled);
    active.updated_at = Set(Utc::now());
    Ok(active.update(&state.db).await?)
}

/// A new secret; the current one becomes the previous one and signs for 24 more hours.
pub async fn rotate(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<(webhook_endpoint::Model, String)> {
    viewer.require(Permission::ManageWebhooks)?;
    let row = get(&state.db, viewer, id).await?;
    let current = state
        .secrets
        .open(&row.secret, &secret_context(id))
        .map_err(AppError::internal)?;
    let secret = signing::new_secret();
    let now = Utc::now();
    let mut active: webhook_endpoint::ActiveModel = row.into();
    active.secret = Set(state.secrets.seal(&secret, &secret_context(id)));
    active.previous_secret = Set(Some(
        state.secrets.seal(&current, &previous_secret_context(id)),
    ));
    active.previous_secret_expires_at = Set(Some(now + ROTATION_OVERLAP));
    active.updated_at = Set(now);
    Ok((active.update(&state.db).await?, secret))
}

/// Deletes the endpoint with its deliveries and attempts (their queued jobs find nothing).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<bool> {
    viewer.require(Permission::ManageWebhooks)?;
    let row = get(&state.db, viewer, id).await?;
    let txn = state.db.begin().await?;
    let deliveries = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(row.id))
        .select_only()
        .column(webhook_delivery::Column::Id)
        .into_tuple::<Uuid>()
        .all(&txn)
        .await?;
    for chunk in deliveries.chunks(500) {
        webhook_attempt::Entity::delete_many()
            .filter(webhook_attempt::Column::DeliveryId.is_in(chunk.to_vec()))
            .exec(&txn)
            .await?;
    }
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::EndpointId.eq(row.id))
        .exec(&txn)
        .await?;
    webhook_endpoint::Entity::delete_by_id(row.id)
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(true)
}
