//! Campaign inputs, payloads and statistics: create/update inputs and filters, A/B variants and
//! tests, recipient sources, counters, statistics, the timeline and a template's use.

use async_graphql::{Enum, InputObject, MaybeUndefined, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::{Campaign, CampaignStatus};
use crate::domains::leads::types::LeadFilter;

/// Time bucket of `campaignTimeline`.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimelineBucket {
    /// One point per hour.
    #[default]
    Hour,
    /// One point per day.
    Day,
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
    /// Send only to recipients whose address was validated (`validateContact`); the others are
    /// SUPPRESSED with the reason, never validated on the fly (default false).
    pub require_validated_recipients: Option<bool>,
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
    /// Send only to validated recipients.
    pub require_validated_recipients: Option<bool>,
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

/// Counters of a campaign: the payload of `campaign.status` is the GraphQL object.
pub use crate::events::CampaignCounters;

/// Where a template is used.
#[derive(SimpleObject)]
pub struct TemplateUsage {
    /// Campaigns using it.
    pub campaign_count: i64,
    /// Those campaigns, newest first (at most 200).
    pub campaigns: Vec<Campaign>,
    /// When the newest of them was created.
    pub last_used_at: Option<DateTime<Utc>>,
}
