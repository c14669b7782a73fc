//! `attribution` and `ltv`: won deals credited to campaigns or sources, and lifetime value per
//! source or industry; one grouped statement each (money stays integer minor units).
//!
//! Attribution by campaign: the touches of a won deal are its lead's campaign sends at or
//! before the close, numbered in send order (`ROW_NUMBER`) and counted (`COUNT … OVER`) per
//! deal. FIRST_TOUCH credits the first, LAST_TOUCH the last, LINEAR every send
//! `amount / n`, the `amount % n` minor units left over going one each to the earliest sends,
//! so a deal's credits always add up to its value. A won deal no campaign touched is credited
//! to the key `""`. By source, the lead's source is the one touch (the model changes nothing).
//! `roi` appends the organization's costs (`marketing_costs`) to the same statement.

use std::collections::BTreeMap;

use sea_orm::{FromQueryResult, Statement};
use uuid::Uuid;

use super::range::{Period, Range};
use crate::{
    auth::{Permission, Viewer},
    db::placeholder,
    domains::{
        identity::org_timezone,
        insight::types::{
            Attribution, AttributionGroupBy, AttributionModel, AttributionRow, Ltv, LtvGroupBy,
            LtvRow, Roi, RoiRow,
        },
    },
    error::AppResult,
    state::AppState,
};

#[derive(FromQueryResult)]
struct CreditRow {
    k: Option<String>,
    id: Option<Uuid>,
    label: Option<String>,
    currency: String,
    deals: f64,
    revenue: i64,
    cost: i64,
    /// 1 on a cost row (`roi`).
    hc: i64,
}

/// The two columns every credit row ends with (no cost).
const NO_COST: &str = "CAST(0 AS BIGINT) AS cost, CAST(0 AS BIGINT) AS hc";

/// `(row filter, share, credit)` of a model over the touches `t`.
fn model_terms(model: AttributionModel) -> (&'static str, &'static str, &'static str) {
    match model {
        AttributionModel::FirstTouch => ("t.rn = 1", "1.0", "t.amount"),
        AttributionModel::LastTouch => ("(t.rn = t.n OR t.n = 0)", "1.0", "t.amount"),
        AttributionModel::Linear => (
            "1 = 1",
            "CASE WHEN t.n = 0 THEN 1.0 ELSE 1.0 / t.n END",
            "CASE WHEN t.n = 0 THEN t.amount \
             ELSE t.amount / t.n + CASE WHEN t.rn <= t.amount % t.n THEN 1 ELSE 0 END END",
        ),
    }
}

/// The statement of one grouping; parameters: 1 organization, 2 start, 3 end (of the close).
fn attribution_sql(
    group_by: AttributionGroupBy,
    model: AttributionModel,
    p: impl Fn(usize) -> String,
) -> String {
    let won = format!(
        "d.org_id = {} AND d.status = 'WON' AND d.closed_at >= {} AND d.closed_at < {}",
        p(1),
        p(2),
        p(3)
    );
    match group_by {
        AttributionGroupBy::Source => format!(
            "SELECT COALESCE(l.source, '') AS k, CAST(NULL AS uuid) AS id, \
             CAST(NULL AS TEXT) AS label, d.currency AS currency, \
             CAST(COUNT(*) AS DOUBLE PRECISION) AS deals, \
             CAST(SUM(d.amount_minor) AS BIGINT) AS revenue, {NO_COST} \
             FROM deals d LEFT JOIN leads l ON l.id = d.lead_id AND l.org_id = d.org_id \
             WHERE {won} GROUP BY COALESCE(l.source, ''), d.currency"
        ),
        AttributionGroupBy::Campaign => {
            let (filter, share, credit) = model_terms(model);
            format!(
                "WITH w AS (SELECT d.id, d.lead_id, d.amount_minor AS amount, d.currency, \
                 d.closed_at FROM deals d WHERE {won}), \
                 t AS (SELECT w.id AS deal_id, w.amount, w.currency, r.campaign_id, \
                 ROW_NUMBER() OVER (PARTITION BY w.id ORDER BY r.sent_at, r.id) AS rn, \
                 COUNT(r.id) OVER (PARTITION BY w.id) AS n \
                 FROM w LEFT JOIN campaign_recipients r ON r.lead_id = w.lead_id \
                 AND r.org_id = {o} AND r.sent_at IS NOT NULL AND r.sent_at <= w.closed_at) \
                 SELECT CAST(NULL AS TEXT) AS k, t.campaign_id AS id, c.name AS label, \
                 t.currency AS currency, CAST(SUM({share}) AS DOUBLE PRECISION) AS deals, \
                 CAST(SUM({credit}) AS BIGINT) AS revenue, {NO_COST} \
                 FROM t LEFT JOIN campaigns c ON c.id = t.campaign_id \
                 WHERE {filter} GROUP BY t.campaign_id, c.name, t.currency",
                o = p(1),
            )
        }
    }
}

