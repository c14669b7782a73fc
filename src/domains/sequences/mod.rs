//! Sequences: multi-step follow-ups. A **sequence** is an ordered list of steps (send template
//! T, wait N calendar days or N business days of the organization's time zone after the
//! previous step, optionally only if the previous message was not opened); leads are
//! **enrolled** by ids, a lead filter or a saved audience (at most 1,000 per call, once per
//! lead) and each enrollment advances through the steps on the durable job queue until it
//! completes or stops.
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
//! - **Tracking** ([`service::track`]): a step's mail carries pixel, click and unsubscribe
//!   tokens signed for its send row; outreach's endpoints hand ids that name no campaign
//!   recipient to the registered `TrackedMessages` ([`SequenceTracking`]), so outreach never
//!   names sequences. Opens and clicks are stored on the row (`onlyIfNotOpened` reads them); an
//!   unsubscribe suppresses the address and stops the lead's enrollments.
//! - **Stop rules** ([`service::enroll`]): a reply (an inbound message in the lead's
//!   conversation, or outreach's `reply` activity), an unsubscribe or complaint, a bounce, the
//!   lead's status moving to CONVERTED, LOST or UNQUALIFIED (as events, through the
//!   event-handler registry: [`SequenceStops`]), a suppressed address at send time, a failed
//!   send, and `unenrollFromSequence`. The reason is stored.
//! - **Launch approval** ([`service::gate`]): `enrollInSequence` and `resumeSequence` ask
//!   approvals' gate (SEQUENCE rules; facts `recipientCount`, `activeEnrollments`, `stepCount`,
//!   `aiGenerated`, `sequenceName`); a matching rule holds the sequence in PENDING_APPROVAL
//!   (nothing is sent) until the request is decided through the registered `SequenceSubject`:
//!   approved → ACTIVE and the waiting steps are queued again; rejected → PAUSED.
//! - **Stats** ([`service::stats`]): per step sent, opened, clicked, replied, stopped by
//!   reason.
//! - **Events**: `sequence.changed` (created, updated, paused, resumed, deleted,
//!   pending_approval, approved, returned), `sequence.enrollment_stopped` and
//!   `sequence.activity` (sent, the first open, click, reply, unsubscribe, complaint, bounce:
//!   what `campaign.activity` is for campaigns), visible with `ReadSequences`, so subscriptions
//!   and outgoing webhooks see them.
//! - Tables `sequences`, `sequence_enrollments`, `sequence_sends`. Roles: `ReadSequences`
//!   (VIEWER), `WriteSequences` (MEMBER: create, change, pause, enroll), `DeleteSequences`
//!   (MANAGER). Another organization's sequence or lead reads as missing.
//!
//! Place in the domain order: right above `conversations` (it reads leads, identity's time
//! zone, outreach's templates, delivery and tracking registry, approvals' gate, and reacts to
//! conversations' and outreach's events without importing them); nothing imports it.

mod resolver;
pub mod service;
pub mod types;

pub use resolver::{SequenceMutation, SequenceQuery};
pub use service::{
    enroll::SequenceStops,
    run::{run_due, run_step, RunSequenceStep, StepOutcome, KIND as STEP_KIND},
    track::SequenceTracking,
};

/// Registers the stop rules in the event-handler registry, sequence mail in outreach's
/// tracking endpoints and the SEQUENCE subject with approvals; called once per start-up.
pub fn register() {
    crate::events::handlers::register("sequences.stops", SequenceStops);
    crate::domains::outreach::tracking::register_tracked_messages("sequences", SequenceTracking);
    service::gate::register();
}
