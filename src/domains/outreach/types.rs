//! Types shared by every outreach sub-domain (the bottom of the sub-domain order): the campaign
//! and recipient status enums, whose wire strings are stored in `campaign.status` and
//! `campaign_recipient.status` and read by the leads domain's compiled filters.

use async_graphql::Enum;

/// Where a campaign is in its lifecycle.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CampaignStatus {
    /// Being prepared; nothing is sent.
    Draft,
    /// Launch asked for; waiting for an approval (see the Approvals issue).
    PendingApproval,
    /// Will start at `scheduleAt`.
    Scheduled,
    /// Sending.
    Running,
    /// Sending suspended; `resumeCampaign` continues with the recipients not sent yet.
    Paused,
    /// Every recipient was processed.
    Completed,
    /// Stopped for good; recipients not sent yet stay unsent.
    Stopped,
    /// Sending failed for good (`lastError` says why); `resumeCampaign` tries again.
    Failed,
}

crate::wire_enum!(CampaignStatus { Draft => "DRAFT", PendingApproval => "PENDING_APPROVAL", Scheduled => "SCHEDULED", Running => "RUNNING", Paused => "PAUSED", Completed => "COMPLETED", Stopped => "STOPPED", Failed => "FAILED" });

/// What happened to one recipient's email (the furthest step reached).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecipientStatus {
    /// Not sent yet.
    Pending,
    /// Being handed to the mail server right now.
    Sending,
    /// Accepted by the mail server.
    Sent,
    /// Opened (tracking pixel loaded).
    Opened,
    /// A tracked link was clicked.
    Clicked,
    /// The lead replied.
    Replied,
    /// The message bounced (hard).
    Bounced,
    /// The lead unsubscribed.
    Unsubscribed,
    /// The mail server refused it for good, or the template could not be rendered (`error`).
    Failed,
    /// Not sent: the address is on the suppression list (unsubscribed or hard-bounced since it
    /// was added).
    Suppressed,
    /// The worker stopped in the middle of the SMTP transaction: the message may or may not have
    /// been delivered. It is never sent again, so nobody gets it twice (see docs/ARCHITECTURE.md).
    Uncertain,
}

crate::wire_enum!(RecipientStatus { Pending => "PENDING", Sending => "SENDING", Sent => "SENT", Opened => "OPENED", Clicked => "CLICKED", Replied => "REPLIED", Bounced => "BOUNCED", Unsubscribed => "UNSUBSCRIBED", Failed => "FAILED", Suppressed => "SUPPRESSED", Uncertain => "UNCERTAIN" });

impl RecipientStatus {
    /// Engagement rank: an event only ever moves a recipient forward along
    /// SENT < OPENED < CLICKED < REPLIED.
    pub fn rank(self) -> u8 {
        match self {
            RecipientStatus::Sent => 1,
            RecipientStatus::Opened => 2,
            RecipientStatus::Clicked => 3,
            RecipientStatus::Replied => 4,
            _ => 0,
        }
    }
}

// Old paths kept for other packages until the lead rewires them (remove at merge).
pub use super::templates::types::RenderedEmail;
