//! A report's rows, read through insight's own services (the numbers are aggregated in SQL
//! there, never here): LEAD_LIST reads the leads (a list, not an aggregate) and charts
//! `leadAnalytics` by status; CAMPAIGN_PERFORMANCE and EMAIL_PERFORMANCE are
//! `emailPerformance` by campaign and by day; REVENUE is `revenueAnalytics` by day;
//! DASHBOARD_SNAPSHOT is `dashboard`; APPROVALS_AUDIT lists the approval requests created in the
//! period (approvals' API, oldest first) and counts them by status in one grouped statement.

use chrono::Utc;
use entity::lead;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Map, Value};

use super::{analytics, dashboard, range::Period, reports::period, sales};
use crate::{
    auth::Viewer,
    domains::approvals::{request_counts_by_status, requests_created_between},
    domains::insight::types::{
        DateRangeInput, EmailBucket, EmailGroupBy, Kpi, LeadGroupBy, ReportKind, RevenueGroupBy,
    },
    domains::leads::scoped,
    error::AppResult,
    state::AppState,
};

/// Most lead rows one LEAD_LIST report holds.
pub const MAX_LEAD_ROWS: u64 = 10_000;
/// Most request rows one APPROVALS_AUDIT report holds (its counts cover every request).
pub const MAX_APPROVAL_ROWS: u64 = 10_000;
/// The statuses of an APPROVALS_AUDIT report's counts, in this order.
const APPROVAL_STATUSES: [&str; 6] = [
    "PENDING",
    "APPROVED",
    "REJECTED",
    "CHANGES_REQUESTED",
    "CANCELLED",
    "EXPIRED",
];

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A count or amount.
    Int(i64),
    /// A rate 0–1 (empty when there was nothing to divide by).
    Rate(Option<f64>),
}

impl Cell {
    /// As text (rates as percentages with one decimal).
    pub fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Rate(Some(r)) => format!("{:.1}%", r * 100.0),
            Cell::Rate(None) => String::new(),
        }
    }
}

/// What every format renders: title, header, rows, totals and one chart's bars.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The report's name.
    pub title: String,
    /// Kind and period, one line.
    pub subtitle: String,
    /// Column headers.
    pub columns: Vec<String>,
    /// Data rows.
    pub rows: Vec<Vec<Cell>>,
    /// (label, value) lines under the table.
    pub totals: Vec<(String, String)>,
    /// The chart's caption.
    pub chart_title: String,
    /// The chart's bars (label, value).
    pub chart: Vec<(String, f64)>,
}

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The rows of report `kind` with `params` (validated at creation) for `viewer`.
pub async fn build(
    state: &AppState,
    viewer: &Viewer,
    title: &str,
    kind: ReportKind,
    params: &Value,
) -> AppResult<Table> {
    let empty = Map::new();
    let map = params.as_object().unwrap_or(&empty);
    let mut t = match kind {
        ReportKind::LeadList => leads(state, viewer, map).await?,
        ReportKind::CampaignPerformance => {
            emails(state, viewer, map, EmailGroupBy::Campaign).await?
        }
        ReportKind::EmailPerformance => emails(state, viewer, map, EmailGroupBy::Day).await?,
        ReportKind::Revenue => revenue(state, viewer, map).await?,
        ReportKind::DashboardSnapshot => snapshot(state, viewer, map).await?,
        ReportKind::ApprovalsAudit => approvals_audit(state, viewer, map).await?,
    };
    t.title = title.to_string();
    Ok(t)
}

