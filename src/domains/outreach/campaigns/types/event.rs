//! `CampaignEvent`: one live event of the `campaignEvents` subscription (a status change with
//! counters, or one email's activity).

use async_graphql::{Enum, Object, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{CampaignCounters, CampaignStatus};
use crate::events::{DomainEvent, EventEnvelope};

/// Kind of a campaign event.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignEventKind {
    /// Status change or sending progress (`status` and `counters` are set).
    Status,
    /// Something happened to one email (`activity`, `recipientId`, `leadId` are set).
    Activity,
}

/// A live campaign event.
pub struct CampaignEvent(pub EventEnvelope);

#[Object]
impl CampaignEvent {
    /// Event id; pass it as `after` to `events` to resume.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Status or activity.
    async fn kind(&self) -> CampaignEventKind {
        match &self.0.event {
            DomainEvent::CampaignActivity(_) => CampaignEventKind::Activity,
            _ => CampaignEventKind::Status,
        }
    }
    /// The campaign.
    async fn campaign_id(&self) -> Option<ID> {
        campaign_of(&self.0).map(|u| ID(u.to_string()))
    }
    /// The campaign's status (STATUS events).
    async fn status(&self) -> Option<CampaignStatus> {
        match &self.0.event {
            DomainEvent::CampaignStatus(s) => CampaignStatus::parse(&s.status),
            _ => None,
        }
    }
    /// Live counters (STATUS events).
    async fn counters(&self) -> Option<CampaignCounters> {
        match &self.0.event {
            DomainEvent::CampaignStatus(s) => Some(s.counters.clone()),
            _ => None,
        }
    }
    /// The A/B winner's variant name, on the STATUS event that records the decision.
    async fn ab_winner(&self) -> Option<&str> {
        match &self.0.event {
            DomainEvent::CampaignStatus(s) => s.ab_winner.as_deref(),
            _ => None,
        }
    }
    /// `open`, `click`, `reply`, `bounce`, `unsubscribe`, `complaint` (ACTIVITY events).
    async fn activity(&self) -> Option<&str> {
        match &self.0.event {
            DomainEvent::CampaignActivity(a) => Some(a.kind.as_str()),
            _ => None,
        }
    }
    /// The recipient (ACTIVITY events).
    async fn recipient_id(&self) -> Option<ID> {
        match &self.0.event {
            DomainEvent::CampaignActivity(a) => Some(ID(a.recipient_id.to_string())),
            _ => None,
        }
    }
    /// The lead (ACTIVITY events, unless deleted).
    async fn lead_id(&self) -> Option<ID> {
        match &self.0.event {
            DomainEvent::CampaignActivity(a) => a.lead_id.map(|l| ID(l.to_string())),
            _ => None,
        }
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }
}

pub fn campaign_of(env: &EventEnvelope) -> Option<Uuid> {
    match &env.event {
        DomainEvent::CampaignStatus(s) => Some(s.campaign_id),
        DomainEvent::CampaignActivity(a) => Some(a.campaign_id),
        _ => None,
    }
}
