//! GraphQL enums, inputs and payloads of outreach (the `Template`, `Campaign` and
//! `CampaignRecipient` objects are in `object.rs`).

use async_graphql::{Enum, InputObject, Json, MaybeUndefined, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::domains::leads::types::{ItemError, LeadFilter};

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

/// Time bucket of `campaignTimeline`.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimelineBucket {
    /// One point per hour.
    #[default]
    Hour,
    /// One point per day.
    Day,
}

/// Input of `createTemplate`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct CreateTemplateInput {
    /// Name (1–200 characters).
    pub name: String,
    /// Category, e.g. `intro`, `follow-up` (at most 64 characters).
    pub category: Option<String>,
    /// Subject line (minijinja syntax).
    pub subject: String,
    /// HTML body (minijinja syntax; values are HTML-escaped).
    pub body_html: String,
    /// Plain-text body (minijinja syntax). Empty = none.
    #[graphql(default)]
    pub body_text: String,
    /// Marked as a favorite.
    pub favorite: Option<bool>,
    /// Ignored (kept so existing clients still validate): whether copy is AI-written is recorded
    /// by the server, since approval rules rely on it.
    pub ai_generated: Option<bool>,
}

/// Input of `updateTemplate`: only the fields present change.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateTemplateInput {
    /// Name.
    pub name: Option<String>,
    /// Category (`null` clears it).
    pub category: MaybeUndefined<String>,
    /// Subject line.
    pub subject: Option<String>,
    /// HTML body.
    pub body_html: Option<String>,
    /// Plain-text body.
    pub body_text: Option<String>,
    /// Ignored (kept so existing clients still validate): whether copy is AI-written is recorded
    /// by the server, since approval rules rely on it.
    pub ai_generated: Option<bool>,
}

/// Template content given inline (`validateTemplate`, `renderTemplate`).
#[derive(InputObject, Debug, Clone, Default)]
pub struct TemplateContentInput {
    /// Subject line.
    pub subject: String,
    /// HTML body.
    pub body_html: String,
    /// Plain-text body.
    #[graphql(default)]
    pub body_text: String,
}

/// Filters of `templates`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct TemplateFilter {
    /// Only this category.
    pub category: Option<String>,
    /// Only favorites (true) or only non-favorites (false).
    pub favorite: Option<bool>,
    /// Only AI-written (true) or only human-written (false).
    pub ai_generated: Option<bool>,
    /// Name contains (case-insensitive).
    pub search: Option<String>,
}

/// An A/B variant of a campaign: its own subject and/or template, sent to a share of the
/// recipients proportional to `weight`.
#[derive(
    InputObject, SimpleObject, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[graphql(input_name = "CampaignVariantInput")]
#[serde(rename_all = "camelCase")]
pub struct CampaignVariant {
    /// Variant name (`A`, `B`, …; 1–32 characters, unique in the campaign).
    pub name: String,
    /// Subject override (minijinja syntax).
    pub subject: Option<String>,
    /// Template override.
    pub template_id: Option<ID>,
    /// Relative share of recipients (1–100).
    pub weight: i32,
}

/// The metric that picks an A/B winner.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AbMetric {
    /// Unique opens / sent among the variant's test recipients.
    OpenRate,
    /// Unique clicks / sent among the variant's test recipients.
    ClickRate,
}

/// A/B test with winner selection (Mautic-style): the variants are first sent to a test
/// fraction of the recipients, split by weight; after `waitMinutes` the variant with the best
/// `metric` wins (a tie goes to the first variant) and everybody else gets the winner.
#[derive(
    InputObject, SimpleObject, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize,
)]
#[graphql(input_name = "AbTestInput")]
#[serde(rename_all = "camelCase")]
pub struct AbTest {
    /// Share of the recipients in the test (0.05–0.5).
    pub test_fraction: f64,
    /// What decides the winner.
    pub metric: AbMetric,
    /// Minutes to wait after the test sends before deciding (0–10080).
    pub wait_minutes: i32,
}

/// One variant's result in the A/B test.
#[derive(SimpleObject, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbVariantRate {
    /// Variant name.
    pub variant_id: String,
    /// Test messages sent.
    pub sent: i64,
    /// Test recipients who opened.
    pub opens: i64,
    /// Test recipients who clicked.
    pub clicks: i64,
    /// The metric's value (0 when nothing was sent).
    pub rate: f64,
}

