//! Bounded contexts, one folder each (types, resolver, service, loader).

pub mod identity;
pub mod jobs;
pub mod realtime;
