//! The approval SLA: pending requests past `due_at` become urgent (conditional on
//! `urgent = false`; an ESCALATE entry and `approval.pending` with reason `escalated`, which
//! notifies the assignees, MANAGER+ members sharing a team with one of them and the
//! organization's ADMIN/OWNERs); pending requests older than `APPROVAL_EXPIRE_HOURS` (168) expire
//! (EXPIRE, `approval.resolved`, a gated campaign back to DRAFT). [`spawn`] runs [`sweep`] every
//! `APPROVAL_SLA_SWEEP_SECS` (60) next to the workers (only where `WORKER_ENABLED`); every change
//! is conditional, so several instances never double-escalate. Tests call [`sweep`] with a
//! future `now`.

pub mod service;

pub use service::{spawn, sweep, SweepReport};
