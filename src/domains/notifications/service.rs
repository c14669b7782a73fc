//! Notification rules for the viewer's own inbox (list, read, delete), preferences, sending
//! (ADMIN+) and statistics. A user only ever sees and changes their own notifications in the
//! current organization: anybody else's id reads as NOT_FOUND.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{membership, notification, notification_preference, team, team_member};
use sea_orm::{
    sea_query::{Expr, Func},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Select, TransactionTrait,
};
use uuid::Uuid;

use super::{
    deliver::{deliver, NewNotification},
    types::{
        Notification, NotificationChannel, NotificationPreference, NotificationPreferenceInput,
        NotificationType, NotificationTypeStats, SendNotificationInput,
    },
};
use crate::{
    auth::{Permission, Viewer},
    error::{AppError, AppResult, FieldError},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    ids::parse_id,
    state::AppState,
    state::Wakes,
};

/// Longest title.
pub const MAX_TITLE: usize = 200;
/// Longest body.
pub const MAX_BODY: usize = 5000;
/// Longest link or webhook URL.
pub const MAX_URL: usize = 2048;

/// Every inbox query starts here: the viewer's own notifications in the current organization.
fn scoped(viewer: &Viewer) -> Select<notification::Entity> {
    notification::Entity::find()
        .filter(notification::Column::UserId.eq(viewer.user_id))
        .filter(notification::Column::OrgId.eq(viewer.org_id))
}

fn prefs_scoped(viewer: &Viewer) -> Select<notification_preference::Entity> {
    notification_preference::Entity::find()
        .filter(notification_preference::Column::UserId.eq(viewer.user_id))
        .filter(notification_preference::Column::OrgId.eq(viewer.org_id))
}

/// One of the viewer's notifications.
pub async fn get(
    conn: &impl sea_orm::ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<notification::Model> {
    scoped(viewer)
        .filter(notification::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("notification"))
}

/// A page of the viewer's notifications, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    unread_only: bool,
    args: PageArgs,
) -> AppResult<IdConnection<Notification>> {
    let mut q = scoped(viewer);
    if unread_only {
        q = q.filter(notification::Column::ReadAt.is_null());
    }
    page_by_id_desc(
        &state.db,
        q,
        notification::Column::Id,
        &args,
        |m| m.id,
        Notification::from,
    )
    .await
}

/// How many of the viewer's notifications are unread.
pub async fn unread_count(state: &AppState, viewer: &Viewer) -> AppResult<u64> {
    Ok(scoped(viewer)
        .filter(notification::Column::ReadAt.is_null())
        .count(&state.db)
        .await?)
}

/// Marks one notification read (keeps the first read time when it already was).
pub async fn mark_read(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<notification::Model> {
    let n = get(&state.db, viewer, id).await?;
    if n.read_at.is_some() {
        return Ok(n);
    }
    let mut a: notification::ActiveModel = n.into();
    a.read_at = Set(Some(Utc::now()));
    Ok(a.update(&state.db).await?)
}

/// Marks every unread notification read; returns how many changed.
pub async fn mark_all_read(state: &AppState, viewer: &Viewer) -> AppResult<u64> {
    let res = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(Utc::now()))
        .filter(notification::Column::UserId.eq(viewer.user_id))
        .filter(notification::Column::OrgId.eq(viewer.org_id))
        .filter(notification::Column::ReadAt.is_null())
        .exec(&state.db)
        .await?;
    Ok(res.rows_affected)
}

/// Deletes one notification.
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    let res = notification::Entity::delete_many()
        .filter(notification::Column::Id.eq(id))
        .filter(notification::Column::UserId.eq(viewer.user_id))
        .filter(notification::Column::OrgId.eq(viewer.org_id))
        .exec(&state.db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("notification"));
    }
    Ok(())
}

/// Deletes all of the viewer's notifications in the organization; returns how many.
pub async fn clear(state: &AppState, viewer: &Viewer) -> AppResult<u64> {
    let res = notification::Entity::delete_many()
        .filter(notification::Column::UserId.eq(viewer.user_id))
        .filter(notification::Column::OrgId.eq(viewer.org_id))
        .exec(&state.db)
        .await?;
    Ok(res.rows_affected)
}

/// The encryption context of a webhook URL: its row's organization, user and type (unique for
/// the WEBHOOK channel, the only one with a URL).
pub fn webhook_url_context(org: Uuid, user: Uuid, notification_type: &str) -> String {
    crate::platform::secrets_box::context(
        "notification_preferences",
        "webhook_url",
        format!("{org}:{user}:{notification_type}"),
    )
}

