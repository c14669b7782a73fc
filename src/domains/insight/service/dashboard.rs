//! `dashboard`: every KPI of a range and of the period before it in one statement.
//!
//! Each KPI is one branch of a `UNION ALL` returning `(kpi, currency, current, previous)`:
//! the branch reads its table once over `[previousFrom, to)` and splits the two periods with
//! `SUM(CASE …)`. States (pipeline value, approval backlog, active scrapes) are counted as of
//! the range's end (`current`) and its start (`previous`) from their timestamps: a deal was
//! open at T if it was created before T and not closed before T, a request pending if created
//! before T and not resolved before T, a scrape active if created before T and not finished
//! before T. Parameters: 1 organization, 2 previous start, 3 range start, 4 range end.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseBackend, DatabaseConnection, FromQueryResult, Statement};
use uuid::Uuid;

use super::range::Range;
use crate::{
    auth::{Permission, Viewer},
    db::placeholder,
    domains::insight::types::{Dashboard, Kpi, MoneyKpi, RateKpi},
    error::AppResult,
    state::AppState,
};

#[derive(FromQueryResult, Debug)]
struct Row {
    kpi: String,
    currency: String,
    cur: i64,
    prev: i64,
}

/// `SUM(CASE WHEN cond THEN value ELSE 0 END)` as a BIGINT, 0 over no rows.
fn sum_if(cond: &str, value: &str) -> String {
    format!("CAST(COALESCE(SUM(CASE WHEN {cond} THEN {value} ELSE 0 END), 0) AS BIGINT)")
}

/// A flow KPI: rows of `table` whose `col` falls in the range (current) or the previous period.
fn flow(kpi: &str, table: &str, col: &str, extra: &str, p: &impl Fn(usize) -> String) -> String {
    format!(
        "SELECT '{kpi}' AS kpi, '' AS currency, {cur} AS cur, {prev} AS prev FROM {table} \
         WHERE org_id = {o} AND {col} >= {pf} AND {col} < {t}{extra}",
        cur = sum_if(&format!("{col} >= {}", p(3)), "1"),
        prev = sum_if(&format!("{col} < {}", p(3)), "1"),
        o = p(1),
        pf = p(2),
        t = p(4),
    )
}

/// A state KPI: rows of `table` that were in the state at the range's end and at its start;
/// `in_state(T)` is the SQL condition for "in the state at T".
fn state_at(
    kpi: &str,
    table: &str,
    currency: &str,
    value: &str,
    in_state: impl Fn(&str) -> String,
    p: &impl Fn(usize) -> String,
) -> String {
    let group = if currency == "''" {
        String::new()
    } else {
        format!(" GROUP BY {currency}")
    };
    format!(
        "SELECT '{kpi}', {currency}, {cur}, {prev} FROM {table} \
         WHERE org_id = {o} AND created_at < {t}{group}",
        cur = sum_if(&in_state(&p(4)), value),
        prev = sum_if(&in_state(&p(3)), value),
        o = p(1),
        t = p(4),
    )
}

