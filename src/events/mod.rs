//! Domain events: one enum, serialized with a `type` tag, carried in an envelope with the
//! organization, optional user, an event id and the time it happened.
//!
//! Flow: a service writes the event to the outbox inside the transaction of its change
//! ([`outbox::record`], or [`outbox::record_many`] for batch writers) and ends the transaction
//! with `state.commit(txn, Wakes::Events)` (`Wakes::Jobs` when it also enqueued jobs), which
//! commits and wakes the relay. The [`relay`] publishes committed events to the [`EventBus`] and
//! marks them published; every process fans bus events out to its WebSocket subscribers.
//!
//! - **Wire form**: `{"type": "job.updated", "data": {…}}` inside an [`EventEnvelope`]
//!   `{id (UUID v7), seq, position, org_id, user_id, occurred_at}`.
//! - **Handlers** ([`handlers`]): `events` names no domain. A domain that reacts to events inside
//!   the writer's transaction (notifications, approvals and outreach derive notifications)
//!   implements [`handlers::EventHandler`] and registers it at start-up with
//!   [`handlers::register`], from its `mod.rs` `register()` called by `startup.rs`. `record` runs
//!   every handler that `wants` the event right after storing it, with the same connection, so
//!   what handlers write commits or rolls back with the change. Registration is process-wide and
//!   idempotent by name.
//! - **Positions** (`relay.rs`): the relay first gives committed rows their publication
//!   `position` (one `UPDATE … FROM (ROW_NUMBER() …)` in its own transaction), then publishes
//!   positioned, unpublished rows in position order and stamps `published_at`. Both steps hold
//!   one advisory lock on Postgres, so relays of several instances take turns and the bus sees
//!   positions in order. Positions are gap-free across organizations and committed before
//!   anything is published; `seq` is taken at insert and two transactions can commit out of `seq`
//!   order, which is why cursors use `position`. If the bus is down the rows stay unpublished and
//!   the relay retries with backoff; delivery is at-least-once and clients dedupe by event id.
//! - **Bus** (`bus.rs`): [`MemoryBus`] (tokio broadcast) and [`RedisBus`] (one `PUBLISH` per
//!   event on `lg:org:{org_id}`; per process one pub/sub connection on `PSUBSCRIBE lg:org:*`,
//!   fanned out locally as [`BusMessage`]`::{Event, Resync}`; after a reconnect it sends `Resync`,
//!   because anything published meanwhile is gone).
//! - **Visibility**: [`DomainEvent::visible_to`] is the one place that decides who may receive an
//!   event; [`DomainEvent::revokes`] decides which events end a live connection.
//! - **Retention**: published events older than `EVENT_RETENTION_HOURS` are pruned hourly
//!   ([`outbox::spawn_pruner`]); replay (`after`) never reaches past that window.

pub mod bus;
pub mod handlers;
pub mod outbox;
mod payloads;
pub mod relay;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{Permission, Viewer, ViewerVia};

pub use bus::{BusError, BusMessage, EventBus, MemoryBus, RedisBus};
pub use payloads::*;

/// An event with its routing and identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    /// Event id (UUID v7); clients dedupe and resume by it.
    pub id: Uuid,
    /// Outbox insert sequence number, set once the event is stored.
    #[serde(default)]
    pub seq: i64,
    /// Publication position: gap-free and in publication order across all organizations, set by
    /// the relay. Subscribers resume and detect gaps by it; 0 until published.
    #[serde(default)]
    pub position: i64,
    /// Organization the event belongs to; only its members may receive it.
    pub org_id: Uuid,
    /// Acting or addressed user, when there is one.
    pub user_id: Option<Uuid>,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// What happened.
    #[serde(flatten)]
    pub event: DomainEvent,
}

impl EventEnvelope {
    /// A new envelope for an event of `org_id`.
    pub fn new(org_id: Uuid, user_id: Option<Uuid>, event: DomainEvent) -> Self {
        EventEnvelope {
            id: Uuid::now_v7(),
            seq: 0,
            position: 0,
            org_id,
            user_id,
            occurred_at: Utc::now(),
            event,
        }
    }
}

