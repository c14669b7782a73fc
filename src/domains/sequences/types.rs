//! Sequences' GraphQL types: the sequence and its steps, the inputs, enrollment results and
//! the per-step statistics; the status and stop-reason enums (stored as their GraphQL names).

use async_graphql::{Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use entity::sequence;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domains::leads::types::LeadFilter;

/// Whether a sequence's enrollments advance.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceStatus {
    /// Steps are sent when due.
    Active,
    /// Nothing is sent; enrollments wait (and catch up on resume).
    Paused,
    /// An approval rule matched a launch: nothing is sent until the request is approved.
    PendingApproval,
}
crate::wire_enum!(SequenceStatus { Active => "ACTIVE", Paused => "PAUSED", PendingApproval => "PENDING_APPROVAL" });

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
    /// The lead's status moved to a closed one (CONVERTED, LOST or UNQUALIFIED).
    LeadClosed,
}
crate::wire_enum!(StopReason { Replied => "REPLIED", Unsubscribed => "UNSUBSCRIBED", Bounced => "BOUNCED", Suppressed => "SUPPRESSED", Unenrolled => "UNENROLLED", Failed => "FAILED", LeadClosed => "LEAD_CLOSED" });

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
    /// `wait_days` counts business days (Monday–Friday) of the organization's time zone.
    #[serde(default)]
    pub business_days: bool,
}

impl StepSpec {
    /// When this step is due, waiting from `from`: `wait_days` calendar days, or with
    /// `business_days` that many weekdays in `tz` (Saturday and Sunday do not count), at the
    /// same local time of day (a time a DST change skips moves an hour on).
    pub fn due_after(&self, from: DateTime<Utc>, tz: chrono_tz::Tz) -> DateTime<Utc> {
        let days = i64::from(self.wait_days);
        if !self.business_days || days <= 0 {
            return from + Duration::days(days);
        }
        let local = from.with_timezone(&tz);
        let mut date = local.date_naive();
        let mut left = days;
        while left > 0 {
            date += Duration::days(1);
            if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                left -= 1;
            }
        }
        let at = date.and_time(local.time());
        tz.from_local_datetime(&at)
            .earliest()
            .or_else(|| {
                tz.from_local_datetime(&(at + Duration::hours(1)))
                    .earliest()
            })
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| from + Duration::days((date - local.date_naive()).num_days()))
    }
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
                business_days: s.business_days,
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
    /// `waitDays` counts business days (Monday–Friday) of the organization's time zone.
    pub business_days: bool,
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
    /// Count `waitDays` in business days (Monday–Friday) of the organization's time zone
    /// (default false: calendar days).
    pub business_days: Option<bool>,
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

/// Input of `enrollInSequence`: exactly one of the three; at most 1,000 leads.
#[derive(InputObject, Debug, Clone, Default)]
pub struct EnrollInSequenceInput {
    /// Leads of the organization (at most 1,000).
    pub lead_ids: Option<Vec<ID>>,
    /// Every lead of the organization matching this filter (at most 1,000 may match).
    pub filter: Option<LeadFilter>,
    /// Every lead of this saved audience (at most 1,000 may match).
    pub audience_id: Option<ID>,
}

/// What `enrollInSequence` did.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct EnrollmentResult {
    /// Newly enrolled leads.
    pub enrolled: i32,
    /// Leads left out: already enrolled, or without an email address.
    pub skipped: i32,
    /// True when an approval rule matched: the sequence waits in PENDING_APPROVAL and sends
    /// nothing until the request is approved.
    pub pending_approval: bool,
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
    /// Of those, clicked (a tracked link was followed).
    pub clicked: i32,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn business_days_skip_the_weekend_in_the_organizations_time_zone() {
        let step = |business_days| StepSpec {
            template_id: Uuid::nil(),
            wait_days: 2,
            only_if_not_opened: false,
            business_days,
        };
        let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
        // Friday 2026-12-04 16:00 in New York (21:00 UTC).
        let friday = tz
            .with_ymd_and_hms(2026, 12, 4, 16, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let tuesday = tz
            .with_ymd_and_hms(2026, 12, 8, 16, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(step(true).due_after(friday, tz), tuesday);
        assert_eq!(
            step(false).due_after(friday, tz),
            friday + Duration::days(2)
        );
        // Friday 20:00 in New York is already Saturday in UTC: the local day counts.
        let late = tz
            .with_ymd_and_hms(2026, 12, 4, 20, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let expected = tz
            .with_ymd_and_hms(2026, 12, 8, 20, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(step(true).due_after(late, tz), expected);
        // Counted in UTC instead, the start is Saturday 01:00: Monday and Tuesday are the two
        // business days, so the step is due a day earlier than in New York.
        let in_utc = Utc.with_ymd_and_hms(2026, 12, 8, 1, 0, 0).unwrap();
        assert_eq!(step(true).due_after(late, chrono_tz::UTC), in_utc);
        assert_eq!(expected - in_utc, Duration::days(1));
    }
}
