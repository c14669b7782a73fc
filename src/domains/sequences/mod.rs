//! Sequences: multi-step follow-ups. A **sequence** is an ordered list of steps (send template
//! T, wait N days after the previous step, optionally only if the previous message was not
//! opened); leads are **enrolled** by id and each enrollment advances through the steps on the
//! durable job queue until it completes or stops.
//!
//! - **CRUD** ([`service`]): `sequences`, `sequence(id)`, `createSequence`, `updateSequence`
//!   (steps an enrollment has reached are frozen: CONFLICT), `deleteSequence`, `pauseSequence`,
//!   `resumeSequence`. Templates must be the organization's (read through outreach's template
//!   scope).
//! - **Sending** ([`service::run`]): the `sequence.step` job runs one step of one enrollment at
//!   its stored due time (`next_step_at`); the claim (a `sequence_sends` row, unique per
//!   enrollment and step) is committed before the message leaves through outreach's delivery
//!   path (`outreach::delivery::send_single`: suppression list, rendering, unsubscribe headers,
//!   the organization's SMTP server or the mailer's pool), so a retry never sends a step twice;
//!   a send cut off by a crash is UNCERTAIN, never resent. [`run_step`] and [`run_due`] take
//!   `now`, so tests move time without sleeping.
//! - **Stop rules** ([`service::enroll`]): a reply (an inbound message in the lead's
//!   conversation, or outreach's `reply` activity), an unsubscribe or complaint, a bounce (as
//!   events, through the event-handler registry: [`SequenceStops`]), a suppressed address at
//!   send time, a failed send, and `unenrollFromSequence`. The reason is stored.
//! - **Stats** ([`service::stats`]): per step sent, opened, replied, stopped by reason.
//! - **Events**: `sequence.changed` (created, updated, paused, resumed, deleted) and
//!   `sequence.enrollment_stopped`, visible with `ReadSequences`.
//! - Tables `sequences`, `sequence_enrollments`, `sequence_sends`. Roles: `ReadSequences`
//!   (VIEWER), `WriteSequences` (MEMBER: create, change, pause, enroll), `DeleteSequences`
//!   (MANAGER). Another organization's sequence or lead reads as missing.
//!
//! Place in the domain order: right above `conversations` (it reads leads and outreach's
//! templates and delivery, and reacts to conversations' and outreach's events without
//! importing them); nothing imports it.

mod resolver;
pub mod service;
pub mod types;

pub use resolver::{SequenceMutation, SequenceQuery};
pub use service::{
    enroll::SequenceStops,
    run::{run_due, run_step, RunSequenceStep, StepOutcome, KIND as STEP_KIND},
};

/// Registers the stop rules in the event-handler registry; called once per start-up.
pub fn register() {
    crate::events::handlers::register("sequences.stops", SequenceStops);
}
