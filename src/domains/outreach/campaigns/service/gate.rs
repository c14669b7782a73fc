//! The approval gate of `launchCampaign` and `scheduleCampaign`.
//!
//! [`check`] computes the launch's facts and asks
//! [`crate::domains::approvals::approval_gate`]: when an enabled CAMPAIGN rule of the
//! organization matches, the approval request is created in the caller's transaction and the
//! answer is [`GateDecision::PendingApproval`]; the campaign then waits in PENDING_APPROVAL.
//! Approving calls [`super::campaigns::launch_approved`], rejecting, asking for changes,
//! withdrawing or expiry call [`super::campaigns::return_to_draft`].
//!
//! Every path that makes a campaign send, or send to more people, or send something else,
//! passes [`check`]: launch and schedule, resume after a pause or failure, recipients added to a
//! SCHEDULED or RUNNING campaign (a PAUSED one is checked when it resumes), a SCHEDULED
//! campaign's sender changed, and the approval itself (`campaigns::launch_approved`: what is
//! approved must still be what would be sent). A launch from DRAFT and the approval's own launch
//! of a changed snapshot ask with [`Prior::Ignored`]. An approval
//! covers a **snapshot** ([`snapshot_hash`]: SHA-256 of the content that would be frozen now — the
//! template's subject and bodies and every variant's —, the sender `fromName`/`fromEmail`/
//! `replyTo` and the sorted ids of all recipient rows). With [`Prior::Honored`], [`check`]
//! proceeds without asking the rules only when the newest gated request about the campaign was
//! approved for exactly the current snapshot; any other state asks the rules again, which may
//! raise a new request.
//!
//! Facts: `recipientCount` (recipients not sent yet), `aiGenerated` (the template or a variant's
//! template is flagged AI-generated), `firstCampaign` (no other campaign of the organization was
//! ever launched), `fromEmail`, `fromDomain` (lowercase), `variantCount`, `templateId`.

use entity::{campaign, campaign_recipient, email_template};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domains::outreach::campaigns::types::CampaignVariant;
use crate::{
    auth::Viewer,
    domains::approvals::{
        approval_gate, approved_snapshot, types::ApprovalResourceType, GateOutcome, GatedResource,
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

/// The snapshot an approval of `c` covers: SHA-256 (hex) over `content` (what the launch would
/// freeze, see `lifecycle::snapshot`), the sender and the sorted ids of all its recipient rows.
pub async fn snapshot_hash(
    conn: &impl ConnectionTrait,
    c: &campaign::Model,
    content: &serde_json::Value,
) -> AppResult<String> {
    let ids: Vec<Uuid> = campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.eq(c.id))
        .select_only()
        .column(campaign_recipient::Column::Id)
        .order_by_asc(campaign_recipient::Column::Id)
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    let mut h = Sha256::new();
    let head = json!({
        "content": content,
        "fromName": c.from_name,
        "fromEmail": c.from_email.to_lowercase(),
        "replyTo": c.reply_to,
    });
    h.update(serde_json::to_vec(&head)?);
    h.update(b"\nrecipients:");
    for id in ids {
        h.update(id.as_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

/// Whether an earlier approval may let a campaign through [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prior {
    /// The first launch from DRAFT, and the approval's own launch of a snapshot it did not
    /// cover: the rules are asked whatever was approved before.
    Ignored,
    /// Every other path: an approval of exactly the current snapshot (the newest gated request
    /// about the campaign) lets it proceed without asking the rules.
    Honored,
}

/// Decides whether `campaign` may send `content` to its `recipient_count` recipients not sent
/// yet, now: proceeds when `prior` is honored and matches the snapshot, otherwise asks the rules.
/// Runs in the caller's transaction (`conn`), so a request it creates commits with the status
/// change.
pub async fn check(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    campaign: &campaign::Model,
    recipient_count: u64,
    content: &serde_json::Value,
    prior: Prior,
) -> AppResult<GateDecision> {
    let snapshot = snapshot_hash(conn, campaign, content).await?;
    if prior == Prior::Honored {
        let approved = approved_snapshot(
            conn,
            campaign.org_id,
            ApprovalResourceType::Campaign,
            &campaign.id.to_string(),
        )
        .await?;
        if approved.as_deref() == Some(snapshot.as_str()) {
            return Ok(GateDecision::Proceed);
        }
    }
    ask_rules(conn, viewer, campaign, recipient_count, snapshot).await
}

async fn ask_rules(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    campaign: &campaign::Model,
    recipient_count: u64,
    snapshot: String,
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
        snapshot: Some(snapshot),
    };
    Ok(match approval_gate(conn, viewer, resource).await? {
        GateOutcome::Proceed => GateDecision::Proceed,
        GateOutcome::Pending(request_id) => GateDecision::PendingApproval { request_id },
    })
}