/// The one statement of the dashboard.
fn statement_sql(backend: DatabaseBackend) -> String {
    let p = |i: usize| placeholder(backend, i);
    let sent = "campaign_recipients";
    let won = format!(
        "SELECT 'revenue_won', currency, {cur}, {prev} FROM deals WHERE org_id = {o} \
         AND status = 'WON' AND closed_at >= {pf} AND closed_at < {t} GROUP BY currency",
        cur = sum_if(&format!("closed_at >= {}", p(3)), "amount_minor"),
        prev = sum_if(&format!("closed_at < {}", p(3)), "amount_minor"),
        o = p(1),
        pf = p(2),
        t = p(4),
    );
    [
        flow("new_leads", "leads", "created_at", "", &p),
        flow(
            "qualified_leads",
            "leads",
            "created_at",
            " AND status IN ('QUALIFIED', 'CONVERTED')",
            &p,
        ),
        flow("sent", sent, "sent_at", "", &p),
        flow(
            "delivered",
            sent,
            "sent_at",
            " AND (bounce_kind IS NULL OR bounce_kind <> 'hard')",
            &p,
        ),
        flow(
            "opened",
            sent,
            "sent_at",
            " AND opened_at IS NOT NULL AND (bounce_kind IS NULL OR bounce_kind <> 'hard')",
            &p,
        ),
        flow(
            "replied",
            sent,
            "sent_at",
            " AND replied_at IS NOT NULL AND (bounce_kind IS NULL OR bounce_kind <> 'hard')",
            &p,
        ),
        flow("deals_created", "deals", "created_at", "", &p),
        won,
        state_at(
            "pipeline_value",
            "deals",
            "currency",
            "amount_minor",
            |t| format!("created_at < {t} AND (closed_at IS NULL OR closed_at >= {t})"),
            &p,
        ),
        state_at(
            "approval_backlog",
            "approval_requests",
            "''",
            "1",
            |t| format!("created_at < {t} AND (status = 'PENDING' OR resolved_at >= {t})"),
            &p,
        ),
        state_at(
            "active_scrapes",
            "scrape_jobs",
            "''",
            "1",
            |t| {
                format!(
                    "created_at < {t} AND (status IN ('queued', 'running') OR finished_at >= {t})"
                )
            },
            &p,
        ),
    ]
    .join(" UNION ALL ")
}

/// A rate from two counts (null when the denominator is 0).
fn rate(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// `dashboard(range | preset)`.
pub async fn dashboard(state: &AppState, viewer: &Viewer, range: Range) -> AppResult<Dashboard> {
    viewer.require(Permission::ReadDeals)?;
    snapshot(&state.db, viewer.org_id, range).await
}

/// The organization's KPIs over `range` in one statement, for a caller that has checked the
/// permission (the dashboard query, or `dashboardUpdates` when its subscribers subscribed).
pub async fn snapshot(db: &DatabaseConnection, org: Uuid, range: Range) -> AppResult<Dashboard> {
    let backend = db.get_database_backend();
    let prev_from: DateTime<Utc> = range.previous_from();
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        backend,
        statement_sql(backend),
        [
            org.into(),
            prev_from.into(),
            range.from.into(),
            range.to.into(),
        ],
    ))
    .all(db)
    .await?;
    Ok(assemble(range, prev_from, rows))
}

fn assemble(range: Range, previous_from: DateTime<Utc>, rows: Vec<Row>) -> Dashboard {
    let kpi = |name: &str| {
        rows.iter()
            .find(|r| r.kpi == name)
            .map(|r| Kpi {
                current: r.cur,
                previous: r.prev,
            })
            .unwrap_or_default()
    };
    let money = |name: &str| {
        let mut list: Vec<MoneyKpi> = rows
            .iter()
            .filter(|r| r.kpi == name && (r.cur != 0 || r.prev != 0))
            .map(|r| MoneyKpi {
                currency: r.currency.clone(),
                current: r.cur,
                previous: r.prev,
            })
            .collect();
        list.sort_by(|a, b| a.currency.cmp(&b.currency));
        list
    };
    let delivered = kpi("delivered");
    let rate_of = |k: Kpi| RateKpi {
        current: rate(k.current, delivered.current),
        previous: rate(k.previous, delivered.previous),
    };
    Dashboard {
        from: range.from,
        to: range.to,
        previous_from,
        new_leads: kpi("new_leads"),
        qualified_leads: kpi("qualified_leads"),
        emails_sent: kpi("sent"),
        open_rate: rate_of(kpi("opened")),
        reply_rate: rate_of(kpi("replied")),
        deals_created: kpi("deals_created"),
        revenue_won: money("revenue_won"),
        pipeline_value: money("pipeline_value"),
        approval_backlog: kpi("approval_backlog"),
        active_scrapes: kpi("active_scrapes"),
    }
}