/// The `roi` branch appended to the attribution statement: the organization's costs of the
/// grouping's kind as rows with no revenue (`hc` = 1).
fn costs_sql(group_by: AttributionGroupBy, p: impl Fn(usize) -> String) -> String {
    let cols = "m.currency AS currency, CAST(0 AS DOUBLE PRECISION) AS deals, \
                CAST(0 AS BIGINT) AS revenue, m.amount_minor AS cost, CAST(1 AS BIGINT) AS hc";
    match group_by {
        AttributionGroupBy::Campaign => format!(
            " UNION ALL SELECT CAST(NULL AS TEXT) AS k, m.campaign_id AS id, c.name AS label, \
             {cols} FROM marketing_costs m LEFT JOIN campaigns c ON c.id = m.campaign_id \
             WHERE m.org_id = {} AND m.kind = 'CAMPAIGN'",
            p(1)
        ),
        AttributionGroupBy::Source => format!(
            " UNION ALL SELECT m.subject AS k, CAST(NULL AS uuid) AS id, \
             CAST(NULL AS TEXT) AS label, {cols} FROM marketing_costs m \
             WHERE m.org_id = {} AND m.kind = 'SOURCE'",
            p(1)
        ),
    }
}

/// The credit rows of a period (and the costs, for `roi`): time zone + one statement.
async fn credits(
    state: &AppState,
    viewer: &Viewer,
    period: Period,
    model: AttributionModel,
    group_by: AttributionGroupBy,
    with_costs: bool,
) -> AppResult<(Range, Vec<CreditRow>)> {
    viewer.require(Permission::ReadDeals)?;
    let backend = state.db.get_database_backend();
    let tz = org_timezone(&state.db, viewer.org_id).await?;
    let range = period.resolve(tz, chrono::Utc::now())?;
    let p = |i| placeholder(backend, i);
    let mut sql = attribution_sql(group_by, model, p);
    if with_costs {
        sql.push_str(&costs_sql(group_by, p));
    }
    let rows = CreditRow::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [viewer.org_id.into(), range.from.into(), range.to.into()],
    ))
    .all(&state.db)
    .await?;
    Ok((range, rows))
}

fn key_of(r: &CreditRow) -> String {
    r.k.clone()
        .or(r.id.map(|u| u.to_string()))
        .unwrap_or_default()
}

/// `attribution(range | preset | days, model, groupBy)`: won deals closed in the period.
pub async fn attribution(
    state: &AppState,
    viewer: &Viewer,
    period: Period,
    model: AttributionModel,
    group_by: AttributionGroupBy,
) -> AppResult<Attribution> {
    let (range, rows) = credits(state, viewer, period, model, group_by, false).await?;
    let mut rows: Vec<AttributionRow> = rows
        .into_iter()
        .map(|r| AttributionRow {
            key: key_of(&r),
            id: r.id.map(|u| async_graphql::ID(u.to_string())),
            label: r.label,
            currency: r.currency,
            deals: r.deals,
            revenue_minor: r.revenue,
        })
        .collect();
    rows.sort_by(|a, b| (&a.key, &a.currency).cmp(&(&b.key, &b.currency)));
    Ok(Attribution {
        from: range.from,
        to: range.to,
        model,
        group_by,
        rows,
    })
}

