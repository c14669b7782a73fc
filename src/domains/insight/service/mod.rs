//! Insight's services: deals and pipelines (writes with events), the dashboard and the
//! analytics series, the funnel, attribution and lifetime value (read-only aggregates in SQL),
//! the live dashboard's coalescers, tracked analytics events, the activity feed, and campaign
//! and revenue analytics, and reports (definitions, runs, the generating job, the formats).

pub mod activity;
pub mod analytics;
pub mod campaigns;
pub mod costs;
pub mod dashboard;
pub mod deals;
pub mod events;
pub mod funnel;
pub mod live;
pub mod money;
pub mod pipelines;
pub mod range;
pub mod report_data;
pub mod report_job;
pub mod report_render;
pub mod reports;
pub mod revenue;
pub mod sales;
