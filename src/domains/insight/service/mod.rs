//! Insight's services: deals and pipelines (writes with events), the dashboard and the
//! analytics series, the funnel, attribution and lifetime value (read-only aggregates in SQL),
//! and the live dashboard's coalescers.

pub mod analytics;
pub mod costs;
pub mod dashboard;
pub mod deals;
pub mod funnel;
pub mod live;
pub mod money;
pub mod pipelines;
pub mod range;
pub mod revenue;
