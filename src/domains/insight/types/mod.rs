//! GraphQL types of insight: deals and pipelines ([`deals`]), the dashboard and the analytics
//! series ([`analytics`]).

pub mod analytics;
pub mod deals;

pub use analytics::{
    Dashboard, DateRangeInput, EmailBucket, EmailGroupBy, EmailPerformance, Kpi, LeadAnalytics,
    LeadBucket, LeadGroupBy, MoneyKpi, RangePreset, RateKpi,
};
pub use deals::{
    CreateDealInput, CreatePipelineInput, Deal, DealFilter, DealStage, DealStatus, Pipeline,
    StageInput, UpdateDealInput, UpdatePipelineInput,
};
