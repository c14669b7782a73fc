//! Campaign statistics: counters and full statistics (with per-variant numbers) for many
//! campaigns in one grouped statement ([`PageStats`], shared by a page of campaigns), and the
//! timeline in buckets.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseBackend, FromQueryResult, Statement};
use uuid::Uuid;

use crate::domains::outreach::campaigns::types::{
    CampaignStats, CampaignTimelinePoint, TimelineBucket, VariantStats,
};
use crate::{db::placeholders, error::AppResult, events::CampaignCounters};

#[derive(Debug, Clone, Default, FromQueryResult)]
struct Row {
    cid: Uuid,
    variant: Option<String>,
    total: i64,
    pending: Option<i64>,
    sent: Option<i64>,
    failed: Option<i64>,
    suppressed: Option<i64>,
    uncertain: Option<i64>,
    opened: Option<i64>,
    total_opens: Option<i64>,
    clicked: Option<i64>,
    total_clicks: Option<i64>,
    replied: Option<i64>,
    hard: Option<i64>,
    soft: Option<i64>,
    bounced: Option<i64>,
    unsubscribed: Option<i64>,
}

async fn rows(conn: &impl ConnectionTrait, ids: &[Uuid]) -> AppResult<Vec<Row>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let backend = conn.get_database_backend();
    let c = |cond: &str| format!("SUM(CASE WHEN {cond} THEN 1 ELSE 0 END)");
    let sql = format!(
        "SELECT campaign_id AS cid, variant, COUNT(*) AS total, \
         {} AS pending, {} AS sent, {} AS failed, {} AS suppressed, {} AS uncertain, \
         {} AS opened, SUM(open_count) AS total_opens, {} AS clicked, \
         SUM(click_count) AS total_clicks, {} AS replied, {} AS hard, {} AS soft, \
         {} AS bounced, {} AS unsubscribed \
         FROM campaign_recipients WHERE campaign_id IN ({}) GROUP BY campaign_id, variant",
        c("status IN ('PENDING', 'SENDING')"),
        c("sent_at IS NOT NULL"),
        c("status = 'FAILED'"),
        c("status = 'SUPPRESSED'"),
        c("status = 'UNCERTAIN'"),
        c("opened_at IS NOT NULL"),
        c("clicked_at IS NOT NULL"),
        c("replied_at IS NOT NULL"),
        c("bounce_kind = 'hard'"),
        c("bounce_kind = 'soft'"),
        c("bounced_at IS NOT NULL"),
        c("unsubscribed_at IS NOT NULL"),
        placeholders(backend, 1, ids.len()),
    );
    let values: Vec<sea_orm::Value> = ids.iter().map(|u| (*u).into()).collect();
    Ok(
        Row::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
            .all(conn)
            .await?,
    )
}

fn add(into: &mut Row, r: &Row) {
    let s = |a: &mut Option<i64>, b: Option<i64>| *a = Some(a.unwrap_or(0) + b.unwrap_or(0));
    into.total += r.total;
    s(&mut into.pending, r.pending);
    s(&mut into.sent, r.sent);
    s(&mut into.failed, r.failed);
    s(&mut into.suppressed, r.suppressed);
    s(&mut into.uncertain, r.uncertain);
    s(&mut into.opened, r.opened);
    s(&mut into.total_opens, r.total_opens);
    s(&mut into.clicked, r.clicked);
    s(&mut into.total_clicks, r.total_clicks);
    s(&mut into.replied, r.replied);
    s(&mut into.hard, r.hard);
    s(&mut into.soft, r.soft);
    s(&mut into.bounced, r.bounced);
    s(&mut into.unsubscribed, r.unsubscribed);
}

fn counters_of(r: &Row) -> CampaignCounters {
    let n = |v: Option<i64>| v.unwrap_or(0);
    CampaignCounters {
        total: r.total,
        pending: n(r.pending),
        sent: n(r.sent),
        failed: n(r.failed) + n(r.suppressed) + n(r.uncertain),
        opened: n(r.opened),
        clicked: n(r.clicked),
        replied: n(r.replied),
        bounced: n(r.bounced),
        unsubscribed: n(r.unsubscribed),
    }
}

