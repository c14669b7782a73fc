//! GraphQL enums, objects, inputs and payloads of approval requests, and the live
//! `ApprovalEvent`.
//!
//! Requests resolved together (a page) share an [`ApprovalRequestPage`]: the first request that
//! needs its requester or assignees, its rule or its history loads them for all its siblings in
//! one statement each (the rules' approvers and the history's actors likewise, through their own
//! [`PageUsers`]), so a page of 50 costs what a page of 10 costs (issue 22).
//! With `NESTED_BATCHES=false` every request reads its own (the differential test's other path).

use std::{collections::HashMap, sync::Arc};

use async_graphql::{ComplexObject, Context, Enum, InputObject, Json, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{approval_action, approval_request};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::{
    auth::{Permission, Role},
    domains::{
        approvals::{
            rules::{self, types::ApprovalRule},
            types::{found, ids_of, ApprovalResourceType, PageUsers, RenderedEmail},
        },
        identity::types::{load_user, User},
    },
    error::{AppError, AppResult},
    events::{ApprovalChanged, DomainEvent, EventEnvelope},
    graphql::ContextExt,
};

/// Where an approval request is. Everything but PENDING is final.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalStatus {
    /// Waiting for decisions.
    Pending,
    /// Enough distinct approvers approved; a gated action went ahead.
    Approved,
    /// An approver rejected it; a gated campaign went back to DRAFT.
    Rejected,
    /// An approver asked for changes; a gated campaign went back to DRAFT.
    ChangesRequested,
    /// Withdrawn (`deleteApprovalRequest`).
    Cancelled,
    /// Nobody decided within `APPROVAL_EXPIRE_HOURS`.
    Expired,
}

crate::wire_enum!(ApprovalStatus { Pending => "PENDING", Approved => "APPROVED", Rejected => "REJECTED", ChangesRequested => "CHANGES_REQUESTED", Cancelled => "CANCELLED", Expired => "EXPIRED" });

/// How pressing a request is.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ApprovalPriority {
    /// Whenever convenient.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Soon.
    High,
    /// Now.
    Urgent,
}

crate::wire_enum!(ApprovalPriority { Low => "LOW", Normal => "NORMAL", High => "HIGH", Urgent => "URGENT" });

/// One entry of a request's history.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalActionKind {
    /// The request was created.
    Create,
    /// Its title, description, due time, priority or assignees changed.
    Update,
    /// An approver approved.
    Approve,
    /// An approver rejected.
    Reject,
    /// An approver asked for changes.
    RequestChanges,
    /// An assignee handed their part to someone else (`toUser`).
    Delegate,
    /// It was withdrawn.
    Cancel,
    /// It expired.
    Expire,
    /// It became overdue: marked urgent, assignees and their managers notified.
    Escalate,
}

crate::wire_enum!(ApprovalActionKind { Create => "CREATE", Update => "UPDATE", Approve => "APPROVE", Reject => "REJECT", RequestChanges => "REQUEST_CHANGES", Delegate => "DELEGATE", Cancel => "CANCEL", Expire => "EXPIRE", Escalate => "ESCALATE" });