/// Every domain event. The serde tag is the public event type name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum DomainEvent {
    /// A background job changed state or reported progress.
    #[serde(rename = "job.updated")]
    JobUpdated(JobUpdated),
    /// A lead was created.
    #[serde(rename = "lead.created")]
    LeadCreated(LeadChanged),
    /// A lead changed; `changedFields` lists what.
    #[serde(rename = "lead.updated")]
    LeadUpdated(LeadChanged),
    /// A lead was deleted.
    #[serde(rename = "lead.deleted")]
    LeadDeleted(LeadChanged),
    /// An API key was revoked; connections using it are closed.
    #[serde(rename = "api_key.revoked")]
    ApiKeyRevoked(ApiKeyRevoked),
    /// Sessions ended (logout, password change, member removed); their connections are closed.
    #[serde(rename = "access.revoked")]
    AccessRevoked(AccessRevoked),
    /// A notification was created for the envelope's user (only that user receives it).
    #[serde(rename = "notification.new")]
    NotificationCreated(NotificationCreated),
    /// A scrape job made progress or changed status (at most every 250 ms while running).
    #[serde(rename = "scrape.progress")]
    ScrapeProgress(ScrapeProgress),
    /// A scrape job reached a final status (succeeded, failed or cancelled).
    #[serde(rename = "scrape.completed")]
    ScrapeCompleted(ScrapeProgress),
    /// A campaign changed status or sent a batch (live counters).
    #[serde(rename = "campaign.status")]
    CampaignStatus(CampaignStatusChanged),
    /// Something happened to one campaign email: sent, opened, clicked, replied, bounced,
    /// unsubscribed, failed.
    #[serde(rename = "campaign.activity")]
    CampaignActivity(CampaignActivity),
    /// An approval request waits: created, delegated or escalated (`reason`).
    #[serde(rename = "approval.pending")]
    ApprovalPending(ApprovalChanged),
    /// An approval request was decided, cancelled or expired.
    #[serde(rename = "approval.resolved")]
    ApprovalResolved(ApprovalChanged),
    /// A search goal's run moved: status, scrape jobs done, leads found, leads ranked.
    #[serde(rename = "search_goal.progress")]
    SearchGoalProgress(SearchGoalProgress),
    /// A saved location was created, changed (`changedFields`) or deleted.
    #[serde(rename = "location.changed")]
    LocationChanged(LocationChanged),
    /// A conversation message was added, edited, reacted to, deleted or changed delivery status.
    #[serde(rename = "conversation.message")]
    ConversationMessage(ConversationMessageChanged),
    /// A conversation was created, changed (status, assignee, labels), read or deleted.
    #[serde(rename = "conversation.updated")]
    ConversationUpdated(ConversationChanged),
    /// An auto-responder rule was created, changed or deleted.
    #[serde(rename = "auto_responder.rule")]
    AutoResponderRule(AutoResponderRuleChanged),
    /// An auto-responder rule answered an inbound message (a queued reply, or an AI draft
    /// waiting for approval) or its draft was decided.
    #[serde(rename = "conversation.auto_reply")]
    ConversationAutoReply(AutoReplyChanged),
    /// A deal was created.
    #[serde(rename = "deal.created")]
    DealCreated(DealChanged),
    /// A deal changed (fields or stage; `reason`).
    #[serde(rename = "deal.updated")]
    DealUpdated(DealChanged),
    /// A deal was won or lost.
    #[serde(rename = "deal.closed")]
    DealClosed(DealChanged),
    /// A file was uploaded to the organization's storage.
    #[serde(rename = "file.uploaded")]
    FileUploaded(FileChanged),
    /// A file was deleted.
    #[serde(rename = "file.deleted")]
    FileDeleted(FileChanged),
    /// A campaign's or source's marketing cost was set.
    #[serde(rename = "cost.updated")]
    CostUpdated(CostChanged),
    /// A schedule was created, changed, paused, resumed or deleted.
    #[serde(rename = "schedule.changed")]
    ScheduleChanged(ScheduleChanged),
    /// A schedule's occurrence fired (once, whatever the number of instances).
    #[serde(rename = "schedule.fired")]
    ScheduleFired(ScheduleFired),
    /// A batch enrichment run moved (status, pairs done, filled, failed).
    #[serde(rename = "enrichment.progress")]
    EnrichmentProgress(EnrichmentProgress),
    /// A workflow was created, changed, activated, deactivated, deleted or synced from n8n.
    #[serde(rename = "workflow.changed")]
    WorkflowChanged(WorkflowChanged),
    /// A workflow execution was started through its webhook trigger.
    #[serde(rename = "workflow.started")]
    WorkflowStarted(WorkflowStarted),
    /// n8n reported a workflow execution finished successfully.
    #[serde(rename = "workflow.completed")]
    WorkflowCompleted(WorkflowFinished),
    /// n8n reported a workflow execution failed (error, crashed or canceled).
    #[serde(rename = "workflow.failed")]
    WorkflowFailed(WorkflowFinished),
    /// A sequence was created, changed, paused, resumed or deleted.
    #[serde(rename = "sequence.changed")]
    SequenceChanged(SequenceChanged),
    /// A lead's enrollment in a sequence stopped (reply, unsubscribe, bounce, unenroll, …).
    #[serde(rename = "sequence.enrollment_stopped")]
    SequenceEnrollmentStopped(SequenceEnrollmentStopped),
    /// Something happened to one sequence email: sent, opened, clicked, replied, bounced,
    /// unsubscribed.
    #[serde(rename = "sequence.activity")]
    SequenceActivity(SequenceActivity),
    /// A report was created or deleted.
    #[serde(rename = "report.changed")]
    ReportChanged(ReportChanged),
    /// A report run moved: queued, running (with progress), succeeded or failed.
    #[serde(rename = "report.run")]
    ReportRun(ReportChanged),
}

