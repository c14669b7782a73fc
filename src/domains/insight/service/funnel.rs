//! `conversionFunnel`: the leads created in a period and how far each got, in one statement.
//!
//! The inner query gives every lead of the cohort its furthest stage (won deal 5, any deal 4,
//! QUALIFIED / CONVERTED 3, a campaign reply 2, contacted 1: status past NEW, a last-contacted
//! time or a campaign send; else 0), reading deals and recipients through `EXISTS` on their
//! lead indexes; the outer one counts the leads at or past each stage. A stage therefore counts
//! every lead that reached it or a later one, and the counts never grow down the funnel.

use sea_orm::{FromQueryResult, Statement};

use super::range::Period;
use crate::{
    auth::{Permission, Viewer},
    db::placeholder,
    domains::{
        identity::org_timezone,
        insight::types::{ConversionFunnel, FunnelStage, FunnelStep},
    },
    error::AppResult,
    state::AppState,
};

/// The stages in order; a stage's index is the furthest-stage number it needs.
const STAGES: [FunnelStage; 6] = [
    FunnelStage::Created,
    FunnelStage::Contacted,
    FunnelStage::Replied,
    FunnelStage::Qualified,
    FunnelStage::Deal,
    FunnelStage::Won,
];

#[derive(FromQueryResult)]
struct Row {
    s0: i64,
    s1: i64,
    s2: i64,
    s3: i64,
    s4: i64,
    s5: i64,
}

/// The statement; parameters: 1 organization, 2 start, 3 end.
fn statement_sql(p: impl Fn(usize) -> String) -> String {
    let deal = |extra: &str| {
        format!(
            "EXISTS (SELECT 1 FROM deals d WHERE d.lead_id = l.id AND d.org_id = l.org_id{extra})"
        )
    };
    let sent = |extra: &str| {
        format!(
            "EXISTS (SELECT 1 FROM campaign_recipients r WHERE r.lead_id = l.id \
             AND r.org_id = l.org_id{extra})"
        )
    };
    let furthest = format!(
        "CASE WHEN {won} THEN 5 WHEN {any} THEN 4 \
         WHEN l.status IN ('QUALIFIED', 'CONVERTED') THEN 3 WHEN {replied} THEN 2 \
         WHEN l.status <> 'NEW' OR l.last_contacted_at IS NOT NULL OR {sent} THEN 1 ELSE 0 END",
        won = deal(" AND d.status = 'WON'"),
        any = deal(""),
        replied = sent(" AND r.replied_at IS NOT NULL"),
        sent = sent(" AND r.sent_at IS NOT NULL"),
    );
    let counts: Vec<String> = (0..STAGES.len())
        .map(|i| {
            format!(
                "CAST(COALESCE(SUM(CASE WHEN f >= {i} THEN 1 ELSE 0 END), 0) AS BIGINT) AS s{i}"
            )
        })
        .collect();
    format!(
        "SELECT {} FROM (SELECT {furthest} AS f FROM leads l \
         WHERE l.org_id = {} AND l.created_at >= {} AND l.created_at < {}) x",
        counts.join(", "),
        p(1),
        p(2),
        p(3),
    )
}

fn rate(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// `conversionFunnel(range | preset | days)`: two statements (the time zone, the funnel).
pub async fn funnel(
    state: &AppState,
    viewer: &Viewer,
    period: Period,
) -> AppResult<ConversionFunnel> {
    viewer.require(Permission::ReadDeals)?;
    let backend = state.db.get_database_backend();
    let tz = org_timezone(&state.db, viewer.org_id).await?;
    let range = period.resolve(tz, chrono::Utc::now())?;
    let row = Row::find_by_statement(Statement::from_sql_and_values(
        backend,
        statement_sql(|i| placeholder(backend, i)),
        [viewer.org_id.into(), range.from.into(), range.to.into()],
    ))
    .one(&state.db)
    .await?;
    let counts = row
        .map(|r| [r.s0, r.s1, r.s2, r.s3, r.s4, r.s5])
        .unwrap_or_default();
    let stages = STAGES
        .iter()
        .enumerate()
        .map(|(i, &stage)| FunnelStep {
            stage,
            count: counts[i],
            conversion_rate: i.checked_sub(1).and_then(|p| rate(counts[i], counts[p])),
            overall_rate: rate(counts[i], counts[0]),
        })
        .collect();
    Ok(ConversionFunnel {
        from: range.from,
        to: range.to,
        timezone: tz.name().to_string(),
        stages,
    })
}
