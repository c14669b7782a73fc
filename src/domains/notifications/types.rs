//! GraphQL types for notifications.

use async_graphql::{Enum, InputObject, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::notification;

/// What a notification is about. Each type has its own preferences per channel.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotificationType {
    /// Someone assigned a lead to you.
    LeadAssigned,
    /// A lead import you started finished.
    ImportFinished,
    /// A background job you started failed for good.
    JobFailed,
    /// A scrape you started finished.
    ScrapeFinished,
    /// An approval waits for you.
    ApprovalPending,
    /// An approval you asked for was decided.
    ApprovalResolved,
    /// A campaign finished sending.
    CampaignFinished,
    /// A message from an administrator (`sendNotification`).
    Announcement,
}

crate::wire_enum!(NotificationType {
    LeadAssigned => "LEAD_ASSIGNED",
    ImportFinished => "IMPORT_FINISHED",
    JobFailed => "JOB_FAILED",
    ScrapeFinished => "SCRAPE_FINISHED",
    ApprovalPending => "APPROVAL_PENDING",
    ApprovalResolved => "APPROVAL_RESOLVED",
    CampaignFinished => "CAMPAIGN_FINISHED",
    Announcement => "ANNOUNCEMENT",
});

impl NotificationType {
    /// Every type, in schema order.
    pub fn every() -> impl Iterator<Item = NotificationType> {
        Self::ALL.iter().filter_map(|s| Self::parse(s))
    }
}

/// How a notification reaches its recipient.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotificationChannel {
    /// Stored and shown in the app (`notifications`, `notificationReceived`). On by default.
    InApp,
    /// Sent by email to the account's address. Off by default.
    Email,
    /// Posted as `{"text": …}` to a Slack-style incoming webhook URL. Off by default.
    Webhook,
}

crate::wire_enum!(NotificationChannel {
    InApp => "IN_APP",
    Email => "EMAIL",
    Webhook => "WEBHOOK",
});

impl NotificationChannel {
    /// Every channel, in schema order.
    pub fn every() -> impl Iterator<Item = NotificationChannel> {
        Self::ALL.iter().filter_map(|s| Self::parse(s))
    }

    /// Whether the channel is on when the user never chose.
    pub fn default_enabled(self) -> bool {
        self == NotificationChannel::InApp
    }
}

/// A message to the viewer.
#[derive(SimpleObject, Debug, Clone)]
pub struct Notification {
    /// Notification id.
    pub id: ID,
    /// What it is about.
    #[graphql(name = "type")]
    pub notification_type: NotificationType,
    /// Short headline.
    pub title: String,
    /// Text (may be empty).
    pub body: String,
    /// Where to go: an http(s) URL or a path inside the app.
    pub link: Option<String>,
    /// Kind of the object it is about (`lead`, `job`), when there is one.
    pub resource_type: Option<String>,
    /// Id of that object.
    pub resource_id: Option<ID>,
    /// Whether the viewer has read it.
    pub read: bool,
    /// When it was marked read.
    pub read_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl From<notification::Model> for Notification {
    fn from(m: notification::Model) -> Self {
        Notification {
            id: ID(m.id.to_string()),
            notification_type: NotificationType::parse(&m.notification_type)
                .unwrap_or(NotificationType::Announcement),
            title: m.title,
            body: m.body,
            link: m.link,
            resource_type: m.resource_type,
            resource_id: m.resource_id.map(ID),
            read: m.read_at.is_some(),
            read_at: m.read_at,
            created_at: m.created_at,
        }
    }
}

/// The effective setting of one type × channel for the viewer.
#[derive(SimpleObject, Debug, Clone)]
pub struct NotificationPreference {
    /// Notification type.
    #[graphql(name = "type")]
    pub notification_type: NotificationType,
    /// Channel.
    pub channel: NotificationChannel,
    /// Whether notifications of this type go out on this channel.
    pub enabled: bool,
    /// True when the viewer never changed it (the default applies).
    pub is_default: bool,
    /// WEBHOOK only: the host of the configured webhook URL. The URL itself is a secret and is
    /// never returned.
    pub webhook_host: Option<String>,
}

/// One change of `updateNotificationPreferences`.
#[derive(InputObject, Debug, Clone)]
pub struct NotificationPreferenceInput {
    /// Notification type.
    #[graphql(name = "type")]
    pub notification_type: NotificationType,
    /// Channel.
    pub channel: NotificationChannel,
    /// On or off.
    pub enabled: bool,
    /// WEBHOOK only: a Slack-style incoming webhook URL (http or https). Required when enabling
    /// a WEBHOOK preference that has no URL yet; kept when omitted.
    pub webhook_url: Option<String>,
}

/// Input of `sendNotification`. Give exactly one target: `userId`, `teamId` or
/// `wholeOrganization: true`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct SendNotificationInput {
    /// One member of the organization.
    pub user_id: Option<ID>,
    /// Every member of this team.
    pub team_id: Option<ID>,
    /// Every member of the organization (broadcast), including the sender.
    pub whole_organization: Option<bool>,
    /// Headline, 1–200 characters.
    pub title: String,
    /// Text, at most 5,000 characters.
    pub body: Option<String>,
    /// An http(s) URL or a path inside the app (`/leads/…`).
    pub link: Option<String>,
}

/// Counts of one notification type.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct NotificationTypeStats {
    /// Notification type.
    #[graphql(name = "type")]
    pub notification_type: NotificationType,
    /// In-app notifications of this type that exist (deleted ones are not counted).
    pub sent: u64,
    /// How many of them are read.
    pub read: u64,
}