async fn leads(state: &AppState, viewer: &Viewer, map: &Map<String, Value>) -> AppResult<Table> {
    let mut q = scoped(viewer);
    let mut scope = vec![];
    if let Some(s) = map.get("status").and_then(Value::as_str) {
        q = q.filter(lead::Column::Status.eq(s));
        scope.push(format!("status {s}"));
    }
    if let Some(s) = map.get("source").and_then(Value::as_str) {
        q = q.filter(lead::Column::Source.eq(s));
        scope.push(format!("source {s}"));
    }
    let rows = q
        .order_by_asc(lead::Column::CreatedAt)
        .order_by_asc(lead::Column::Id)
        .limit(MAX_LEAD_ROWS)
        .all(&state.db)
        .await?;
    let by_status = analytics::leads(state, viewer, None, LeadGroupBy::Status).await?;
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let name = |l: &lead::Model| {
        format!("{} {}", o(&l.first_name), o(&l.last_name))
            .trim()
            .to_string()
    };
    Ok(Table {
        subtitle: format!(
            "Lead list: {}",
            if scope.is_empty() {
                "all leads".to_string()
            } else {
                scope.join(", ")
            }
        ),
        columns: cols(&[
            "Name", "Email", "Company", "Status", "Source", "Score", "Created",
        ]),
        totals: vec![("Leads".into(), rows.len().to_string())],
        rows: rows
            .iter()
            .map(|l| {
                vec![
                    Cell::Text(name(l)),
                    Cell::Text(o(&l.email)),
                    Cell::Text(l.company.clone()),
                    Cell::Text(l.status.clone()),
                    Cell::Text(l.source.clone()),
                    Cell::Int(i64::from(l.score)),
                    Cell::Text(l.created_at.format("%Y-%m-%d").to_string()),
                ]
            })
            .collect(),
        chart_title: "All leads by status".into(),
        chart: by_status
            .buckets
            .iter()
            .map(|b| (b.key.clone(), b.count as f64))
            .collect(),
        ..Table::default()
    })
}

fn email_row(label: String, b: &EmailBucket) -> Vec<Cell> {
    vec![
        Cell::Text(label),
        Cell::Int(b.sent),
        Cell::Int(b.delivered),
        Cell::Int(b.opened),
        Cell::Int(b.clicked),
        Cell::Int(b.replied),
        Cell::Int(b.bounced),
        Cell::Int(b.unsubscribed),
        Cell::Rate(b.open_rate),
        Cell::Rate(b.reply_rate),
    ]
}

async fn emails(
    state: &AppState,
    viewer: &Viewer,
    map: &Map<String, Value>,
    group_by: EmailGroupBy,
) -> AppResult<Table> {
    let r = period(map, Utc::now())?;
    let perf = analytics::emails(state, viewer, r, group_by).await?;
    let by_campaign = group_by == EmailGroupBy::Campaign;
    let label = |b: &EmailBucket| {
        if by_campaign {
            b.label.clone().unwrap_or_else(|| b.key.clone())
        } else {
            b.key.clone()
        }
    };
    // The buckets are the statement's groups; their sums are the period's totals.
    let sum = |f: fn(&EmailBucket) -> i64| perf.buckets.iter().map(f).sum::<i64>();
    let what = if by_campaign {
        "Campaign performance"
    } else {
        "Email performance"
    };
    Ok(Table {
        subtitle: format!(
            "{what}: {} to {} ({})",
            r.from.to_rfc3339(),
            r.to.to_rfc3339(),
            perf.timezone
        ),
        columns: cols(&[
            if by_campaign { "Campaign" } else { "Day" },
            "Sent",
            "Delivered",
            "Opened",
            "Clicked",
            "Replied",
            "Bounced",
            "Unsubscribed",
            "Open rate",
            "Reply rate",
        ]),
        rows: perf
            .buckets
            .iter()
            .map(|b| email_row(label(b), b))
            .collect(),
        totals: vec![
            ("Sent".into(), sum(|b| b.sent).to_string()),
            ("Delivered".into(), sum(|b| b.delivered).to_string()),
            ("Opened".into(), sum(|b| b.opened).to_string()),
            ("Replied".into(), sum(|b| b.replied).to_string()),
        ],
        chart_title: "Emails sent".into(),
        chart: perf
            .buckets
            .iter()
            .map(|b| (label(b), b.sent as f64))
            .collect(),
        ..Table::default()
    })
}

async fn revenue(state: &AppState, viewer: &Viewer, map: &Map<String, Value>) -> AppResult<Table> {
    let r = period(map, Utc::now())?;
    let p = Period {
        range: Some(DateRangeInput {
            from: r.from,
            to: r.to,
        }),
        ..Period::default()
    };
    let rev = sales::revenue(state, viewer, p, RevenueGroupBy::Day).await?;
    Ok(Table {
        subtitle: format!(
            "Revenue won: {} to {} ({})",
            r.from.to_rfc3339(),
            r.to.to_rfc3339(),
            rev.timezone
        ),
        columns: cols(&["Day", "Currency", "Deals won", "Revenue (minor units)"]),
        rows: rev
            .buckets
            .iter()
            .map(|b| {
                vec![
                    Cell::Text(b.key.clone()),
                    Cell::Text(b.currency.clone()),
                    Cell::Int(b.deals),
                    Cell::Int(b.revenue_minor),
                ]
            })
            .collect(),
        totals: rev
            .totals
            .iter()
            .map(|t| {
                (
                    format!("Revenue {}", t.currency),
                    format!("{} ({} deals)", t.revenue_minor, t.deals),
                )
            })
            .collect(),
        chart_title: "Revenue won per day (minor units, all currencies)".into(),
        chart: rev
            .buckets
            .iter()
            .map(|b| (b.key.clone(), b.revenue_minor as f64))
            .collect(),
        ..Table::default()
    })
}