impl DomainEvent {
    /// The public type name (`job.updated`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            DomainEvent::JobUpdated(_) => "job.updated",
            DomainEvent::ApiKeyRevoked(_) => "api_key.revoked",
            DomainEvent::AccessRevoked(_) => "access.revoked",
            DomainEvent::LeadCreated(_) => "lead.created",
            DomainEvent::LeadUpdated(_) => "lead.updated",
            DomainEvent::LeadDeleted(_) => "lead.deleted",
            DomainEvent::NotificationCreated(_) => "notification.new",
            DomainEvent::ScrapeProgress(_) => "scrape.progress",
            DomainEvent::ScrapeCompleted(_) => "scrape.completed",
            DomainEvent::CampaignStatus(_) => "campaign.status",
            DomainEvent::CampaignActivity(_) => "campaign.activity",
            DomainEvent::ApprovalPending(_) => "approval.pending",
            DomainEvent::ApprovalResolved(_) => "approval.resolved",
            DomainEvent::SearchGoalProgress(_) => "search_goal.progress",
            DomainEvent::LocationChanged(_) => "location.changed",
            DomainEvent::ConversationMessage(_) => "conversation.message",
            DomainEvent::ConversationUpdated(_) => "conversation.updated",
            DomainEvent::AutoResponderRule(_) => "auto_responder.rule",
            DomainEvent::ConversationAutoReply(_) => "conversation.auto_reply",
            DomainEvent::DealCreated(_) => "deal.created",
            DomainEvent::DealUpdated(_) => "deal.updated",
            DomainEvent::DealClosed(_) => "deal.closed",
            DomainEvent::FileUploaded(_) => "file.uploaded",
            DomainEvent::FileDeleted(_) => "file.deleted",
            DomainEvent::CostUpdated(_) => "cost.updated",
            DomainEvent::ScheduleChanged(_) => "schedule.changed",
            DomainEvent::ScheduleFired(_) => "schedule.fired",
            DomainEvent::EnrichmentProgress(_) => "enrichment.progress",
            DomainEvent::WorkflowChanged(_) => "workflow.changed",
            DomainEvent::WorkflowStarted(_) => "workflow.started",
            DomainEvent::WorkflowCompleted(_) => "workflow.completed",
            DomainEvent::WorkflowFailed(_) => "workflow.failed",
            DomainEvent::SequenceChanged(_) => "sequence.changed",
            DomainEvent::SequenceEnrollmentStopped(_) => "sequence.enrollment_stopped",
            DomainEvent::SequenceActivity(_) => "sequence.activity",
            DomainEvent::ReportChanged(_) => "report.changed",
            DomainEvent::ReportRun(_) => "report.run",
        }
    }

    /// The GraphQL enum value for the type.
    pub fn event_type(&self) -> EventType {
        match self {
            DomainEvent::JobUpdated(_) => EventType::JobUpdated,
            DomainEvent::ApiKeyRevoked(_) => EventType::ApiKeyRevoked,
            DomainEvent::AccessRevoked(_) => EventType::AccessRevoked,
            DomainEvent::LeadCreated(_) => EventType::LeadCreated,
            DomainEvent::LeadUpdated(_) => EventType::LeadUpdated,
            DomainEvent::LeadDeleted(_) => EventType::LeadDeleted,
            DomainEvent::NotificationCreated(_) => EventType::NotificationNew,
            DomainEvent::ScrapeProgress(_) => EventType::ScrapeProgress,
            DomainEvent::ScrapeCompleted(_) => EventType::ScrapeCompleted,
            DomainEvent::CampaignStatus(_) => EventType::CampaignStatus,
            DomainEvent::CampaignActivity(_) => EventType::CampaignActivity,
            DomainEvent::ApprovalPending(_) => EventType::ApprovalPending,
            DomainEvent::ApprovalResolved(_) => EventType::ApprovalResolved,
            DomainEvent::SearchGoalProgress(_) => EventType::SearchGoalProgress,
            DomainEvent::LocationChanged(_) => EventType::LocationChanged,
            DomainEvent::ConversationMessage(_) => EventType::ConversationMessage,
            DomainEvent::ConversationUpdated(_) => EventType::ConversationUpdated,
            DomainEvent::AutoResponderRule(_) => EventType::AutoResponderRule,
            DomainEvent::ConversationAutoReply(_) => EventType::ConversationAutoReply,
            DomainEvent::DealCreated(_) => EventType::DealCreated,
            DomainEvent::DealUpdated(_) => EventType::DealUpdated,
            DomainEvent::DealClosed(_) => EventType::DealClosed,
            DomainEvent::FileUploaded(_) => EventType::FileUploaded,
            DomainEvent::FileDeleted(_) => EventType::FileDeleted,
            DomainEvent::CostUpdated(_) => EventType::CostUpdated,
            DomainEvent::ScheduleChanged(_) => EventType::ScheduleChanged,
            DomainEvent::ScheduleFired(_) => EventType::ScheduleFired,
            DomainEvent::EnrichmentProgress(_) => EventType::EnrichmentProgress,
            DomainEvent::WorkflowChanged(_) => EventType::WorkflowChanged,
            DomainEvent::WorkflowStarted(_) => EventType::WorkflowStarted,
            DomainEvent::WorkflowCompleted(_) => EventType::WorkflowCompleted,
            DomainEvent::WorkflowFailed(_) => EventType::WorkflowFailed,
            DomainEvent::SequenceChanged(_) => EventType::SequenceChanged,
            DomainEvent::SequenceEnrollmentStopped(_) => EventType::SequenceEnrollmentStopped,
            DomainEvent::SequenceActivity(_) => EventType::SequenceActivity,
            DomainEvent::ReportChanged(_) => EventType::ReportChanged,
            DomainEvent::ReportRun(_) => EventType::ReportRun,
        }
    }
}

