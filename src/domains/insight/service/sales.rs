//! `revenueAnalytics(range | preset | days, groupBy)`: deals won in a period, grouped in one
//! organization-scoped statement per currency (amounts stay integer minor units and never mix
//! currencies). Time buckets are the close's local day, week or month (`db::buckets`),
//! zero-filled for every currency won in the period; CAMPAIGN credits a deal to the campaign of
//! the last send to its lead at or before the close (attribution's LAST_TOUCH order: send time,
//! then id). The totals add up the groups (every won deal is in exactly one).

use std::collections::BTreeMap;

use chrono_tz::Tz;
use sea_orm::{DatabaseBackend, FromQueryResult, Statement};
use uuid::Uuid;

use super::{
    analytics::zero_filled,
    range::{Period, Range},
};
use crate::{
    auth::{Permission, Viewer},
    db::{
        buckets::{bucket_keys, bucket_sql, Unit},
        placeholder,
    },
    domains::{
        identity::org_timezone,
        insight::types::{RevenueAnalytics, RevenueBucket, RevenueGroupBy, RevenueTotal},
    },
    error::AppResult,
    state::AppState,
};

#[derive(FromQueryResult)]
struct Row {
    k: Option<String>,
    id: Option<Uuid>,
    label: Option<String>,
    currency: String,
    deals: i64,
    revenue: i64,
}

fn unit_of(g: RevenueGroupBy) -> Option<Unit> {
    match g {
        RevenueGroupBy::Day => Some(Unit::Day),
        RevenueGroupBy::Week => Some(Unit::Week),
        RevenueGroupBy::Month => Some(Unit::Month),
        _ => None,
    }
}

/// The statement of one grouping; parameters: 1 organization, 2 start, 3 end (of the close).
fn statement_sql(backend: DatabaseBackend, g: RevenueGroupBy, tz: Tz, r: Range) -> String {
    let p = |i| placeholder(backend, i);
    let won = format!(
        "d.org_id = {} AND d.status = 'WON' AND d.closed_at >= {} AND d.closed_at < {}",
        p(1),
        p(2),
        p(3)
    );
    let sums = "d.currency AS currency, COUNT(*) AS deals, \
                CAST(SUM(d.amount_minor) AS BIGINT) AS revenue";
    let (none, none_uuid) = ("CAST(NULL AS TEXT)", "CAST(NULL AS uuid)");
    if let Some(unit) = unit_of(g) {
        let b = bucket_sql(backend, "d.closed_at", unit, tz, r.from, r.to);
        return format!(
            "SELECT {b} AS k, {none_uuid} AS id, {none} AS label, {sums} FROM deals d \
             WHERE {won} GROUP BY {b}, d.currency"
        );
    }
    match g {
        RevenueGroupBy::Source => format!(
            "SELECT COALESCE(l.source, '') AS k, {none_uuid} AS id, {none} AS label, {sums} \
             FROM deals d LEFT JOIN leads l ON l.id = d.lead_id AND l.org_id = d.org_id \
             WHERE {won} GROUP BY COALESCE(l.source, ''), d.currency"
        ),
        RevenueGroupBy::Owner => format!(
            "SELECT {none} AS k, d.owner_id AS id, u.name AS label, {sums} \
             FROM deals d LEFT JOIN users u ON u.id = d.owner_id \
             WHERE {won} GROUP BY d.owner_id, u.name, d.currency"
        ),
        _ => format!(
            "WITH w AS (SELECT d.amount_minor, d.currency, \
             (SELECT r.campaign_id FROM campaign_recipients r WHERE r.lead_id = d.lead_id \
             AND r.org_id = d.org_id AND r.sent_at IS NOT NULL AND r.sent_at <= d.closed_at \
             ORDER BY r.sent_at DESC, r.id DESC LIMIT 1) AS cid FROM deals d WHERE {won}) \
             SELECT {none} AS k, d.cid AS id, c.name AS label, {sums} \
             FROM w d LEFT JOIN campaigns c ON c.id = d.cid GROUP BY d.cid, c.name, d.currency"
        ),
    }
}

fn bucket(r: Row) -> RevenueBucket {
    RevenueBucket {
        key: r.k.or(r.id.map(|u| u.to_string())).unwrap_or_default(),
        label: r.label,
        id: r.id.map(|u| async_graphql::ID(u.to_string())),
        currency: r.currency,
        deals: r.deals,
        revenue_minor: r.revenue,
        average_deal_minor: (r.deals > 0).then(|| r.revenue / r.deals),
    }
}

/// Per currency, the sums of its groups.
fn totals(buckets: &[RevenueBucket]) -> Vec<RevenueTotal> {
    let mut by: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for b in buckets {
        let t = by.entry(b.currency.as_str()).or_default();
        t.0 += b.deals;
        t.1 += b.revenue_minor;
    }
    by.into_iter()
        .map(|(c, (deals, revenue_minor))| RevenueTotal {
            currency: c.to_string(),
            deals,
            revenue_minor,
        })
        .collect()
}

/// `revenueAnalytics`: won deals closed in the period, grouped, per currency.
pub async fn revenue(
    state: &AppState,
    viewer: &Viewer,
    period: Period,
    group_by: RevenueGroupBy,
) -> AppResult<RevenueAnalytics> {
    viewer.require(Permission::ReadDeals)?;
    let backend = state.db.get_database_backend();
    let tz = org_timezone(&state.db, viewer.org_id).await?;
    let range = period.resolve(tz, chrono::Utc::now())?;
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        backend,
        statement_sql(backend, group_by, tz, range),
        [viewer.org_id.into(), range.from.into(), range.to.into()],
    ))
    .all(&state.db)
    .await?;
    let mut buckets: Vec<RevenueBucket> = rows.into_iter().map(bucket).collect();
    buckets.sort_by(|a, b| (&a.currency, &a.key).cmp(&(&b.currency, &b.key)));
    let totals = totals(&buckets);
    if let Some(unit) = unit_of(group_by) {
        let keys = bucket_keys(unit, tz, range.from, range.to);
        let mut filled = Vec::new();
        for t in &totals {
            let (mine, rest): (Vec<_>, Vec<_>) =
                buckets.into_iter().partition(|b| b.currency == t.currency);
            buckets = rest;
            let empty = |key| RevenueBucket {
                key,
                label: None,
                id: None,
                currency: t.currency.clone(),
                deals: 0,
                revenue_minor: 0,
                average_deal_minor: None,
            };
            filled.extend(zero_filled(keys.clone(), mine, empty, |b| b.key.clone()));
        }
        buckets = filled;
    }
    Ok(RevenueAnalytics {
        group_by,
        from: range.from,
        to: range.to,
        timezone: tz.name().to_string(),
        totals,
        buckets,
    })
}
