//! The campaign lifecycle: launch through the approval gate, schedule, pause, resume, stop, and
//! the approval's decision ([`launch_approved`], [`return_to_draft`]). Every status change
//! records `campaign.status` in its transaction; starting to send enqueues the `campaign.send`
//! job (and, for an A/B test's first launch, picks the test group) in it too.
//!
//! Every start passes the gate ([`super::gate`]): launch and schedule, resume, the approval (which
//! launches only the snapshot it covered) and [`regate`] after a change to a SCHEDULED or
//! RUNNING campaign (recipients added, sender changed).

use chrono::{DateTime, Utc};
use entity::{campaign, campaign_recipient};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use super::{
    ab,
    gate::{self, GateDecision, Prior},
    get, record_status, send_run, status_of,
};
use crate::{
    auth::{Permission, Viewer},
    domains::outreach::{
        campaigns::types::{CampaignStatus, CampaignVariant},
        settings::check_from,
        templates::{self, content_of},
    },
    error::{AppError, AppResult},
    ids::parse_id,
    state::AppState,
    state::Wakes,
};

/// The template content (and the variants' overrides) a start would freeze on the campaign.
pub(super) async fn snapshot(
    conn: &impl ConnectionTrait,
    viewer_org: Uuid,
    c: &campaign::Model,
) -> AppResult<serde_json::Value> {
    let v = Viewer {
        user_id: Uuid::nil(),
        org_id: viewer_org,
        role: crate::auth::Role::Viewer,
        via: crate::auth::ViewerVia::Jwt,
        session_id: None,
    };
    let Some(tid) = c.template_id else {
        return Err(AppError::Conflict("the campaign has no template".into()));
    };
    let base = templates::get(conn, &v, tid)
        .await
        .map_err(|_| AppError::Conflict("the campaign's template was deleted".into()))?;
    let base = content_of(&base);
    let variants: Vec<CampaignVariant> =
        serde_json::from_value(c.variants.clone()).unwrap_or_default();
    let mut per = serde_json::Map::new();
    for var in &variants {
        let mut content = match &var.template_id {
            Some(t) => {
                let id = parse_id(t)
                    .map_err(|_| AppError::Conflict("a variant's template is invalid".into()))?;
                let t = templates::get(conn, &v, id)
                    .await
                    .map_err(|_| AppError::Conflict("a variant's template was deleted".into()))?;
                content_of(&t)
            }
            None => base.clone(),
        };
        if let Some(s) = &var.subject {
            content.subject = s.clone();
        }
        per.insert(
            var.name.clone(),
            json!({"weight": var.weight, "content": content}),
        );
    }
    Ok(json!({"content": base, "variants": per}))
}

/// Counts recipients not sent yet.
async fn pending_count(conn: &impl ConnectionTrait, campaign_id: Uuid) -> AppResult<u64> {
    Ok(campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.eq(campaign_id))
        .filter(campaign_recipient::Column::Status.eq("PENDING"))
        .count(conn)
        .await?)
}

/// Moves the campaign to RUNNING (or SCHEDULED when `at` is in the future) and enqueues its send
/// job, all in `txn`. The job's id is stored on the campaign: an older job that finds another id
/// there stops.
async fn start_sending(
    txn: &DatabaseTransaction,
    c: campaign::Model,
    actor: Option<Uuid>,
    at: Option<DateTime<Utc>>,
    content: serde_json::Value,
) -> AppResult<campaign::Model> {
    ab::assign_test_group(txn, &c).await?;
    let now = Utc::now();
    let future = at.filter(|t| *t > now);
    let job = send_run::enqueue(txn, &c, actor, future).await?;
    let status = if future.is_some() {
        CampaignStatus::Scheduled
    } else {
        CampaignStatus::Running
    };
    let mut a: campaign::ActiveModel = c.clone().into();
    a.status = Set(status.as_str().into());
    a.content = Set(Some(content));
    a.job_id = Set(Some(job.id));
    a.last_error = Set(None);
    if let Some(t) = future {
        a.schedule_at = Set(Some(t));
    }
    if status == CampaignStatus::Running && c.launched_at.is_none() {
        a.launched_at = Set(Some(now));
    }
    a.updated_at = Set(now);
    let c = a.update(txn).await?;
    record_status(txn, c.org_id, actor, c.id, status).await?;
    Ok(c)
}

