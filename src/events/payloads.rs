//! The payloads of the domain events: one struct per event kind, serialized into the outbox and
//! the event stream (camelCase), some also GraphQL objects (one definition for live and stored
//! values).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

// Carried by `campaign.status`, and the GraphQL `CampaignCounters` as it is: one definition, so
// the live counters and the stored ones cannot drift apart. The doc comments are the schema's
// descriptions.
/// Counters of a campaign (also carried by live `campaignEvents`).
#[derive(async_graphql::SimpleObject, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignCounters {
    /// Recipients.
    pub total: i64,
    /// Not sent yet.
    pub pending: i64,
    // Including those opened, clicked, replied, ...
    /// Accepted by the mail server.
    pub sent: i64,
    // Refused for good, or not sent (suppressed, delivery uncertain).
    /// Failed, suppressed or uncertain.
    pub failed: i64,
    // At least once.
    /// Opened.
    pub opened: i64,
    // At least once.
    /// Clicked.
    pub clicked: i64,
    /// Replied.
    pub replied: i64,
    // Hard or soft.
    /// Bounced.
    pub bounced: i64,
    /// Unsubscribed.
    pub unsubscribed: i64,
}

/// Payload of `campaign.status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignStatusChanged {
    /// The campaign.
    pub campaign_id: Uuid,
    /// Its status (`RUNNING`, `PAUSED`, `COMPLETED`, ...).
    pub status: String,
    /// Counters at the time of the event.
    pub counters: CampaignCounters,
    /// The A/B winner's variant name, on the event that records the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab_winner: Option<String>,
}

/// Payload of `campaign.activity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignActivity {
    /// The campaign.
    pub campaign_id: Uuid,
    /// The recipient row.
    pub recipient_id: Uuid,
    /// The lead, unless it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<Uuid>,
    /// `sent`, `open`, `click`, `reply`, `bounce`, `unsubscribe`, `complaint`, `failed`.
    pub kind: String,
}

/// Payload of `approval.pending` and `approval.resolved`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalChanged {
    /// The approval request.
    pub request_id: Uuid,
    /// `CAMPAIGN`, `AI_REPLY`, `DEMO_SITE`, `OTHER`.
    pub resource_type: String,
    /// The resource.
    pub resource_id: String,
    /// The request's status (`PENDING`, `APPROVED`, ...).
    pub status: String,
    /// Overdue and escalated.
    pub urgent: bool,
    /// Distinct approvals so far.
    pub approval_count: i32,
    /// Distinct approvals needed.
    pub required_approvals: i32,
    /// `created`, `delegated`, `escalated` (pending); `approved`, `rejected`,
    /// `changes_requested`, `cancelled`, `expired` (resolved).
    pub reason: String,
    /// The delegate (`delegated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegate_id: Option<Uuid>,
}

/// Payload of `conversation.message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationMessageChanged {
    /// The conversation.
    pub conversation_id: Uuid,
    /// The message.
    pub message_id: Uuid,
    /// `created`, `edited`, `reacted`, `deleted`, `delivery`.
    pub kind: String,
    /// `INBOUND` or `OUTBOUND`.
    pub direction: String,
    /// The message's delivery status (`RECEIVED`, `NOTE`, `QUEUED`, `SENT`, ...).
    pub status: String,
}

/// Payload of `conversation.updated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationChanged {
    /// The conversation.
    pub conversation_id: Uuid,
    /// `created`, `status`, `assigned`, `labels`, `read`, `deleted`.
    pub kind: String,
    /// Its status afterwards.
    pub status: String,
    /// Unread messages afterwards (0 after a read marker).
    pub unread_count: i32,
}

/// Payload of `auto_responder.rule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoResponderRuleChanged {
    /// The rule.
    pub rule_id: Uuid,
    /// `created`, `updated`, `deleted`.
    pub kind: String,
    /// Whether it acts afterwards.
    pub enabled: bool,
}

/// Payload of `conversation.auto_reply`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutoReplyChanged {
    /// The conversation.
    pub conversation_id: Uuid,
    /// The auto reply.
    pub auto_reply_id: Uuid,
    /// The rule that acted (null once deleted).
    pub rule_id: Option<Uuid>,
    /// `REPLY_WITH_TEMPLATE` or `AI_REPLY`.
    pub action: String,
    /// `QUEUED`, `PENDING_APPROVAL`, `REJECTED`.
    pub status: String,
}

