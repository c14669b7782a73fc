//! `approvalPreview`: what awaits approval — the facts the rule saw, and whatever the resource's
//! subject adds (for a campaign: its recipient count, schedule, pace and the email rendered for
//! its first recipient).

use serde_json::json;
use uuid::Uuid;

use super::{get, subject::subject_of};
use crate::{
    auth::{Permission, Viewer},
    domains::approvals::{requests::types::ApprovalPreview, types::ApprovalResourceType},
    error::AppResult,
    state::AppState,
};

/// `approvalPreview` of request `id`.
pub async fn preview(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<ApprovalPreview> {
    viewer.require(Permission::ReadApprovals)?;
    let r = get(&state.db, viewer, id).await?;
    let mut out = ApprovalPreview {
        request_id: async_graphql::ID(r.id.to_string()),
        resource_type: ApprovalResourceType::parse(&r.resource_type)
            .unwrap_or(ApprovalResourceType::Other),
        title: r.title.clone(),
        facts: async_graphql::Json(r.payload.get("facts").cloned().unwrap_or(json!({}))),
        recipient_count: None,
        schedule_at: None,
        send_rate_per_minute: None,
        email: None,
        sample_recipient: None,
        skipped_recipient_count: None,
    };
    if let Some(subject) = subject_of(out.resource_type) {
        subject
            .preview(state, viewer, &r.resource_id, &mut out)
            .await?;
    }
    Ok(out)
}
