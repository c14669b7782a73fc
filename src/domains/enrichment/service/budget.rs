//! The monthly enrichment budget: `enrichment_settings.monthly_budget_cents` (null: no limit)
//! against `enrichment_usage` (cents spent per organization and UTC month). A call reserves its
//! cost before it is made with one conditional `UPDATE` (spent + cost ≤ budget), so concurrent
//! runs cannot overspend; a failed call gives its reservation back.

use chrono::Utc;
use entity::{enrichment_setting, enrichment_usage};
use sea_orm::{
    sea_query::{Expr, ExprTrait, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use crate::error::AppResult;

/// The current period, `YYYY-MM` (UTC).
pub fn period() -> String {
    Utc::now().format("%Y-%m").to_string()
}

/// The organization's monthly budget in cents (`None`: no limit).
pub async fn limit(conn: &impl ConnectionTrait, org: Uuid) -> AppResult<Option<i64>> {
    Ok(enrichment_setting::Entity::find_by_id(org)
        .one(conn)
        .await?
        .and_then(|s| s.monthly_budget_cents))
}

/// Cents spent this month.
pub async fn spent(conn: &impl ConnectionTrait, org: Uuid) -> AppResult<i64> {
    Ok(enrichment_usage::Entity::find_by_id((org, period()))
        .one(conn)
        .await?
        .map_or(0, |u| u.spent_cents))
}

/// Reserves `cost` cents of this month's budget; false when that would exceed it.
pub async fn reserve(
    conn: &impl ConnectionTrait,
    org: Uuid,
    limit: Option<i64>,
    cost: i64,
) -> AppResult<bool> {
    let period = period();
    enrichment_usage::Entity::insert(enrichment_usage::ActiveModel {
        org_id: Set(org),
        period: Set(period.clone()),
        spent_cents: Set(0),
    })
    .on_conflict(
        OnConflict::columns([
            enrichment_usage::Column::OrgId,
            enrichment_usage::Column::Period,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    let spent = Expr::col(enrichment_usage::Column::SpentCents);
    let mut update = enrichment_usage::Entity::update_many()
        .col_expr(
            enrichment_usage::Column::SpentCents,
            spent.clone().add(cost),
        )
        .filter(enrichment_usage::Column::OrgId.eq(org))
        .filter(enrichment_usage::Column::Period.eq(period));
    if let Some(limit) = limit {
        update = update.filter(spent.add(cost).lte(limit));
    }
    Ok(update.exec(conn).await?.rows_affected == 1)
}

/// Gives back a reservation of a call that failed.
pub async fn refund(conn: &impl ConnectionTrait, org: Uuid, cost: i64) -> AppResult<()> {
    if cost == 0 {
        return Ok(());
    }
    let spent = Expr::col(enrichment_usage::Column::SpentCents);
    enrichment_usage::Entity::update_many()
        .col_expr(enrichment_usage::Column::SpentCents, spent.sub(cost))
        .filter(enrichment_usage::Column::OrgId.eq(org))
        .filter(enrichment_usage::Column::Period.eq(period()))
        .exec(conn)
        .await?;
    Ok(())
}