/// A decision to take about one resource.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct ApprovalRequest {
    /// Request id.
    pub id: ID,
    /// What it is about.
    pub resource_type: ApprovalResourceType,
    /// The resource's id (a campaign id for CAMPAIGN).
    pub resource_id: String,
    /// Headline.
    pub title: String,
    /// Details.
    pub description: Option<String>,
    /// Where it is.
    pub status: ApprovalStatus,
    /// How pressing.
    pub priority: ApprovalPriority,
    /// Overdue after this time (then `urgent` becomes true).
    pub due_at: Option<DateTime<Utc>>,
    /// Overdue and escalated.
    pub urgent: bool,
    /// When it was escalated.
    pub escalated_at: Option<DateTime<Utc>>,
    /// Distinct approvals needed.
    pub required_approvals: i32,
    /// Distinct approvals so far.
    pub approval_count: i32,
    /// Everybody at or above this role is an assignee (besides `assignees`).
    pub assignee_role: Option<Role>,
    /// Created by a gate: the decision resumes (approve) or returns (reject, changes, cancel,
    /// expiry) the gated action.
    pub gated: bool,
    /// The facts the rule saw (gate requests), e.g. `{recipientCount, aiGenerated, ...}`.
    pub payload: Json<serde_json::Value>,
    /// When it was decided (or cancelled, or expired).
    pub resolved_at: Option<DateTime<Utc>>,
    /// The deciding comment (reject reason, requested changes, ...).
    pub resolution_comment: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    pub uuid: Uuid,
    #[graphql(skip)]
    pub rule_id: Option<Uuid>,
    #[graphql(skip)]
    pub requested_by: Option<Uuid>,
    #[graphql(skip)]
    pub assignee_ids: Vec<Uuid>,
    /// The requests resolved together with this one.
    #[graphql(skip)]
    pub page: Arc<ApprovalRequestPage>,
}

/// Requests resolved together (a page, or one request), with their users, rules and histories
/// loaded once for all of them.
#[derive(Debug, Default)]
pub struct ApprovalRequestPage {
    ids: Vec<Uuid>,
    rule_ids: Vec<Uuid>,
    /// Requesters and named assignees.
    users: Arc<PageUsers>,
    rules: OnceCell<HashMap<Uuid, ApprovalRule>>,
    history: OnceCell<HashMap<Uuid, Vec<ApprovalAction>>>,
}

impl ApprovalRequestPage {
    fn of(requests: &[ApprovalRequest]) -> Arc<Self> {
        let mut rule_ids: Vec<Uuid> = requests.iter().filter_map(|r| r.rule_id).collect();
        rule_ids.sort();
        rule_ids.dedup();
        let users = requests
            .iter()
            .flat_map(|r| r.assignee_ids.iter().copied().chain(r.requested_by));
        Arc::new(ApprovalRequestPage {
            ids: requests.iter().map(|r| r.uuid).collect(),
            rule_ids,
            users: PageUsers::new(users),
            rules: OnceCell::new(),
            history: OnceCell::new(),
        })
    }
}

impl ApprovalRequest {
    /// Wraps models that are resolved together (a page): they share one
    /// [`ApprovalRequestPage`].
    pub fn wrap(models: Vec<approval_request::Model>) -> Vec<ApprovalRequest> {
        let requests: Vec<ApprovalRequest> = models.into_iter().map(Self::unpaged).collect();
        let page = ApprovalRequestPage::of(&requests);
        requests
            .into_iter()
            .map(|r| ApprovalRequest {
                page: page.clone(),
                ..r
            })
            .collect()
    }
}

#[ComplexObject]
impl ApprovalRequest {
    /// Who asked.
    async fn requested_by(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        self.page.users.one(ctx, self.requested_by).await
    }
    /// Named assignees (members at or above `assigneeRole` may act too).
    async fn assignees(&self, ctx: &Context<'_>) -> AppResult<Vec<User>> {
        self.page.users.many(ctx, &self.assignee_ids).await
    }
    /// The rule that created it; null for requests made by hand or once the rule is deleted.
    async fn rule(&self, ctx: &Context<'_>) -> AppResult<Option<ApprovalRule>> {
        let Some(id) = self.rule_id else {
            return Ok(None);
        };
        let (state, viewer) = ctx.state_and_viewer()?;
        if !state.config.reads.nested_batches {
            return found(rules::get(&state.db, viewer, id).await);
        }
        let all = self
            .page
            .rules
            .get_or_try_init(|| async {
                let models = rules::by_ids(&state.db, viewer, &self.page.rule_ids).await?;
                let ids: Vec<Uuid> = models.iter().map(|m| m.id).collect();
                Ok::<_, AppError>(ids.into_iter().zip(ApprovalRule::wrap(models)).collect())
            })
            .await?;
        Ok(all.get(&id).cloned())
    }
    /// Every action on it, oldest first (loaded once for the whole page).
    async fn history(&self, ctx: &Context<'_>) -> AppResult<Vec<ApprovalAction>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        if !state.config.reads.nested_batches {
            return super::service::history_of(&state.db, viewer, self.uuid).await;
        }
        viewer.require(Permission::ReadApprovals)?;
        let all = self
            .page
            .history
            .get_or_try_init(|| super::service::histories_of(&state.db, viewer, &self.page.ids))
            .await?;
        Ok(all.get(&self.uuid).cloned().unwrap_or_default())
    }
    /// Whether the viewer may approve, reject, ask for changes or delegate it now.
    async fn can_act(&self, ctx: &Context<'_>) -> AppResult<bool> {
        let viewer = ctx.viewer()?;
        Ok(self.status == ApprovalStatus::Pending && super::service::may_act(viewer, self).is_ok())
    }
}

