//! `leadStats`: grouped counts over the filtered leads.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use entity::lead;
use sea_orm::{FromQueryResult, QuerySelect};

use super::query::filtered;
use crate::{
    auth::{Permission, Viewer},
    domains::leads::types::{KeyCount, LeadFilter, LeadStats},
    error::AppResult,
    state::AppState,
};

#[derive(FromQueryResult)]
struct Row {
    status: String,
    source: String,
    score: i32,
    created_at: chrono::DateTime<Utc>,
}

/// Computes the stats in one pass over the matching rows' small columns.
pub async fn compute(
    state: &AppState,
    viewer: &Viewer,
    filter: &LeadFilter,
) -> AppResult<LeadStats> {
    viewer.require(Permission::ReadLeads)?;
    let rows = filtered(state.db.get_database_backend(), viewer, filter)?
        .select_only()
        .column(lead::Column::Status)
        .column(lead::Column::Source)
        .column(lead::Column::Score)
        .column(lead::Column::CreatedAt)
        .into_model::<Row>()
        .all(&state.db)
        .await?;
    let since = Utc::now() - Duration::days(30);
    let (mut status, mut source, mut band, mut day) = (
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    );
    for r in &rows {
        *status.entry(r.status.clone()).or_insert(0i64) += 1;
        *source.entry(r.source.clone()).or_insert(0i64) += 1;
        let b = match r.score {
            ..=19 => "0-19",
            20..=39 => "20-39",
            40..=59 => "40-59",
            60..=79 => "60-79",
            _ => "80-100",
        };
        *band.entry(b.to_string()).or_insert(0i64) += 1;
        if r.created_at >= since {
            *day.entry(r.created_at.format("%Y-%m-%d").to_string())
                .or_insert(0i64) += 1;
        }
    }
    let list = |m: BTreeMap<String, i64>| {
        m.into_iter()
            .map(|(key, count)| KeyCount { key, count })
            .collect()
    };
    Ok(LeadStats {
        total: rows.len() as i64,
        by_status: list(status),
        by_source: list(source),
        by_score_band: list(band),
        created_per_day: list(day),
    })
}
