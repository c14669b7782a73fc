//! Notification rules of approvals, an event handler ([`ApprovalNotifications`], registered by
//! `approvals::register`) for `approval.pending` and `approval.resolved` that runs inside the
//! transaction that recorded the event:
//! a new request notifies its assignees (APPROVAL_PENDING), a delegation the delegate, an
//! escalation the assignees and their managers; a final outcome notifies the requester
//! (APPROVAL_RESOLVED) unless they caused it themselves.

use entity::{approval_request, user};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use async_trait::async_trait;

use super::access::{assignees, managers_of};
use crate::{
    domains::notifications::{deliver, types::NotificationType, NewNotification},
    error::AppResult,
    events::{
        handlers::{EventHandler, HandlerConn},
        ApprovalChanged, DomainEvent, EventEnvelope,
    },
};

/// The event handler of approvals' notification rules.
pub struct ApprovalNotifications;

#[async_trait]
impl EventHandler for ApprovalNotifications {
    fn wants(&self, env: &EventEnvelope) -> bool {
        matches!(
            env.event,
            DomainEvent::ApprovalPending(_) | DomainEvent::ApprovalResolved(_)
        )
    }

    async fn handle(&self, conn: &HandlerConn<'_>, env: &EventEnvelope) -> AppResult<()> {
        let (a, is_pending) = match &env.event {
            DomainEvent::ApprovalPending(a) => (a, true),
            DomainEvent::ApprovalResolved(a) => (a, false),
            _ => return Ok(()),
        };
        // A request that is gone (or of another organization) notifies nobody.
        let Some(r) = request(conn, env, a).await? else {
            return Ok(());
        };
        if is_pending {
            pending(conn, env, a, r).await
        } else {
            resolved(conn, env, a, r).await
        }
    }
}

async fn request(
    conn: &impl ConnectionTrait,
    env: &EventEnvelope,
    a: &ApprovalChanged,
) -> AppResult<Option<approval_request::Model>> {
    Ok(approval_request::Entity::find_by_id(a.request_id)
        .filter(approval_request::Column::OrgId.eq(env.org_id))
        .one(conn)
        .await?)
}

async fn name_of(conn: &impl ConnectionTrait, id: Option<uuid::Uuid>) -> AppResult<String> {
    Ok(match id {
        Some(id) => user::Entity::find_by_id(id)
            .one(conn)
            .await?
            .map(|u| u.name),
        None => None,
    }
    .unwrap_or_else(|| "Someone".into()))
}

fn notification(
    r: &approval_request::Model,
    t: NotificationType,
    title: String,
    body: String,
) -> NewNotification {
    NewNotification {
        org_id: r.org_id,
        notification_type: t,
        title: title.chars().take(200).collect(),
        body,
        link: Some(format!("/approvals/{}", r.id)),
        resource: Some(("approval_request", r.id.to_string())),
    }
}

/// `approval.pending`: created → assignees; delegated → the delegate; escalated → assignees and
/// their managers.
pub async fn pending(
    conn: &impl ConnectionTrait,
    env: &EventEnvelope,
    a: &ApprovalChanged,
    r: approval_request::Model,
) -> AppResult<()> {
    let needed = format!(
        "{} of {} approvals so far.",
        r.approval_count, r.required_approvals
    );
    let (n, to) = match a.reason.as_str() {
        "created" => {
            let who = name_of(conn, r.requested_by).await?;
            (
                notification(
                    &r,
                    NotificationType::ApprovalPending,
                    format!("Approval needed: {}", r.title),
                    format!("{who} asks for your approval. {needed}"),
                ),
                assignees(conn, &r).await?,
            )
        }
        "delegated" => {
            let Some(delegate) = a.delegate_id else {
                return Ok(());
            };
            let who = name_of(conn, env.user_id).await?;
            (
                notification(
                    &r,
                    NotificationType::ApprovalPending,
                    format!("Approval delegated to you: {}", r.title),
                    format!("{who} delegated this approval to you. {needed}"),
                ),
                vec![delegate],
            )
        }
        "escalated" => {
            let mut to = assignees(conn, &r).await?;
            for m in managers_of(conn, r.org_id, &to).await? {
                if !to.contains(&m) && Some(m) != r.requested_by {
                    to.push(m);
                }
            }
            (
                notification(
                    &r,
                    NotificationType::ApprovalPending,
                    format!("Overdue approval: {}", r.title),
                    format!("This approval is past its due time and is now urgent. {needed}"),
                ),
                to,
            )
        }
        _ => return Ok(()),
    };
    deliver(conn, &n, &to).await?;
    Ok(())
}

/// `approval.resolved`: the requester learns the outcome (not when they withdrew it).
pub async fn resolved(
    conn: &impl ConnectionTrait,
    env: &EventEnvelope,
    a: &ApprovalChanged,
    r: approval_request::Model,
) -> AppResult<()> {
    let Some(requester) = r.requested_by else {
        return Ok(());
    };
    if env.user_id == Some(requester) {
        return Ok(());
    }
    let who = name_of(conn, env.user_id).await?;
    let outcome = match a.reason.as_str() {
        "approved" => format!(
            "Approved by {who} (last of {} approvals).",
            r.required_approvals
        ),
        "rejected" => format!("Rejected by {who}."),
        "changes_requested" => format!("{who} asked for changes."),
        "cancelled" => format!("Withdrawn by {who}."),
        "expired" => "Nobody decided in time; the request expired.".to_string(),
        _ => return Ok(()),
    };
    let body = match &r.resolution_comment {
        Some(c) => format!("{outcome}\n{c}"),
        None => outcome,
    };
    let n = notification(
        &r,
        NotificationType::ApprovalResolved,
        format!("{}: {}", title_case(&r.status), r.title),
        body,
    );
    deliver(conn, &n, &[requester]).await?;
    Ok(())
}

fn title_case(status: &str) -> String {
    let lower = status.replace('_', " ").to_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
