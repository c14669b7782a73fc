//! Launch under human control: the approval gate of a sequence's sends, the way outreach gates
//! a campaign launch.
//!
//! Every path that makes a sequence send to more people asks [`check`] in its transaction:
//! `enrollInSequence` (the leads it enrolls: `recipientCount`) and `resumeSequence` (every
//! waiting enrollment). When an enabled SEQUENCE rule of the organization matches, approvals
//! creates the request in that transaction and the sequence goes to PENDING_APPROVAL
//! ([`hold`]): its step jobs find it not ACTIVE and send nothing. The decision comes back through
//! approvals' registered [`ApprovalSubject`] ([`SequenceSubject`]), so approvals never names
//! sequences:
//! - **approved**: when the sequence is still the snapshot the request covered, it becomes
//!   ACTIVE and every waiting enrollment gets its step job again (sends start); when it changed
//!   meanwhile (steps edited, more leads enrolled), the rules are asked again, which may raise a
//!   new request;
//! - **rejected, changes requested, withdrawn or expired**: the sequence goes to PAUSED, nothing
//!   is sent; resuming asks the gate again.
//!
//! A **snapshot** ([`snapshot`]) is SHA-256 over the steps and the sorted ids of the ACTIVE
//! enrollments. Facts rules see: `recipientCount` (leads the action starts sending to),
//! `activeEnrollments`, `stepCount`, `aiGenerated` (a step's template is flagged AI-generated),
//! `sequenceName`.

use async_trait::async_trait;
use chrono::Utc;
use entity::{approval_request, email_template, sequence, sequence_enrollment};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{announce, get, run::requeue_waiting};
use crate::{
    auth::{Role, Viewer, ViewerVia},
    domains::{
        approvals::{
            approval_gate, approved_snapshot, register_subject, types::ApprovalResourceType,
            ApprovalPreview, ApprovalSubject, Decision, GateOutcome, GatedResource,
        },
        sequences::types::{steps_of, EnrollmentStatus, SequenceStatus},
    },
    error::{AppError, AppResult},
    state::AppState,
};

/// Whether an earlier approval may let the sequence through [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prior {
    /// New leads are enrolled: the rules are asked whatever was approved before.
    Ignored,
    /// A resume: an approval of exactly the current snapshot (the newest gated request about
    /// the sequence) lets it proceed without asking the rules.
    Honored,
}

/// The ACTIVE enrollments of `s`, ordered by id.
async fn active_ids(conn: &impl ConnectionTrait, s: &sequence::Model) -> AppResult<Vec<Uuid>> {
    Ok(sequence_enrollment::Entity::find()
        .select_only()
        .column(sequence_enrollment::Column::Id)
        .filter(sequence_enrollment::Column::SequenceId.eq(s.id))
        .filter(sequence_enrollment::Column::Status.eq(EnrollmentStatus::Active.as_str()))
        .order_by_asc(sequence_enrollment::Column::Id)
        .into_tuple::<Uuid>()
        .all(conn)
        .await?)
}

