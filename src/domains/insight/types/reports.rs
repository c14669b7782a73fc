//! Reports: saved definitions (kind, params, format) and their runs with a download link.

use async_graphql::{Enum, InputObject, Json, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::report;

/// What a report holds.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// The organization's leads (params: `status`, `source`; default: all leads).
    LeadList,
    /// Campaign emails sent in the period, per campaign (params: `range` or `preset`).
    CampaignPerformance,
    /// Campaign emails sent in the period, per local day.
    EmailPerformance,
    /// Won deals closed in the period, per local day and currency.
    Revenue,
    /// Approval requests created in the period.
    ApprovalsAudit,
    /// The dashboard's KPIs over the period, with the previous period's values.
    DashboardSnapshot,
}

crate::wire_enum!(ReportKind {
    LeadList => "LEAD_LIST",
    CampaignPerformance => "CAMPAIGN_PERFORMANCE",
    EmailPerformance => "EMAIL_PERFORMANCE",
    Revenue => "REVENUE",
    ApprovalsAudit => "APPROVALS_AUDIT",
    DashboardSnapshot => "DASHBOARD_SNAPSHOT",
});

/// The file a report run produces.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Comma-separated values.
    Csv,
    /// An Excel workbook.
    Xlsx,
    /// A PDF document: the table and a bar chart.
    Pdf,
}

crate::wire_enum!(ReportFormat { Csv => "CSV", Xlsx => "XLSX", Pdf => "PDF" });

/// Where a report run stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportRunStatus {
    /// Waiting for a worker.
    Queued,
    /// Being generated.
    Running,
    /// Generated: `url` downloads it.
    Succeeded,
    /// Failed (`error` says why).
    Failed,
}

crate::wire_enum!(ReportRunStatus {
    Queued => "QUEUED",
    Running => "RUNNING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
});

/// A saved report.
#[derive(SimpleObject, Debug, Clone)]
pub struct Report {
    /// Report id.
    pub id: ID,
    /// Name (the document's title).
    pub name: String,
    /// What it holds.
    pub kind: ReportKind,
    /// The file format of its runs.
    pub format: ReportFormat,
    /// The kind's parameters as validated (`{}`: the defaults).
    pub params: Json<serde_json::Value>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl From<report::Model> for Report {
    fn from(m: report::Model) -> Self {
        Report {
            id: ID(m.id.to_string()),
            name: m.name,
            kind: ReportKind::parse(&m.kind).unwrap_or(ReportKind::LeadList),
            format: ReportFormat::parse(&m.format).unwrap_or(ReportFormat::Csv),
            params: Json(m.params),
            created_at: m.created_at,
        }
    }
}

/// One generation of a report.
#[derive(SimpleObject, Debug, Clone)]
pub struct ReportRun {
    /// Run id.
    pub id: ID,
    /// The report.
    pub report_id: ID,
    /// Where it stands.
    pub status: ReportRunStatus,
    /// 0–100.
    pub progress: i32,
    /// Data rows in the output (once succeeded).
    pub row_count: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
    /// A signed download link of the output (once succeeded), valid until `urlExpiresAt`.
    pub url: Option<String>,
    /// When `url` stops working.
    pub url_expires_at: Option<DateTime<Utc>>,
    /// Requested.
    pub created_at: DateTime<Utc>,
    /// Finished (succeeded or failed).
    pub finished_at: Option<DateTime<Utc>>,
}

/// `createReport`'s input.
#[derive(InputObject, Debug, Clone)]
pub struct CreateReportInput {
    /// 1–200 characters.
    pub name: String,
    /// What it holds.
    pub kind: ReportKind,
    /// The kind's parameters (a JSON object; absent: the defaults). LEAD_LIST: `status` (a
    /// lead status), `source`. The others: `range: {from, to}` (RFC 3339, at most 2 years) or
    /// `preset` (`LAST_7_DAYS`, `LAST_30_DAYS`, `LAST_90_DAYS`, `LAST_365_DAYS`; default
    /// the last 30 days).
    pub params: Option<Json<serde_json::Value>>,
    /// The file format.
    pub format: ReportFormat,
}
