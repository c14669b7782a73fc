//! Approvals: rules with typed conditions decide which actions need an approval and from whom
//! ([`rules`]); the gate other domains call before a risky action creates requests with N distinct
//! approvals, reject / request changes / delegate / withdraw and a history of every action
//! ([`requests`]); overdue requests escalate and old ones expire ([`sla`]).
//!
//! - **Roles** (`Permission`): ReadApprovals VIEWER, ActOnApprovals MEMBER (create/update/withdraw
//!   one's own, and decide as an assignee), ManageApprovalRules ADMIN. Another organization's
//!   request or rule is NOT_FOUND everywhere.
//! - **Other domains** call [`approval_gate`] in the transaction of their action and
//!   [`approved_snapshot`] before acting again on an approved resource; a domain owning a gated
//!   resource type implements [`ApprovalSubject`] and registers it with [`register_subject`] from
//!   its own `register()` (outreach: CAMPAIGN; conversations: AI_REPLY; sequences: SEQUENCE).
//!   Approvals imports no higher domain.
//! - **Start-up**: [`register`] registers the notification rules with the event-handler registry;
//!   `sla::spawn` runs the SLA sweep next to the workers.
//! - **Tests** (`tests/api/approvals.rs`): the acceptance scenario (rule "recipients > 500 needs
//!   2 approvals from MANAGER+", 600 recipients → PENDING_APPROVAL, the requester is FORBIDDEN,
//!   one approval keeps it pending, the second launches and all 600 are SENT, a WebSocket
//!   subscriber gets PENDING and RESOLVED), delegation, reject / changes requested / withdraw
//!   returning the campaign to DRAFT, SLA escalation and expiry with a controlled clock, rule
//!   validation, `testApprovalRule`, requests by hand, isolation and the role table; unit tests
//!   cover the evaluator, the parser's paths and who may act.
//! - **Reads**: a page of requests shares an `ApprovalRequestPage` (`requests/types.rs`):
//!   requesters and assignees, rules (with their approvers and authors) and histories (with
//!   their actors) each load in one statement for the whole page, so every request list costs
//!   the same statements at any page size (`NESTED_BATCHES=false`: per request, for the
//!   differential test). Lists of rules and of history entries share their users the same way.
//! - **Not built**: demo-site deploys have a resource type but no gate call yet; per-request SLA reminders beyond the one escalation; a
//!   request does not show its subject (a campaign is only `resourceId`: showing it would be a
//!   field slot that outreach fills, `graphql/slot.rs`); partial approvals emit no live event.

pub mod requests;
pub mod resolver;
pub mod rules;
pub mod sla;
pub mod types;

pub use requests::{
    service::{
        counts_by_status as request_counts_by_status, created_between as requests_created_between,
        gate::{approval_gate, approved_snapshot, require_approval, GateOutcome, GatedResource},
        subject::{register_subject, ApprovalSubject, Decision},
    },
    types::ApprovalPreview,
};
pub use resolver::{ApprovalMutation, ApprovalQuery, ApprovalSubscription};

/// Registers approvals' event handler (its notification rules); called once per start-up.
pub fn register() {
    crate::events::handlers::register(
        "approvals.notify",
        requests::service::notify::ApprovalNotifications,
    );
}
