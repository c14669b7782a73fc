//! Approvals: rules with typed conditions ([`condition`]), the gate other domains call before a
//! risky action ([`gate::approval_gate`]; campaign launches today), requests with N distinct
//! approvals, reject / request changes / delegate / withdraw, a history of every action, SLA
//! escalation and expiry ([`sla`]), statistics, live events and notifications ([`notify`]).

pub mod condition;
pub mod gate;
pub mod notify;
pub mod resolver;
pub mod rules;
pub mod service;
pub mod sla;
pub mod types;

pub use resolver::{ApprovalMutation, ApprovalQuery, ApprovalSubscription};
