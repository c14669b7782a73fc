//! GraphQL types of insight: deals and pipelines ([`deals`]), the dashboard and the analytics
//! series ([`analytics`]), the funnel, attribution and lifetime value ([`revenue`]), tracked
//! events and the activity feed ([`events`]), campaign and revenue analytics ([`series`]),
//! reports and their runs ([`reports`]).

pub mod analytics;
pub mod deals;
pub mod events;
pub mod reports;
pub mod revenue;
pub mod series;

pub use analytics::{
    Dashboard, DateRangeInput, EmailBucket, EmailGroupBy, EmailPerformance, Kpi, LeadAnalytics,
    LeadBucket, LeadGroupBy, MoneyKpi, RangePreset, RateKpi,
};
pub use deals::{
    CreateDealInput, CreatePipelineInput, Deal, DealFilter, DealStage, DealStatus, Pipeline,
    StageInput, UpdateDealInput, UpdatePipelineInput,
};
pub use events::{
    ActivityItem, ActivityType, AnalyticsEvent, AnalyticsEventFilter, TrackEventInput,
    TrackEventsResult,
};
pub use reports::{
    CreateReportInput, Report, ReportFormat, ReportKind, ReportRun, ReportRunStatus,
};
pub use revenue::{
    Attribution, AttributionGroupBy, AttributionModel, AttributionRow, ConversionFunnel, CostKind,
    FunnelStage, FunnelStep, LocalDaysInput, Ltv, LtvGroupBy, LtvRow, MarketingCost, Roi, RoiRow,
    SetCostInput,
};
pub use series::{
    CampaignAnalytics, RevenueAnalytics, RevenueBucket, RevenueGroupBy, RevenueTotal,
};
