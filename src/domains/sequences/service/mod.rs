//! Sequence rules: the organization filter, the list, create, update (steps an enrollment has
//! reached are frozen), delete, pause and resume, and the `sequence.changed` events.

pub mod enroll;
pub mod gate;
pub mod run;
pub mod stats;
pub mod track;

use std::collections::HashSet;

use chrono::Utc;
use entity::{email_template, sequence, sequence_enrollment, sequence_send};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, Select, TransactionTrait,
};
use uuid::Uuid;

use super::types::{
    steps_of, CreateSequenceInput, Sequence, SequenceStatus, SequenceStepInput, StepSpec,
    UpdateSequenceInput,
};
use crate::{
    auth::{Permission, Viewer},
    domains::{approvals::GateOutcome, leads::Check, outreach::templates},
    error::{AppError, AppResult, FieldError},
    events::{outbox, DomainEvent, EventEnvelope, SequenceChanged},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    ids::parse_id,
    state::{AppState, Wakes},
};

/// Steps a sequence may have.
pub const MAX_STEPS: usize = 20;
/// Longest wait between two steps, in days.
pub const MAX_WAIT_DAYS: i32 = 365;

/// Every sequence query starts here.
pub fn scoped(viewer: &Viewer) -> Select<sequence::Entity> {
    sequence::Entity::find().filter(sequence::Column::OrgId.eq(viewer.org_id))
}

/// A sequence of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<sequence::Model> {
    scoped(viewer)
        .filter(sequence::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("sequence"))
}

/// Records `sequence.changed` (`kind`) for `s` as it is now.
async fn announce(
    conn: &impl ConnectionTrait,
    s: &sequence::Model,
    kind: &str,
    user: Option<Uuid>,
) -> AppResult<()> {
    let event = DomainEvent::SequenceChanged(SequenceChanged {
        sequence_id: s.id,
        kind: kind.into(),
        status: s.status.clone(),
    });
    outbox::record(conn, &EventEnvelope::new(s.org_id, user, event)).await
}

/// A page of sequences, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
) -> AppResult<IdConnection<Sequence>> {
    viewer.require(Permission::ReadSequences)?;
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        sequence::Column::Id,
        &args,
        |m| m.id,
        Sequence::from,
    )
    .await
}

/// A name: 1–200 characters.
fn name(c: &mut Check, v: &str) -> String {
    let s = c.text("name", Some(v), 200).unwrap_or_default();
    if s.is_empty() && c.errors.is_empty() {
        c.errors.push(FieldError {
            field: "input.name".into(),
            message: "is required".into(),
        });
    }
    s
}

/// Checks steps: 1–`MAX_STEPS`, waits of 0–`MAX_WAIT_DAYS` days, templates of the viewer's
/// organization (read through outreach's template scope in one statement).
async fn check_steps(
    state: &AppState,
    viewer: &Viewer,
    c: &mut Check,
    steps: &[SequenceStepInput],
) -> AppResult<Vec<StepSpec>> {
    let fail = |c: &mut Check, field: String, message: &str| {
        c.errors.push(FieldError {
            field,
            message: message.into(),
        })
    };
    if steps.is_empty() || steps.len() > MAX_STEPS {
        fail(c, "input.steps".into(), "must have 1 to 20 steps");
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(steps.len());
    for (i, s) in steps.iter().enumerate() {
        if !(0..=MAX_WAIT_DAYS).contains(&s.wait_days) {
            fail(c, format!("input.steps[{i}].waitDays"), "must be 0 to 365");
        }
        let template_id = parse_id(&s.template_id).unwrap_or(Uuid::nil());
        out.push(StepSpec {
            template_id,
            wait_days: s.wait_days,
            only_if_not_opened: s.only_if_not_opened.unwrap_or(false),
            business_days: s.business_days.unwrap_or(false),
        });
    }
    let ids: Vec<Uuid> = out.iter().map(|s| s.template_id).collect();
    let known: HashSet<Uuid> = templates::scoped(viewer)
        .select_only()
        .column(email_template::Column::Id)
        .filter(email_template::Column::Id.is_in(ids))
        .into_tuple::<Uuid>()
        .all(&state.db)
        .await?
        .into_iter()
        .collect();
    for (i, s) in out.iter().enumerate() {
        if !known.contains(&s.template_id) {
            fail(
                c,
                format!("input.steps[{i}].templateId"),
                "unknown template",
            );
        }
    }
    Ok(out)
}

fn steps_json(steps: &[StepSpec]) -> AppResult<serde_json::Value> {
    Ok(serde_json::to_value(steps)?)
}

/// Creates a sequence (ACTIVE; nobody enrolled yet).
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateSequenceInput,
) -> AppResult<sequence::Model> {
    viewer.require(Permission::WriteSequences)?;
    let mut c = Check::new("input.");
    let name = name(&mut c, &input.name);
    let steps = check_steps(state, viewer, &mut c, &input.steps).await?;
    c.finish()?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let s = sequence::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        name: Set(name),
        status: Set(SequenceStatus::Active.as_str().into()),
        steps: Set(steps_json(&steps)?),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    announce(&txn, &s, "created", Some(viewer.user_id)).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(s)
}