/// The stored webhook URL of `row` in clear (legacy plain-text rows as they are).
pub fn open_webhook_url(
    secrets: &crate::platform::secrets_box::SecretsBox,
    row: &notification_preference::Model,
) -> Result<Option<String>, crate::platform::secrets_box::SecretsError> {
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

/// Every type × channel with its effective value for the viewer.
pub async fn preferences(
    state: &AppState,
    viewer: &Viewer,
) -> AppResult<Vec<NotificationPreference>> {
    let rows: HashMap<(String, String), notification_preference::Model> = prefs_scoped(viewer)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|p| ((p.notification_type.clone(), p.channel.clone()), p))
        .collect();
    let mut out = Vec::with_capacity(NotificationType::ALL.len() * 3);
    for t in NotificationType::ALL {
        for ch in NotificationChannel::ALL {
            let row = rows.get(&(t.as_str().to_string(), ch.as_str().to_string()));
            out.push(NotificationPreference {
                notification_type: t,
                channel: ch,
                enabled: row.map_or(ch.default_enabled(), |r| r.enabled),
                is_default: row.is_none(),
                webhook_host: row
                    .and_then(|r| match open_webhook_url(&state.secrets, r) {
                        Ok(url) => url,
                        Err(e) => {
                            tracing::error!(pref = %r.id, error = %e, "webhook URL does not decrypt");
                            None
                        }
                    })
                    .as_deref()
                    .and_then(host_of),
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
    let existing: HashMap<(String, String), notification_preference::Model> = prefs_scoped(viewer)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|p| ((p.notification_type.clone(), p.channel.clone()), p))
        .collect();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    // (type, channel, enabled, new webhook URL: None = keep, Some(None) = remove)
    let mut planned = Vec::with_capacity(changes.len());
    for (i, c) in changes.into_iter().enumerate() {
        let field = |f: &str| format!("input[{i}]{f}");
        if !seen.insert((c.notification_type, c.channel)) {
            errors.push(FieldError {
                field: field(""),
                message: "this type and channel appear more than once".into(),
            });
            continue;
        }
        let key = (
            c.notification_type.as_str().to_string(),
            c.channel.as_str().to_string(),
        );
        let current_url = existing.get(&key).and_then(|p| p.webhook_url.clone());
        let url: Option<Option<String>> = match c.webhook_url.as_deref().map(str::trim) {
            None => None,
            Some(_) if c.channel != NotificationChannel::Webhook => {
                errors.push(FieldError {
                    field: field(".webhookUrl"),
                    message: "is only for the WEBHOOK channel".into(),
                });
                continue;
            }
            Some("") => Some(None),
            Some(raw) => match clean_webhook_url(state, raw) {
                Ok(u) => Some(Some(state.secrets.seal(
                    &u,
                    &webhook_url_context(viewer.org_id, viewer.user_id, &key.0),
                ))),
                Err(m) => {
                    errors.push(FieldError {
                        field: field(".webhookUrl"),
                        message: m,
                    });
                    continue;
                }
            },
        };
        let effective_url = url.clone().unwrap_or(current_url);
        if c.channel == NotificationChannel::Webhook && c.enabled && effective_url.is_none() {
            errors.push(FieldError {
                field: field(".webhookUrl"),
                message: "is required to turn the WEBHOOK channel on".into(),
            });
            continue;
        }
        planned.push((key, c.enabled, effective_url));
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
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
    preferences(state, viewer).await
}

/// A link as given, or why it is refused: an http(s) URL or a path inside the app (`/…`).
fn clean_link(raw: &str) -> Result<Option<String>, String> {
    let link = raw.trim();
    if link.is_empty() {
        return Ok(None);
    }
    if link.chars().count() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    if link.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not contain spaces or control characters".into());
    }
    if link.starts_with('/') {
        // `//host` and `/\host` are other sites to browsers.
        if link.starts_with("//") || link.contains('\\') {
            return Err("must be an http(s) URL or a path starting with a single /".into());
        }
        return Ok(Some(link.to_string()));
    }
    match url::Url::parse(link) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            if !u.username().is_empty() || u.password().is_some() {
                return Err("must not contain credentials".into());
            }
            Ok(Some(link.to_string()))
        }
        _ => Err("must be an http(s) URL or a path starting with /".into()),
    }
}

#[derive(Clone, Copy)]
enum Target {
    User(Uuid),
    Team(Uuid),
    Organization,
}

/// Sends an ANNOUNCEMENT to one member, a team or everybody (ADMIN+); returns how many members
/// it was addressed to. Each recipient's preferences decide the channels.
pub async fn send(
    state: &AppState,
    viewer: &Viewer,
    input: SendNotificationInput,
) -> AppResult<u64> {
    viewer.require(Permission::SendNotifications)?;
    let mut errors = Vec::new();
    let whole = input.whole_organization.unwrap_or(false);
    let given = [input.user_id.is_some(), input.team_id.is_some(), whole]
        .into_iter()
        .filter(|g| *g)
        .count();
    if given != 1 {
        errors.push(FieldError {
            field: "input".into(),
            message: "give exactly one of userId, teamId or wholeOrganization: true".into(),
        });
    }
    let title = input.title.trim().to_string();
    if title.is_empty() || title.chars().count() > MAX_TITLE {
        errors.push(FieldError {
            field: "input.title".into(),
            message: format!("must be 1–{MAX_TITLE} characters"),
        });
    }
    let body = input.body.unwrap_or_default().trim().to_string();
    if body.chars().count() > MAX_BODY {
        errors.push(FieldError {
            field: "input.body".into(),
            message: format!("must be at most {MAX_BODY} characters"),
        });
    }
    let link = match input.link.as_deref().map(clean_link).transpose() {
        Ok(l) => l.flatten(),
        Err(m) => {
            errors.push(FieldError {
                field: "input.link".into(),
                message: m,
            });
            None
        }
    };
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    let target = match (&input.user_id, &input.team_id) {
        (Some(u), _) => Target::User(parse_id(u).map_err(|_| AppError::NotFound("member"))?),
        (_, Some(t)) => Target::Team(parse_id(t).map_err(|_| AppError::NotFound("team"))?),
        _ => Target::Organization,
    };
    let txn = state.db.begin().await?;
    let members = membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::OrgId.eq(viewer.org_id));
    let recipients: Vec<Uuid> = match target {
        Target::User(u) => {
            members
                .filter(membership::Column::UserId.eq(u))
                .into_tuple()
                .all(&txn)
                .await?
        }
        Target::Team(t) => {
            team::Entity::find()
                .filter(team::Column::Id.eq(t))
                .filter(team::Column::OrgId.eq(viewer.org_id))
                .one(&txn)
                .await?
                .ok_or(AppError::NotFound("team"))?;
            let in_team: Vec<Uuid> = team_member::Entity::find()
                .select_only()
                .column(team_member::Column::UserId)
                .filter(team_member::Column::TeamId.eq(t))
                .filter(team_member::Column::OrgId.eq(viewer.org_id))
                .into_tuple()
                .all(&txn)
                .await?;
            // Only people who are still members of the organization.
            members
                .filter(membership::Column::UserId.is_in(in_team))
                .into_tuple()
                .all(&txn)
                .await?
        }
        Target::Organization => members.into_tuple().all(&txn).await?,
    };
    if matches!(target, Target::User(_)) && recipients.is_empty() {
        return Err(AppError::NotFound("member"));
    }
    let n = NewNotification {
        org_id: viewer.org_id,
        notification_type: NotificationType::Announcement,
        title,
        body,
        link,
        resource: None,
    };
    deliver(&txn, &n, &recipients).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(recipients.len() as u64)
}

