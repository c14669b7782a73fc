//! Validation on every lead write (`validateOnWrite`, per organization, off by default).
//!
//! Every path that writes leads (createLead/updateLead, importLeads, the partner API, incoming
//! webhooks, scrape runs) goes through the leads API, which records `lead.created` /
//! `lead.updated` (with the changed fields). [`ValidateOnWrite`], registered in the event-handler
//! registry, reacts to a created lead and to an update that changed `email`, in the writer's
//! transaction: when the organization of the event has the setting on and the lead has an
//! email, it enqueues one [`KIND`] job (idempotency key: lead + event id), so the job commits
//! or rolls back with the write. Leads never name enrichment.
//!
//! The setting is read through a per-instance cache (`settings::validates_on_write`): one read
//! per organization every `ON_WRITE_CACHE_TTL` (30 s), forgotten by `updateEnrichmentSettings`
//! on the instance that runs it; another instance sees a change within those 30 s. With the
//! setting off, a created lead costs no statement (`wants` answers from the cache).
//!
//! The job ([`ValidateLeadJob`]) validates the address the event saw, exactly like
//! `validateContact` (the domain's answer through the shared validation cache, the mailbox probe
//! when allowed and opted in) and saves the verdict through `leads::record_email_status`
//! (emailStatus, validatedAt, provenance, `lead.updated`). It is idempotent: a lead that is gone
//! or whose email changed since (a newer job validates the new one) is skipped, and a verdict
//! saved twice is the same verdict. The verdict's own `lead.updated` names only
//! `emailStatus`/`validatedAt`, so it queues nothing.

use async_trait::async_trait;
use chrono::Utc;
use entity::lead;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{emails, probe, settings, Prepared};
use crate::{
    auth::{Role, Viewer, ViewerVia},
    domains::leads,
    error::AppResult,
    events::{
        handlers::{EventHandler, HandlerConn},
        DomainEvent, EventEnvelope,
    },
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    state::{AppState, Wakes},
};

/// The job kind.
pub const KIND: &str = "enrichment.validate";

/// The lead whose (new) email `event` asks to validate, if any (cheap: no query).
fn lead_of(event: &DomainEvent) -> Option<Uuid> {
    match event {
        DomainEvent::LeadCreated(c) => Some(c.lead_id),
        DomainEvent::LeadUpdated(c) if c.changed_fields.iter().any(|f| f == "email") => {
            Some(c.lead_id)
        }
        _ => None,
    }
}

/// The reaction registered in `events::handlers` ("enrichment.validate_on_write").
pub struct ValidateOnWrite;

#[async_trait]
impl EventHandler for ValidateOnWrite {
    fn wants(&self, event: &EventEnvelope) -> bool {
        // An organization known (cached) to have the setting off costs nothing per lead.
        lead_of(&event.event).is_some()
            && settings::cached_validates_on_write(event.org_id) != Some(false)
    }

    async fn handle(&self, conn: &HandlerConn<'_>, event: &EventEnvelope) -> AppResult<()> {
        let Some(lead_id) = lead_of(&event.event) else {
            return Ok(());
        };
        if !settings::validates_on_write(conn, event.org_id).await? {
            return Ok(());
        }
        let email = lead::Entity::find_by_id(lead_id)
            .filter(lead::Column::OrgId.eq(event.org_id))
            .one(conn)
            .await?
            .and_then(|l| l.email);
        let Some(email) = email else {
            return Ok(());
        };
        let mut job = NewJob::new(
            KIND,
            json!({"leadId": lead_id, "email": email, "actorId": event.user_id}),
        );
        job.org_id = Some(event.org_id);
        job.created_by = event.user_id;
        job.idempotency_key = Some(format!("{KIND}:{lead_id}:{}", event.id));
        queue::enqueue(conn, job).await?;
        Ok(())
    }
}

/// The `enrichment.validate` handler.
pub struct ValidateLeadJob(pub AppState);

fn retryable(e: impl std::fmt::Debug) -> JobError {
    JobError::Retryable(format!("{e:?}"))
}

#[async_trait]
impl JobHandler for ValidateLeadJob {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p = &ctx.job.payload;
        let uuid = |k: &str| p[k].as_str().and_then(|s| Uuid::parse_str(s).ok());
        let (Some(lead_id), Some(email), Some(org)) =
            (uuid("leadId"), p["email"].as_str(), ctx.job.org_id)
        else {
            return Err(JobError::Permanent("bad payload".into()));
        };
        let state = &self.0;
        let current = lead::Entity::find_by_id(lead_id)
            .filter(lead::Column::OrgId.eq(org))
            .one(&state.db)
            .await
            .map_err(retryable)?;
        if current
            .filter(|l| l.email.as_deref() == Some(email))
            .is_none()
        {
            return Ok(json!({"skipped": "the lead is gone or its email changed"}));
        }
        let item = Prepared {
            lead: None,
            email: Some(email.to_string()),
            phone: None,
            website: None,
            country: None,
        };
        let mut verdicts = emails(state, std::slice::from_ref(&item))
            .await
            .map_err(retryable)?;
        if let Some(probe_settings) = &state.config.sources.smtp_probe {
            if settings::probe_enabled(&state.db, state, org)
                .await
                .map_err(retryable)?
            {
                probe::apply(state, probe_settings, &mut verdicts).await;
            }
        }
        let Some(Some(verdict)) = verdicts.pop() else {
            return Err(JobError::Permanent("validation returned no result".into()));
        };
        // The job acts for the writer (a MEMBER's right to record a verdict on a lead); a write
        // without a user (none today) leaves the timeline entry's actor nil.
        let viewer = Viewer {
            user_id: uuid("actorId")
                .or(ctx.job.created_by)
                .unwrap_or(Uuid::nil()),
            org_id: org,
            role: Role::Member,
            via: ViewerVia::Jwt,
            session_id: None,
        };
        let reasons: Vec<String> = verdict
            .reasons
            .iter()
            .map(|r| r.as_str().to_string())
            .collect();
        let txn = state.db.begin().await.map_err(retryable)?;
        let saved = leads::record_email_status(
            &txn,
            &viewer,
            lead_id,
            email,
            verdict.verdict,
            &reasons,
            Utc::now(),
        )
        .await
        .map_err(retryable)?;
        state.commit(txn, Wakes::Events).await.map_err(retryable)?;
        Ok(json!({"verdict": verdict.verdict.as_str(), "saved": saved.is_some()}))
    }
}