/// Counters of each campaign in `ids` (campaigns without recipients are absent), one statement.
pub async fn counters(
    conn: &impl ConnectionTrait,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, CampaignCounters>> {
    let page = PageStats::load(conn, ids).await?;
    Ok(page
        .0
        .iter()
        .map(|(k, rows)| (*k, counters_of(&sum(rows))))
        .collect())
}

/// Full statistics of one campaign.
pub async fn compute(conn: &impl ConnectionTrait, campaign_id: Uuid) -> AppResult<CampaignStats> {
    Ok(PageStats::load(conn, &[campaign_id])
        .await?
        .stats(campaign_id))
}

/// The statistics rows (per variant) of a page of campaigns, read in one grouped statement:
/// `Campaign.counters` and `Campaign.stats` of every campaign of the page come from it.
pub struct PageStats(HashMap<Uuid, Vec<Row>>);

impl PageStats {
    /// The rows of `ids`, one statement (none when `ids` is empty).
    pub async fn load(conn: &impl ConnectionTrait, ids: &[Uuid]) -> AppResult<Self> {
        let mut by_campaign: HashMap<Uuid, Vec<Row>> = HashMap::new();
        for r in rows(conn, ids).await? {
            by_campaign.entry(r.cid).or_default().push(r);
        }
        Ok(PageStats(by_campaign))
    }

    /// Counters of one campaign of the page (zero without recipients).
    pub fn counters(&self, id: Uuid) -> CampaignCounters {
        self.0
            .get(&id)
            .map(|rows| counters_of(&sum(rows)))
            .unwrap_or_default()
    }

    /// Full statistics of one campaign of the page.
    pub fn stats(&self, id: Uuid) -> CampaignStats {
        stats_of(self.0.get(&id).map(Vec::as_slice).unwrap_or_default())
    }
}

fn sum(rows: &[Row]) -> Row {
    let mut all = Row::default();
    for r in rows {
        add(&mut all, r);
    }
    all
}

fn variant_stats(rows: &[Row]) -> Vec<VariantStats> {
    let n = |v: Option<i64>| v.unwrap_or(0);
    let mut variants: Vec<VariantStats> = rows
        .iter()
        .filter_map(|r| {
            r.variant.as_ref().map(|name| VariantStats {
                name: name.clone(),
                total: r.total,
                sent: n(r.sent),
                unique_opens: n(r.opened),
                unique_clicks: n(r.clicked),
                replies: n(r.replied),
                open_rate: rate(n(r.opened), n(r.sent)),
                click_rate: rate(n(r.clicked), n(r.sent)),
            })
        })
        .collect();
    variants.sort_by(|a, b| a.name.cmp(&b.name));
    variants
}

fn stats_of(rows: &[Row]) -> CampaignStats {
    let all = sum(rows);
    let n = |v: Option<i64>| v.unwrap_or(0);
    let sent = n(all.sent);
    let bounces = n(all.hard) + n(all.soft);
    let delivered = (sent - n(all.hard)).max(0);
    CampaignStats {
        total: all.total,
        pending: n(all.pending),
        sent,
        delivered,
        failed: n(all.failed),
        suppressed: n(all.suppressed),
        uncertain: n(all.uncertain),
        unique_opens: n(all.opened),
        total_opens: n(all.total_opens),
        unique_clicks: n(all.clicked),
        total_clicks: n(all.total_clicks),
        replies: n(all.replied),
        hard_bounces: n(all.hard),
        soft_bounces: n(all.soft),
        unsubscribes: n(all.unsubscribed),
        open_rate: rate(n(all.opened), delivered),
        click_rate: rate(n(all.clicked), delivered),
        click_to_open_rate: rate(n(all.clicked), n(all.opened)),
        reply_rate: rate(n(all.replied), delivered),
        bounce_rate: rate(bounces, sent),
        unsubscribe_rate: rate(n(all.unsubscribed), delivered),
        variants: variant_stats(rows),
    }
}

#[derive(FromQueryResult)]
struct TimelineRow {
    b: String,
    kind: String,
    n: i64,
}

fn bucket_expr(backend: DatabaseBackend, col: &str, bucket: TimelineBucket) -> String {
    match (backend, bucket) {
        (DatabaseBackend::Postgres, TimelineBucket::Hour) => format!(
            "to_char(date_trunc('hour', {col} AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:00:00\"Z\"')"
        ),
        (DatabaseBackend::Postgres, TimelineBucket::Day) => format!(
            "to_char(date_trunc('day', {col} AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"00:00:00\"Z\"')"
        ),
        (_, TimelineBucket::Hour) => format!("strftime('%Y-%m-%dT%H:00:00Z', {col})"),
        (_, TimelineBucket::Day) => format!("strftime('%Y-%m-%dT00:00:00Z', {col})"),
    }
}

/// Sends and events of one campaign per hour or day, oldest first (empty buckets omitted).
pub async fn timeline(
    conn: &impl ConnectionTrait,
    campaign_id: Uuid,
    bucket: TimelineBucket,
) -> AppResult<Vec<CampaignTimelinePoint>> {
    let backend = conn.get_database_backend();
    let p = |i: usize| placeholders(backend, i, 1);
    let sql = format!(
        "SELECT b, kind, COUNT(*) AS n FROM ( \
           SELECT {} AS b, 'sent' AS kind FROM campaign_recipients WHERE campaign_id = {} AND sent_at IS NOT NULL \
           UNION ALL \
           SELECT {} AS b, kind FROM email_events WHERE campaign_id = {} \
         ) x GROUP BY b, kind ORDER BY b",
        bucket_expr(backend, "sent_at", bucket),
        p(1),
        bucket_expr(backend, "at", bucket),
        p(2),
    );
    let rows = TimelineRow::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [campaign_id.into(), campaign_id.into()],
    ))
    .all(conn)
    .await?;
    let mut out: Vec<CampaignTimelinePoint> = Vec::new();
    for r in rows {
        let Ok(at) = DateTime::parse_from_rfc3339(&r.b).map(|t| t.with_timezone(&Utc)) else {
            continue;
        };
        if out.last().map(|p| p.at) != Some(at) {
            out.push(CampaignTimelinePoint {
                at,
                ..Default::default()
            });
        }
        if let Some(p) = out.last_mut() {
            match r.kind.as_str() {
                "sent" => p.sent += r.n,
                "open" => p.opens += r.n,
                "click" => p.clicks += r.n,
                "reply" => p.replies += r.n,
                "bounce" => p.bounces += r.n,
                "unsubscribe" | "complaint" => p.unsubscribes += r.n,
                _ => {}
            }
        }
    }
    Ok(out)
}

/// A rate as a fraction 0–1 (null when the denominator is 0).
pub fn rate(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}
