//! Campaigns as the subject of gated approval requests: outreach's implementation of
//! approvals' [`ApprovalSubject`] for CAMPAIGN, registered at start-up ([`register`]).
//!
//! - **Existence**: a CAMPAIGN request made by hand must name a campaign of the organization.
//! - **Preview**: the pending recipient count, how many of them the deliverability gate would
//!   skip ([`skipped`]), schedule and pace, and the email rendered with the outreach renderer for
//!   the first recipient (the template as it is now; the launch freezes it).
//! - **Decisions**: an approved campaign launches ([`campaigns::launch_approved`]) if it is still
//!   the snapshot the request covered (else it raises a new request and keeps waiting);
//!   otherwise it returns to DRAFT with the comment ([`campaigns::return_to_draft`]). A campaign
//!   that is no longer waiting (stopped or deleted meanwhile) cannot be launched: approving it is
//!   CONFLICT; the other outcomes leave it alone.

use async_trait::async_trait;
use entity::{approval_request, campaign, campaign_recipient, lead, organization};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, FromQueryResult, PaginatorTrait, QueryFilter,
    QueryOrder, Statement,
};
use uuid::Uuid;

use crate::domains::outreach::{
    campaigns,
    templates::{self, lead_vars, render_context, sample_lead},
};
use crate::{
    auth::Viewer,
    domains::approvals::{
        register_subject, types::ApprovalResourceType, ApprovalPreview, ApprovalSubject, Decision,
    },
    error::{AppError, AppResult},
    state::AppState,
};

/// The CAMPAIGN subject.
pub struct CampaignSubject;

/// Registers [`CampaignSubject`] with approvals.
pub fn register() {
    register_subject(ApprovalResourceType::Campaign, CampaignSubject);
}

/// The campaign `resource_id` of the viewer's organization, if there is one.
async fn campaign_of(
    state: &AppState,
    viewer: &Viewer,
    resource_id: &str,
) -> AppResult<Option<campaign::Model>> {
    let Ok(cid) = Uuid::parse_str(resource_id) else {
        return Ok(None);
    };
    match campaigns::get(&state.db, viewer, cid).await {
        Ok(c) => Ok(Some(c)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

#[async_trait]
impl ApprovalSubject for CampaignSubject {
    fn noun(&self) -> &'static str {
        "campaign"
    }

    async fn exists(
        &self,
        state: &AppState,
        viewer: &Viewer,
        resource_id: &str,
    ) -> AppResult<bool> {
        Ok(match Uuid::parse_str(resource_id) {
            Ok(id) => campaigns::get(&state.db, viewer, id).await.is_ok(),
            Err(_) => false,
        })
    }

    async fn preview(
        &self,
        state: &AppState,
        viewer: &Viewer,
        resource_id: &str,
        out: &mut ApprovalPreview,
    ) -> AppResult<()> {
        let Some(c) = campaign_of(state, viewer, resource_id).await? else {
            return Ok(());
        };
        preview_campaign(state, viewer, &c, out).await
    }

    async fn apply(
        &self,
        txn: &DatabaseTransaction,
        r: &approval_request::Model,
        actor: Option<Uuid>,
        decision: Decision,
    ) -> AppResult<()> {
        let Ok(cid) = Uuid::parse_str(&r.resource_id) else {
            return Ok(());
        };
        match decision {
            Decision::Approved { snapshot } => {
                let approved = campaigns::Approved {
                    snapshot,
                    requested_by: r.requested_by,
                };
                campaigns::launch_approved(txn, r.org_id, actor, cid, approved)
                    .await
                    .map_err(|e| match e {
                        AppError::NotFound(_) => {
                            AppError::Conflict("the campaign no longer exists".into())
                        }
                        e => e,
                    })?;
                Ok(())
            }
            Decision::Returned { note } => {
                match campaigns::return_to_draft(txn, r.org_id, actor, cid, Some(note)).await {
                    Ok(_) | Err(AppError::NotFound(_)) | Err(AppError::Conflict(_)) => Ok(()),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

#[derive(FromQueryResult)]
struct Count {
    n: i64,
}

/// The pending recipients the send gate (`leads::send_gate_reason`) would skip, counted in one
/// statement: the lead's verdict on the recipient's address is UNDELIVERABLE, or, when the
/// campaign requires validated recipients, that address has no verdict.
async fn skipped(state: &AppState, c: &campaign::Model) -> AppResult<i64> {
    let backend = state.db.get_database_backend();
    let unvalidated = if c.require_validated_recipients {
        " OR l.id IS NULL OR l.email IS NULL OR l.email <> r.email OR l.validated_at IS NULL"
    } else {
        ""
    };
    let sql = format!(
        "SELECT COUNT(*) AS n FROM campaign_recipients r LEFT JOIN leads l ON l.id = r.lead_id \
         WHERE r.campaign_id = {} AND r.status = 'PENDING' \
         AND ((l.email = r.email AND l.email_status = 'UNDELIVERABLE'){unvalidated})",
        crate::db::placeholders(backend, 1, 1),
    );
    let stmt = Statement::from_sql_and_values(backend, sql, [c.id.into()]);
    Ok(Count::find_by_statement(stmt)
        .one(&state.db)
        .await?
        .map_or(0, |r| r.n))
}

/// Fills the campaign part of a preview.
async fn preview_campaign(
    state: &AppState,
    viewer: &Viewer,
    c: &campaign::Model,
    out: &mut ApprovalPreview,
) -> AppResult<()> {
    let recipients = campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.eq(c.id))
        .filter(campaign_recipient::Column::Status.eq("PENDING"));
    out.recipient_count = Some(recipients.clone().count(&state.db).await? as i64);
    out.skipped_recipient_count = Some(skipped(state, c).await?);
    out.schedule_at = c.schedule_at;
    out.send_rate_per_minute = c.send_rate_per_minute;
    let first = recipients
        .filter(campaign_recipient::Column::LeadId.is_not_null())
        .order_by_asc(campaign_recipient::Column::Id)
        .one(&state.db)
        .await?;
    let lead = match first.as_ref().and_then(|f| f.lead_id) {
        Some(lid) => {
            lead::Entity::find_by_id(lid)
                .filter(lead::Column::OrgId.eq(viewer.org_id))
                .one(&state.db)
                .await?
        }
        None => None,
    };
    out.sample_recipient = first.map(|f| f.email);
    let Some(tid) = c.template_id else {
        return Ok(());
    };
    let t = match templates::get(&state.db, viewer, tid).await {
        Ok(t) => t,
        Err(AppError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let org = organization::Entity::find_by_id(viewer.org_id)
        .one(&state.db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let vars = lead.as_ref().map_or_else(sample_lead, lead_vars);
    let ctx = render_context(
        vars,
        &c.from_name,
        &c.from_email,
        &org,
        &format!("{}/u/preview", state.config.public_url),
    );
    out.email = Some(templates::render_or_invalid(&templates::content_of(&t), &ctx).await?);
    Ok(())
}
