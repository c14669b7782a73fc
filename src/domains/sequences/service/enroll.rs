//! Enrollment: `enrollInSequence` (leads of the organization with an address; each gets its
//! first step's job at its due time), `unenrollFromSequence`, and the stop rules: a reply (an
//! inbound message in the lead's conversation, or outreach's `reply` activity), an unsubscribe,
//! a complaint or a bounce stop every ACTIVE enrollment of the lead, through the event-handler
//! registry ([`SequenceStops`], in the writer's transaction), so no higher domain is imported.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use entity::{conversation, lead, sequence_enrollment};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait,
    QueryFilter, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::{get, run::enqueue_step};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        leads,
        sequences::types::{
            steps_of, EnrollInSequenceInput, EnrollmentResult, EnrollmentStatus, StopReason,
        },
    },
    error::{AppError, AppResult},
    events::{
        handlers::{EventHandler, HandlerConn},
        outbox, DomainEvent, EventEnvelope, SequenceEnrollmentStopped,
    },
    ids::parse_id,
    state::{AppState, Wakes},
};

/// Leads one call may enroll or unenroll.
pub const MAX_LEADS: usize = 1000;

/// Parses lead ids (1–`MAX_LEADS`); a malformed id is BAD_USER_INPUT.
fn lead_ids(field: &str, ids: &[async_graphql::ID]) -> AppResult<Vec<Uuid>> {
    if ids.is_empty() || ids.len() > MAX_LEADS {
        return Err(AppError::invalid(field, "must list 1 to 1000 leads"));
    }
    ids.iter()
        .map(|id| parse_id(id).map_err(|_| AppError::invalid(field, "unknown lead")))
        .collect()
}

/// Enrolls leads of the viewer's organization. Another organization's lead is unknown
/// (BAD_USER_INPUT); leads already enrolled or without an address are skipped.
pub async fn enroll(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: EnrollInSequenceInput,
) -> AppResult<EnrollmentResult> {
    viewer.require(Permission::WriteSequences)?;
    let s = get(&state.db, viewer, id).await?;
    let wanted: HashSet<Uuid> = lead_ids("input.leadIds", &input.lead_ids)?
        .into_iter()
        .collect();
    let found: Vec<(Uuid, Option<String>)> = leads::scoped(viewer)
        .select_only()
        .column(lead::Column::Id)
        .column(lead::Column::Email)
        .filter(lead::Column::Id.is_in(wanted.iter().copied()))
        .into_tuple()
        .all(&state.db)
        .await?;
    if found.len() != wanted.len() {
        return Err(AppError::invalid("input.leadIds", "unknown lead"));
    }
    let already: HashSet<Uuid> = sequence_enrollment::Entity::find()
        .select_only()
        .column(sequence_enrollment::Column::LeadId)
        .filter(sequence_enrollment::Column::SequenceId.eq(s.id))
        .filter(sequence_enrollment::Column::LeadId.is_in(wanted.iter().copied()))
        .into_tuple::<Uuid>()
        .all(&state.db)
        .await?
        .into_iter()
        .collect();
    let first_wait = steps_of(&s).first().map_or(0, |st| st.wait_days);
    let now = Utc::now();
    let due = now + Duration::days(i64::from(first_wait));
    let mut result = EnrollmentResult::default();
    let txn = state.db.begin().await?;
    for (lead_id, email) in found {
        if already.contains(&lead_id) || email.is_none_or(|e| e.is_empty()) {
            result.skipped += 1;
            continue;
        }
        let e = sequence_enrollment::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(viewer.org_id),
            sequence_id: Set(s.id),
            lead_id: Set(lead_id),
            status: Set(EnrollmentStatus::Active.as_str().into()),
            current_step: Set(0),
            next_step_at: Set(Some(due)),
            stop_reason: Set(None),
            stopped_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        enqueue_step(&txn, &e, None).await?;
        result.enrolled += 1;
    }
    state.commit(txn, Wakes::Jobs).await?;
    Ok(result)
}

/// Stops the ACTIVE enrollments of `lead_ids` in sequence `id` (UNENROLLED); how many.
pub async fn unenroll(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    lead_ids_in: &[async_graphql::ID],
) -> AppResult<i32> {
    viewer.require(Permission::WriteSequences)?;
    let s = get(&state.db, viewer, id).await?;
    let ids = lead_ids("leadIds", lead_ids_in)?;
    let active = sequence_enrollment::Entity::find()
        .filter(sequence_enrollment::Column::SequenceId.eq(s.id))
        .filter(sequence_enrollment::Column::LeadId.is_in(ids))
        .filter(sequence_enrollment::Column::Status.eq(EnrollmentStatus::Active.as_str()))
        .all(&state.db)
        .await?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let mut n = 0;
    for e in &active {
        if stop_enrollment(&txn, e, StopReason::Unenrolled, now).await? {
            n += 1;
        }
    }
    state.commit(txn, Wakes::Events).await?;
    Ok(n)
}