/// Payload of `deal.created`, `deal.updated` and `deal.closed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DealChanged {
    /// The deal.
    pub deal_id: Uuid,
    /// Its pipeline.
    pub pipeline_id: Uuid,
    /// Its stage now.
    pub stage_id: Uuid,
    /// `OPEN`, `WON` or `LOST`.
    pub status: String,
    /// Value in minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// `created`, `updated`, `stage_moved`, `won`, `lost`.
    pub reason: String,
}

/// Payload of `lead.created`, `lead.updated` and `lead.deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadChanged {
    /// The lead.
    pub lead_id: Uuid,
    /// Fields that changed (updates only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_fields: Vec<String>,
    /// The new owner, when the change assigned the lead to someone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Uuid>,
}

/// Payload of `enrichment.progress`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrichmentProgress {
    /// The batch run.
    pub run_id: Uuid,
    /// QUEUED, RUNNING, SUCCEEDED, BUDGET_EXHAUSTED or FAILED.
    pub status: String,
    /// Lead × field pairs in the run.
    pub total: i32,
    /// Pairs finished.
    pub done: i32,
    /// Pairs a provider filled.
    pub filled: i32,
    /// Pairs every provider failed on.
    pub failed: i32,
}

/// Payload of `location.changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationChanged {
    /// The saved location.
    pub location_id: Uuid,
    /// `created`, `updated` or `deleted`.
    pub action: String,
    /// Fields that changed (updates only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_fields: Vec<String>,
}

/// Payload of `file.uploaded` and `file.deleted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileChanged {
    /// The file.
    pub file_id: Uuid,
    /// `AVATAR`, `IMPORT`, `ATTACHMENT` or `OTHER`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Bytes.
    pub size: i64,
}

/// Payload of `notification.new`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationCreated {
    /// The notification.
    pub notification_id: Uuid,
    /// Its type (`LEAD_ASSIGNED`, `ANNOUNCEMENT`, ...).
    #[serde(rename = "type")]
    pub notification_type: String,
    /// Its title.
    pub title: String,
}

// Payload of `scrape.progress` and `scrape.completed`: the job's status and counters. Its
// counters are the GraphQL `ScrapeProgress` as they are (the job, status and error are fields of
// the `scrapeJobProgress` message instead): one definition, so the live counters and a job's
// cannot drift apart. The doc comments are the schema's descriptions.
/// Counters of a scrape job.
#[derive(async_graphql::SimpleObject, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScrapeProgress {
    /// The scrape job.
    #[graphql(skip)]
    pub scrape_job_id: Uuid,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    #[graphql(skip)]
    pub status: String,
    /// Pages fetched and parsed.
    pub pages_fetched: i32,
    /// Pages discovered and not processed yet.
    pub pages_queued: i32,
    // HTTP error, timeout, too large, refused.
    /// Pages that failed.
    pub pages_failed: i32,
    /// Pages skipped (robots.txt, not HTML).
    pub pages_skipped: i32,
    /// Leads the job matched (created + updated).
    pub leads_found: i32,
    /// New leads.
    pub leads_created: i32,
    /// Existing leads the job merged into (by email or phone).
    pub leads_updated: i32,
    // 0–100.
    /// Share of known pages processed (100 when succeeded).
    pub percent: f64,
    /// The page being fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_url: Option<String>,
    /// Why the job failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[graphql(skip)]
    pub error: Option<String>,
}

/// Payload of `search_goal.progress` (also stored as the goal's `progress`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchGoalProgress {
    /// The goal.
    pub search_goal_id: Uuid,
    /// `RUNNING`, `RANKING`, `COMPLETED`, `FAILED` or `CANCELLED`.
    pub status: String,
    /// The run's numbers (inline in the JSON).
    #[serde(flatten)]
    pub counts: GoalCounts,
    /// Why the run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The numbers of a search goal's run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoalCounts {
    /// Scrape jobs created for the goal.
    pub jobs_total: i32,
    /// Of those, finished (succeeded, failed or cancelled).
    pub jobs_done: i32,
    /// Strategy sources skipped (no API key, invalid query).
    pub sources_skipped: i32,
    /// Leads the goal's jobs found so far.
    pub leads_found: i32,
    /// Leads ranked (set once ranking is done).
    pub ranked: i32,
    /// Of those, validated as matching the goal.
    pub valid: i32,
}

/// Payload of `access.revoked`: one session, or every session of a user (optionally but one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessRevoked {
    /// The session (refresh-token family) that ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
    /// Every session of this user in the organization ended...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// ...except this one (a password change keeps the session that made it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub except_session_id: Option<Uuid>,
    /// `logout`, `password_changed`, `member_removed`, `role_changed`, `token_reuse`.
    pub reason: String,
}

