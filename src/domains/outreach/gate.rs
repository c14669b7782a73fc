//! The approval gate of `launchCampaign` and `scheduleCampaign`.
//!
//! **This is the plug for the Approvals issue.** Today no approval rules exist, so the gate
//! always answers [`GateDecision::Proceed`]; nothing here pretends to evaluate a rule. When
//! Approvals lands, `check_launch` evaluates the organization's rules (recipient count,
//! AI-generated copy, first campaign, …) and, when one applies, creates the approval request in
//! the caller's transaction and answers [`GateDecision::PendingApproval`]. The campaign then waits
//! in PENDING_APPROVAL; approving calls [`super::campaigns::launch_approved`], rejecting or asking
//! for changes calls [`super::campaigns::return_to_draft`].

use entity::campaign;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::{auth::Viewer, error::AppResult};

/// What the gate decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateDecision {
    /// No rule applies: launch now.
    Proceed,
    /// A rule applies: the campaign waits for the approval request `request_id`.
    PendingApproval {
        /// The approval request created for this launch.
        request_id: Uuid,
    },
}

/// Decides whether launching `campaign` to `recipient_count` recipients needs an approval.
/// Runs inside the launch transaction (`conn`), so a request it creates commits with the status
/// change. Always [`GateDecision::Proceed`] until the Approvals issue is built.
pub async fn check_launch(
    _conn: &impl ConnectionTrait,
    _viewer: &Viewer,
    _campaign: &campaign::Model,
    _recipient_count: u64,
) -> AppResult<GateDecision> {
    Ok(GateDecision::Proceed)
}