/// How many leading steps some enrollment has reached (claimed or sent): those are frozen.
async fn reached_steps(conn: &impl ConnectionTrait, id: Uuid) -> AppResult<usize> {
    let max: Option<Option<i32>> = sequence_send::Entity::find()
        .select_only()
        .column_as(sequence_send::Column::Step.max(), "m")
        .filter(sequence_send::Column::SequenceId.eq(id))
        .into_tuple::<Option<i32>>()
        .one(conn)
        .await?;
    Ok(max
        .flatten()
        .map_or(0, |m| usize::try_from(m).unwrap_or(0) + 1))
}

/// Changes the name and/or the steps. A step some enrollment has reached cannot change or go
/// (CONFLICT); later steps can, and enrollments take them as they come.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateSequenceInput,
) -> AppResult<sequence::Model> {
    viewer.require(Permission::WriteSequences)?;
    let current = get(&state.db, viewer, id).await?;
    let mut c = Check::new("input.");
    let name = input.name.as_deref().map(|n| name(&mut c, n));
    let steps = match &input.steps {
        Some(s) => Some(check_steps(state, viewer, &mut c, s).await?),
        None => None,
    };
    c.finish()?;
    let txn = state.db.begin().await?;
    let mut am: sequence::ActiveModel = current.clone().into();
    if let Some(steps) = steps {
        let reached = reached_steps(&txn, id).await?;
        let old = steps_of(&current);
        let frozen = old.iter().take(reached);
        if steps.len() < reached || frozen.zip(steps.iter()).any(|(a, b)| a != b) {
            return Err(AppError::Conflict(format!(
                "the first {reached} step(s) were reached by an enrollment and cannot change"
            )));
        }
        am.steps = Set(steps_json(&steps)?);
    }
    if let Some(name) = name {
        am.name = Set(name);
    }
    am.updated_at = Set(Utc::now());
    let s = am.update(&txn).await?;
    announce(&txn, &s, "updated", Some(viewer.user_id)).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(s)
}

/// Deletes a sequence with its enrollments and sends (nothing more is sent).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    viewer.require(Permission::DeleteSequences)?;
    let s = get(&state.db, viewer, id).await?;
    let txn = state.db.begin().await?;
    sequence_send::Entity::delete_many()
        .filter(sequence_send::Column::SequenceId.eq(id))
        .exec(&txn)
        .await?;
    sequence_enrollment::Entity::delete_many()
        .filter(sequence_enrollment::Column::SequenceId.eq(id))
        .exec(&txn)
        .await?;
    sequence::Entity::delete_by_id(id).exec(&txn).await?;
    announce(&txn, &s, "deleted", Some(viewer.user_id)).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(())
}

/// Pauses (`to` PAUSED) or resumes (`to` ACTIVE) a sequence. A resume goes through the
/// approval gate ([`gate::check`]: it may leave the sequence PENDING_APPROVAL); once ACTIVE,
/// every waiting enrollment gets its step job again (at its stored due time). A sequence
/// waiting for an approval can be paused, not resumed (CONFLICT).
pub async fn set_status(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    to: SequenceStatus,
) -> AppResult<sequence::Model> {
    viewer.require(Permission::WriteSequences)?;
    let current = get(&state.db, viewer, id).await?;
    if current.status == to.as_str() {
        return Ok(current);
    }
    let user = Some(viewer.user_id);
    let txn = state.db.begin().await?;
    let s = match to {
        SequenceStatus::Active if current.status == SequenceStatus::PendingApproval.as_str() => {
            return Err(AppError::Conflict(
                "the sequence waits for an approval".into(),
            ))
        }
        SequenceStatus::Active => {
            let waiting = sequence_enrollment::Entity::find()
                .filter(sequence_enrollment::Column::SequenceId.eq(id))
                .filter(
                    sequence_enrollment::Column::Status
                        .eq(super::types::EnrollmentStatus::Active.as_str()),
                )
                .count(&txn)
                .await?;
            match gate::check(&txn, viewer, &current, waiting, gate::Prior::Honored).await? {
                GateOutcome::Proceed => gate::activate(&txn, &current, "resumed", user).await?,
                GateOutcome::Pending(_) => gate::hold(&txn, &current, user).await?,
            }
        }
        SequenceStatus::Paused | SequenceStatus::PendingApproval => {
            gate::move_to(&txn, &current, SequenceStatus::Paused, "paused", user).await?
        }
    };
    state.commit(txn, Wakes::Jobs).await?;
    Ok(s)
}