/// The A/B winner, once chosen.
#[derive(SimpleObject, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbWinner {
    /// The winning variant's name.
    pub variant_id: String,
    /// The metric that decided.
    pub metric: AbMetric,
    /// Every variant's result, in the campaign's variant order.
    pub rates: Vec<AbVariantRate>,
    /// When it was decided.
    pub decided_at: DateTime<Utc>,
}

/// Input of `createCampaign`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct CreateCampaignInput {
    /// Name (1–200 characters).
    pub name: String,
    /// The template to send.
    pub template_id: ID,
    /// From display name.
    pub from_name: String,
    /// From address.
    pub from_email: String,
    /// Reply-To address.
    pub reply_to: Option<String>,
    /// Messages per minute; null or 0 = as fast as the mail server takes them.
    pub send_rate_per_minute: Option<i32>,
    /// When to start (informational until `scheduleCampaign` or `launchCampaign`).
    pub schedule_at: Option<DateTime<Utc>>,
    /// A/B variants (none = everybody gets the template).
    pub variants: Option<Vec<CampaignVariant>>,
    /// Pick a winner among the variants on a test fraction first (needs 2+ variants).
    pub ab_test: Option<AbTest>,
}

/// Input of `updateCampaign`: only the fields present change.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateCampaignInput {
    /// Name.
    pub name: Option<String>,
    /// Template.
    pub template_id: Option<ID>,
    /// From display name.
    pub from_name: Option<String>,
    /// From address.
    pub from_email: Option<String>,
    /// Reply-To (`null` clears it).
    pub reply_to: MaybeUndefined<String>,
    /// Messages per minute (`null` = unlimited).
    pub send_rate_per_minute: MaybeUndefined<i32>,
    /// Start time (`null` clears it).
    pub schedule_at: MaybeUndefined<DateTime<Utc>>,
    /// A/B variants (replaces them; `[]` removes them).
    pub variants: Option<Vec<CampaignVariant>>,
    /// A/B winner selection (`null` removes it).
    pub ab_test: MaybeUndefined<AbTest>,
}

/// Filters of `campaigns`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct CampaignFilter {
    /// Any of these statuses.
    pub status: Option<Vec<CampaignStatus>>,
    /// Only campaigns sending this template.
    pub template_id: Option<ID>,
    /// Name contains (case-insensitive).
    pub search: Option<String>,
}

/// Who to add to a campaign: exactly one of the three.
#[derive(InputObject, Debug, Clone, Default)]
pub struct RecipientSourceInput {
    /// These leads (at most 10,000 per call).
    pub lead_ids: Option<Vec<ID>>,
    /// Every lead matching this filter.
    pub filter: Option<LeadFilter>,
    /// Every lead of this saved audience.
    pub audience_id: Option<ID>,
}

/// Result of `addCampaignRecipients`.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct AddRecipientsPayload {
    /// Recipients added.
    pub added: i64,
    /// Leads already in the campaign.
    pub already_present: i64,
    /// Leads whose address is on the suppression list (unsubscribed, hard-bounced).
    pub suppressed: i64,
    /// Leads without an email address.
    pub without_email: i64,
    /// Recipients in the campaign now.
    pub total: i64,
}

/// Per-item outcome of `duplicateTemplates` / `deleteTemplates`.
#[derive(SimpleObject)]
pub struct TemplateResult {
    /// The id asked for.
    pub id: ID,
    /// The new or deleted template's id, on success.
    pub template_id: Option<ID>,
    /// The error, on failure.
    pub error: Option<ItemError>,
}

/// An email rendered for one recipient (defined by approvals, whose preview shows one).
pub use crate::domains::approvals::types::RenderedEmail;

/// Result of `validateTemplate`.
#[derive(SimpleObject, Debug, Clone)]
pub struct TemplateValidation {
    /// No issues.
    pub valid: bool,
    /// Syntax errors and unknown variables, with line and column.
    pub issues: Vec<super::render::TemplateIssue>,
    /// Every variable the template uses (`lead.firstName`, …).
    pub variables: Vec<String>,
}

