//! `sequenceStats(id)`: per step sent, opened, clicked, replied and stopped by reason, in two grouped
//! statements (sends by step; enrollments by step, status and stop reason).

use entity::{sequence_enrollment, sequence_send};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::get;
use crate::{
    auth::{Permission, Viewer},
    domains::sequences::types::{
        steps_of, EnrollmentStatus, SendStatus, SequenceStats, SequenceStepStats, StopCount,
        StopReason,
    },
    error::AppResult,
    state::AppState,
};

fn int(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The statistics of sequence `id`. A reply is counted at the last step sent before it; a stop
/// at the step the enrollment was waiting for.
pub async fn stats(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<SequenceStats> {
    viewer.require(Permission::ReadSequences)?;
    let s = get(&state.db, viewer, id).await?;
    let sent_case = format!(
        "SUM(CASE WHEN status = '{}' THEN 1 ELSE 0 END)",
        SendStatus::Sent.as_str()
    );
    let sends: Vec<(i32, i64, i64, i64)> = sequence_send::Entity::find()
        .select_only()
        .column(sequence_send::Column::Step)
        .column_as(Expr::cust(sent_case), "sent")
        .column_as(sequence_send::Column::OpenedAt.count(), "opened")
        .column_as(sequence_send::Column::ClickedAt.count(), "clicked")
        .filter(sequence_send::Column::SequenceId.eq(s.id))
        .group_by(sequence_send::Column::Step)
        .into_tuple()
        .all(&state.db)
        .await?;
    let enrollments: Vec<(i32, String, Option<String>, i64)> = sequence_enrollment::Entity::find()
        .select_only()
        .column(sequence_enrollment::Column::CurrentStep)
        .column(sequence_enrollment::Column::Status)
        .column(sequence_enrollment::Column::StopReason)
        .column_as(sequence_enrollment::Column::Id.count(), "n")
        .filter(sequence_enrollment::Column::SequenceId.eq(s.id))
        .group_by(sequence_enrollment::Column::CurrentStep)
        .group_by(sequence_enrollment::Column::Status)
        .group_by(sequence_enrollment::Column::StopReason)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut out = SequenceStats {
        steps: (0..steps_of(&s).len())
            .map(|i| SequenceStepStats {
                position: int(i64::try_from(i).unwrap_or(i64::MAX)),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    for (step, sent, opened, clicked) in sends {
        if let Some(st) = usize::try_from(step)
            .ok()
            .and_then(|i| out.steps.get_mut(i))
        {
            st.sent = int(sent);
            st.opened = int(opened);
            st.clicked = int(clicked);
        }
    }
    add_enrollments(&mut out, enrollments);
    Ok(out)
}

/// Adds the grouped enrollment counts (`(step, status, stop reason, n)`) to `out`.
fn add_enrollments(out: &mut SequenceStats, enrollments: Vec<(i32, String, Option<String>, i64)>) {
    for (step, status, reason, n) in enrollments {
        let n = int(n);
        out.enrolled += n;
        match EnrollmentStatus::parse(&status) {
            Some(EnrollmentStatus::Active) => out.active += n,
            Some(EnrollmentStatus::Completed) => out.completed += n,
            Some(EnrollmentStatus::Stopped) => out.stopped += n,
            None => {}
        }
        let Some(reason) = reason.as_deref().and_then(StopReason::parse) else {
            continue;
        };
        if reason == StopReason::Replied {
            if let Some(st) = usize::try_from(step - 1)
                .ok()
                .and_then(|i| out.steps.get_mut(i))
            {
                st.replied += n;
            }
        }
        let at = usize::try_from(step)
            .ok()
            .map(|i| i.min(out.steps.len().saturating_sub(1)));
        if let Some(st) = at.and_then(|i| out.steps.get_mut(i)) {
            match st.stopped.iter_mut().find(|c| c.reason == reason) {
                Some(c) => c.count += n,
                None => st.stopped.push(StopCount { reason, count: n }),
            }
        }
    }
}
