//! The approval gate of `launchCampaign` and `scheduleCampaign`.
//!
//! `check_launch` computes the launch's facts and asks
//! [`crate::domains::approvals::gate::approval_gate`]: when an enabled CAMPAIGN rule of the
//! organization matches, the approval request is created in the caller's transaction and the
//! answer is [`GateDecision::PendingApproval`]; the campaign then waits in PENDING_APPROVAL.
//! Approving calls [`super::campaigns::launch_approved`], rejecting, asking for changes,
//! withdrawing or expiry call [`super::campaigns::return_to_draft`].
//!
//! Facts: `recipientCount` (recipients not sent yet), `aiGenerated` (the template or a variant's
//! template is flagged AI-generated), `firstCampaign` (no other campaign of the organization was
//! ever launched), `fromEmail`, `fromDomain` (lowercase), `variantCount`, `templateId`.

use entity::{campaign, email_template};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use super::types::CampaignVariant;
use crate::{
    auth::Viewer,
    domains::approvals::{
        gate::{approval_gate, GateOutcome, GatedResource},
        types::ApprovalResourceType,
    },
    error::AppResult,
};

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

/// The facts approval rules see for launching `c` to `recipient_count` recipients.
pub async fn launch_facts(
    conn: &impl ConnectionTrait,
    c: &campaign::Model,
    recipient_count: u64,
) -> AppResult<serde_json::Value> {
    let variants: Vec<CampaignVariant> =
        serde_json::from_value(c.variants.clone()).unwrap_or_default();
    let mut template_ids: Vec<Uuid> = c.template_id.into_iter().collect();
    template_ids.extend(
        variants
            .iter()
            .filter_map(|v| v.template_id.as_ref())
            .filter_map(|t| Uuid::parse_str(t.as_str()).ok()),
    );
    let ai_generated = !template_ids.is_empty()
        && email_template::Entity::find()
            .filter(email_template::Column::OrgId.eq(c.org_id))
            .filter(email_template::Column::Id.is_in(template_ids))
            .filter(email_template::Column::AiGenerated.eq(true))
            .count(conn)
            .await?
            > 0;
    let launched_before = campaign::Entity::find()
        .filter(campaign::Column::OrgId.eq(c.org_id))
        .filter(campaign::Column::Id.ne(c.id))
        .filter(campaign::Column::LaunchedAt.is_not_null())
        .count(conn)
        .await?;
    let from_email = c.from_email.to_lowercase();
    let from_domain = from_email.rsplit_once('@').map(|(_, d)| d.to_string());
    Ok(json!({
        "recipientCount": recipient_count,
        "aiGenerated": ai_generated,
        "firstCampaign": launched_before == 0,
        "fromEmail": from_email,
        "fromDomain": from_domain,
        "variantCount": variants.len(),
        "templateId": c.template_id.map(|t| t.to_string()),
    }))
}

/// Decides whether launching `campaign` to `recipient_count` recipients needs an approval.
/// Runs inside the launch transaction (`conn`), so a request it creates commits with the status
/// change.
pub async fn check_launch(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    campaign: &campaign::Model,
    recipient_count: u64,
) -> AppResult<GateDecision> {
    let facts = launch_facts(conn, campaign, recipient_count).await?;
    let resource = GatedResource {
        resource_type: ApprovalResourceType::Campaign,
        resource_id: campaign.id.to_string(),
        title: format!("Launch campaign \"{}\"", campaign.name),
        description: Some(format!(
            "Send \"{}\" from {} to {recipient_count} recipient{}.",
            campaign.name,
            campaign.from_email,
            if recipient_count == 1 { "" } else { "s" }
        )),
        facts,
    };
    Ok(match approval_gate(conn, viewer, resource).await? {
        GateOutcome::Proceed => GateDecision::Proceed,
        GateOutcome::Pending(request_id) => GateDecision::PendingApproval { request_id },
    })
}
