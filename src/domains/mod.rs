//! Bounded contexts, one folder each (types, resolver, service, loader).

pub mod ai;
pub mod approvals;
pub mod audit;
pub mod enrichment;
pub mod identity;
pub mod jobs;
pub mod leads;
pub mod notifications;
pub mod outreach;
pub mod realtime;
pub mod scraping;
