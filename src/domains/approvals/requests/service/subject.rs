//! Subjects of gated requests: what approvals needs from the domain that owns a gated resource
//! (outreach's campaigns today), behind a trait so approvals never names that domain.
//!
//! The owning domain implements [`ApprovalSubject`] and registers it for its resource type at
//! start-up ([`register_subject`], from its `mod.rs` `register()`, called by `startup.rs`).
//! Registration is process-wide (tests build many applications in one process) and the first
//! registration of a type wins. A resource type without a subject has no preview details, no
//! existence check and no follow-up to a decision.

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use entity::approval_request;
use sea_orm::DatabaseTransaction;
use uuid::Uuid;

use crate::{
    auth::Viewer,
    domains::approvals::{requests::types::ApprovalPreview, types::ApprovalResourceType},
    error::AppResult,
    state::AppState,
};

/// What a decision on a gated request asks of its resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approved: carry the action out, if the resource still is `snapshot` (what the request
    /// covered; see `gate`). An error aborts the decision.
    Approved {
        /// The snapshot the approval covers.
        snapshot: Option<String>,
    },
    /// Rejected, changes requested, withdrawn or expired: return the resource to where it was
    /// before the gate, with `note` (the decider's comment, or why). A resource that is gone or
    /// no longer waiting is left alone.
    Returned {
        /// Why, for the resource's owner.
        note: String,
    },
}

/// A gated resource's side of an approval.
#[async_trait]
pub trait ApprovalSubject: Send + Sync + 'static {
    /// What the resource is called in messages (`campaign`).
    fn noun(&self) -> &'static str;

    /// Whether `resource_id` names a resource of the viewer's organization (checked by
    /// `createApprovalRequest`).
    async fn exists(&self, state: &AppState, viewer: &Viewer, resource_id: &str)
        -> AppResult<bool>;

    /// Fills the resource-specific fields of `out` (`approvalPreview`); leaves them null when
    /// the resource is gone.
    async fn preview(
        &self,
        state: &AppState,
        viewer: &Viewer,
        resource_id: &str,
        out: &mut ApprovalPreview,
    ) -> AppResult<()>;

    /// Applies `decision` on the gated request `request` (decided by `actor`), in the deciding
    /// transaction.
    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        request: &approval_request::Model,
        actor: Option<Uuid>,
        decision: Decision,
    ) -> AppResult<()>;
}

type Registered = (ApprovalResourceType, Arc<dyn ApprovalSubject>);

static SUBJECTS: RwLock<Vec<Registered>> = RwLock::new(Vec::new());

/// Registers `subject` for `resource_type`; later registrations of the same type are ignored.
pub fn register_subject(resource_type: ApprovalResourceType, subject: impl ApprovalSubject) {
    let mut subjects = SUBJECTS.write().unwrap_or_else(|e| e.into_inner());
    if subjects.iter().all(|(t, _)| *t != resource_type) {
        subjects.push((resource_type, Arc::new(subject)));
    }
}

/// The subject registered for `resource_type`.
pub fn subject_of(resource_type: ApprovalResourceType) -> Option<Arc<dyn ApprovalSubject>> {
    let subjects = SUBJECTS.read().unwrap_or_else(|e| e.into_inner());
    subjects
        .iter()
        .find(|(t, _)| *t == resource_type)
        .map(|(_, s)| s.clone())
}

/// The subject of a stored request's resource type.
pub fn subject_of_request(r: &approval_request::Model) -> Option<Arc<dyn ApprovalSubject>> {
    ApprovalResourceType::parse(&r.resource_type).and_then(subject_of)
}
