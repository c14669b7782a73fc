//! Insight's services: deals and pipelines (writes with events), the dashboard and the
//! analytics series (read-only aggregates in SQL).

pub mod analytics;
pub mod dashboard;
pub mod deals;
pub mod money;
pub mod pipelines;
pub mod range;
