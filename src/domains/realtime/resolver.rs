//! The `events` subscription.

use std::collections::HashSet;

use async_graphql::{Context, Json, SimpleObject, Subscription, ID};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};

use super::stream::{self, EventFilter};
use crate::{
    auth::Permission,
    error::AppError,
    events::{EventEnvelope, EventType},
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

/// Live subscriptions.
#[derive(Default)]
pub struct RealtimeSubscription;

#[Subscription]
impl RealtimeSubscription {
    /// Every event of the viewer's organization, optionally only some types. With `after`, the
    /// events stored after that event id are replayed first, so a reconnecting client misses
    /// nothing.
    async fn events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<EventType>>,
        after: Option<ID>,
    ) -> Result<impl Stream<Item = DomainEvent>, AppError> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::SubscribeEvents)?;
        let after = after
            .map(|id| {
                uuid::Uuid::parse_str(&id)
                    .map_err(|_| AppError::invalid("after", "unknown event id"))
            })
            .transpose()?;
        let filter = EventFilter {
            types: types.map(|t| t.into_iter().collect::<HashSet<_>>()),
        };
        let rx = state.bus.subscribe();
        let s = stream::events(rx, state.db.clone(), viewer.clone(), filter, after).await?;
        Ok(s.map(DomainEvent::from))
    }
}
