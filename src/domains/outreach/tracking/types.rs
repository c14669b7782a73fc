//! The tracking GraphQL types: `EmailEvent` (an entry of `Campaign.events(type)`) and its kind.

use async_graphql::{Enum, Json, Object, ID};
use chrono::{DateTime, Utc};
use entity::email_event;

use crate::domains::leads::Lead;

/// Kind of a campaign email event.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailEventType {
    /// The open pixel loaded.
    Open,
    /// A tracked link was followed.
    Click,
    /// The lead replied.
    Reply,
    /// The message bounced (`details.bounce` = hard | soft).
    Bounce,
    /// The lead unsubscribed.
    Unsubscribe,
    /// A spam complaint.
    Complaint,
}

crate::wire_enum!(EmailEventType { Open => "open", Click => "click", Reply => "reply", Bounce => "bounce", Unsubscribe => "unsubscribe", Complaint => "complaint" });

/// Something that happened to one campaign email.
pub struct EmailEvent {
    pub(crate) row: email_event::Model,
    pub(crate) email: Option<String>,
    pub(crate) lead: Option<Lead>,
}

#[Object]
impl EmailEvent {
    /// Event id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// Kind.
    #[graphql(name = "type")]
    async fn kind(&self) -> EmailEventType {
        EmailEventType::parse(&self.row.kind).unwrap_or(EmailEventType::Complaint)
    }
    /// When it happened.
    async fn at(&self) -> DateTime<Utc> {
        self.row.at
    }
    /// The campaign recipient.
    async fn recipient_id(&self) -> ID {
        ID(self.row.recipient_id.to_string())
    }
    /// The address the email went to.
    async fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }
    /// The lead (null once deleted).
    async fn lead(&self) -> Option<&Lead> {
        self.lead.as_ref()
    }
    /// The clicked URL (CLICK events).
    async fn url(&self) -> Option<&str> {
        self.row.data.get("url").and_then(|v| v.as_str())
    }
    /// Details: `{url}`, `{bounce, reason, provider}`, `{userAgent}`, …
    async fn details(&self) -> Json<serde_json::Value> {
        Json(self.row.data.clone())
    }
}