/// Payload of `api_key.revoked`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRevoked {
    /// The key.
    pub api_key_id: Uuid,
}

/// Payload of `job.updated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobUpdated {
    /// The job.
    pub job_id: Uuid,
    /// Its kind.
    pub kind: String,
    /// Its new state.
    pub state: String,
    /// Latest progress report, if any.
    pub progress: Option<serde_json::Value>,
}

/// Payload of `cost.updated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CostChanged {
    /// The cost row.
    pub cost_id: Uuid,
    /// `CAMPAIGN` or `SOURCE`.
    pub kind: String,
    /// The campaign id or the source.
    pub subject: String,
    /// Minor units.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// Payload of `schedule.changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleChanged {
    /// The schedule.
    pub schedule_id: Uuid,
    /// `created`, `updated`, `paused`, `resumed` or `deleted`.
    pub action: String,
}

/// Payload of `schedule.fired`: one occurrence of a schedule fired (exactly once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleFired {
    /// The schedule.
    pub schedule_id: Uuid,
    /// The run row.
    pub run_id: Uuid,
    /// The occurrence (UTC), not when the ticker saw it.
    pub scheduled_at: chrono::DateTime<chrono::Utc>,
    /// The schedule's payload, as given.
    pub payload: serde_json::Value,
}

/// Payload of `workflow.changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowChanged {
    /// The workflow (registry id).
    pub workflow_id: Uuid,
    /// Its id in n8n.
    pub remote_id: String,
    /// `created`, `updated`, `activated`, `deactivated`, `deleted`, `synced` or `removed`.
    pub action: String,
}

/// Payload of `workflow.started`: an execution was handed to the workflow's webhook trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowStarted {
    /// The workflow (registry id).
    pub workflow_id: Uuid,
    /// The execution row.
    pub execution_id: Uuid,
    /// The trigger's HTTP status.
    pub response_status: i32,
}

/// Payload of `workflow.completed` and `workflow.failed`: n8n reported the execution finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowFinished {
    /// The workflow (registry id).
    pub workflow_id: Uuid,
    /// The execution row.
    pub execution_id: Uuid,
    /// n8n's execution id.
    pub remote_execution_id: Option<String>,
    /// SUCCEEDED or FAILED.
    pub status: String,
    /// n8n's error message, when it failed.
    pub error: Option<String>,
    /// n8n's stoppedAt − startedAt.
    pub duration_ms: Option<i64>,
}

/// Payload of `sequence.changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SequenceChanged {
    /// The sequence.
    pub sequence_id: Uuid,
    /// `created`, `updated`, `paused`, `resumed`, `deleted`, or for the launch approval
    /// `pending_approval`, `approved` and `returned` (rejected, withdrawn or expired).
    pub kind: String,
    /// Its status afterwards (`ACTIVE`, `PAUSED`, `PENDING_APPROVAL`).
    pub status: String,
}

/// Payload of `sequence.enrollment_stopped`: a lead left a sequence before its last step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SequenceEnrollmentStopped {
    /// The sequence.
    pub sequence_id: Uuid,
    /// The enrollment.
    pub enrollment_id: Uuid,
    /// The lead.
    pub lead_id: Uuid,
    /// `REPLIED`, `UNSUBSCRIBED`, `BOUNCED`, `SUPPRESSED`, `UNENROLLED` or `FAILED`.
    pub reason: String,
}

/// Payload of `sequence.activity`: something happened to one sequence email (as
/// `campaign.activity` does for campaign mail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SequenceActivity {
    /// The sequence.
    pub sequence_id: Uuid,
    /// The enrollment.
    pub enrollment_id: Uuid,
    /// The lead.
    pub lead_id: Uuid,
    /// The step's send row (none for a reply that came before any step was sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_id: Option<Uuid>,
    /// The step (0-based) the mail belongs to, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<i32>,
    /// `sent`, `open` (the first one), `click`, `reply`, `unsubscribe`, `complaint`, `bounce`.
    pub kind: String,
}

/// Payload of `report.changed` and `report.run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportChanged {
    /// The report.
    pub report_id: Uuid,
    /// `created` or `deleted` (`report.changed`); `queued`, `running`, `progress`,
    /// `succeeded` or `failed` (`report.run`).
    pub action: String,
    /// The run (`report.run` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    /// The run's status: `QUEUED`, `RUNNING`, `SUCCEEDED` or `FAILED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The run's progress, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<i32>,
    /// Why the run failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
