//! `conversionFunnel`: the leads created in a period and how far each got, in one statement.
//!
//! The inner query gives every lead of the cohort its furthest stage (won deal 5, any deal 4,
//! QUALIFIED / CONVERTED 3, a campaign reply 2, contacted 1: status past NEW, a last-contacted
//! time or a campaign send; else 0), reading deals and recipients through `EXISTS` on their
//! lead indexes; the outer one counts the leads at or past each stage. A stage therefore counts
//! every lead that reached it or a later one, and the counts never grow down the funnel.
//! The median time between consecutive stages is a third statement, run only when asked for.

use sea_orm::{DatabaseBackend, FromQueryResult, Statement};

use super::range::Period;
use crate::{
    auth::{Permission, Viewer},
    db::{epoch_seconds, json_text, placeholder},
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

#[derive(FromQueryResult)]
struct Median {
    k: i64,
    median: f64,
}

/// The medians statement; parameters as [`statement_sql`]. Per lead of the cohort, the epoch
/// seconds it reached each stage (null when not recorded); per consecutive pair of stages the
/// durations of the leads with both times in order; per pair the middle value (the mean of the
/// two middle ones for an even count, by row number, so it runs on both backends).
fn medians_sql(backend: DatabaseBackend, p: impl Fn(usize) -> String) -> String {
    let ep = |col: &str| epoch_seconds(backend, col);
    let rec = "r.lead_id = l.id AND r.org_id = l.org_id";
    let int = "i.lead_id = l.id AND i.org_id = l.org_id";
    let deal = "d.lead_id = l.id AND d.org_id = l.org_id";
    let times = format!(
        "SELECT {t0} AS t0, \
         (SELECT MIN({sent}) FROM campaign_recipients r WHERE {rec}) AS t1a, \
         (SELECT MIN({at}) FROM lead_interactions i WHERE {int} \
           AND i.kind IN ('contacted', 'status_changed')) AS t1b, \
         (SELECT MIN({replied}) FROM campaign_recipients r WHERE {rec}) AS t2, \
         (SELECT MIN({at}) FROM lead_interactions i WHERE {int} AND i.kind = 'status_changed' \
           AND {to} IN ('QUALIFIED', 'CONVERTED')) AS t3, \
         (SELECT MIN({dc}) FROM deals d WHERE {deal}) AS t4, \
         (SELECT MIN({closed}) FROM deals d WHERE {deal} AND d.status = 'WON') AS t5 \
         FROM leads l WHERE l.org_id = {} AND l.created_at >= {} AND l.created_at < {}",
        p(1),
        p(2),
        p(3),
        t0 = ep("l.created_at"),
        sent = ep("r.sent_at"),
        at = ep("i.created_at"),
        replied = ep("r.replied_at"),
        to = json_text(backend, "i.data", "to"),
        dc = ep("d.created_at"),
        closed = ep("d.closed_at"),
    );
    let pairs: Vec<String> = (1..STAGES.len())
        .map(|k| {
            let (a, b) = (format!("t{}", k - 1), format!("t{k}"));
            format!(
                "SELECT CAST({k} AS BIGINT) AS k, {b} - {a} AS s FROM t \
                 WHERE {a} IS NOT NULL AND {b} IS NOT NULL AND {b} >= {a}"
            )
        })
        .collect();
    format!(
        "WITH raw AS ({times}), \
         t AS (SELECT t0, CASE WHEN t1a IS NULL THEN t1b WHEN t1b IS NULL OR t1a <= t1b \
           THEN t1a ELSE t1b END AS t1, t2, t3, t4, t5 FROM raw), d AS ({}), \
         n AS (SELECT k, s, ROW_NUMBER() OVER (PARTITION BY k ORDER BY s) AS rn, \
           COUNT(*) OVER (PARTITION BY k) AS c FROM d) \
         SELECT k, CAST(AVG(s) AS DOUBLE PRECISION) AS median FROM n \
         WHERE rn = (c + 1) / 2 OR rn = (c + 2) / 2 GROUP BY k",
        pairs.join(" UNION ALL ")
    )
}

fn rate(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// `conversionFunnel(range | preset | days)`: two statements (the time zone, the funnel), and
/// a third for the medians when `with_medians` (the client asked for them).
pub async fn funnel(
    state: &AppState,
    viewer: &Viewer,
    period: Period,
    with_medians: bool,
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
    let mut medians = [None; STAGES.len()];
    if with_medians {
        let rows = Median::find_by_statement(Statement::from_sql_and_values(
            backend,
            medians_sql(backend, |i| placeholder(backend, i)),
            [viewer.org_id.into(), range.from.into(), range.to.into()],
        ))
        .all(&state.db)
        .await?;
        for m in rows {
            if let Some(slot) = usize::try_from(m.k).ok().and_then(|k| medians.get_mut(k)) {
                *slot = Some(m.median);
            }
        }
    }
    let stages = STAGES
        .iter()
        .enumerate()
        .map(|(i, &stage)| FunnelStep {
            stage,
            count: counts[i],
            conversion_rate: i.checked_sub(1).and_then(|p| rate(counts[i], counts[p])),
            overall_rate: rate(counts[i], counts[0]),
            median_seconds_from_previous: medians[i],
        })
        .collect();
    Ok(ConversionFunnel {
        from: range.from,
        to: range.to,
        timezone: tz.name().to_string(),
        stages,
    })
}
