//! `leadAnalytics` and `emailPerformance`: grouped in the database (one statement each), time
//! buckets in the organization's time zone (`db::buckets`) and zero-filled here from the list
//! of buckets of the range.

use std::collections::HashMap;

use chrono::Utc;
use chrono_tz::Tz;
use sea_orm::{DatabaseBackend, FromQueryResult, Statement, Value as DbValue};
use uuid::Uuid;

use super::range::Range;
use crate::{
    auth::{Permission, Viewer},
    db::{
        buckets::{bucket_keys, bucket_sql, Unit},
        placeholder,
    },
    domains::{
        identity::org_timezone,
        insight::types::{
            EmailBucket, EmailGroupBy, EmailPerformance, LeadAnalytics, LeadBucket, LeadGroupBy,
        },
    },
    error::AppResult,
    state::AppState,
};

const QUALIFIED: &str = "CAST(COALESCE(SUM(CASE WHEN l.status IN ('QUALIFIED', 'CONVERTED') THEN 1 ELSE 0 END), 0) AS BIGINT)";

#[derive(FromQueryResult)]
struct LeadRow {
    dim: String,
    k: Option<String>,
    owner: Option<Uuid>,
    n: i64,
    q: i64,
}

fn unit_of(g: LeadGroupBy) -> Option<Unit> {
    match g {
        LeadGroupBy::Day => Some(Unit::Day),
        LeadGroupBy::Week => Some(Unit::Week),
        LeadGroupBy::Month => Some(Unit::Month),
        _ => None,
    }
}

/// The grouped branch of `leadAnalytics`: `(key text, owner uuid)` and the `FROM` it reads.
fn lead_key(
    backend: DatabaseBackend,
    g: LeadGroupBy,
    tz: Tz,
    range: Option<Range>,
) -> (String, &'static str) {
    let none_uuid = "CAST(NULL AS uuid)";
    let key = match (g, unit_of(g)) {
        (_, Some(unit)) => {
            let (from, to) = range
                .map(|r| (r.from, r.to))
                .unwrap_or((Utc::now(), Utc::now()));
            format!(
                "{} AS k, {none_uuid} AS owner",
                bucket_sql(backend, "l.created_at", unit, tz, from, to)
            )
        }
        (LeadGroupBy::Source, _) => format!("l.source AS k, {none_uuid} AS owner"),
        (LeadGroupBy::Status, _) => format!("l.status AS k, {none_uuid} AS owner"),
        (LeadGroupBy::Owner, _) => "CAST(NULL AS TEXT) AS k, l.owner_id AS owner".to_string(),
        _ => format!("t.tag AS k, {none_uuid} AS owner"),
    };
    let from = if g == LeadGroupBy::Tag {
        "lead_tags t JOIN leads l ON l.id = t.lead_id"
    } else {
        "leads l"
    };
    (key, from)
}

/// `leadAnalytics(range, groupBy)`: leads created in the range (all time without one; the
/// time groupings default to the last 30 days), grouped, with the total.
pub async fn leads(
    state: &AppState,
    viewer: &Viewer,
    range: Option<Range>,
    group_by: LeadGroupBy,
) -> AppResult<LeadAnalytics> {
    viewer.require(Permission::ReadDeals)?;
    let backend = state.db.get_database_backend();
    let tz = org_timezone(&state.db, viewer.org_id).await?;
    let p = |i: usize| placeholder(backend, i);
    let mut values: Vec<DbValue> = vec![viewer.org_id.into()];
    let mut filter = String::new();
    if let Some(r) = range {
        filter = format!(" AND l.created_at >= {} AND l.created_at < {}", p(2), p(3));
        values.extend([r.from.into(), r.to.into()]);
    }
    let (key, from) = lead_key(backend, group_by, tz, range);
    let group = if group_by == LeadGroupBy::Owner {
        "l.owner_id"
    } else {
        "k"
    };
    let sql = format!(
        "SELECT 'g' AS dim, {key}, COUNT(*) AS n, {QUALIFIED} AS q FROM {from} \
         WHERE l.org_id = {o}{filter} GROUP BY {group} \
         UNION ALL SELECT 't', CAST(NULL AS TEXT), CAST(NULL AS uuid), COUNT(*), {QUALIFIED} \
         FROM leads l WHERE l.org_id = {o}{filter}",
        o = p(1),
    );
    let rows = LeadRow::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(&state.db)
        .await?;
    let total = rows.iter().find(|r| r.dim == "t").map(|r| r.n).unwrap_or(0);
    let mut buckets: Vec<LeadBucket> = rows
        .into_iter()
        .filter(|r| r.dim == "g")
        .map(|r| LeadBucket {
            key: r.k.or(r.owner.map(|u| u.to_string())).unwrap_or_default(),
            count: r.n,
            qualified: r.q,
        })
        .collect();
    buckets.sort_by(|a, b| a.key.cmp(&b.key));
    if let (Some(unit), Some(r)) = (unit_of(group_by), range) {
        buckets = zero_filled(
            bucket_keys(unit, tz, r.from, r.to),
            buckets,
            |k| LeadBucket {
                key: k,
                count: 0,
                qualified: 0,
            },
            |b| b.key.clone(),
        );
    }
    Ok(LeadAnalytics {
        group_by,
        from: range.map(|r| r.from),
        to: range.map(|r| r.to),
        timezone: tz.name().to_string(),
        total,
        buckets,
    })
}