/// Rates are fractions 0–1 (null when the denominator is 0).
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct CampaignStats {
    /// Recipients.
    pub total: i64,
    /// Not sent yet.
    pub pending: i64,
    /// Accepted by the mail server.
    pub sent: i64,
    /// Sent and not bounced.
    pub delivered: i64,
    /// Refused for good or not renderable.
    pub failed: i64,
    /// Skipped because suppressed.
    pub suppressed: i64,
    /// Delivery uncertain (worker stopped mid-transaction; never resent).
    pub uncertain: i64,
    /// Recipients who opened.
    pub unique_opens: i64,
    /// Opens counted (pixel loads).
    pub total_opens: i64,
    /// Recipients who clicked.
    pub unique_clicks: i64,
    /// Clicks counted.
    pub total_clicks: i64,
    /// Recipients who replied.
    pub replies: i64,
    /// Hard bounces.
    pub hard_bounces: i64,
    /// Soft (temporary) bounces.
    pub soft_bounces: i64,
    /// Unsubscribes.
    pub unsubscribes: i64,
    /// uniqueOpens / delivered.
    pub open_rate: Option<f64>,
    /// uniqueClicks / delivered.
    pub click_rate: Option<f64>,
    /// uniqueClicks / uniqueOpens.
    pub click_to_open_rate: Option<f64>,
    /// replies / delivered.
    pub reply_rate: Option<f64>,
    /// (hard + soft bounces) / sent.
    pub bounce_rate: Option<f64>,
    /// unsubscribes / delivered.
    pub unsubscribe_rate: Option<f64>,
    /// The same numbers per A/B variant.
    pub variants: Vec<VariantStats>,
}

/// Statistics of one A/B variant.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct VariantStats {
    /// Variant name.
    pub name: String,
    /// Recipients.
    pub total: i64,
    /// Sent.
    pub sent: i64,
    /// Recipients who opened.
    pub unique_opens: i64,
    /// Recipients who clicked.
    pub unique_clicks: i64,
    /// Replies.
    pub replies: i64,
    /// uniqueOpens / sent.
    pub open_rate: Option<f64>,
    /// uniqueClicks / sent.
    pub click_rate: Option<f64>,
}

/// One bucket of `campaignTimeline`.
#[derive(SimpleObject, Debug, Clone, Default, PartialEq)]
pub struct CampaignTimelinePoint {
    /// Start of the bucket (UTC).
    pub at: DateTime<Utc>,
    /// Messages sent.
    pub sent: i64,
    /// Opens.
    pub opens: i64,
    /// Clicks.
    pub clicks: i64,
    /// Replies.
    pub replies: i64,
    /// Bounces.
    pub bounces: i64,
    /// Unsubscribes.
    pub unsubscribes: i64,
}

/// Result of `templatePerformance`: the template's results across its campaigns.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct TemplatePerformance {
    /// Campaigns that used it.
    pub campaigns: i64,
    /// Messages sent.
    pub sent: i64,
    /// Recipients who opened.
    pub unique_opens: i64,
    /// Recipients who clicked.
    pub unique_clicks: i64,
    /// Replies.
    pub replies: i64,
    /// Bounces.
    pub bounces: i64,
    /// uniqueOpens / sent.
    pub open_rate: Option<f64>,
    /// uniqueClicks / sent.
    pub click_rate: Option<f64>,
    /// replies / sent.
    pub reply_rate: Option<f64>,
}

/// Counters of a campaign (also carried by live `campaignEvents`).
#[derive(SimpleObject, Debug, Clone, Default, PartialEq)]
pub struct CampaignCounters {
    /// Recipients.
    pub total: i64,
    /// Not sent yet.
    pub pending: i64,
    /// Accepted by the mail server.
    pub sent: i64,
    /// Failed, suppressed or uncertain.
    pub failed: i64,
    /// Opened.
    pub opened: i64,
    /// Clicked.
    pub clicked: i64,
    /// Replied.
    pub replied: i64,
    /// Bounced.
    pub bounced: i64,
    /// Unsubscribed.
    pub unsubscribed: i64,
}

impl From<crate::events::CampaignCounters> for CampaignCounters {
    fn from(c: crate::events::CampaignCounters) -> Self {
        CampaignCounters {
            total: c.total,
            pending: c.pending,
            sent: c.sent,
            failed: c.failed,
            opened: c.opened,
            clicked: c.clicked,
            replied: c.replied,
            bounced: c.bounced,
            unsubscribed: c.unsubscribed,
        }
    }
}

/// Anything that is a JSON object given by a client.
pub type JsonObject = Json<serde_json::Value>;

/// Fraction helper for rates.
pub fn rate(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}
