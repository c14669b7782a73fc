//! Sequences' GraphQL types: the sequence and its steps, the inputs, enrollment results and
//! the per-step statistics; the status and stop-reason enums (stored as their GraphQL names).

use async_graphql::{Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::sequence;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Whether a sequence's enrollments advance.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceStatus {
    /// Steps are sent when due.
    Active,
    /// Nothing is sent; enrollments wait (and catch up on resume).
    Paused,
}
crate::wire_enum!(SequenceStatus { Active => "ACTIVE", Paused => "PAUSED" });

/// Where one lead is in a sequence.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentStatus {
    /// Waiting for its next step.
    Active,
    /// Every step was sent (or skipped).
    Completed,
    /// Left before its last step (see the stop reason).
    Stopped,
}
crate::wire_enum!(EnrollmentStatus { Active => "ACTIVE", Completed => "COMPLETED", Stopped => "STOPPED" });

/// Why an enrollment stopped.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The lead replied (an inbound message in its conversation, or a campaign reply).
    Replied,
    /// The lead unsubscribed (or complained).
    Unsubscribed,
    /// The address bounced.
    Bounced,
    /// The address is suppressed or known undeliverable.
    Suppressed,
    /// Removed by a member.
    Unenrolled,
    /// A step could not be sent (no address, template gone, rejected by the server).
    Failed,
}
crate::wire_enum!(StopReason { Replied => "REPLIED", Unsubscribed => "UNSUBSCRIBED", Bounced => "BOUNCED", Suppressed => "SUPPRESSED", Unenrolled => "UNENROLLED", Failed => "FAILED" });

/// What became of one step's send to one enrollment (not in the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Claimed; the SMTP transaction may be under way.
    Sending,
    /// Accepted by the server.
    Sent,
    /// Cut off by a crash mid-send: maybe delivered, never resent.
    Uncertain,
    /// Not sent on purpose (`onlyIfNotOpened` and the previous step was opened).
    Skipped,
    /// The address is suppressed.
    Suppressed,
    /// Could not be sent.
    Failed,
}
crate::wire_enum!(SendStatus { Sending => "SENDING", Sent => "SENT", Uncertain => "UNCERTAIN", Skipped => "SKIPPED", Suppressed => "SUPPRESSED", Failed => "FAILED" });

/// One step as stored in `sequences.steps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepSpec {
    /// The organization's template.
    pub template_id: Uuid,
    /// Days after the previous step (after enrollment for the first).
    pub wait_days: i32,
    /// Send only if the previous step's message was not opened.
    #[serde(default)]
    pub only_if_not_opened: bool,
}

/// The steps of a stored sequence (an unreadable value reads as none).
pub fn steps_of(m: &sequence::Model) -> Vec<StepSpec> {
    serde_json::from_value(m.steps.clone()).unwrap_or_default()
}

/// A multi-step follow-up.
pub struct Sequence(pub sequence::Model);

impl From<sequence::Model> for Sequence {
    fn from(m: sequence::Model) -> Self {
        Sequence(m)
    }
}

#[Object]
impl Sequence {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Status.
    async fn status(&self) -> Option<SequenceStatus> {
        SequenceStatus::parse(&self.0.status)
    }
    /// The steps, in order.
    async fn steps(&self) -> Vec<SequenceStep> {
        steps_of(&self.0)
            .into_iter()
            .enumerate()
            .map(|(i, s)| SequenceStep {
                position: i32::try_from(i).unwrap_or(i32::MAX),
                template_id: ID(s.template_id.to_string()),
                wait_days: s.wait_days,
                only_if_not_opened: s.only_if_not_opened,
            })
            .collect()
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// One step of a sequence.
#[derive(SimpleObject, Debug, Clone)]
pub struct SequenceStep {
    /// 0-based position.
    pub position: i32,
    /// The template sent.
    pub template_id: ID,
    /// Days after the previous step (after enrollment for the first).
    pub wait_days: i32,
    /// Sent only if the previous step's message was not opened.
    pub only_if_not_opened: bool,
}

/// One step of `createSequence` / `updateSequence`.
#[derive(InputObject, Debug, Clone)]
pub struct SequenceStepInput {
    /// One of the organization's templates.
    pub template_id: ID,
    /// Days after the previous step (0–365; after enrollment for the first, usually 0).
    pub wait_days: i32,
    /// Send only if the previous step's message was not opened (default false).
    pub only_if_not_opened: Option<bool>,
}

/// Input of `createSequence`.
#[derive(InputObject, Debug, Clone)]
pub struct CreateSequenceInput {
    /// 1–200 characters.
    pub name: String,
    /// 1–20 steps.
    pub steps: Vec<SequenceStepInput>,
}

/// Input of `updateSequence`: what is given changes. Steps an enrollment has reached cannot
/// change (CONFLICT); later ones can.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateSequenceInput {
    /// 1–200 characters.
    pub name: Option<String>,
    /// The whole new list of steps.
    pub steps: Option<Vec<SequenceStepInput>>,
}

/// Input of `enrollInSequence`.
#[derive(InputObject, Debug, Clone)]
pub struct EnrollInSequenceInput {
    /// Leads of the organization (at most 1,000).
    pub lead_ids: Vec<ID>,
}

/// What `enrollInSequence` did.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct EnrollmentResult {
    /// Newly enrolled leads.
    pub enrolled: i32,
    /// Leads left out: already enrolled, or without an email address.
    pub skipped: i32,
}

/// Enrollments stopped for one reason.
#[derive(SimpleObject, Debug, Clone)]
pub struct StopCount {
    /// The reason.
    pub reason: StopReason,
    /// Enrollments.
    pub count: i32,
}

/// One step's numbers.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct SequenceStepStats {
    /// 0-based position.
    pub position: i32,
    /// Messages of this step accepted by the server.
    pub sent: i32,
    /// Of those, opened.
    pub opened: i32,
    /// Enrollments whose lead replied after this step (and before the next).
    pub replied: i32,
    /// Enrollments stopped while waiting for this step, by reason.
    pub stopped: Vec<StopCount>,
}

/// A sequence's numbers.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct SequenceStats {
    /// Enrollments ever made.
    pub enrolled: i32,
    /// Waiting for a step.
    pub active: i32,
    /// Every step done.
    pub completed: i32,
    /// Left early (any reason).
    pub stopped: i32,
    /// Per step, in order.
    pub steps: Vec<SequenceStepStats>,
}
