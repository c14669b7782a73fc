//! Approval requests: a decision to take about one resource, by N distinct approvers.
//!
//! - **Tables**: `approval_requests` (resource type + id, title, description, `requested_by`,
//!   `assignee_ids` JSON and/or `assignee_role`, `required_approvals`, `approval_count`, status,
//!   priority, `due_at`, `urgent`, `escalated_at`, `resolved_at`, `resolution_comment`, `gated`,
//!   `payload` = the facts the rule saw and the `snapshot` an approval covers; `rule_id` set NULL
//!   when the rule is deleted) and `approval_actions` (the history: actor — NULL for the system —,
//!   action, comment, `to_user_id`).
//! - **The gate** ([`service::gate`]): `approval_gate(conn, viewer, GatedResource)` runs in the
//!   caller's transaction: enabled rules of the organization for that type, oldest first, first
//!   match wins; a match inserts a PENDING `gated` request (assignees and required approvals from
//!   the rule, `due_at = now + slaHours`), its CREATE entry and `approval.pending`. An approval
//!   covers one snapshot of the resource ([`service::gate::approved_snapshot`]).
//! - **Subjects** ([`service::subject`]): the domain owning a gated resource type implements
//!   `ApprovalSubject` (existence, preview, what a decision does) and registers it at start-up;
//!   approvals never names that domain. Outreach registers CAMPAIGN.
//! - **Acting** ([`service::decide`]): one transaction per action that first locks the row with
//!   `UPDATE … WHERE status = 'PENDING'` (a decided request is CONFLICT), then checks the actor:
//!   never the requester (FORBIDDEN, whatever the role), otherwise named assignees, members at or
//!   above `assignee_role`, and ADMIN+. `approveRequest` counts one approval per person (a second
//!   is CONFLICT); the last one needed resolves APPROVED and the subject carries the action out.
//!   `rejectRequest(reason)` and `requestChanges(comment)` resolve and the subject returns the
//!   resource with the text. `delegateApproval` replaces the delegator by the delegate (a
//!   role-based assignment becomes the named members it reached, minus the delegator, plus the
//!   delegate, a MEMBER+ who is not the requester). `deleteApprovalRequest` (requester or ADMIN+)
//!   withdraws: the row stays CANCELLED with a CANCEL entry. A gated campaign that was stopped or
//!   deleted while waiting cannot be launched: approving it is CONFLICT.
//! - **Reading**: `approvalRequests(filter)` (`assignedToMe`: named — `@>` on jsonb, `LIKE` on
//!   SQLite's JSON text — or by role, never one's own), `approvalRequest`, `pendingApprovals`,
//!   `urgentApprovals`, `approvalHistory`, `ApprovalRequest.history` / `canAct`,
//!   `approvalPreview`, `approvalStats` (counts per status, urgent, median hours to a decision
//!   over the newest 10,000 decisions, decisions per approver).
//! - **Events and notifications**: `approval.pending` (reason `created`, `delegated`, `escalated`)
//!   and `approval.resolved` (`approved`, `rejected`, `changes_requested`, `cancelled`, `expired`),
//!   visible to ReadApprovals; `approvalEvents(after)` maps `realtime::live`. The notification
//!   rules ([`service::notify`], an event handler): created → assignees as APPROVAL_PENDING;
//!   delegated → the delegate; escalated → assignees and their managers; resolved → the requester
//!   as APPROVAL_RESOLVED with the comment (not when they withdrew it themselves).

pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::{RequestMutation, RequestQuery, RequestSubscription};
pub use service::{record_action, record_event, resolve};