/// `roi(range | preset | days, model, groupBy)`: the attribution's revenue next to the cost
/// set for each campaign or source in the same currency (a cost is the total spent, not
/// prorated to the period); a cost with no revenue is a row of its own (roi −1).
pub async fn roi(
    state: &AppState,
    viewer: &Viewer,
    period: Period,
    model: AttributionModel,
    group_by: AttributionGroupBy,
) -> AppResult<Roi> {
    let (range, rows) = credits(state, viewer, period, model, group_by, true).await?;
    // At most one revenue row and one cost row per (key, currency): merged here.
    let mut by: BTreeMap<(String, String), RoiRow> = BTreeMap::new();
    for r in rows {
        let row = by
            .entry((key_of(&r), r.currency.clone()))
            .or_insert_with(|| RoiRow {
                key: key_of(&r),
                id: r.id.map(|u| async_graphql::ID(u.to_string())),
                label: r.label.clone(),
                currency: r.currency.clone(),
                deals: 0.0,
                revenue_minor: 0,
                cost_minor: None,
                roi: None,
            });
        row.deals += r.deals;
        row.revenue_minor += r.revenue;
        if r.hc == 1 {
            row.cost_minor = Some(r.cost);
        }
        if row.label.is_none() {
            row.label = r.label;
        }
    }
    let rows = by
        .into_values()
        .map(|mut r| {
            r.roi = r
                .cost_minor
                .filter(|c| *c > 0)
                .map(|c| (r.revenue_minor - c) as f64 / c as f64);
            r
        })
        .collect();
    Ok(Roi {
        from: range.from,
        to: range.to,
        model,
        group_by,
        rows,
    })
}

#[derive(FromQueryResult)]
struct LtvSql {
    k: String,
    currency: String,
    customers: i64,
    deals: i64,
    revenue: i64,
}

/// `ltv(groupBy)`: per group and currency, the customers (leads with a won deal), their won
/// deals and value, and value per customer; one statement.
pub async fn ltv(state: &AppState, viewer: &Viewer, group_by: LtvGroupBy) -> AppResult<Ltv> {
    viewer.require(Permission::ReadDeals)?;
    let backend = state.db.get_database_backend();
    let col = match group_by {
        LtvGroupBy::Source => "l.source",
        LtvGroupBy::Industry => "l.industry",
    };
    let sql = format!(
        "SELECT COALESCE({col}, '') AS k, d.currency AS currency, \
         COUNT(DISTINCT d.lead_id) AS customers, COUNT(*) AS deals, \
         CAST(SUM(d.amount_minor) AS BIGINT) AS revenue \
         FROM deals d JOIN leads l ON l.id = d.lead_id AND l.org_id = d.org_id \
         WHERE d.org_id = {} AND d.status = 'WON' GROUP BY COALESCE({col}, ''), d.currency",
        placeholder(backend, 1)
    );
    let rows = LtvSql::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [viewer.org_id.into()],
    ))
    .all(&state.db)
    .await?;
    let mut rows: Vec<LtvRow> = rows
        .into_iter()
        .map(|r| LtvRow {
            ltv_minor: if r.customers > 0 {
                r.revenue / r.customers
            } else {
                0
            },
            key: r.k,
            currency: r.currency,
            customers: r.customers,
            deals: r.deals,
            revenue_minor: r.revenue,
        })
        .collect();
    rows.sort_by(|a, b| (&a.key, &a.currency).cmp(&(&b.key, &b.currency)));
    Ok(Ltv { group_by, rows })
}
