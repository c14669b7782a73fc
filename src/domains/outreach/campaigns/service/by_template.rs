//! A template's use across campaigns: `templateUsage` (the campaigns sending it) and
//! `templatePerformance` (their results added up).

use entity::{campaign, campaign_recipient};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, QuerySelect, Select};
use uuid::Uuid;

use super::{scoped, stats::rate};
use crate::{
    auth::{Permission, Viewer},
    domains::outreach::{campaigns::types::TemplatePerformance, templates},
    error::AppResult,
    state::AppState,
};

/// Campaigns that use the template, newest first.
pub async fn usage(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<Vec<campaign::Model>> {
    viewer.require(Permission::ReadOutreach)?;
    let t = templates::get(&state.db, viewer, id).await?;
    Ok(scoped(viewer)
        .filter(campaign::Column::TemplateId.eq(t.id))
        .order_by_desc_id()
        .limit(200)
        .all(&state.db)
        .await?)
}

trait OrderByIdDesc {
    fn order_by_desc_id(self) -> Self;
}

impl OrderByIdDesc for Select<campaign::Entity> {
    fn order_by_desc_id(self) -> Self {
        sea_orm::QueryOrder::order_by_desc(self, campaign::Column::Id)
    }
}

/// Sent, opened, clicked, replied, bounced (NULL without rows).
type Sums = (
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// Results across every campaign that sent the template.
pub async fn performance(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<TemplatePerformance> {
    viewer.require(Permission::ReadOutreach)?;
    let t = templates::get(&state.db, viewer, id).await?;
    let ids: Vec<Uuid> = scoped(viewer)
        .filter(campaign::Column::TemplateId.eq(t.id))
        .select_only()
        .column(campaign::Column::Id)
        .into_tuple()
        .all(&state.db)
        .await?;
    if ids.is_empty() {
        return Ok(TemplatePerformance::default());
    }
    let not_null = |c: campaign_recipient::Column| {
        Expr::cust_with_expr(
            "SUM(CASE WHEN $1 IS NOT NULL THEN 1 ELSE 0 END)",
            Expr::col(c),
        )
    };
    let row: Option<Sums> = campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.is_in(ids.clone()))
        .select_only()
        .column_as(not_null(campaign_recipient::Column::SentAt), "sent")
        .column_as(not_null(campaign_recipient::Column::OpenedAt), "opens")
        .column_as(not_null(campaign_recipient::Column::ClickedAt), "clicks")
        .column_as(not_null(campaign_recipient::Column::RepliedAt), "replies")
        .column_as(not_null(campaign_recipient::Column::BouncedAt), "bounces")
        .into_tuple()
        .one(&state.db)
        .await?;
    let (sent, opens, clicks, replies, bounces) = row.unwrap_or_default();
    let (sent, opens, clicks, replies, bounces) = (
        sent.unwrap_or(0),
        opens.unwrap_or(0),
        clicks.unwrap_or(0),
        replies.unwrap_or(0),
        bounces.unwrap_or(0),
    );
    Ok(TemplatePerformance {
        campaigns: ids.len() as i64,
        sent,
        unique_opens: opens,
        unique_clicks: clicks,
        replies,
        bounces,
        open_rate: rate(opens, sent),
        click_rate: rate(clicks, sent),
        reply_rate: rate(replies, sent),
    })
}