/// What an approval of `s` covers: SHA-256 (hex) over its steps and its ACTIVE enrollments.
pub async fn snapshot(conn: &impl ConnectionTrait, s: &sequence::Model) -> AppResult<String> {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(&s.steps)?);
    h.update(b"\nenrollments:");
    for id in active_ids(conn, s).await? {
        h.update(id.as_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

/// The facts approval rules see when `s` starts sending to `recipients` leads.
async fn facts(
    conn: &impl ConnectionTrait,
    s: &sequence::Model,
    recipients: u64,
) -> AppResult<Value> {
    let steps = steps_of(s);
    let templates: Vec<Uuid> = steps.iter().map(|st| st.template_id).collect();
    let ai_generated = !templates.is_empty()
        && email_template::Entity::find()
            .filter(email_template::Column::OrgId.eq(s.org_id))
            .filter(email_template::Column::Id.is_in(templates))
            .filter(email_template::Column::AiGenerated.eq(true))
            .count(conn)
            .await?
            > 0;
    let active = sequence_enrollment::Entity::find()
        .filter(sequence_enrollment::Column::SequenceId.eq(s.id))
        .filter(sequence_enrollment::Column::Status.eq(EnrollmentStatus::Active.as_str()))
        .count(conn)
        .await?;
    Ok(json!({
        "recipientCount": recipients,
        "activeEnrollments": active,
        "stepCount": steps.len(),
        "aiGenerated": ai_generated,
        "sequenceName": s.name,
    }))
}

/// Whether `s` may start sending to `recipients` leads now; `Pending` when a rule wants an
/// approval (the request is created in `conn`). The caller then [`hold`]s the sequence.
pub async fn check(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    s: &sequence::Model,
    recipients: u64,
    prior: Prior,
) -> AppResult<GateOutcome> {
    let snap = snapshot(conn, s).await?;
    if prior == Prior::Honored {
        let id = s.id.to_string();
        let approved =
            approved_snapshot(conn, s.org_id, ApprovalResourceType::Sequence, &id).await?;
        if approved.as_deref() == Some(snap.as_str()) {
            return Ok(GateOutcome::Proceed);
        }
    }
    let resource = GatedResource {
        resource_type: ApprovalResourceType::Sequence,
        resource_id: s.id.to_string(),
        title: format!("Launch sequence \"{}\"", s.name),
        description: Some(format!(
            "Start sending the {} step(s) of \"{}\" to {recipients} lead(s).",
            steps_of(s).len(),
            s.name
        )),
        facts: facts(conn, s, recipients).await?,
        snapshot: Some(snap),
    };
    approval_gate(conn, viewer, resource).await
}

/// Sets `s` to `to` and records `sequence.changed` (`kind`), in `conn`.
pub async fn move_to(
    conn: &impl ConnectionTrait,
    s: &sequence::Model,
    to: SequenceStatus,
    kind: &str,
    user: Option<Uuid>,
) -> AppResult<sequence::Model> {
    let now = Utc::now();
    sequence::Entity::update_many()
        .col_expr(sequence::Column::Status, Expr::value(to.as_str()))
        .col_expr(sequence::Column::UpdatedAt, Expr::value(now))
        .filter(sequence::Column::Id.eq(s.id))
        .exec(conn)
        .await?;
    let s = sequence::Model {
        status: to.as_str().into(),
        updated_at: now,
        ..s.clone()
    };
    announce(conn, &s, kind, user).await?;
    Ok(s)
}

/// Puts `s` on hold until its approval request is decided (PENDING_APPROVAL).
pub async fn hold(
    conn: &impl ConnectionTrait,
    s: &sequence::Model,
    user: Option<Uuid>,
) -> AppResult<sequence::Model> {
    move_to(
        conn,
        s,
        SequenceStatus::PendingApproval,
        "pending_approval",
        user,
    )
    .await
}

/// Makes `s` ACTIVE and gives every waiting enrollment its step job again.
pub async fn activate(
    conn: &impl ConnectionTrait,
    s: &sequence::Model,
    kind: &str,
    user: Option<Uuid>,
) -> AppResult<sequence::Model> {
    let s = move_to(conn, s, SequenceStatus::Active, kind, user).await?;
    requeue_waiting(conn, &s, Utc::now()).await?;
    Ok(s)
}

/// The SEQUENCE subject of approval requests; registered by `sequences::register`.
pub struct SequenceSubject;

/// Registers [`SequenceSubject`] with approvals.
pub fn register() {
    register_subject(ApprovalResourceType::Sequence, SequenceSubject);
}

/// Sequence `id` of organization `org` when it waits for an approval; CONFLICT otherwise.
async fn waiting(txn: &DatabaseTransaction, org: Uuid, id: &str) -> AppResult<sequence::Model> {
    let s = match Uuid::parse_str(id) {
        Ok(id) => {
            sequence::Entity::find_by_id(id)
                .filter(sequence::Column::OrgId.eq(org))
                .one(txn)
                .await?
        }
        Err(_) => None,
    };
    match s {
        Some(s) if s.status == SequenceStatus::PendingApproval.as_str() => Ok(s),
        Some(_) => Err(AppError::Conflict(
            "the sequence no longer waits for an approval".into(),
        )),
        None => Err(AppError::Conflict("the sequence no longer exists".into())),
    }
}

#[async_trait]
impl ApprovalSubject for SequenceSubject {
    fn noun(&self) -> &'static str {
        "sequence"
    }

    async fn exists(&self, state: &AppState, viewer: &Viewer, id: &str) -> AppResult<bool> {
        Ok(match Uuid::parse_str(id) {
            Ok(id) => get(&state.db, viewer, id).await.is_ok(),
            Err(_) => false,
        })
    }

    async fn preview(
        &self,
        state: &AppState,
        viewer: &Viewer,
        id: &str,
        out: &mut ApprovalPreview,
    ) -> AppResult<()> {
        let Ok(id) = Uuid::parse_str(id) else {
            return Ok(());
        };
        let s = match get(&state.db, viewer, id).await {
            Ok(s) => s,
            Err(AppError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        out.recipient_count = Some(active_ids(&state.db, &s).await?.len() as i64);
        Ok(())
    }

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        r: &approval_request::Model,
        actor: Option<Uuid>,
        decision: Decision,
    ) -> AppResult<()> {
        match decision {
            Decision::Approved { snapshot: approved } => {
                let s = waiting(txn, r.org_id, &r.resource_id).await?;
                if approved.as_deref() == Some(snapshot(txn, &s).await?.as_str()) {
                    activate(txn, &s, "approved", actor).await?;
                    return Ok(());
                }
                // Changed since the request: the rules decide again for everything waiting.
                let requester = Viewer {
                    user_id: r.requested_by.or(actor).unwrap_or_default(),
                    org_id: r.org_id,
                    role: Role::Viewer,
                    via: ViewerVia::Jwt,
                    session_id: None,
                };
                let n = active_ids(txn, &s).await?.len() as u64;
                if check(txn, &requester, &s, n, Prior::Ignored).await? == GateOutcome::Proceed {
                    activate(txn, &s, "approved", actor).await?;
                }
                Ok(())
            }
            Decision::Returned { .. } => match waiting(txn, r.org_id, &r.resource_id).await {
                Ok(s) => {
                    move_to(txn, &s, SequenceStatus::Paused, "returned", actor).await?;
                    Ok(())
                }
                Err(AppError::Conflict(_)) => Ok(()),
                Err(e) => Err(e),
            },
        }
    }
}
