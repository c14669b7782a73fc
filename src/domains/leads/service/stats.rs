//! `leadStats`: grouped counts over the filtered leads, aggregated in the database.
//!
//! One statement: the filtered selection becomes a CTE, and one `GROUP BY` per dimension
//! (status, source, score band, UTC day of the last 30 days) plus the total are a `UNION ALL`
//! of `(dimension, key, count)` rows. Rust only files the few grouped rows by dimension, so the
//! cost no longer grows with the matching leads in memory.

use chrono::{Duration, Utc};
use entity::lead;
use sea_orm::{FromQueryResult, QuerySelect, QueryTrait, Statement, Value as DbValue};

use super::query::filtered;
use crate::{
    auth::{Permission, Viewer},
    db::{
        buckets::{bucket_sql, Unit},
        placeholder,
    },
    domains::leads::types::{KeyCount, LeadFilter, LeadStats},
    error::AppResult,
    state::AppState,
};

#[derive(FromQueryResult)]
struct Row {
    dim: String,
    k: String,
    n: i64,
}

/// The score band of a lead, as SQL (`0-19` … `80-100`).
const BAND: &str = "CASE WHEN score <= 19 THEN '0-19' WHEN score <= 39 THEN '20-39' \
                    WHEN score <= 59 THEN '40-59' WHEN score <= 79 THEN '60-79' ELSE '80-100' END";

/// Computes the stats in one grouped statement.
pub async fn compute(
    state: &AppState,
    viewer: &Viewer,
    filter: &LeadFilter,
) -> AppResult<LeadStats> {
    viewer.require(Permission::ReadLeads)?;
    let backend = state.db.get_database_backend();
    let inner = filtered(backend, viewer, filter)?
        .select_only()
        .column_as(lead::Column::Status, "status")
        .column_as(lead::Column::Source, "source")
        .column_as(lead::Column::Score, "score")
        .column_as(lead::Column::CreatedAt, "created_at")
        .build(backend);
    let now = Utc::now();
    let since = now - Duration::days(30);
    let mut values: Vec<DbValue> = inner.values.map(|v| v.0).unwrap_or_default();
    let since_at = placeholder(backend, values.len() + 1);
    values.push(since.into());
    let day = bucket_sql(backend, "created_at", Unit::Day, chrono_tz::UTC, since, now);
    let sql = format!(
        "WITH f AS ({inner}) \
         SELECT 'total' AS dim, '' AS k, COUNT(*) AS n FROM f \
         UNION ALL SELECT 'status', status, COUNT(*) FROM f GROUP BY status \
         UNION ALL SELECT 'source', source, COUNT(*) FROM f GROUP BY source \
         UNION ALL SELECT 'band', {BAND}, COUNT(*) FROM f GROUP BY {BAND} \
         UNION ALL SELECT 'day', {day}, COUNT(*) FROM f WHERE created_at >= {since_at} GROUP BY {day}",
        inner = inner.sql,
    );
    let rows = Row::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(&state.db)
        .await?;
    Ok(file(rows))
}

/// The grouped rows filed by dimension, each list in key order.
fn file(rows: Vec<Row>) -> LeadStats {
    let mut stats = LeadStats {
        total: 0,
        by_status: Vec::new(),
        by_source: Vec::new(),
        by_score_band: Vec::new(),
        created_per_day: Vec::new(),
    };
    for r in rows {
        let list = match r.dim.as_str() {
            "total" => {
                stats.total = r.n;
                continue;
            }
            "status" => &mut stats.by_status,
            "source" => &mut stats.by_source,
            "band" => &mut stats.by_score_band,
            _ => &mut stats.created_per_day,
        };
        list.push(KeyCount {
            key: r.k,
            count: r.n,
        });
    }
    for list in [
        &mut stats.by_status,
        &mut stats.by_source,
        &mut stats.by_score_band,
        &mut stats.created_per_day,
    ] {
        list.sort_by(|a, b| a.key.cmp(&b.key));
    }
    stats
}
