//! GraphQL types of insight: deals and pipelines ([`deals`]), the dashboard and the analytics
//! series ([`analytics`]), the funnel, attribution and lifetime value ([`revenue`]).

pub mod analytics;
pub mod deals;
pub mod revenue;

pub use analytics::{
    Dashboard, DateRangeInput, EmailBucket, EmailGroupBy, EmailPerformance, Kpi, LeadAnalytics,
    LeadBucket, LeadGroupBy, MoneyKpi, RangePreset, RateKpi,
};
pub use deals::{
    CreateDealInput, CreatePipelineInput, Deal, DealFilter, DealStage, DealStatus, Pipeline,
    StageInput, UpdateDealInput, UpdatePipelineInput,
};
pub use revenue::{
    Attribution, AttributionGroupBy, AttributionModel, AttributionRow, ConversionFunnel, CostKind,
    FunnelStage, FunnelStep, LocalDaysInput, Ltv, LtvGroupBy, LtvRow, MarketingCost, Roi, RoiRow,
    SetCostInput,
};
