//! The dashboard and the analytics series: ranges, KPIs, lead and email buckets.

use async_graphql::{Enum, InputObject, SimpleObject, ID};
use chrono::{DateTime, Utc};

/// A time range `[from, to)`: `from` before `to`, at most 2 years.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct DateRangeInput {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
}

/// A rolling range ending now.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RangePreset {
    /// The last 7 days.
    Last7Days,
    /// The last 30 days.
    Last30Days,
    /// The last 90 days.
    Last90Days,
    /// The last 365 days.
    Last365Days,
}

/// A count in the range and in the period of the same length before it.
#[derive(SimpleObject, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Kpi {
    /// In the range (or, for a state such as a backlog, at its end).
    pub current: i64,
    /// In the previous period (or at the range's start).
    pub previous: i64,
}

/// A rate (0–1) in the range and in the previous period; null when nothing was sent.
#[derive(SimpleObject, Debug, Clone, Copy, PartialEq, Default)]
pub struct RateKpi {
    /// In the range.
    pub current: Option<f64>,
    /// In the previous period.
    pub previous: Option<f64>,
}

/// An amount of one currency, in minor units, in the range and the previous period.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct MoneyKpi {
    /// ISO 4217 code.
    pub currency: String,
    /// In the range (or at its end).
    pub current: i64,
    /// In the previous period (or at the range's start).
    pub previous: i64,
}

/// The organization's KPIs over a range, each with the previous period's value.
#[derive(SimpleObject, Debug, Clone)]
pub struct Dashboard {
    /// Range start.
    pub from: DateTime<Utc>,
    /// Range end (exclusive).
    pub to: DateTime<Utc>,
    /// Start of the previous period (which ends at `from`).
    pub previous_from: DateTime<Utc>,
    /// Leads created.
    pub new_leads: Kpi,
    /// Leads created whose status is now QUALIFIED or CONVERTED.
    pub qualified_leads: Kpi,
    /// Campaign emails sent.
    pub emails_sent: Kpi,
    /// Of the emails sent, the share opened (over delivered: sent minus hard bounces).
    pub open_rate: RateKpi,
    /// Of the emails sent, the share replied to (over delivered).
    pub reply_rate: RateKpi,
    /// Deals created.
    pub deals_created: Kpi,
    /// Value of deals won, per currency.
    pub revenue_won: Vec<MoneyKpi>,
    /// Value of open deals at the end of the range (previous: at its start), per currency.
    pub pipeline_value: Vec<MoneyKpi>,
    /// Approval requests pending at the end of the range (previous: at its start).
    pub approval_backlog: Kpi,
    /// Scrape jobs queued or running at the end of the range (previous: at its start).
    pub active_scrapes: Kpi,
}

/// How `leadAnalytics` groups leads.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadGroupBy {
    /// By source.
    Source,
    /// By status.
    Status,
    /// By owner (key = member id, `""` = unassigned).
    Owner,
    /// By tag (a lead counts once per tag; untagged leads are in no bucket).
    Tag,
    /// Per day of creation in the organization's time zone (zero-filled).
    Day,
    /// Per ISO week (from Monday) in the organization's time zone (zero-filled).
    Week,
    /// Per month in the organization's time zone (zero-filled).
    Month,
}

/// One group of leads.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct LeadBucket {
    /// Source, status, owner id, tag, or the bucket's first local day `YYYY-MM-DD`.
    pub key: String,
    /// Leads.
    pub count: i64,
    /// Of those, QUALIFIED or CONVERTED now.
    pub qualified: i64,
}

/// Leads created in a range (or ever), grouped.
#[derive(SimpleObject, Debug, Clone)]
pub struct LeadAnalytics {
    /// The grouping.
    pub group_by: LeadGroupBy,
    /// Range start (null: all time).
    pub from: Option<DateTime<Utc>>,
    /// Range end (null: all time).
    pub to: Option<DateTime<Utc>>,
    /// The time zone of the day, week and month buckets.
    pub timezone: String,
    /// Leads in the range.
    pub total: i64,
    /// The groups: by key, or oldest first for time buckets.
    pub buckets: Vec<LeadBucket>,
}

/// How `emailPerformance` groups campaign emails.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailGroupBy {
    /// Per day sent, in the organization's time zone (zero-filled).
    Day,
    /// Per campaign.
    Campaign,
    /// Per campaign template.
    Template,
    /// Per recipient domain.
    Domain,
}

/// Campaign emails of one group, sent in the range.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct EmailBucket {
    /// Day (`YYYY-MM-DD`), campaign id, template id (`""`: none) or recipient domain.
    pub key: String,
    /// The campaign's or template's name.
    pub label: Option<String>,
    /// The campaign or template, when grouped by one.
    pub id: Option<ID>,
    /// Sent.
    pub sent: i64,
    /// Sent and not hard-bounced.
    pub delivered: i64,
    /// Opened at least once.
    pub opened: i64,
    /// Clicked at least once.
    pub clicked: i64,
    /// Replied.
    pub replied: i64,
    /// Bounced (hard or soft).
    pub bounced: i64,
    /// Unsubscribed.
    pub unsubscribed: i64,
    /// opened / delivered (null when nothing was delivered).
    pub open_rate: Option<f64>,
    /// clicked / delivered.
    pub click_rate: Option<f64>,
    /// replied / delivered.
    pub reply_rate: Option<f64>,
    /// bounced / sent.
    pub bounce_rate: Option<f64>,
    /// unsubscribed / delivered.
    pub unsubscribe_rate: Option<f64>,
}

/// Campaign emails sent in a range, grouped, with rates.
#[derive(SimpleObject, Debug, Clone)]
pub struct EmailPerformance {
    /// The grouping.
    pub group_by: EmailGroupBy,
    /// Range start.
    pub from: DateTime<Utc>,
    /// Range end (exclusive).
    pub to: DateTime<Utc>,
    /// The time zone of the day buckets.
    pub timezone: String,
    /// The groups.
    pub buckets: Vec<EmailBucket>,
}
