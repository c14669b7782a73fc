//! The audit log: one row per mutation with actor, action, resource, origin and changes.

pub mod resolver;
pub mod service;
pub mod trail;

pub use resolver::AuditQuery;
pub use trail::{note, note_ref, AuditExtension, AuditNote, AuditTrail};