impl From<approval_request::Model> for ApprovalRequest {
    /// A request resolved on its own.
    fn from(m: approval_request::Model) -> Self {
        let mut r = ApprovalRequest::unpaged(m);
        r.page = ApprovalRequestPage::of(std::slice::from_ref(&r));
        r
    }
}

impl ApprovalRequest {
    /// The object of `m` with an empty page (the caller sets the page).
    fn unpaged(m: approval_request::Model) -> Self {
        ApprovalRequest {
            id: ID(m.id.to_string()),
            resource_type: ApprovalResourceType::parse(&m.resource_type)
                .unwrap_or(ApprovalResourceType::Other),
            resource_id: m.resource_id,
            title: m.title,
            description: m.description,
            status: ApprovalStatus::parse(&m.status).unwrap_or(ApprovalStatus::Pending),
            priority: ApprovalPriority::parse(&m.priority).unwrap_or_default(),
            due_at: m.due_at,
            urgent: m.urgent,
            escalated_at: m.escalated_at,
            required_approvals: m.required_approvals,
            approval_count: m.approval_count,
            assignee_role: m.assignee_role.as_deref().and_then(Role::parse),
            gated: m.gated,
            payload: Json(m.payload),
            resolved_at: m.resolved_at,
            resolution_comment: m.resolution_comment,
            created_at: m.created_at,
            updated_at: m.updated_at,
            uuid: m.id,
            rule_id: m.rule_id,
            requested_by: m.requested_by,
            assignee_ids: ids_of(&m.assignee_ids),
            page: Arc::default(),
        }
    }
}

/// One entry of a request's history.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct ApprovalAction {
    /// Entry id.
    pub id: ID,
    /// The request.
    pub request_id: ID,
    /// What happened.
    pub action: ApprovalActionKind,
    /// The comment (reason, requested changes, ...).
    pub comment: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    #[graphql(skip)]
    pub actor_id: Option<Uuid>,
    #[graphql(skip)]
    pub to_user_id: Option<Uuid>,
    /// The actors and delegates of the entries resolved together (loaded once for all).
    #[graphql(skip)]
    pub users: Arc<PageUsers>,
}

#[ComplexObject]
impl ApprovalAction {
    /// Who did it; null for the system (ESCALATE, EXPIRE).
    async fn actor(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        self.users.one(ctx, self.actor_id).await
    }
    /// The delegate (DELEGATE).
    async fn to_user(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        self.users.one(ctx, self.to_user_id).await
    }
}

impl ApprovalAction {
    /// Entries resolved together (a page, or the histories of a page of requests): their
    /// actors and delegates load in one statement.
    pub fn wrap(models: Vec<approval_action::Model>) -> Vec<ApprovalAction> {
        let users = PageUsers::new(
            models
                .iter()
                .flat_map(|m| m.actor_id.into_iter().chain(m.to_user_id)),
        );
        models
            .into_iter()
            .map(|m| ApprovalAction {
                users: users.clone(),
                ..ApprovalAction::from(m)
            })
            .collect()
    }
}