/// Sent and read in-app notifications per type: the viewer's own, or with `organization_wide`
/// (ADMIN+) everybody's in the organization. Every type is listed, zeros included.
pub async fn stats(
    state: &AppState,
    viewer: &Viewer,
    organization_wide: bool,
) -> AppResult<Vec<NotificationTypeStats>> {
    let q = if organization_wide {
        viewer.require(Permission::ReadNotificationStats)?;
        notification::Entity::find().filter(notification::Column::OrgId.eq(viewer.org_id))
    } else {
        scoped(viewer)
    };
    let rows: Vec<(String, i64, i64)> = q
        .select_only()
        .column(notification::Column::NotificationType)
        .column_as(
            Expr::from(Func::count(Expr::col(notification::Column::Id))),
            "sent",
        )
        .column_as(
            Expr::from(Func::count(Expr::col(notification::Column::ReadAt))),
            "read",
        )
        .group_by(notification::Column::NotificationType)
        .into_tuple()
        .all(&state.db)
        .await?;
    let by_type: HashMap<String, (i64, i64)> = rows
        .into_iter()
        .map(|(t, sent, read)| (t, (sent, read)))
        .collect();
    Ok(NotificationType::ALL
        .into_iter()
        .map(|t| {
            let (sent, read) = by_type.get(t.as_str()).copied().unwrap_or((0, 0));
            NotificationTypeStats {
                notification_type: t,
                sent: sent.max(0) as u64,
                read: read.max(0) as u64,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_http_urls_or_app_paths() {
        assert_eq!(
            clean_link("https://example.com/a?b=1").unwrap().as_deref(),
            Some("https://example.com/a?b=1")
        );
        assert_eq!(
            clean_link(" /leads/123 ").unwrap().as_deref(),
            Some("/leads/123")
        );
        assert_eq!(clean_link("").unwrap(), None);
        for bad in [
            "javascript:alert(1)",
            "//evil.example/x",
            "/\\evil.example",
            "ftp://example.com/x",
            "leads/123",
            "https://user:pw@example.com/",
            "/a b",
            "http://",
        ] {
            assert!(clean_link(bad).is_err(), "{bad}");
        }
        assert!(clean_link(&format!("/{}", "a".repeat(MAX_URL))).is_err());
    }
}
