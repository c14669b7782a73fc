//! Notification preferences: every type × channel with its effective value, changes to them,
//! and the WEBHOOK channel's URL, stored sealed (its row's organization, user and type are the
//! encryption context) and never returned (the API shows its host).

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::notification_preference;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, Select,
    TransactionTrait,
};
use uuid::Uuid;

use crate::{
    auth::Viewer,
    domains::notifications::types::{
        NotificationChannel, NotificationPreference, NotificationPreferenceInput, NotificationType,
    },
    error::{AppError, AppResult, FieldError},
    platform::secrets_box::{context, SecretsBox, SecretsError},
    state::AppState,
};

/// Longest link or webhook URL.
pub const MAX_URL: usize = 2048;

/// Stored preference rows by `(type, channel)`.
type Stored = HashMap<(String, String), notification_preference::Model>;

fn prefs_scoped(viewer: &Viewer) -> Select<notification_preference::Entity> {
    notification_preference::Entity::find()
        .filter(notification_preference::Column::UserId.eq(viewer.user_id))
        .filter(notification_preference::Column::OrgId.eq(viewer.org_id))
}

/// The viewer's stored preference rows.
async fn stored(state: &AppState, viewer: &Viewer) -> AppResult<Stored> {
    Ok(prefs_scoped(viewer)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|p| ((p.notification_type.clone(), p.channel.clone()), p))
        .collect())
}

/// The encryption context of a webhook URL: its row's organization, user and type (unique for
/// the WEBHOOK channel, the only one with a URL).
pub fn webhook_url_context(org: Uuid, user: Uuid, notification_type: &str) -> String {
    context(
        "notification_preferences",
        "webhook_url",
        format!("{org}:{user}:{notification_type}"),
    )
}

/// The stored webhook URL of `row` in clear (legacy plain-text rows as they are).
pub fn open_webhook_url(
    secrets: &SecretsBox,
    row: &notification_preference::Model,
) -> Result<Option<String>, SecretsError> {
    secrets.open_opt(
        row.webhook_url.as_deref(),
        &webhook_url_context(row.org_id, row.user_id, &row.notification_type),
    )
}

fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(String::from))
}

/// The host of `row`'s webhook URL (none when it does not decrypt: logged).
fn webhook_host(secrets: &SecretsBox, row: &notification_preference::Model) -> Option<String> {
    match open_webhook_url(secrets, row) {
        Ok(url) => url.as_deref().and_then(host_of),
        Err(e) => {
            tracing::error!(pref = %row.id, error = %e, "webhook URL does not decrypt");
            None
        }
    }
}

/// Every type × channel with its effective value for the viewer.
pub async fn preferences(
    state: &AppState,
    viewer: &Viewer,
) -> AppResult<Vec<NotificationPreference>> {
    let rows = stored(state, viewer).await?;
    let mut out = Vec::with_capacity(NotificationType::ALL.len() * NotificationChannel::ALL.len());
    for t in NotificationType::every() {
        for ch in NotificationChannel::every() {
            let row = rows.get(&(t.as_str().to_string(), ch.as_str().to_string()));
            out.push(NotificationPreference {
                notification_type: t,
                channel: ch,
                enabled: row.map_or(ch.default_enabled(), |r| r.enabled),
                is_default: row.is_none(),
                webhook_host: row.and_then(|r| webhook_host(&state.secrets, r)),
            });
        }
    }
    Ok(out)
}

/// A webhook URL as given, or why it is refused.
fn clean_webhook_url(state: &AppState, raw: &str) -> Result<String, String> {
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

/// One validated change: `(type, channel)`, enabled, and the (sealed) webhook URL to store.
type Planned = ((String, String), bool, Option<String>);

/// Validates one change (`i`-th of the input) against the stored rows.
fn plan_one(
    state: &AppState,
    viewer: &Viewer,
    existing: &Stored,
    i: usize,
    c: NotificationPreferenceInput,
) -> Result<Planned, FieldError> {
    let field = |f: &str, message: String| FieldError {
        field: format!("input[{i}]{f}"),
        message,
    };
    let key = (
        c.notification_type.as_str().to_string(),
        c.channel.as_str().to_string(),
    );
    let current_url = existing.get(&key).and_then(|p| p.webhook_url.clone());
    // None = keep, Some(None) = remove.
    let url: Option<Option<String>> = match c.webhook_url.as_deref().map(str::trim) {
        None => None,
        Some(_) if c.channel != NotificationChannel::Webhook => {
            return Err(field(
                ".webhookUrl",
                "is only for the WEBHOOK channel".into(),
            ))
        }
        Some("") => Some(None),
        Some(raw) => {
            let u = clean_webhook_url(state, raw).map_err(|m| field(".webhookUrl", m))?;
            let ctx = webhook_url_context(viewer.org_id, viewer.user_id, &key.0);
            Some(Some(state.secrets.seal(&u, &ctx)))
        }
    };
    let effective_url = url.unwrap_or(current_url);
    if c.channel == NotificationChannel::Webhook && c.enabled && effective_url.is_none() {
        return Err(field(
            ".webhookUrl",
            "is required to turn the WEBHOOK channel on".into(),
        ));
    }
    Ok((key, c.enabled, effective_url))
}

/// Applies `changes` (each type × channel at most once) and returns every preference.
pub async fn update_preferences(
    state: &AppState,
    viewer: &Viewer,
    changes: Vec<NotificationPreferenceInput>,
) -> AppResult<Vec<NotificationPreference>> {
    let max = NotificationType::ALL.len() * NotificationChannel::ALL.len();
    if changes.len() > max {
        return Err(AppError::invalid(
            "input",
            format!("at most {max} changes at once"),
        ));
    }
    let existing = stored(state, viewer).await?;
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut planned = Vec::with_capacity(changes.len());
    for (i, c) in changes.into_iter().enumerate() {
        if !seen.insert((c.notification_type, c.channel)) {
            errors.push(FieldError {
                field: format!("input[{i}]"),
                message: "this type and channel appear more than once".into(),
            });
            continue;
        }
        match plan_one(state, viewer, &existing, i, c) {
            Ok(p) => planned.push(p),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    write(state, viewer, &existing, planned).await?;
    preferences(state, viewer).await
}

/// Stores the planned changes in one transaction.
async fn write(
    state: &AppState,
    viewer: &Viewer,
    existing: &Stored,
    planned: Vec<Planned>,
) -> AppResult<()> {
    let txn = state.db.begin().await?;
    let now = Utc::now();
    for ((t, ch), enabled, url) in planned {
        match existing.get(&(t.clone(), ch.clone())) {
            Some(row) => {
                let mut a: notification_preference::ActiveModel = row.clone().into();
                a.enabled = Set(enabled);
                a.webhook_url = Set(url);
                a.updated_at = Set(now);
                a.update(&txn).await?;
            }
            None => {
                notification_preference::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    org_id: Set(viewer.org_id),
                    user_id: Set(viewer.user_id),
                    notification_type: Set(t),
                    channel: Set(ch),
                    enabled: Set(enabled),
                    webhook_url: Set(url),
                    updated_at: Set(now),
                }
                .insert(&txn)
                .await?;
            }
        }
    }
    txn.commit().await?;
    Ok(())
}