impl From<approval_action::Model> for ApprovalAction {
    /// An entry resolved on its own.
    fn from(m: approval_action::Model) -> Self {
        let users = PageUsers::new(m.actor_id.into_iter().chain(m.to_user_id));
        ApprovalAction {
            id: ID(m.id.to_string()),
            request_id: ID(m.request_id.to_string()),
            action: ApprovalActionKind::parse(&m.action).unwrap_or(ApprovalActionKind::Update),
            comment: m.comment,
            at: m.created_at,
            actor_id: m.actor_id,
            to_user_id: m.to_user_id,
            users,
        }
    }
}

/// Filter of `approvalRequests`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct ApprovalRequestFilter {
    /// Any of these statuses.
    pub status: Option<Vec<ApprovalStatus>>,
    /// This resource type.
    pub resource_type: Option<ApprovalResourceType>,
    /// Only requests the viewer is an assignee of (named, or by role).
    pub assigned_to_me: Option<bool>,
    /// Only urgent (true) or only not urgent (false) requests.
    pub urgent: Option<bool>,
}

/// Input of `createApprovalRequest`.
#[derive(InputObject, Debug, Clone)]
pub struct CreateApprovalRequestInput {
    /// What it is about.
    pub resource_type: ApprovalResourceType,
    /// The resource's id (for CAMPAIGN, a campaign of the organization).
    pub resource_id: String,
    /// Headline (1–200 characters).
    pub title: String,
    /// Details (up to 5,000 characters).
    pub description: Option<String>,
    /// Named assignees (members of the organization; not yourself). Give these, `assigneeRole`,
    /// or both.
    pub assignee_ids: Option<Vec<ID>>,
    /// Everybody at or above this role (MEMBER or higher) is an assignee.
    pub assignee_role: Option<Role>,
    /// Distinct approvals needed (1–10, default 1).
    pub required_approvals: Option<i32>,
    /// Overdue after this time (future).
    pub due_at: Option<DateTime<Utc>>,
    /// Default NORMAL.
    pub priority: Option<ApprovalPriority>,
}

/// Input of `updateApprovalRequest` (pending requests only; absent fields stay).
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateApprovalRequestInput {
    /// Headline (1–200 characters).
    pub title: Option<String>,
    /// Details (up to 5,000 characters).
    pub description: Option<String>,
    /// Named assignees (replaces the list).
    pub assignee_ids: Option<Vec<ID>>,
    /// Everybody at or above this role is an assignee.
    pub assignee_role: Option<Role>,
    /// Overdue after this time.
    pub due_at: Option<DateTime<Utc>>,
    /// Priority.
    pub priority: Option<ApprovalPriority>,
}

/// What awaits approval (`approvalPreview`).
#[derive(SimpleObject, Debug, Clone)]
pub struct ApprovalPreview {
    /// The request.
    pub request_id: ID,
    /// What it is about.
    pub resource_type: ApprovalResourceType,
    /// Headline.
    pub title: String,
    /// Facts the rule saw.
    pub facts: Json<serde_json::Value>,
    /// CAMPAIGN: recipients that would be sent to now.
    pub recipient_count: Option<i64>,
    /// CAMPAIGN: when it would start (null = at approval).
    pub schedule_at: Option<DateTime<Utc>>,
    /// CAMPAIGN: sending pace (null = unlimited).
    pub send_rate_per_minute: Option<i32>,
    /// CAMPAIGN: the email as the sample recipient would get it (the template as it is now).
    pub email: Option<RenderedEmail>,
    /// CAMPAIGN: the sample recipient's address (null: sample data was used).
    pub sample_recipient: Option<String>,
    /// CAMPAIGN: of `recipientCount`, the recipients the deliverability gate would skip
    /// (UNDELIVERABLE, or not validated when the campaign requires validated recipients).
    pub skipped_recipient_count: Option<i64>,
}

