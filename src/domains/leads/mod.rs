//! Leads: the core record — filters, keyset pages, dedupe, scoring, notes, timeline, provenance.

pub mod actions;
pub mod bulk;
pub mod compiled;
pub mod export;
pub mod import;
pub mod loader;
pub mod merge;
pub mod object;
pub mod query;
pub mod resolver;
pub mod scoring;
pub mod service;
pub mod stats;
pub mod types;
pub mod validate;

pub use resolver::{LeadMutation, LeadQuery};
