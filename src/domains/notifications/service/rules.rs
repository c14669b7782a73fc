//! Notifications' own rules, an event handler ([`NotificationRules`]) that runs inside
//! [`crate::events::outbox::record`] right after the event is stored, so the notifications (and
//! their `notification.new` events, mails and webhook jobs) commit or roll back with the change
//! that caused them: `lead.updated` with `owner` among the changed fields → LEAD_ASSIGNED to the
//! new owner (not for self-assignment); `job.updated` → IMPORT_FINISHED when a lead import
//! succeeds, JOB_FAILED when any job fails for good, to the job's creator (delivery jobs
//! excepted: a failing delivery must not notify, and so re-trigger, itself). Higher domains
//! register their own handlers (approvals, outreach).

use entity::{job, lead, user};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use async_trait::async_trait;

use super::{
    deliver::{deliver, NewNotification},
    webhook_job,
};
use crate::{
    domains::{leads, notifications::types::NotificationType},
    error::AppResult,
    events::{
        handlers::{EventHandler, HandlerConn},
        DomainEvent, EventEnvelope, JobUpdated, LeadChanged,
    },
    platform::mail_job,
};

/// The event handler of notifications' own rules (registered by `notifications::register`).
pub struct NotificationRules;

#[async_trait]
impl EventHandler for NotificationRules {
    fn wants(&self, env: &EventEnvelope) -> bool {
        match &env.event {
            DomainEvent::LeadUpdated(c) => c.changed_fields.iter().any(|f| f == "owner"),
            DomainEvent::JobUpdated(j) => env.user_id.is_some() && job_notifies(j),
            _ => false,
        }
    }

    async fn handle(&self, conn: &HandlerConn<'_>, env: &EventEnvelope) -> AppResult<()> {
        match &env.event {
            DomainEvent::LeadUpdated(c) => lead_assigned(conn, env, c).await,
            DomainEvent::JobUpdated(j) => job_finished(conn, env, j).await,
            _ => Ok(()),
        }
    }
}

/// LEAD_ASSIGNED to the new owner, unless they assigned it to themselves.
async fn lead_assigned(
    conn: &impl ConnectionTrait,
    env: &EventEnvelope,
    c: &LeadChanged,
) -> AppResult<()> {
    let Some(owner) = c.owner_id else {
        return Ok(()); // unassigned
    };
    if env.user_id == Some(owner) {
        return Ok(());
    }
    let Some(lead) = lead::Entity::find_by_id(c.lead_id)
        .filter(lead::Column::OrgId.eq(env.org_id))
        .one(conn)
        .await?
    else {
        return Ok(());
    };
    let actor = match env.user_id {
        Some(id) => user::Entity::find_by_id(id)
            .one(conn)
            .await?
            .map(|u| u.name),
        None => None,
    };
    let body = format!(
        "{} assigned {} to you.",
        actor.as_deref().unwrap_or("Someone"),
        lead_label(&lead)
    );
    let n = NewNotification {
        org_id: env.org_id,
        notification_type: NotificationType::LeadAssigned,
        title: "Lead assigned to you".into(),
        body,
        link: Some(format!("/leads/{}", lead.id)),
        resource: Some(("lead", lead.id.to_string())),
    };
    deliver(conn, &n, &[owner]).await?;
    Ok(())
}

/// How a lead is named in a message: its person, else its company, else its email.
fn lead_label(l: &lead::Model) -> String {
    let name = [l.first_name.as_deref(), l.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut label = if !name.is_empty() {
        name
    } else if !l.company.is_empty() {
        l.company.clone()
    } else if let Some(e) = &l.email {
        e.clone()
    } else {
        "a lead".to_string()
    };
    if !l.company.is_empty() && !label.eq(&l.company) {
        label = format!("{label} ({})", l.company);
    }
    label
}

/// IMPORT_FINISHED when an import succeeds and JOB_FAILED when any job fails for good, to the
/// user who started it. Delivery jobs never notify (a failing webhook would notify itself).
async fn job_finished(
    conn: &impl ConnectionTrait,
    env: &EventEnvelope,
    j: &JobUpdated,
) -> AppResult<()> {
    let finished_import = j.state == "succeeded" && j.kind == leads::IMPORT_KIND;
    let Some(creator) = env.user_id else {
        return Ok(());
    };
    if !job_notifies(j) {
        return Ok(());
    }
    let Some(job) = job::Entity::find_by_id(j.job_id).one(conn).await? else {
        return Ok(());
    };
    let n = if finished_import {
        import_finished(env.org_id, &job)
    } else {
        NewNotification {
            org_id: env.org_id,
            notification_type: NotificationType::JobFailed,
            title: format!("Job {} failed", job.kind),
            body: format!(
                "It failed after {} attempt{}: {}",
                job.attempts,
                if job.attempts == 1 { "" } else { "s" },
                job.last_error.as_deref().unwrap_or("unknown error")
            ),
            link: Some(format!("/jobs/{}", job.id)),
            resource: Some(("job", job.id.to_string())),
        }
    };
    deliver(conn, &n, &[creator]).await?;
    Ok(())
}

/// Whether a job update notifies its creator: a lead import succeeded, or a job other than a
/// delivery job failed for good.
fn job_notifies(j: &JobUpdated) -> bool {
    (j.state == "succeeded" && j.kind == leads::IMPORT_KIND)
        || (j.state == "failed" && j.kind != mail_job::KIND && j.kind != webhook_job::KIND)
}

fn import_finished(org_id: Uuid, job: &job::Model) -> NewNotification {
    let count = |k: &str| {
        job.result
            .as_ref()
            .and_then(|r| r.get(k))
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
    };
    let file = job
        .payload
        .get("filename")
        .and_then(|v| v.as_str())
        .unwrap_or("Your file");
    NewNotification {
        org_id,
        notification_type: NotificationType::ImportFinished,
        title: "Lead import finished".into(),
        body: format!(
            "{file}: {} imported, {} merged, {} skipped, {} failed.",
            count("imported"),
            count("merged"),
            count("skipped"),
            count("failed")
        ),
        link: Some(format!("/jobs/{}", job.id)),
        resource: Some(("job", job.id.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(first: Option<&str>, company: &str, email: Option<&str>) -> lead::Model {
        let now = chrono::Utc::now();
        lead::Model {
            id: Uuid::nil(),
            org_id: Uuid::nil(),
            first_name: first.map(String::from),
            last_name: None,
            email: email.map(String::from),
            phone: None,
            company: company.into(),
            title: None,
            website: None,
            industry: None,
            city: None,
            region: None,
            country: None,
            latitude: None,
            longitude: None,
            source: "MANUAL".into(),
            status: "NEW".into(),
            score: 0,
            score_reasons: serde_json::json!([]),
            custom_fields: serde_json::json!({}),
            provenance: serde_json::json!({}),
            owner_id: None,
            last_contacted_at: None,
            created_at: now,
            updated_at: now,
            email_status: None,
            validated_at: None,
            phone_type: None,
            phone_carrier: None,
            phone_country: None,
        }
    }

    #[test]
    fn lead_labels() {
        assert_eq!(lead_label(&lead(Some("Ada"), "Acme", None)), "Ada (Acme)");
        assert_eq!(lead_label(&lead(None, "Acme", None)), "Acme");
        assert_eq!(lead_label(&lead(None, "", Some("a@x.io"))), "a@x.io");
        assert_eq!(lead_label(&lead(None, "", None)), "a lead");
    }
}