/// Decisions of one approver.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(complex)]
pub struct ApproverStats {
    /// Approvals given.
    pub approved: i64,
    /// Rejections.
    pub rejected: i64,
    /// Changes requested.
    pub changes_requested: i64,
    #[graphql(skip)]
    pub user_id: Uuid,
}

#[ComplexObject]
impl ApproverStats {
    /// The approver.
    async fn user(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        load_user(ctx, Some(self.user_id)).await
    }
}

/// `approvalStats`.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct ApprovalStats {
    /// Waiting.
    pub pending: i64,
    /// Waiting and overdue.
    pub urgent: i64,
    /// Approved.
    pub approved: i64,
    /// Rejected.
    pub rejected: i64,
    /// Changes requested.
    pub changes_requested: i64,
    /// Cancelled.
    pub cancelled: i64,
    /// Expired.
    pub expired: i64,
    /// Median hours from creation to decision (approved, rejected, changes requested); null
    /// when nothing was decided.
    pub median_hours_to_decision: Option<f64>,
    /// Decisions per approver, most first.
    pub by_approver: Vec<ApproverStats>,
}

/// Live approval event kind.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalEventKind {
    /// A request waits (created, delegated or escalated: see `reason`).
    Pending,
    /// A request was decided, cancelled or expired.
    Resolved,
}

/// A live approval event.
pub struct ApprovalEvent {
    env: EventEnvelope,
    kind: ApprovalEventKind,
    data: ApprovalChanged,
}

#[Object]
impl ApprovalEvent {
    /// Event id; pass it as `after` to resume after this event.
    async fn id(&self) -> ID {
        ID(self.env.id.to_string())
    }
    /// Pending or resolved.
    async fn kind(&self) -> ApprovalEventKind {
        self.kind
    }
    /// `created`, `delegated`, `escalated` (PENDING); `approved`, `rejected`,
    /// `changes_requested`, `cancelled`, `expired` (RESOLVED).
    async fn reason(&self) -> &str {
        &self.data.reason
    }
    /// The request's id.
    async fn request_id(&self) -> ID {
        ID(self.data.request_id.to_string())
    }
    /// Its status at the time of the event.
    async fn status(&self) -> Option<ApprovalStatus> {
        ApprovalStatus::parse(&self.data.status)
    }
    /// Whether it was urgent at the time of the event.
    async fn urgent(&self) -> bool {
        self.data.urgent
    }
    /// Distinct approvals so far.
    async fn approval_count(&self) -> i32 {
        self.data.approval_count
    }
    /// Distinct approvals needed.
    async fn required_approvals(&self) -> i32 {
        self.data.required_approvals
    }
    /// What it is about.
    async fn resource_type(&self) -> Option<ApprovalResourceType> {
        ApprovalResourceType::parse(&self.data.resource_type)
    }
    /// The resource's id.
    async fn resource_id(&self) -> &str {
        &self.data.resource_id
    }
    /// The acting user (null for the SLA sweep).
    async fn user_id(&self) -> Option<ID> {
        self.env.user_id.map(|u| ID(u.to_string()))
    }
    /// The request as it is now.
    async fn request(&self, ctx: &Context<'_>) -> AppResult<Option<ApprovalRequest>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        found(super::service::get(&state.db, viewer, self.data.request_id).await)
    }
    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.env.occurred_at
    }
}

impl ApprovalEvent {
    /// The event, when `env` is an approval event.
    pub fn from_envelope(env: EventEnvelope) -> Option<Self> {
        let (kind, data) = match &env.event {
            DomainEvent::ApprovalPending(a) => (ApprovalEventKind::Pending, a.clone()),
            DomainEvent::ApprovalResolved(a) => (ApprovalEventKind::Resolved, a.clone()),
            _ => return None,
        };
        Some(ApprovalEvent { env, kind, data })
    }
}
