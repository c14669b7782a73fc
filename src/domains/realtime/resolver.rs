//! The subscriptions: `events` (everything the viewer may see) and typed convenience fields built
//! on the same [`live`] stream.

use async_graphql::{Context, Enum, Json, Object, SimpleObject, Subscription, ID};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use super::stream::{self, EventFilter};
use crate::{
    auth::Permission,
    domains::leads::{self as leads, Lead},
    error::{AppError, AppResult},
    events::{outbox, DomainEvent as Event, EventEnvelope, EventType},
    graphql::ContextExt,
};

/// The viewer's live events of `types` (all when empty), replayed after event `after` first.
/// Authentication, the subscribe permission and per-event visibility are applied here; typed
/// subscription fields of other domains build on this.
pub async fn live(
    ctx: &Context<'_>,
    types: &[EventType],
    after: Option<ID>,
) -> AppResult<impl Stream<Item = EventEnvelope> + use<>> {
    let (state, viewer) = ctx.state_and_viewer()?;
    viewer.require(Permission::SubscribeEvents)?;
    // Subscribe before reading anything, so no event falls between the read and the feed.
    let rx = state.bus.subscribe();
    let after = match after {
        Some(id) => {
            let id = uuid::Uuid::parse_str(&id)
                .map_err(|_| AppError::invalid("after", "unknown event id"))?;
            Some(
                outbox::position_of(&state.db, viewer.org_id, id, state.config.event_retention)
                    .await?,
            )
        }
        None => None,
    };
    let filter = EventFilter {
        types: (!types.is_empty()).then(|| types.to_vec()),
    };
    stream::events(rx, state.db.clone(), viewer.clone(), filter, after).await
}

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
    fn from_envelope(env: EventEnvelope) -> Option<Self> {
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

/// Live subscriptions.
#[derive(Default)]
pub struct RealtimeSubscription;

#[Subscription]
impl RealtimeSubscription {
    /// Every event of the viewer's organization the viewer may see, optionally only some types.
    /// With `after`, the events published after that event id are replayed first, so a
    /// reconnecting client misses nothing.
    async fn events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<EventType>>,
        after: Option<ID>,
    ) -> Result<impl Stream<Item = DomainEvent>, AppError> {
        let s = live(ctx, &types.unwrap_or_default(), after).await?;
        Ok(s.map(DomainEvent::from))
    }

    /// Lead created, updated and deleted events, with the lead itself.
    async fn lead_events(
        &self,
        ctx: &Context<'_>,
        after: Option<ID>,
    ) -> Result<impl Stream<Item = LeadEvent>, AppError> {
        let types = [
            EventType::LeadCreated,
            EventType::LeadUpdated,
            EventType::LeadDeleted,
        ];
        let s = live(ctx, &types, after).await?;
        Ok(s.filter_map(|env| futures::future::ready(LeadEvent::from_envelope(env))))
    }
}
