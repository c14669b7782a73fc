//! GraphQL objects of the live streams: `DomainEvent` and the typed `LeadEvent`.

use async_graphql::{Context, Enum, Json, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::{
    domains::leads::{self as leads, Lead},
    error::{AppError, AppResult},
    events::{DomainEvent as Event, EventEnvelope, EventType},
    graphql::ContextExt,
};

/// Something that happened in the organization.
#[derive(SimpleObject, Debug, Clone)]
pub struct DomainEvent {
    /// Event id; pass it as `after` to resume after this event.
    pub id: ID,
    /// What kind of event.
    #[graphql(name = "type")]
    pub event_type: EventType,
    /// The acting or addressed user, when there is one.
    pub user_id: Option<ID>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// Event-specific payload (camelCase JSON), e.g. `{jobId, kind, state, progress}`.
    pub data: Json<serde_json::Value>,
}

impl From<EventEnvelope> for DomainEvent {
    fn from(ev: EventEnvelope) -> Self {
        let data = serde_json::to_value(&ev.event)
            .ok()
            .and_then(|mut v| v.get_mut("data").map(serde_json::Value::take))
            .unwrap_or(serde_json::Value::Null);
        DomainEvent {
            id: ID(ev.id.to_string()),
            event_type: ev.event.event_type(),
            user_id: ev.user_id.map(|u| ID(u.to_string())),
            occurred_at: ev.occurred_at,
            data: Json(data),
        }
    }
}

/// What happened to a lead.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadEventKind {
    /// The lead was created.
    Created,
    /// The lead changed.
    Updated,
    /// The lead was deleted.
    Deleted,
}

/// A lead event.
pub struct LeadEvent {
    env: EventEnvelope,
    kind: LeadEventKind,
    lead_id: uuid::Uuid,
    changed_fields: Vec<String>,
}

#[Object]
impl LeadEvent {
    /// Event id; pass it as `after` to resume after this event.
    async fn id(&self) -> ID {
        ID(self.env.id.to_string())
    }
    /// Created, updated or deleted.
    async fn kind(&self) -> LeadEventKind {
        self.kind
    }
    /// The lead's id (also for deleted leads).
    async fn lead_id(&self) -> ID {
        ID(self.lead_id.to_string())
    }
    /// The lead as it is now; null once it is deleted.
    async fn lead(&self, ctx: &Context<'_>) -> AppResult<Option<Lead>> {
        if self.kind == LeadEventKind::Deleted {
            return Ok(None);
        }
        let (state, viewer) = ctx.state_and_viewer()?;
        match leads::get(&state.db, viewer, self.lead_id).await {
            Ok(m) => Ok(Some(m.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
    /// Fields that changed (updates only).
    async fn changed_fields(&self) -> &[String] {
        &self.changed_fields
    }
    /// The acting user, when there is one.
    async fn user_id(&self) -> Option<ID> {
        self.env.user_id.map(|u| ID(u.to_string()))
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.env.occurred_at
    }
}

impl LeadEvent {
    pub fn from_envelope(env: EventEnvelope) -> Option<Self> {
        let (kind, c) = match &env.event {
            Event::LeadCreated(c) => (LeadEventKind::Created, c),
            Event::LeadUpdated(c) => (LeadEventKind::Updated, c),
            Event::LeadDeleted(c) => (LeadEventKind::Deleted, c),
            _ => return None,
        };
        let (lead_id, changed_fields) = (c.lead_id, c.changed_fields.clone());
        Some(LeadEvent {
            env,
            kind,
            lead_id,
            changed_fields,
        })
    }
}