impl DomainEvent {
    /// Whether `viewer` may receive this event (`env` is its envelope). Every event sent to a
    /// subscriber passes through here; an event type without an arm here is never sent.
    pub fn visible_to(&self, env: &EventEnvelope, viewer: &Viewer) -> bool {
        if env.org_id != viewer.org_id {
            return false;
        }
        match self {
            DomainEvent::JobUpdated(_) => viewer.require(Permission::ReadJobs).is_ok(),
            DomainEvent::LeadCreated(_)
            | DomainEvent::LeadUpdated(_)
            | DomainEvent::LeadDeleted(_) => viewer.require(Permission::ReadLeads).is_ok(),
            DomainEvent::ApiKeyRevoked(_) => viewer.require(Permission::ManageApiKeys).is_ok(),
            DomainEvent::AccessRevoked(r) => {
                r.user_id == Some(viewer.user_id)
                    || viewer.require(Permission::ManageMembers).is_ok()
            }
            DomainEvent::NotificationCreated(_) => env.user_id == Some(viewer.user_id),
            DomainEvent::ScrapeProgress(_) | DomainEvent::ScrapeCompleted(_) => {
                viewer.require(Permission::ReadScrapeJobs).is_ok()
            }
            DomainEvent::CampaignStatus(_) | DomainEvent::CampaignActivity(_) => {
                viewer.require(Permission::ReadOutreach).is_ok()
            }
            DomainEvent::ApprovalPending(_) | DomainEvent::ApprovalResolved(_) => {
                viewer.require(Permission::ReadApprovals).is_ok()
            }
            DomainEvent::SearchGoalProgress(_) => viewer.require(Permission::ReadAi).is_ok(),
            DomainEvent::LocationChanged(_) => viewer.require(Permission::ReadPlaces).is_ok(),
            DomainEvent::ConversationMessage(_)
            | DomainEvent::ConversationUpdated(_)
            | DomainEvent::AutoResponderRule(_)
            | DomainEvent::ConversationAutoReply(_) => {
                viewer.require(Permission::ReadConversations).is_ok()
            }
            DomainEvent::DealCreated(_)
            | DomainEvent::DealUpdated(_)
            | DomainEvent::DealClosed(_)
            | DomainEvent::CostUpdated(_) => viewer.require(Permission::ReadDeals).is_ok(),
            DomainEvent::FileUploaded(_) | DomainEvent::FileDeleted(_) => {
                viewer.require(Permission::ReadFiles).is_ok()
            }
            DomainEvent::ScheduleChanged(_) | DomainEvent::ScheduleFired(_) => {
                viewer.require(Permission::ManageSchedules).is_ok()
            }
            DomainEvent::EnrichmentProgress(_) => viewer.require(Permission::EnrichLeads).is_ok(),
            DomainEvent::WorkflowChanged(_)
            | DomainEvent::WorkflowStarted(_)
            | DomainEvent::WorkflowCompleted(_)
            | DomainEvent::WorkflowFailed(_) => viewer.require(Permission::RunWorkflows).is_ok(),
            DomainEvent::SequenceChanged(_)
            | DomainEvent::SequenceEnrollmentStopped(_)
            | DomainEvent::SequenceActivity(_) => viewer.require(Permission::ReadSequences).is_ok(),
            DomainEvent::ReportChanged(_) | DomainEvent::ReportRun(_) => {
                viewer.require(Permission::ReadDeals).is_ok()
            }
        }
    }