/// Stops `e` if it is still ACTIVE (with `reason`) and records `sequence.enrollment_stopped`;
/// false when it was no longer active.
pub(super) async fn stop_enrollment(
    conn: &impl ConnectionTrait,
    e: &sequence_enrollment::Model,
    reason: StopReason,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let n = sequence_enrollment::Entity::update_many()
        .col_expr(
            sequence_enrollment::Column::Status,
            Expr::value(EnrollmentStatus::Stopped.as_str()),
        )
        .col_expr(
            sequence_enrollment::Column::StopReason,
            Expr::value(Some(reason.as_str())),
        )
        .col_expr(
            sequence_enrollment::Column::StoppedAt,
            Expr::value(Some(now)),
        )
        .col_expr(
            sequence_enrollment::Column::NextStepAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(sequence_enrollment::Column::UpdatedAt, Expr::value(now))
        .filter(sequence_enrollment::Column::Id.eq(e.id))
        .filter(sequence_enrollment::Column::Status.eq(EnrollmentStatus::Active.as_str()))
        .exec(conn)
        .await?
        .rows_affected;
    if n == 0 {
        return Ok(false);
    }
    let event = DomainEvent::SequenceEnrollmentStopped(SequenceEnrollmentStopped {
        sequence_id: e.sequence_id,
        enrollment_id: e.id,
        lead_id: e.lead_id,
        reason: reason.as_str().into(),
    });
    outbox::record(conn, &EventEnvelope::new(e.org_id, None, event)).await?;
    Ok(true)
}

/// Stops every ACTIVE enrollment of `lead` in organization `org` (`reason`).
async fn stop_lead(
    conn: &impl ConnectionTrait,
    org: Uuid,
    lead: Uuid,
    reason: StopReason,
) -> AppResult<()> {
    let active = sequence_enrollment::Entity::find()
        .filter(sequence_enrollment::Column::OrgId.eq(org))
        .filter(sequence_enrollment::Column::LeadId.eq(lead))
        .filter(sequence_enrollment::Column::Status.eq(EnrollmentStatus::Active.as_str()))
        .all(conn)
        .await?;
    let now = Utc::now();
    for e in &active {
        stop_enrollment(conn, e, reason, now).await?;
    }
    Ok(())
}

/// The stop reason an event means, if any (cheap: no query).
fn stop_reason_of(event: &DomainEvent) -> Option<StopReason> {
    match event {
        DomainEvent::ConversationMessage(m) if m.kind == "created" && m.direction == "INBOUND" => {
            Some(StopReason::Replied)
        }
        DomainEvent::CampaignActivity(a) if a.lead_id.is_some() => match a.kind.as_str() {
            "reply" => Some(StopReason::Replied),
            "unsubscribe" | "complaint" => Some(StopReason::Unsubscribed),
            "bounce" => Some(StopReason::Bounced),
            _ => None,
        },
        _ => None,
    }
}

/// The stop rules, registered in `events::handlers`: a reply, an unsubscribe, a complaint or a
/// bounce of a lead stops its active enrollments in the writer's transaction.
pub struct SequenceStops;

#[async_trait]
impl EventHandler for SequenceStops {
    fn wants(&self, event: &EventEnvelope) -> bool {
        stop_reason_of(&event.event).is_some()
    }

    async fn handle(&self, conn: &HandlerConn<'_>, event: &EventEnvelope) -> AppResult<()> {
        let Some(reason) = stop_reason_of(&event.event) else {
            return Ok(());
        };
        let lead = match &event.event {
            DomainEvent::CampaignActivity(a) => a.lead_id,
            DomainEvent::ConversationMessage(m) => {
                conversation::Entity::find_by_id(m.conversation_id)
                    .filter(conversation::Column::OrgId.eq(event.org_id))
                    .one(conn)
                    .await?
                    .and_then(|c| c.lead_id)
            }
            _ => None,
        };
        match lead {
            Some(lead) => stop_lead(conn, event.org_id, lead, reason).await,
            None => Ok(()),
        }
    }
}
