//! Notification queries, mutations and the `notificationReceived` subscription: guard, parse,
//! call the service, map.

use async_graphql::{Context, Object, Subscription, ID};
use futures::Stream;

use super::{
    service,
    types::{
        Notification, NotificationPreference, NotificationPreferenceInput, NotificationTypeStats,
        SendNotificationInput,
    },
};
use crate::{
    domains::realtime,
    error::{AppError, AppResult},
    events::{DomainEvent, EventType},
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

use crate::domains::audit::note_ref as note;

/// Notification queries.
#[derive(Default)]
pub struct NotificationQuery;

#[Object]
impl NotificationQuery {
    /// The viewer's notifications in the current organization, newest first; only the unread
    /// ones with `unreadOnly: true`.
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        unread_only: Option<bool>,
    ) -> AppResult<IdConnection<Notification>> {
        let (state, viewer) = ctx.state_and_person()?;
        let args = PageArgs::new(first, after, last, before)?;
        service::list(state, viewer, unread_only.unwrap_or(false), args).await
    }

    /// How many of the viewer's notifications are unread.
    async fn unread_notification_count(&self, ctx: &Context<'_>) -> AppResult<u64> {
        let (state, viewer) = ctx.state_and_person()?;
        service::unread_count(state, viewer).await
    }

    /// Every notification type × channel with the viewer's effective setting (defaults: IN_APP
    /// on, EMAIL off, WEBHOOK off).
    async fn notification_preferences(
        &self,
        ctx: &Context<'_>,
    ) -> AppResult<Vec<NotificationPreference>> {
        let (state, viewer) = ctx.state_and_person()?;
        service::preferences::preferences(state, viewer).await
    }

    /// In-app notifications sent and read, per type (every type listed). The viewer's own, or
    /// with `organizationWide: true` (ADMIN+) the whole organization's.
    async fn notification_stats(
        &self,
        ctx: &Context<'_>,
        organization_wide: Option<bool>,
    ) -> AppResult<Vec<NotificationTypeStats>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        service::stats(state, viewer, organization_wide.unwrap_or(false)).await
    }
}

/// Notification mutations.
#[derive(Default)]
pub struct NotificationMutation;

#[Object]
impl NotificationMutation {
    /// Marks one of the viewer's notifications read (unchanged when it already was).
    async fn mark_notification_read(&self, ctx: &Context<'_>, id: ID) -> AppResult<Notification> {
        let (state, viewer) = ctx.state_and_person()?;
        let n = service::mark_read(state, viewer, parse_id(&id)?).await?;
        note(ctx, "notification", n.id);
        Ok(n.into())
    }

    /// Marks all of the viewer's notifications read; returns how many were unread.
    async fn mark_all_notifications_read(&self, ctx: &Context<'_>) -> AppResult<u64> {
        let (state, viewer) = ctx.state_and_person()?;
        service::mark_all_read(state, viewer).await
    }

    /// Deletes one of the viewer's notifications; returns its id.
    async fn delete_notification(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_person()?;
        let uuid = parse_id(&id)?;
        service::delete(state, viewer, uuid).await?;
        note(ctx, "notification", uuid);
        Ok(id)
    }

    /// Deletes all of the viewer's notifications in the organization; returns how many.
    async fn clear_notifications(&self, ctx: &Context<'_>) -> AppResult<u64> {
        let (state, viewer) = ctx.state_and_person()?;
        service::clear(state, viewer).await
    }

    /// Changes preferences (each type × channel at most once per call); returns them all.
    /// Turning WEBHOOK on needs a `webhookUrl` (given now or earlier).
    async fn update_notification_preferences(
        &self,
        ctx: &Context<'_>,
        input: Vec<NotificationPreferenceInput>,
    ) -> AppResult<Vec<NotificationPreference>> {
        let (state, viewer) = ctx.state_and_person()?;
        service::preferences::update_preferences(state, viewer, input).await
    }

    /// Sends an ANNOUNCEMENT (ADMIN+) to exactly one of: a member (`userId`), a team
    /// (`teamId`) or everybody (`wholeOrganization: true`). Returns how many members it was
    /// addressed to; each one's preferences decide the channels.
    async fn send_notification(
        &self,
        ctx: &Context<'_>,
        input: SendNotificationInput,
    ) -> AppResult<u64> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let target = match (&input.user_id, &input.team_id) {
            (Some(u), _) => ("user", u.to_string()),
            (_, Some(t)) => ("team", t.to_string()),
            _ => ("organization", viewer.org_id.to_string()),
        };
        let n = service::send::send(state, viewer, input).await?;
        note(ctx, target.0, target.1);
        Ok(n)
    }
}

/// Notification subscriptions.
#[derive(Default)]
pub struct NotificationSubscription;

#[Subscription]
impl NotificationSubscription {
    /// The viewer's new in-app notifications in the current organization, as they are created.
    async fn notification_received(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<Notification, AppError>>, AppError> {
        let (state, viewer) = ctx.state_and_person()?;
        let (db, viewer) = (state.db.clone(), viewer.clone());
        let events = realtime::live(ctx, &[EventType::NotificationNew], None).await?;
        Ok(realtime::filter_live(events, move |env| {
            let (db, viewer) = (db.clone(), viewer.clone());
            async move {
                let DomainEvent::NotificationCreated(n) = &env.event else {
                    return None;
                };
                match service::get(&db, &viewer, n.notification_id).await {
                    Ok(m) => Some(Notification::from(m)),
                    // Deleted (or not the viewer's) by the time it arrived.
                    Err(AppError::NotFound(_)) => None,
                    Err(e) => {
                        tracing::warn!(error = ?e, "loading a notification for a subscriber failed");
                        None
                    }
                }
            }
        }))
    }
}