async fn snapshot(state: &AppState, viewer: &Viewer, map: &Map<String, Value>) -> AppResult<Table> {
    let r = period(map, Utc::now())?;
    let d = dashboard::dashboard(state, viewer, r).await?;
    let kpis: [(&str, Kpi); 6] = [
        ("New leads", d.new_leads),
        ("Qualified leads", d.qualified_leads),
        ("Emails sent", d.emails_sent),
        ("Deals created", d.deals_created),
        ("Approval backlog", d.approval_backlog),
        ("Active scrapes", d.active_scrapes),
    ];
    let mut rows: Vec<Vec<Cell>> = kpis
        .iter()
        .map(|(n, k)| {
            vec![
                Cell::Text(n.to_string()),
                Cell::Int(k.current),
                Cell::Int(k.previous),
            ]
        })
        .collect();
    for (n, k) in [("Open rate", d.open_rate), ("Reply rate", d.reply_rate)] {
        rows.push(vec![
            Cell::Text(n.into()),
            Cell::Rate(k.current),
            Cell::Rate(k.previous),
        ]);
    }
    for (n, list) in [
        ("Revenue won", &d.revenue_won),
        ("Pipeline value", &d.pipeline_value),
    ] {
        for m in list {
            rows.push(vec![
                Cell::Text(format!("{n} {} (minor units)", m.currency)),
                Cell::Int(m.current),
                Cell::Int(m.previous),
            ]);
        }
    }
    Ok(Table {
        subtitle: format!(
            "Dashboard: {} to {}",
            r.from.to_rfc3339(),
            r.to.to_rfc3339()
        ),
        columns: cols(&["KPI", "Current", "Previous"]),
        rows,
        totals: vec![("New leads".into(), d.new_leads.current.to_string())],
        chart_title: "KPIs (current period)".into(),
        chart: kpis
            .iter()
            .map(|(n, k)| (n.to_string(), k.current as f64))
            .collect(),
        ..Table::default()
    })
}

async fn approvals_audit(
    state: &AppState,
    viewer: &Viewer,
    map: &Map<String, Value>,
) -> AppResult<Table> {
    let r = period(map, Utc::now())?;
    let rows = requests_created_between(&state.db, viewer, r.from, r.to, MAX_APPROVAL_ROWS).await?;
    let counts = request_counts_by_status(&state.db, viewer, r.from, r.to).await?;
    let count = |s: &str| counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
    let when = |t: Option<chrono::DateTime<Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    let mut totals = vec![(
        "Requests".to_string(),
        counts.iter().map(|(_, n)| n).sum::<i64>().to_string(),
    )];
    totals.extend(
        APPROVAL_STATUSES
            .iter()
            .map(|s| (s.to_string(), count(s).to_string())),
    );
    Ok(Table {
        subtitle: format!(
            "Approvals audit: requests created {} to {}",
            r.from.to_rfc3339(),
            r.to.to_rfc3339()
        ),
        columns: cols(&[
            "Created (UTC)",
            "Title",
            "Resource",
            "Status",
            "Priority",
            "Approvals",
            "Resolved (UTC)",
            "Comment",
        ]),
        rows: rows
            .iter()
            .map(|a| {
                vec![
                    Cell::Text(when(Some(a.created_at))),
                    Cell::Text(a.title.clone()),
                    Cell::Text(format!("{} {}", a.resource_type, a.resource_id)),
                    Cell::Text(a.status.clone()),
                    Cell::Text(a.priority.clone()),
                    Cell::Text(format!("{}/{}", a.approval_count, a.required_approvals)),
                    Cell::Text(when(a.resolved_at)),
                    Cell::Text(a.resolution_comment.clone().unwrap_or_default()),
                ]
            })
            .collect(),
        totals,
        chart_title: "Requests by status".into(),
        chart: APPROVAL_STATUSES
            .iter()
            .map(|s| (s.to_string(), count(s) as f64))
            .collect(),
        ..Table::default()
    })
}
