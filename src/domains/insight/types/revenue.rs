//! The conversion funnel, attribution of won deals and lifetime value.

use async_graphql::{Enum, InputObject, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};

/// Local calendar days `from..=to` in the organization's time zone (at most 2 years).
#[derive(InputObject, Debug, Clone, Copy)]
pub struct LocalDaysInput {
    /// First day (`YYYY-MM-DD`), from its local midnight.
    pub from: NaiveDate,
    /// Last day (inclusive), up to the next local midnight.
    pub to: NaiveDate,
}

/// A stage of the conversion funnel; a lead counts in every stage up to the furthest it
/// reached.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunnelStage {
    /// Created in the period.
    Created,
    /// Contacted: its status moved past NEW, it has a last-contacted time, or a campaign sent to
    /// it.
    Contacted,
    /// Replied to a campaign email.
    Replied,
    /// QUALIFIED or CONVERTED, or has a deal.
    Qualified,
    /// Has a deal.
    Deal,
    /// Has a won deal.
    Won,
}

/// One stage's count and rates.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct FunnelStep {
    /// The stage.
    pub stage: FunnelStage,
    /// Leads of the cohort that reached it (or a later stage).
    pub count: i64,
    /// count / the previous stage's count (null for the first stage or when that is 0).
    pub conversion_rate: Option<f64>,
    /// count / leads created (null when none were).
    pub overall_rate: Option<f64>,
    /// Median seconds from reaching the previous stage to reaching this one, over the cohort's
    /// leads for which both times are recorded and in that order (null for CREATED, or when
    /// no lead has both). Times: created; the first send, contact or status change; the first
    /// reply; the first change to QUALIFIED or CONVERTED; the first deal; the first won close.
    pub median_seconds_from_previous: Option<f64>,
}

/// The funnel of the leads created in a period.
#[derive(SimpleObject, Debug, Clone)]
pub struct ConversionFunnel {
    /// Period start.
    pub from: DateTime<Utc>,
    /// Period end (exclusive).
    pub to: DateTime<Utc>,
    /// The organization's time zone (local `days` start at its midnight).
    pub timezone: String,
    /// Created → contacted → replied → qualified → deal → won.
    pub stages: Vec<FunnelStep>,
}

/// How a won deal's value is shared among the campaigns that emailed its lead before it closed.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributionModel {
    /// All of it to the first campaign that sent to the lead.
    FirstTouch,
    /// All of it to the last campaign that sent before the deal closed.
    LastTouch,
    /// Equal shares to every send (minor units that do not divide go to the earliest sends).
    Linear,
}

/// What attribution and ROI credit.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributionGroupBy {
    /// The campaigns that emailed the lead (key `""`: won deals no campaign touched).
    Campaign,
    /// The lead's source (one touch: the source that brought the lead in).
    Source,
}

/// Won deals credited to one campaign or source, in one currency.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct AttributionRow {
    /// Campaign id (`""`: no campaign touched the deal's lead) or source.
    pub key: String,
    /// The campaign, when grouped by campaign.
    pub id: Option<ID>,
    /// The campaign's name.
    pub label: Option<String>,
    /// ISO 4217 code of the deals' values.
    pub currency: String,
    /// Won deals credited (fractions under LINEAR).
    pub deals: f64,
    /// Value credited, in minor units.
    pub revenue_minor: i64,
}

/// Won deals closed in a period, credited by a model.
#[derive(SimpleObject, Debug, Clone)]
pub struct Attribution {
    /// Period start.
    pub from: DateTime<Utc>,
    /// Period end (exclusive).
    pub to: DateTime<Utc>,
    /// The model.
    pub model: AttributionModel,
    /// The grouping.
    pub group_by: AttributionGroupBy,
    /// By key, then currency.
    pub rows: Vec<AttributionRow>,
}

/// How `ltv` groups customers.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LtvGroupBy {
    /// The lead's source.
    Source,
    /// The lead's industry (`""`: unknown).
    Industry,
}

/// Lifetime value of the customers (leads with a won deal) of one group, in one currency.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct LtvRow {
    /// Source or industry.
    pub key: String,
    /// ISO 4217 code.
    pub currency: String,
    /// Leads with at least one won deal in this currency.
    pub customers: i64,
    /// Won deals.
    pub deals: i64,
    /// Their value, in minor units.
    pub revenue_minor: i64,
    /// revenue / customers, rounded down to a minor unit.
    pub ltv_minor: i64,
}

/// Lifetime value per group, over every won deal.
#[derive(SimpleObject, Debug, Clone)]
pub struct Ltv {
    /// The grouping.
    pub group_by: LtvGroupBy,
    /// By key, then currency.
    pub rows: Vec<LtvRow>,
}

/// What a marketing cost is for.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostKind {
    /// A campaign.
    Campaign,
    /// A lead source.
    Source,
}
crate::wire_enum!(CostKind { Campaign => "CAMPAIGN", Source => "SOURCE" });

/// `setCost`: exactly one of `campaignId` and `source`.
#[derive(InputObject, Debug, Clone)]
pub struct SetCostInput {
    /// A campaign of the organization.
    pub campaign_id: Option<ID>,
    /// A lead source (e.g. `GOOGLE_MAPS`), 1–100 characters.
    pub source: Option<String>,
    /// The total spent, in minor units (at least 0).
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// Money spent on a campaign or a source.
#[derive(SimpleObject, Debug, Clone)]
pub struct MarketingCost {
    /// Id.
    pub id: ID,
    /// Campaign or source.
    pub kind: CostKind,
    /// The campaign id or the source.
    pub subject: String,
    /// The total spent, in minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Last set.
    pub updated_at: DateTime<Utc>,
}

impl MarketingCost {
    /// The GraphQL object of a row.
    pub fn from_model(m: entity::marketing_cost::Model, kind: CostKind) -> Self {
        MarketingCost {
            id: ID(m.id.to_string()),
            kind,
            subject: m.subject,
            amount_minor: m.amount_minor,
            currency: m.currency,
            updated_at: m.updated_at,
        }
    }
}

/// Return on one campaign or source, in one currency.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct RoiRow {
    /// Campaign id (`""`: won deals no campaign touched) or source.
    pub key: String,
    /// The campaign, when grouped by campaign.
    pub id: Option<ID>,
    /// The campaign's name.
    pub label: Option<String>,
    /// ISO 4217 code.
    pub currency: String,
    /// Won deals credited (attribution).
    pub deals: f64,
    /// Value credited, in minor units.
    pub revenue_minor: i64,
    /// The cost set for it in this currency (null: none set).
    pub cost_minor: Option<i64>,
    /// (revenue − cost) / cost (null without a cost above 0).
    pub roi: Option<f64>,
}

/// Return on investment per campaign or source over a period.
#[derive(SimpleObject, Debug, Clone)]
pub struct Roi {
    /// Period start (of the deals' close).
    pub from: DateTime<Utc>,
    /// Period end (exclusive).
    pub to: DateTime<Utc>,
    /// How revenue was credited.
    pub model: AttributionModel,
    /// The grouping.
    pub group_by: AttributionGroupBy,
    /// By key, then currency.
    pub rows: Vec<RoiRow>,
}
