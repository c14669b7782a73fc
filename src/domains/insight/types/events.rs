//! Analytics events (`trackEvents`, `analyticsEvents`) and the activity feed
//! (`recentActivity`): inputs, objects and the feed's source enum.

use async_graphql::{Enum, InputObject, Json, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::analytics_event;

/// One event a frontend or partner tracked.
#[derive(InputObject, Debug, Clone)]
pub struct TrackEventInput {
    /// The client's id of the event (1–100 characters): an event already stored under this id
    /// in the organization is counted as a duplicate and not stored again.
    pub client_event_id: String,
    /// What happened, e.g. `page_viewed` (1–100 characters: letters, digits, `_ . : - $` and
    /// spaces).
    pub name: String,
    /// When it happened (at most 1 day ahead of the server's clock, at most 2 years back).
    pub occurred_at: DateTime<Utc>,
    /// The lead it is about: a lead of the viewer's organization.
    pub lead_id: Option<ID>,
    /// The client's session (1–100 characters).
    pub session_id: Option<String>,
    /// A JSON object of at most 8 KiB (default `{}`).
    pub properties: Option<Json<serde_json::Value>>,
}

/// What `trackEvents` stored.
#[derive(SimpleObject, Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackEventsResult {
    /// Events stored by this call.
    pub accepted: i32,
    /// Events not stored because their client event id was already stored (an earlier call, or
    /// twice in this batch).
    pub duplicates: i32,
}

/// A tracked event.
#[derive(SimpleObject, Debug, Clone)]
pub struct AnalyticsEvent {
    /// Server id.
    pub id: ID,
    /// The client's id of the event.
    pub client_event_id: String,
    /// What happened.
    pub name: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The lead it is about.
    pub lead_id: Option<ID>,
    /// The client's session.
    pub session_id: Option<String>,
    /// Its properties (a JSON object).
    pub properties: Json<serde_json::Value>,
    /// When the server stored it.
    pub received_at: DateTime<Utc>,
}

impl From<analytics_event::Model> for AnalyticsEvent {
    fn from(m: analytics_event::Model) -> Self {
        AnalyticsEvent {
            id: ID(m.id.to_string()),
            client_event_id: m.client_event_id,
            name: m.name,
            occurred_at: m.occurred_at,
            lead_id: m.lead_id.map(|l| ID(l.to_string())),
            session_id: m.session_id,
            properties: Json(m.properties),
            received_at: m.received_at,
        }
    }
}

/// Narrows `analyticsEvents` (every field optional; all given must match).
#[derive(InputObject, Debug, Clone, Default)]
pub struct AnalyticsEventFilter {
    /// Exactly this name.
    pub name: Option<String>,
    /// About this lead.
    pub lead_id: Option<ID>,
    /// Of this session.
    pub session_id: Option<String>,
    /// Occurred at or after.
    pub from: Option<DateTime<Utc>>,
    /// Occurred before.
    pub to: Option<DateTime<Utc>>,
}

/// Where an activity item comes from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActivityType {
    /// A lead's timeline entry (created, status changed, note added, contacted, …).
    Lead,
    /// A campaign created, launched or ended.
    Campaign,
    /// An approval requested or resolved.
    Approval,
    /// A scrape job created or finished.
    Scrape,
    /// A deal created or closed.
    Deal,
}

crate::wire_enum!(ActivityType {
    Lead => "LEAD",
    Campaign => "CAMPAIGN",
    Approval => "APPROVAL",
    Scrape => "SCRAPE",
    Deal => "DEAL",
});

/// One item of the organization's activity feed.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct ActivityItem {
    /// The id of the row the item comes from (a timeline entry, campaign, approval request,
    /// scrape job or deal); with `type` and `action` it names the item.
    pub id: ID,
    /// Its source.
    #[graphql(name = "type")]
    pub kind: ActivityType,
    /// What happened, lower case: a timeline entry's kind (`created`, `status_changed`, …);
    /// `created`, `launched` or the end status of a campaign; `requested` or the resolution of
    /// an approval; `created` or the end status of a scrape; `created`, `won` or `lost` of a
    /// deal.
    pub action: String,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// A one-line description: the subject's name, then the action.
    pub title: String,
    /// The subject: the lead, campaign, approval request, scrape job or deal.
    pub subject_id: ID,
}
