//! From the outbox to delivery jobs: an [`EventHandler`] that runs in the writer's transaction
//! and, for each enabled endpoint of the event's organization that takes its type, stores a
//! delivery (the body exactly as it will be signed) and enqueues its first attempt. Both commit
//! with the change that caused the event, or neither does: nothing is lost on a crash.

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use entity::{webhook_delivery, webhook_endpoint};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use uuid::Uuid;

use super::deliver;
use crate::{
    domains::webhooks::types::WebhookDeliveryStatus,
    error::AppResult,
    events::{
        handlers::{EventHandler, HandlerConn},
        DomainEvent, EventEnvelope,
    },
};

/// The registered handler.
pub struct FanOut;

/// The Standard Webhooks body: `{type, timestamp, data}`.
#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: String,
    data: serde_json::Value,
}

/// The body of `env`'s webhook: `data` is the event's public payload, the same JSON the
/// `events` subscription shows.
pub fn event_body(env: &EventEnvelope) -> AppResult<String> {
    let data = serde_json::to_value(&env.event)?
        .get_mut("data")
        .map(serde_json::Value::take)
        .unwrap_or(serde_json::Value::Null);
    body(env.event.type_name(), env.occurred_at, data)
}

/// A body of type `kind` at `at` carrying `data`.
pub fn body(kind: &str, at: chrono::DateTime<Utc>, data: serde_json::Value) -> AppResult<String> {
    Ok(serde_json::to_string(&Body {
        kind,
        timestamp: at.to_rfc3339_opts(SecondsFormat::Micros, true),
        data,
    })?)
}

/// Whether `ep` takes events named `type_name`.
fn takes(ep: &webhook_endpoint::Model, type_name: &str) -> bool {
    ep.event_types
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(type_name)))
}

#[async_trait]
impl EventHandler for FanOut {
    fn wants(&self, env: &EventEnvelope) -> bool {
        // Addressed to one person: never leaves the app.
        !matches!(env.event, DomainEvent::NotificationCreated(_))
    }

    async fn handle(&self, conn: &HandlerConn<'_>, env: &EventEnvelope) -> AppResult<()> {
        self.handle_many(conn, &[env]).await
    }

    /// One read of the enabled endpoints of the batch's organizations, whatever the batch's
    /// size (read in the writer's transaction, so an endpoint committed before it sees every
    /// event of the batch, exactly as a read per event would).
    async fn handle_many(
        &self,
        conn: &HandlerConn<'_>,
        events: &[&EventEnvelope],
    ) -> AppResult<()> {
        let mut orgs: Vec<Uuid> = events.iter().map(|e| e.org_id).collect();
        orgs.sort_unstable();
        orgs.dedup();
        let endpoints: Vec<webhook_endpoint::Model> = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::OrgId.is_in(orgs))
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .all(conn)
            .await?;
        if endpoints.is_empty() {
            return Ok(());
        }
        for env in events {
            let type_name = env.event.type_name();
            let takers: Vec<&webhook_endpoint::Model> = endpoints
                .iter()
                .filter(|ep| ep.org_id == env.org_id && takes(ep, type_name))
                .collect();
            if !takers.is_empty() {
                store(conn, env, &takers).await?;
            }
        }
        Ok(())
    }
}

/// Stores `env`'s delivery to each of `endpoints` and enqueues its first attempt.
async fn store(
    conn: &HandlerConn<'_>,
    env: &EventEnvelope,
    endpoints: &[&webhook_endpoint::Model],
) -> AppResult<()> {
    let type_name = env.event.type_name();
    let body = event_body(env)?;
    let now = Utc::now();
    for ep in endpoints {
        let id = Uuid::now_v7();
        webhook_delivery::ActiveModel {
            id: Set(id),
            org_id: Set(env.org_id),
            endpoint_id: Set(ep.id),
            event_id: Set(Some(env.id)),
            message_id: Set(format!("msg_{}", env.id.simple())),
            event_type: Set(type_name.to_string()),
            body: Set(body.clone()),
            status: Set(WebhookDeliveryStatus::Pending.as_str().to_string()),
            attempts: Set(0),
            next_attempt_at: Set(Some(now)),
            last_status_code: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(conn)
        .await?;
        deliver::enqueue(conn, id, 1, now).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::events::LeadChanged;

    #[test]
    fn the_body_is_type_timestamp_and_the_public_payload() {
        let lead = Uuid::now_v7();
        let env = EventEnvelope::new(
            Uuid::now_v7(),
            None,
            DomainEvent::LeadCreated(LeadChanged {
                lead_id: lead,
                changed_fields: vec![],
                owner_id: None,
            }),
        );
        let body = event_body(&env).unwrap();
        assert!(
            body.starts_with(r#"{"type":"lead.created","timestamp":""#),
            "{body}"
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["data"], serde_json::json!({"leadId": lead.to_string()}));
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