/// The campaign waits for an approval request the gate just raised (PENDING_APPROVAL; a run in
/// progress stops before its next batch). `at` = when to send once approved.
async fn hold_for_approval(
    txn: &DatabaseTransaction,
    c: campaign::Model,
    actor: Option<Uuid>,
    at: Option<DateTime<Utc>>,
    note: Option<String>,
) -> AppResult<campaign::Model> {
    let mut a: campaign::ActiveModel = c.into();
    a.status = Set(CampaignStatus::PendingApproval.as_str().into());
    if let Some(t) = at {
        a.schedule_at = Set(Some(t));
    }
    if note.is_some() {
        a.last_error = Set(note);
    }
    a.updated_at = Set(Utc::now());
    let c = a.update(txn).await?;
    record_status(txn, c.org_id, actor, c.id, CampaignStatus::PendingApproval).await?;
    Ok(c)
}

/// Starts `c` (or holds it for approval) through the gate. A launch from DRAFT ignores `prior`
/// approvals and always asks the rules; otherwise an approval of exactly the current snapshot
/// lets it pass.
async fn gated_start(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    c: campaign::Model,
    at: Option<DateTime<Utc>>,
    prior: Prior,
) -> AppResult<campaign::Model> {
    let content = snapshot(txn, c.org_id, &c).await?;
    let pending = pending_count(txn, c.id).await?;
    match gate::check(txn, viewer, &c, pending, &content, prior).await? {
        GateDecision::Proceed => start_sending(txn, c, Some(viewer.user_id), at, content).await,
        GateDecision::PendingApproval { .. } => {
            hold_for_approval(txn, c, Some(viewer.user_id), at, None).await
        }
    }
}

/// After a change to a SCHEDULED or RUNNING campaign (recipients added, sender changed), in the
/// change's transaction: the gate is asked again unless an approval covers the new snapshot; a
/// matching rule moves the campaign to PENDING_APPROVAL (it keeps its `scheduleAt`). Other
/// statuses are left alone (DRAFT and PAUSED pass the gate when they start again).
pub(super) async fn regate(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    c: campaign::Model,
) -> AppResult<campaign::Model> {
    if !matches!(
        status_of(&c),
        CampaignStatus::Scheduled | CampaignStatus::Running
    ) {
        return Ok(c);
    }
    let content = snapshot(txn, c.org_id, &c).await?;
    let pending = pending_count(txn, c.id).await?;
    match gate::check(txn, viewer, &c, pending, &content, Prior::Honored).await? {
        GateDecision::Proceed => Ok(c),
        GateDecision::PendingApproval { .. } => {
            hold_for_approval(
                txn,
                c,
                Some(viewer.user_id),
                None,
                Some("The campaign changed; sending waits for a new approval.".into()),
            )
            .await
        }
    }
}

/// Launching and resuming need `fromEmail` on a verified sending domain (it may have been
/// removed since the campaign was saved): BAD_USER_INPUT naming `fromEmail`.
async fn sender_allowed(
    state: &AppState,
    txn: &DatabaseTransaction,
    c: &campaign::Model,
) -> AppResult<()> {
    match check_from(txn, &state.config, c.org_id, &c.from_email).await? {
        Ok(()) => Ok(()),
        Err(m) => Err(AppError::invalid("fromEmail", m)),
    }
}

async fn commit(state: &AppState, txn: DatabaseTransaction) -> AppResult<()> {
    state.commit(txn, Wakes::Jobs).await?;
    Ok(())
}

