//! One campaign's analytics (totals, local days, A/B variants) and revenue analytics (won
//! deals grouped by time, source, campaign or owner, per currency).

use async_graphql::{Enum, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::EmailBucket;

/// One campaign's emails sent in a range: the totals, per local day of sending and per A/B
/// variant. Opens, clicks, replies, bounces and unsubscribes count the recipients sent in the
/// range (whenever they opened), so every rate has its own sends as denominator.
#[derive(SimpleObject, Debug, Clone)]
pub struct CampaignAnalytics {
    /// The campaign.
    pub campaign_id: ID,
    /// Its name.
    pub name: String,
    /// Range start.
    pub from: DateTime<Utc>,
    /// Range end (exclusive).
    pub to: DateTime<Utc>,
    /// The time zone of the day buckets (the organization's).
    pub timezone: String,
    /// Every recipient sent in the range (key `""`).
    pub total: EmailBucket,
    /// Per local day of sending (`YYYY-MM-DD`), zero-filled, oldest first.
    pub days: Vec<EmailBucket>,
    /// Per A/B variant (key = variant name), every variant of the campaign listed (zero when
    /// none of its recipients was sent in the range); empty without variants.
    pub variants: Vec<EmailBucket>,
}

/// How `revenueAnalytics` groups won deals.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevenueGroupBy {
    /// Per local day of closing (zero-filled).
    Day,
    /// Per ISO week (from Monday) of closing (zero-filled).
    Week,
    /// Per month of closing (zero-filled).
    Month,
    /// Per source of the deal's lead (`""`: no lead).
    Source,
    /// Per campaign of the last send to the deal's lead at or before the close (the
    /// LAST_TOUCH of `attribution`; `""`: no campaign touched it).
    Campaign,
    /// Per deal owner (key = user id, `""` = none).
    Owner,
}

/// Won deals of one group and one currency.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct RevenueBucket {
    /// Local date starting the bucket (`YYYY-MM-DD`), source, campaign id or owner id.
    pub key: String,
    /// The campaign's or owner's name.
    pub label: Option<String>,
    /// The campaign or owner, when grouped by one.
    pub id: Option<ID>,
    /// ISO 4217 code.
    pub currency: String,
    /// Won deals.
    pub deals: i64,
    /// Their value in minor units.
    pub revenue_minor: i64,
    /// revenueMinor / deals, rounded down (null without deals).
    pub average_deal_minor: Option<i64>,
}

/// The total of one currency.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct RevenueTotal {
    /// ISO 4217 code.
    pub currency: String,
    /// Won deals.
    pub deals: i64,
    /// Their value in minor units.
    pub revenue_minor: i64,
}

/// Deals won (closed WON) in a range, grouped, per currency (amounts never mix currencies).
#[derive(SimpleObject, Debug, Clone)]
pub struct RevenueAnalytics {
    /// The grouping.
    pub group_by: RevenueGroupBy,
    /// Range start.
    pub from: DateTime<Utc>,
    /// Range end (exclusive).
    pub to: DateTime<Utc>,
    /// The time zone of the day, week and month buckets.
    pub timezone: String,
    /// Per currency, by code.
    pub totals: Vec<RevenueTotal>,
    /// By currency, then key (time buckets oldest first, zero-filled for each currency of the
    /// totals).
    pub buckets: Vec<RevenueBucket>,
}
