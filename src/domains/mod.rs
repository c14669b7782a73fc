//! Bounded contexts, one folder each (types, resolver, service, loader).

pub mod ai;
pub mod approvals;
pub mod audit;
pub mod conversations;
pub mod enrichment;
pub mod identity;
pub mod insight;
pub mod jobs;
pub mod leads;
pub mod notifications;
pub mod outreach;
pub mod places;
pub mod realtime;
pub mod scraping;
pub mod sequences;
pub mod webhooks;
