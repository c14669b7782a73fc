//! Enrollment: `enrollInSequence` (leads of the organization with an address, named by ids, a
//! lead filter or a saved audience, at most 1,000; each gets its first step's job at its due
//! time), `unenrollFromSequence`, and the stop rules: a reply (an inbound message in the lead's
//! conversation, or outreach's `reply` activity), an unsubscribe, a complaint, a bounce or the
//! lead's status moving to a closed one (CONVERTED, LOST, UNQUALIFIED) stop every ACTIVE
//! enrollment of the lead, through the event-handler registry ([`SequenceStops`], in the
//! writer's transaction), so no higher domain is imported.

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entity::{audience, conversation, lead, sequence, sequence_enrollment, sequence_send};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::{
    gate, get,
    run::{enqueue_step, step_timezone},
};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        approvals::GateOutcome,
        leads::{
            self,
            types::{LeadFilter, LeadStatus},
        },
        sequences::types::{
            steps_of, EnrollInSequenceInput, EnrollmentResult, EnrollmentStatus, SequenceStatus,
            StopReason,
        },
    },
    error::{AppError, AppResult, FieldError},
    events::{
        handlers::{EventHandler, HandlerConn},
        outbox, DomainEvent, EventEnvelope, SequenceActivity, SequenceEnrollmentStopped,
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

/// The leads (id, address) an `enrollInSequence` input names: exactly one of lead ids (another
/// organization's lead is unknown: BAD_USER_INPUT), a lead filter or a saved audience; at
/// most `MAX_LEADS` (a filter or audience matching more is BAD_USER_INPUT: narrow it).
async fn named_leads(
    state: &AppState,
    viewer: &Viewer,
    input: EnrollInSequenceInput,
) -> AppResult<Vec<(Uuid, Option<String>)>> {
    let (filter, field) = match (input.lead_ids, input.filter, input.audience_id) {
        (Some(ids), None, None) => return leads_by_id(state, viewer, &ids).await,
        (None, Some(f), None) => (f, "input.filter"),
        (None, None, Some(a)) => {
            let unknown = || AppError::invalid("input.audienceId", "no such audience");
            let id = parse_id(&a).map_err(|_| unknown())?;
            let a = audience::Entity::find_by_id(id)
                .filter(audience::Column::OrgId.eq(viewer.org_id))
                .one(&state.db)
                .await?
                .ok_or_else(unknown)?;
            let f: LeadFilter = serde_json::from_value(a.filter).map_err(|_| {
                AppError::invalid("input.audienceId", "the audience's filter is not readable")
            })?;
            (f, "input.audienceId")
        }
        _ => {
            return Err(AppError::invalid(
                "input",
                "give exactly one of leadIds, filter or audienceId",
            ))
        }
    };
    let q =
        leads::filtered(state.db.get_database_backend(), viewer, &filter).map_err(|e| match e {
            AppError::BadUserInput { fields, .. } => AppError::invalid_fields(
                fields
                    .into_iter()
                    .map(|f| FieldError {
                        field: format!("input.{}", f.field),
                        message: f.message,
                    })
                    .collect(),
            ),
            e => e,
        })?;
    let found: Vec<(Uuid, Option<String>)> = q
        .select_only()
        .column(lead::Column::Id)
        .column(lead::Column::Email)
        .order_by_asc(lead::Column::Id)
        .limit(MAX_LEADS as u64 + 1)
        .into_tuple()
        .all(&state.db)
        .await?;
    if found.len() > MAX_LEADS {
        return Err(AppError::invalid(
            field,
            "matches more than 1000 leads: narrow it",
        ));
    }
    Ok(found)
}

/// Leads `ids` of the viewer's organization (1–`MAX_LEADS`); an unknown one is BAD_USER_INPUT.
async fn leads_by_id(
    state: &AppState,
    viewer: &Viewer,
    ids: &[async_graphql::ID],
) -> AppResult<Vec<(Uuid, Option<String>)>> {
    let wanted: HashSet<Uuid> = lead_ids("input.leadIds", ids)?.into_iter().collect();
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
    Ok(found)
}

/// Enrolls leads of the viewer's organization (by ids, filter or audience). Leads already
/// enrolled in this sequence (at any time) or without an address are skipped, so enrolling
/// again is harmless; a concurrent enrollment of the same lead loses on the unique key.
pub async fn enroll(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: EnrollInSequenceInput,
) -> AppResult<EnrollmentResult> {
    viewer.require(Permission::WriteSequences)?;
    let s = get(&state.db, viewer, id).await?;
    let found = named_leads(state, viewer, input).await?;
    let wanted: Vec<Uuid> = found.iter().map(|(id, _)| *id).collect();
    let already: HashSet<Uuid> = sequence_enrollment::Entity::find()
        .select_only()
        .column(sequence_enrollment::Column::LeadId)
        .filter(sequence_enrollment::Column::SequenceId.eq(s.id))
        .filter(sequence_enrollment::Column::LeadId.is_in(wanted))
        .into_tuple::<Uuid>()
        .all(&state.db)
        .await?
        .into_iter()
        .collect();
    let now = Utc::now();
    let due = match steps_of(&s).first() {
        Some(first) => first.due_after(now, step_timezone(&state.db, s.org_id, first).await?),
        None => now,
    };
    let mut result = EnrollmentResult::default();
    let txn = state.db.begin().await?;
    for (lead_id, email) in found {
        if already.contains(&lead_id) || email.is_none_or(|e| e.is_empty()) {
            result.skipped += 1;
            continue;
        }
        let e = sequence_enrollment::Model {
            id: Uuid::now_v7(),
            org_id: viewer.org_id,
            sequence_id: s.id,
            lead_id,
            status: EnrollmentStatus::Active.as_str().into(),
            current_step: 0,
            next_step_at: Some(due),
            stop_reason: None,
            stopped_at: None,
            created_at: now,
            updated_at: now,
        };
        let inserted = sequence_enrollment::Entity::insert(e.clone().into_active_model())
            .on_conflict(
                OnConflict::columns([
                    sequence_enrollment::Column::SequenceId,
                    sequence_enrollment::Column::LeadId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        if inserted == 0 {
            result.skipped += 1;
            continue;
        }
        enqueue_step(&txn, &e, None).await?;
        result.enrolled += 1;
    }
    result.pending_approval = gate_enrolled(&txn, viewer, &s, result.enrolled).await?;
    state.commit(txn, Wakes::Jobs).await?;
    Ok(result)
}

/// Asks the approval gate about `enrolled` new leads of `s` (not when it is PAUSED: resuming
/// asks); holds the sequence when a rule matches. Whether the sequence now waits for an approval.
async fn gate_enrolled(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    s: &sequence::Model,
    enrolled: i32,
) -> AppResult<bool> {
    let waiting = s.status == SequenceStatus::PendingApproval.as_str();
    if enrolled == 0 || s.status == SequenceStatus::Paused.as_str() {
        return Ok(waiting);
    }
    let n = u64::try_from(enrolled).unwrap_or(0);
    match gate::check(conn, viewer, s, n, gate::Prior::Ignored).await? {
        GateOutcome::Pending(_) if !waiting => {
            gate::hold(conn, s, Some(viewer.user_id)).await?;
            Ok(true)
        }
        GateOutcome::Pending(_) => Ok(true),
        GateOutcome::Proceed => Ok(waiting),
    }
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
    if reason == StopReason::Replied {
        announce_reply(conn, e).await?;
    }
    Ok(true)
}

/// Records `sequence.activity` `reply` for `e`, naming the last step sent to it (if any).
async fn announce_reply(
    conn: &impl ConnectionTrait,
    e: &sequence_enrollment::Model,
) -> AppResult<()> {
    let last = sequence_send::Entity::find()
        .filter(sequence_send::Column::EnrollmentId.eq(e.id))
        .order_by_desc(sequence_send::Column::Step)
        .one(conn)
        .await?;
    let event = DomainEvent::SequenceActivity(SequenceActivity {
        sequence_id: e.sequence_id,
        enrollment_id: e.id,
        lead_id: e.lead_id,
        send_id: last.as_ref().map(|s| s.id),
        step: last.map(|s| s.step),
        kind: "reply".into(),
    });
    outbox::record(conn, &EventEnvelope::new(e.org_id, None, event)).await
}

/// Stops every ACTIVE enrollment of `lead` in organization `org` (`reason`).
pub(super) async fn stop_lead(
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
        DomainEvent::LeadUpdated(c) if c.changed_fields.iter().any(|f| f == "status") => {
            Some(StopReason::LeadClosed)
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

/// Statuses that end a lead's sequences: it converted, was lost or is not a fit.
const CLOSED: [LeadStatus; 3] = [
    LeadStatus::Converted,
    LeadStatus::Lost,
    LeadStatus::Unqualified,
];

/// `lead` when its status (as the writer's transaction sees it) is a closed one.
async fn closed_lead(conn: &HandlerConn<'_>, org: Uuid, lead: Uuid) -> AppResult<Option<Uuid>> {
    let status: Option<String> = lead::Entity::find_by_id(lead)
        .select_only()
        .column(lead::Column::Status)
        .filter(lead::Column::OrgId.eq(org))
        .into_tuple()
        .one(conn)
        .await?;
    let closed = status.is_some_and(|s| CLOSED.iter().any(|c| c.as_str() == s));
    Ok(closed.then_some(lead))
}

/// The stop rules, registered in `events::handlers`: a reply, an unsubscribe, a complaint or a
/// bounce of a lead, or its status moving to a closed one (`lead.updated` naming `status`:
/// CONVERTED, LOST, UNQUALIFIED), stops its active enrollments in the writer's transaction.
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
            DomainEvent::LeadUpdated(c) => closed_lead(conn, event.org_id, c.lead_id).await?,
            _ => None,
        };
        match lead {
            Some(lead) => stop_lead(conn, event.org_id, lead, reason).await,
            None => Ok(()),
        }
    }
}
