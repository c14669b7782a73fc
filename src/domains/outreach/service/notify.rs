//! Notifications outreach causes: CAMPAIGN_FINISHED to a campaign's creator when it completes.
//! An event handler ([`CampaignNotifications`], registered by [`register`] at start-up) that runs
//! inside the transaction that records the event.

use async_trait::async_trait;
use entity::campaign;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::domains::outreach::campaigns::compute_stats;
use crate::{
    domains::notifications::{deliver, types::NotificationType, NewNotification},
    error::AppResult,
    events::{
        handlers::{self, EventHandler, HandlerConn},
        CampaignStatusChanged, DomainEvent, EventEnvelope,
    },
};

/// The event handler of outreach's notification rules.
pub struct CampaignNotifications;

/// Registers [`CampaignNotifications`] with the event-handler registry.
pub fn register() {
    handlers::register("outreach.notify", CampaignNotifications);
}

#[async_trait]
impl EventHandler for CampaignNotifications {
    fn wants(&self, env: &EventEnvelope) -> bool {
        matches!(&env.event, DomainEvent::CampaignStatus(c) if c.status == "COMPLETED")
    }

    async fn handle(&self, conn: &HandlerConn<'_>, env: &EventEnvelope) -> AppResult<()> {
        match &env.event {
            DomainEvent::CampaignStatus(c) => campaign_finished(conn, env, c).await,
            _ => Ok(()),
        }
    }
}

/// CAMPAIGN_FINISHED to the creator of a campaign that just became COMPLETED.
pub async fn campaign_finished(
    conn: &impl ConnectionTrait,
    env: &EventEnvelope,
    s: &CampaignStatusChanged,
) -> AppResult<()> {
    let Some(c) = campaign::Entity::find_by_id(s.campaign_id)
        .filter(campaign::Column::OrgId.eq(env.org_id))
        .one(conn)
        .await?
    else {
        return Ok(());
    };
    let Some(creator) = c.created_by else {
        return Ok(());
    };
    let n = &s.counters;
    let stats = compute_stats(conn, c.id).await?;
    let pct = |r: Option<f64>| r.map_or("–".to_string(), |r| format!("{:.1} %", r * 100.0));
    let body = format!(
        "{} sent, {} failed or skipped; open rate {}, click rate {}.",
        n.sent,
        n.failed,
        pct(stats.open_rate),
        pct(stats.click_rate)
    );
    deliver(
        conn,
        &NewNotification {
            org_id: env.org_id,
            notification_type: NotificationType::CampaignFinished,
            title: format!("Campaign \"{}\" finished", c.name),
            body,
            link: Some(format!("/campaigns/{}", c.id)),
            resource: Some(("campaign", c.id.to_string())),
        },
        &[creator],
    )
    .await?;
    Ok(())
}