/// `launchCampaign` / `scheduleCampaign`: checks, then the approval gate, then starts (or waits
/// for the approval).
async fn launch_at(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    at: Option<DateTime<Utc>>,
) -> AppResult<campaign::Model> {
    viewer.require(Permission::WriteOutreach)?;
    let txn = state.db.begin().await?;
    let c = get(&txn, viewer, id).await?;
    match status_of(&c) {
        CampaignStatus::Draft => {}
        CampaignStatus::Scheduled => {}
        s => {
            return Err(AppError::Conflict(format!(
                "a {} campaign cannot be launched",
                s.as_str()
            )))
        }
    }
    let pending = pending_count(&txn, c.id).await?;
    if pending == 0 {
        return Err(AppError::Conflict(
            "the campaign has no recipients to send to".into(),
        ));
    }
    if c.template_id.is_none() {
        return Err(AppError::Conflict("the campaign has no template".into()));
    }
    sender_allowed(state, &txn, &c).await?;
    let prior = if status_of(&c) == CampaignStatus::Draft {
        Prior::Ignored
    } else {
        Prior::Honored
    };
    let c = gated_start(&txn, viewer, c, at, prior).await?;
    commit(state, txn).await?;
    Ok(c)
}

/// Starts sending now (through the approval gate).
pub async fn launch(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<campaign::Model> {
    launch_at(state, viewer, id, None).await
}

/// Sends at `at` (through the approval gate). `at` must be in the future.
pub async fn schedule(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    at: DateTime<Utc>,
) -> AppResult<campaign::Model> {
    if at <= Utc::now() {
        return Err(AppError::invalid("at", "must be in the future"));
    }
    launch_at(state, viewer, id, Some(at)).await
}

/// What an approval decided on: the snapshot it covers and who asked.
#[derive(Debug, Clone, Default)]
pub struct Approved {
    /// `payload.snapshot` of the approved request.
    pub snapshot: Option<String>,
    /// The requester (a new request, if one is needed, is theirs).
    pub requested_by: Option<Uuid>,
}

/// The campaign an approval decides on: of `org_id` (NOT_FOUND otherwise) and PENDING_APPROVAL
/// (CONFLICT otherwise).
async fn awaiting_approval(
    txn: &DatabaseTransaction,
    org_id: Uuid,
    campaign_id: Uuid,
) -> AppResult<campaign::Model> {
    let c = campaign::Entity::find_by_id(campaign_id)
        .filter(campaign::Column::OrgId.eq(org_id))
        .one(txn)
        .await?
        .ok_or(AppError::NotFound("campaign"))?;
    if status_of(&c) != CampaignStatus::PendingApproval {
        return Err(AppError::Conflict(format!(
            "the campaign is {}, not waiting for approval",
            c.status
        )));
    }
    Ok(c)
}

/// The launch of a PENDING_APPROVAL campaign was approved: it starts now, or at its
/// `scheduleAt` when that is still ahead — if it is still what was approved. When the content,
/// sender or recipients changed since the request, the approval does not cover it: the gate is
/// asked again for the requester (usually a new request; the campaign keeps waiting, with a note
/// in `lastError`). Runs in the caller's transaction; the caller commits it with
/// `state.commit(txn, Wakes::Jobs)`.
pub async fn launch_approved(
    txn: &DatabaseTransaction,
    org_id: Uuid,
    approver: Option<Uuid>,
    campaign_id: Uuid,
    approved: Approved,
) -> AppResult<campaign::Model> {
    let c = awaiting_approval(txn, org_id, campaign_id).await?;
    let at = c.schedule_at;
    let content = snapshot(txn, c.org_id, &c).await?;
    let now = gate::snapshot_hash(txn, &c, &content).await?;
    if approved.snapshot.as_deref() == Some(now.as_str()) {
        return start_sending(txn, c, approver, at, content).await;
    }
    let requester = Viewer {
        user_id: approved.requested_by.or(approver).unwrap_or_default(),
        org_id,
        role: crate::auth::Role::Viewer,
        via: crate::auth::ViewerVia::Jwt,
        session_id: None,
    };
    let pending = pending_count(txn, c.id).await?;
    match gate::check(txn, &requester, &c, pending, &content, Prior::Ignored).await? {
        GateDecision::Proceed => start_sending(txn, c, approver, at, content).await,
        GateDecision::PendingApproval { .. } => {
            let mut a: campaign::ActiveModel = c.into();
            a.last_error = Set(Some(
                "The campaign changed after the approval was requested; a new approval was \
                 requested."
                    .into(),
            ));
            a.updated_at = Set(Utc::now());
            Ok(a.update(txn).await?)
        }
    }
}

/// For the Approvals issue: the launch was rejected or changes were requested; the campaign goes
/// back to DRAFT with the reviewer's comment in `lastError`.
pub async fn return_to_draft(
    txn: &DatabaseTransaction,
    org_id: Uuid,
    actor: Option<Uuid>,
    campaign_id: Uuid,
    comment: Option<String>,
) -> AppResult<campaign::Model> {
    let c = awaiting_approval(txn, org_id, campaign_id).await?;
    let mut a: campaign::ActiveModel = c.into();
    a.status = Set(CampaignStatus::Draft.as_str().into());
    a.last_error = Set(comment);
    a.updated_at = Set(Utc::now());
    let c = a.update(txn).await?;
    record_status(txn, org_id, actor, c.id, CampaignStatus::Draft).await?;
    Ok(c)
}

/// A move a user makes on a campaign after its launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// Suspends sending (RUNNING or SCHEDULED); the send job stops after the message it is on.
    Pause,
    /// Continues a PAUSED (or FAILED) campaign with the recipients not sent yet (template content
    /// taken again, so edits made while paused apply), through the gate: PENDING_APPROVAL when
    /// the content, sender or recipients changed since the last approval and a rule applies.
    Resume,
    /// Stops for good anything not finished; recipients not sent yet stay PENDING and are never
    /// sent.
    Stop,
}