    /// Whether this event ends the connection authenticated as `viewer`.
    pub fn revokes(&self, env: &EventEnvelope, viewer: &Viewer) -> bool {
        if env.org_id != viewer.org_id {
            return false;
        }
        match self {
            DomainEvent::ApiKeyRevoked(r) => {
                viewer.via == ViewerVia::ApiKey && viewer.session_id == Some(r.api_key_id)
            }
            DomainEvent::AccessRevoked(r) => {
                if viewer.via == ViewerVia::ApiKey {
                    // A key acts for its creator: it ends when they leave and is re-checked (its
                    // effective role is capped by theirs) when their role changes.
                    return r.session_id.is_none()
                        && r.user_id == Some(viewer.user_id)
                        && matches!(r.reason.as_str(), "member_removed" | "role_changed");
                }
                let session = viewer.session_id;
                match (r.session_id, r.user_id) {
                    (Some(s), _) => session == Some(s),
                    (None, Some(u)) => {
                        u == viewer.user_id
                            && (r.except_session_id.is_none() || r.except_session_id != session)
                    }
                    (None, None) => false,
                }
            }
            _ => false,
        }
    }
}

/// Event types as exposed in the GraphQL schema.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `job.updated`: a background job changed state or progress.
    JobUpdated,
    /// `api_key.revoked`: an API key of the organization was revoked (ADMIN+ see it).
    ApiKeyRevoked,
    /// `access.revoked`: sessions ended (the user concerned and ADMIN+ see it).
    AccessRevoked,
    /// `lead.created`.
    LeadCreated,
    /// `lead.updated`.
    LeadUpdated,
    /// `lead.deleted`.
    LeadDeleted,
    /// `notification.new`: a notification for the viewer (only its recipient sees it).
    NotificationNew,
    /// `scrape.progress`: a scrape job's progress or status changed.
    ScrapeProgress,
    /// `scrape.completed`: a scrape job finished (succeeded, failed or cancelled).
    ScrapeCompleted,
    /// `campaign.status`: a campaign changed status, or its counters moved while sending.
    CampaignStatus,
    /// `campaign.activity`: one campaign email was sent, opened, clicked, replied to, bounced,
    /// unsubscribed from or failed.
    CampaignActivity,
    /// `approval.pending`: an approval request was created, delegated or escalated.
    ApprovalPending,
    /// `approval.resolved`: an approval request was decided, cancelled or expired.
    ApprovalResolved,
    /// `search_goal.progress`: a search goal's run moved (status, jobs, leads, ranking).
    SearchGoalProgress,
    /// `location.changed`: a saved location was created, changed or deleted.
    LocationChanged,
    /// `conversation.message`: a conversation message was added, edited, reacted to, deleted
    /// or changed delivery status.
    ConversationMessage,
    /// `conversation.updated`: a conversation was created, changed, read or deleted.
    ConversationUpdated,
    /// `auto_responder.rule`: an auto-responder rule was created, changed or deleted.
    AutoResponderRule,
    /// `conversation.auto_reply`: an auto-responder rule answered an inbound message, or its
    /// AI draft was approved or rejected.
    ConversationAutoReply,
    /// `deal.created`.
    DealCreated,
    /// `deal.updated`: a deal's fields or stage changed.
    DealUpdated,
    /// `deal.closed`: a deal was won or lost.
    DealClosed,
    /// `file.uploaded`: a file was uploaded.
    FileUploaded,
    /// `file.deleted`: a file was deleted.
    FileDeleted,
    /// `cost.updated`: a campaign's or source's marketing cost was set.
    CostUpdated,
    /// `schedule.changed`: a schedule was created, changed, paused, resumed or deleted.
    ScheduleChanged,
    /// `schedule.fired`: one occurrence of a schedule fired.
    ScheduleFired,
    /// `enrichment.progress`: a batch enrichment run moved.
    EnrichmentProgress,
    /// `workflow.changed`: an n8n workflow was created, changed, activated, deactivated,
    /// deleted or synced.
    WorkflowChanged,
    /// `workflow.started`: a workflow execution was started through its webhook trigger.
    WorkflowStarted,
    /// `workflow.completed`: n8n reported a workflow execution finished successfully.
    WorkflowCompleted,
    /// `workflow.failed`: n8n reported a workflow execution failed.
    WorkflowFailed,
    /// `sequence.changed`: a sequence was created, changed, paused, resumed or deleted.
    SequenceChanged,
    /// `sequence.enrollment_stopped`: a lead's enrollment in a sequence stopped.
    SequenceEnrollmentStopped,
    /// `sequence.activity`: one sequence email was sent, opened, clicked, replied to, bounced
    /// or unsubscribed from.
    SequenceActivity,
    /// `report.changed`: a report was created or deleted.
    ReportChanged,
    /// `report.run`: a report run was queued, started, moved, succeeded or failed.
    ReportRun,
}

