//! The `integrations` status list: SMTP, n8n, each Slack webhook and outgoing webhooks, in a
//! fixed number of statements whatever the number of integrations.
//!
//! SMTP's row (`smtp_settings`, outreach's table) is only tested for existence here: outreach
//! exports no read of it that does not open the password.

use async_graphql::ID;
use chrono::{DateTime, Utc};
use entity::{integration, smtp_setting, webhook_delivery, webhook_endpoint};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::store::scoped;
use crate::{
    auth::{Permission, Viewer},
    domains::webhooks::{
        integrations::types::{IntegrationKind, IntegrationStatus},
        types::WebhookDeliveryStatus,
    },
    error::AppResult,
    state::AppState,
};

fn entry(row: &integration::Model) -> IntegrationStatus {
    IntegrationStatus {
        kind: IntegrationKind::parse(&row.kind).unwrap_or(IntegrationKind::Slack),
        id: Some(ID(row.id.to_string())),
        name: row.name.clone(),
        configured: true,
        last_success_at: row.last_success_at,
        last_error: row.last_error.clone(),
    }
}

/// The newest delivery of the organization in `status`: (when, its last error).
async fn newest_delivery(
    state: &AppState,
    viewer: &Viewer,
    status: WebhookDeliveryStatus,
) -> AppResult<Option<(DateTime<Utc>, Option<String>)>> {
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::OrgId.eq(viewer.org_id))
        .filter(webhook_delivery::Column::Status.eq(status.as_str()))
        .order_by_desc(webhook_delivery::Column::UpdatedAt)
        .select_only()
        .column(webhook_delivery::Column::UpdatedAt)
        .column(webhook_delivery::Column::LastError)
        .into_tuple::<(DateTime<Utc>, Option<String>)>()
        .one(&state.db)
        .await?)
}

/// Every integration of the organization with its state (ADMIN+): SMTP first, then n8n, the
/// Slack webhooks (oldest first) and outgoing webhooks.
pub async fn list(state: &AppState, viewer: &Viewer) -> AppResult<Vec<IntegrationStatus>> {
    viewer.require(Permission::ManageIntegrations)?;
    let rows = scoped(viewer)
        .order_by_asc(integration::Column::Id)
        .all(&state.db)
        .await?;
    let own_smtp = smtp_setting::Entity::find_by_id(viewer.org_id)
        .count(&state.db)
        .await?
        > 0;
    let mut out = vec![IntegrationStatus {
        kind: IntegrationKind::Smtp,
        id: None,
        name: if own_smtp {
            "organization SMTP"
        } else {
            "server SMTP"
        }
        .into(),
        configured: own_smtp || state.config.smtp_url.is_some(),
        last_success_at: None,
        last_error: None,
    }];
    let n8n = rows
        .iter()
        .find(|r| r.kind == IntegrationKind::N8n.as_str());
    out.push(n8n.map(entry).unwrap_or(IntegrationStatus {
        kind: IntegrationKind::N8n,
        id: None,
        name: "n8n".into(),
        configured: false,
        last_success_at: None,
        last_error: None,
    }));
    out.extend(
        rows.iter()
            .filter(|r| r.kind == IntegrationKind::Slack.as_str())
            .map(entry),
    );
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::OrgId.eq(viewer.org_id))
        .count(&state.db)
        .await?;
    let success = newest_delivery(state, viewer, WebhookDeliveryStatus::Succeeded).await?;
    let failure = newest_delivery(state, viewer, WebhookDeliveryStatus::Failed).await?;
    out.push(IntegrationStatus {
        kind: IntegrationKind::Webhooks,
        id: None,
        name: format!("{endpoints} webhook endpoint(s)"),
        configured: endpoints > 0,
        last_success_at: success.map(|(at, _)| at),
        last_error: failure.and_then(|(_, e)| e),
    });
    Ok(out)
}
