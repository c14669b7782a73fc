//! Notification rules for the viewer's own inbox (list, read, delete) and statistics; the
//! sub-modules hold delivery ([`deliver`]), preferences ([`preferences`]), sending by
//! administrators ([`send`]), the event rules ([`rules`]) and the WEBHOOK job ([`webhook_job`]).
//! A user only ever sees and changes their own notifications in the current organization:
//! anybody else's id reads as NOT_FOUND.

pub mod deliver;
pub mod preferences;
pub mod rules;
pub mod send;
pub mod webhook_job;

pub use preferences::{open_webhook_url, webhook_url_context};

use std::collections::HashMap;

use chrono::Utc;
use entity::notification;
use sea_orm::{
    sea_query::{Expr, Func},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect, Select,
};
use uuid::Uuid;

use super::types::{Notification, NotificationType, NotificationTypeStats};
use crate::{
    auth::{Permission, Viewer},
    error::{AppError, AppResult},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::AppState,
};

/// Every inbox query starts here: the viewer's own notifications in the current organization.
fn scoped(viewer: &Viewer) -> Select<notification::Entity> {
    notification::Entity::find()
        .filter(notification::Column::UserId.eq(viewer.user_id))
        .filter(notification::Column::OrgId.eq(viewer.org_id))
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

/// The rows `notifications(unreadOnly)` lists (a person's own, in the organization), before
/// paging: the one definition the resolvers and the compiled read path
/// (`graphql::compiled::flat`) page newest first by id.
pub fn list_select(viewer: &Viewer, unread_only: bool) -> AppResult<Select<notification::Entity>> {
    viewer.require_person()?;
    let mut q = scoped(viewer);
    if unread_only {
        q = q.filter(notification::Column::ReadAt.is_null());
    }
    Ok(q)
}

/// A page of the viewer's notifications, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    unread_only: bool,
    args: PageArgs,
) -> AppResult<IdConnection<Notification>> {
    let q = list_select(viewer, unread_only)?;
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
    Ok(NotificationType::every()
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