impl EventType {
    /// The public type name (`job.updated`, ...), as [`DomainEvent::type_name`] gives it.
    pub fn type_name(self) -> &'static str {
        match self {
            EventType::JobUpdated => "job.updated",
            EventType::ApiKeyRevoked => "api_key.revoked",
            EventType::AccessRevoked => "access.revoked",
            EventType::LeadCreated => "lead.created",
            EventType::LeadUpdated => "lead.updated",
            EventType::LeadDeleted => "lead.deleted",
            EventType::NotificationNew => "notification.new",
            EventType::ScrapeProgress => "scrape.progress",
            EventType::ScrapeCompleted => "scrape.completed",
            EventType::CampaignStatus => "campaign.status",
            EventType::CampaignActivity => "campaign.activity",
            EventType::ApprovalPending => "approval.pending",
            EventType::ApprovalResolved => "approval.resolved",
            EventType::SearchGoalProgress => "search_goal.progress",
            EventType::LocationChanged => "location.changed",
            EventType::ConversationMessage => "conversation.message",
            EventType::ConversationUpdated => "conversation.updated",
            EventType::AutoResponderRule => "auto_responder.rule",
            EventType::ConversationAutoReply => "conversation.auto_reply",
            EventType::DealCreated => "deal.created",
            EventType::DealUpdated => "deal.updated",
            EventType::DealClosed => "deal.closed",
            EventType::FileUploaded => "file.uploaded",
            EventType::FileDeleted => "file.deleted",
            EventType::CostUpdated => "cost.updated",
            EventType::ScheduleChanged => "schedule.changed",
            EventType::ScheduleFired => "schedule.fired",
            EventType::EnrichmentProgress => "enrichment.progress",
            EventType::WorkflowChanged => "workflow.changed",
            EventType::WorkflowStarted => "workflow.started",
            EventType::WorkflowCompleted => "workflow.completed",
            EventType::WorkflowFailed => "workflow.failed",
            EventType::SequenceChanged => "sequence.changed",
            EventType::SequenceEnrollmentStopped => "sequence.enrollment_stopped",
            EventType::SequenceActivity => "sequence.activity",
            EventType::ReportChanged => "report.changed",
            EventType::ReportRun => "report.run",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_wire_format_is_tagged() {
        let ev = EventEnvelope::new(
            Uuid::now_v7(),
            None,
            DomainEvent::JobUpdated(JobUpdated {
                job_id: Uuid::nil(),
                kind: "k".into(),
                state: "queued".into(),
                progress: None,
            }),
        );
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["type"], "job.updated");
        assert_eq!(v["data"]["jobId"], Uuid::nil().to_string());
        let back: EventEnvelope = serde_json::from_value(v).unwrap();
        assert_eq!(back, ev);
    }
}