/// The buckets in `keys` order, an empty one (`empty(key)`) where the query had none.
pub(super) fn zero_filled<B>(
    keys: Vec<String>,
    found: Vec<B>,
    empty: impl Fn(String) -> B,
    key_of: impl Fn(&B) -> String,
) -> Vec<B> {
    let mut by: HashMap<String, B> = found.into_iter().map(|b| (key_of(&b), b)).collect();
    keys.into_iter()
        .map(|k| by.remove(&k).unwrap_or_else(|| empty(k)))
        .collect()
}

/// One group of campaign emails as the statements return it.
#[derive(FromQueryResult, Default)]
pub(super) struct EmailRow {
    pub k: Option<String>,
    pub id: Option<Uuid>,
    pub label: Option<String>,
    pub sent: i64,
    pub delivered: i64,
    pub opened: i64,
    pub clicked: i64,
    pub replied: i64,
    pub bounced: i64,
    pub unsubscribed: i64,
}

pub(super) fn count_if(cond: &str) -> String {
    format!("CAST(COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0) AS BIGINT)")
}

/// The count columns of an email row over recipients `r` (sent: every row the query reads).
pub(super) fn email_counts() -> String {
    format!(
        "COUNT(*) AS sent, {d} AS delivered, {o} AS opened, {c} AS clicked, \
         {rep} AS replied, {b} AS bounced, {u} AS unsubscribed",
        d = count_if("(r.bounce_kind IS NULL OR r.bounce_kind <> 'hard')"),
        o = count_if("r.opened_at IS NOT NULL"),
        c = count_if("r.clicked_at IS NOT NULL"),
        rep = count_if("r.replied_at IS NOT NULL"),
        b = count_if("r.bounced_at IS NOT NULL"),
        u = count_if("r.unsubscribed_at IS NOT NULL"),
    )
}

/// `(key, id, label)` columns, the joins and the GROUP BY of one `emailPerformance` grouping.
fn email_key(
    backend: DatabaseBackend,
    g: EmailGroupBy,
    tz: Tz,
    r: Range,
) -> (String, &'static str, String) {
    let none = "CAST(NULL AS TEXT)";
    let none_uuid = "CAST(NULL AS uuid)";
    match g {
        EmailGroupBy::Day => {
            let day = bucket_sql(backend, "r.sent_at", Unit::Day, tz, r.from, r.to);
            (format!("{day} AS k, {none_uuid} AS id, {none} AS label"), "", day)
        }
        EmailGroupBy::Campaign => (
            format!("{none} AS k, r.campaign_id AS id, c.name AS label"),
            " JOIN campaigns c ON c.id = r.campaign_id",
            "r.campaign_id, c.name".into(),
        ),
        EmailGroupBy::Template => (
            format!("{none} AS k, c.template_id AS id, t.name AS label"),
            " JOIN campaigns c ON c.id = r.campaign_id LEFT JOIN email_templates t ON t.id = c.template_id",
            "c.template_id, t.name".into(),
        ),
        EmailGroupBy::Domain => {
            let domain = match backend {
                DatabaseBackend::Postgres => "split_part(r.email, '@', 2)",
                _ => "substr(r.email, instr(r.email, '@') + 1)",
            };
            (format!("{domain} AS k, {none_uuid} AS id, {none} AS label"), "", domain.into())
        }
    }
}

/// `emailPerformance(range, groupBy)`: campaign emails sent in the range, grouped, with rates.
pub async fn emails(
    state: &AppState,
    viewer: &Viewer,
    range: Range,
    group_by: EmailGroupBy,
) -> AppResult<EmailPerformance> {
    viewer.require(Permission::ReadDeals)?;
    let backend = state.db.get_database_backend();
    let tz = org_timezone(&state.db, viewer.org_id).await?;
    let p = |i: usize| placeholder(backend, i);
    let (key, joins, group) = email_key(backend, group_by, tz, range);
    let sql = format!(
        "SELECT {key}, {counts} FROM campaign_recipients r{joins} \
         WHERE r.org_id = {p1} AND r.sent_at >= {p2} AND r.sent_at < {p3} GROUP BY {group}",
        counts = email_counts(),
        p1 = p(1),
        p2 = p(2),
        p3 = p(3),
    );
    let values: Vec<DbValue> = vec![viewer.org_id.into(), range.from.into(), range.to.into()];
    let rows = EmailRow::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(&state.db)
        .await?;
    let mut buckets: Vec<EmailBucket> = rows.into_iter().map(email_bucket).collect();
    buckets.sort_by(|a, b| a.key.cmp(&b.key));
    if group_by == EmailGroupBy::Day {
        buckets = zero_filled(
            bucket_keys(Unit::Day, tz, range.from, range.to),
            buckets,
            |k| {
                email_bucket(EmailRow {
                    k: Some(k),
                    ..EmailRow::default()
                })
            },
            |b| b.key.clone(),
        );
    }
    Ok(EmailPerformance {
        group_by,
        from: range.from,
        to: range.to,
        timezone: tz.name().to_string(),
        buckets,
    })
}

pub(super) fn rate(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

pub(super) fn email_bucket(r: EmailRow) -> EmailBucket {
    EmailBucket {
        key: r.k.or(r.id.map(|u| u.to_string())).unwrap_or_default(),
        label: r.label,
        id: r.id.map(|u| async_graphql::ID(u.to_string())),
        sent: r.sent,
        delivered: r.delivered,
        opened: r.opened,
        clicked: r.clicked,
        replied: r.replied,
        bounced: r.bounced,
        unsubscribed: r.unsubscribed,
        open_rate: rate(r.opened, r.delivered),
        click_rate: rate(r.clicked, r.delivered),
        reply_rate: rate(r.replied, r.delivered),
        bounce_rate: rate(r.bounced, r.sent),
        unsubscribe_rate: rate(r.unsubscribed, r.delivered),
    }
}
