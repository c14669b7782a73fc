//! The audit log: one row per mutation with actor, action, resource, origin and changes.

pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::AuditQuery;
pub use service::trail::{diff, note, note_ref, AuditExtension, AuditNote, AuditTrail};