impl Move {
    /// The statuses the move starts from, and the one it leads to.
    fn states(self) -> (&'static [CampaignStatus], CampaignStatus) {
        use CampaignStatus::{Failed, Paused, PendingApproval, Running, Scheduled, Stopped};
        match self {
            Move::Pause => (&[Running, Scheduled], Paused),
            Move::Resume => (&[Paused, Failed], Running),
            Move::Stop => (
                &[Running, Paused, Scheduled, PendingApproval, Failed],
                Stopped,
            ),
        }
    }
}

/// Pauses, resumes or stops a campaign: CONFLICT unless its status is one the move starts from.
pub async fn transition(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    m: Move,
) -> AppResult<campaign::Model> {
    let (from, to) = m.states();
    viewer.require(Permission::WriteOutreach)?;
    let txn = state.db.begin().await?;
    let c = get(&txn, viewer, id).await?;
    let current = status_of(&c);
    if !from.contains(&current) {
        return Err(AppError::Conflict(format!(
            "a {} campaign cannot become {}",
            current.as_str(),
            to.as_str()
        )));
    }
    let c = if to == CampaignStatus::Running {
        // Resuming passes the gate: what was approved may not be what would be sent now.
        sender_allowed(state, &txn, &c).await?;
        gated_start(&txn, viewer, c, None, Prior::Honored).await?
    } else {
        let mut a: campaign::ActiveModel = c.into();
        a.status = Set(to.as_str().into());
        if to == CampaignStatus::Stopped {
            a.completed_at = Set(Some(Utc::now()));
        }
        a.updated_at = Set(Utc::now());
        let c = a.update(&txn).await?;
        record_status(&txn, c.org_id, Some(viewer.user_id), c.id, to).await?;
        c
    };
    commit(state, txn).await?;
    Ok(c)
}
