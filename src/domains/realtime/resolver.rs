//! The subscriptions: `events` (everything the viewer may see) and typed convenience fields built
//! on the same [`live`] stream (`service.rs`).

use async_graphql::{Context, Subscription, ID};
use futures::{Stream, StreamExt};

use super::{
    service::{filter_live, live},
    types::{DomainEvent, LeadEvent},
};
use crate::{error::AppError, events::EventType};

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
    ) -> Result<impl Stream<Item = Result<DomainEvent, AppError>>, AppError> {
        let s = live(ctx, &types.unwrap_or_default(), after).await?;
        Ok(s.map(|r| r.map(DomainEvent::from)))
    }

    /// Lead created, updated and deleted events, with the lead itself.
    async fn lead_events(
        &self,
        ctx: &Context<'_>,
        after: Option<ID>,
    ) -> Result<impl Stream<Item = Result<LeadEvent, AppError>>, AppError> {
        let types = [
            EventType::LeadCreated,
            EventType::LeadUpdated,
            EventType::LeadDeleted,
        ];
        let s = live(ctx, &types, after).await?;
        Ok(filter_live(s, |env| {
            futures::future::ready(LeadEvent::from_envelope(env))
        }))
    }
}
