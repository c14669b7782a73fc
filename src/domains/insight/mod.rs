//! Insight: deals and pipelines (the revenue data), the dashboard's KPIs and the analytics
//! series over everything the organization does.
//!
//! - **Tables** `pipelines`, `deal_stages` (ordered, win probability 0–100 %) and `deals` (a
//!   lead's opportunity: title, value as integer minor units + ISO 4217 code, stage, owner,
//!   expected close date, status OPEN / WON / LOST, lost reason, closed at). The organization's
//!   IANA time zone is a column of `organizations` (identity owns it: `updateOrganization`'s
//!   `timezone`, read here through `identity::org_timezone`).
//! - **API**: `deals(filter)` (connection, newest first; the page's stages load in one
//!   statement), `deal(id)`, `createDeal`, `updateDeal`, `moveDealStage` (open deals, within the
//!   pipeline), `closeDeal(id, status, reason)` (LOST needs a reason; closing twice is CONFLICT),
//!   `pipelines`, `createPipeline`, `updatePipeline` (the full stage list: kept by id, added,
//!   re-ordered; removing a stage a deal is in is CONFLICT); `dashboard(range | preset)`,
//!   `leadAnalytics(range, groupBy)`, `emailPerformance(range | preset, groupBy)`;
//!   `conversionFunnel`, `attribution(model, groupBy)` and `roi(model, groupBy)` over
//!   `range | preset | days` (local days in the organization's zone), `ltv(groupBy)`,
//!   `setCost` (what a campaign or source cost: `marketing_costs`) and the subscription
//!   `dashboardUpdates(range | preset)`.
//! - **Analytics events** (`service/events.rs`, table `analytics_events`): `trackEvents`
//!   (TrackEvents, MEMBER+, API keys of that role too) takes 1–500 events, validates every item
//!   (`events[i].field`; a lead of another organization is such an error) and stores all or
//!   none in one multi-row INSERT that skips client event ids already stored in the
//!   organization (a retried batch stores nothing twice; the answer counts accepted and
//!   duplicates). `analyticsEvents(filter)` pages them newest first by occurred time.
//! - **Activity feed** (`service/activity.rs`): `recentActivity(first, after, types)` merges the
//!   leads' timelines, campaigns, approvals, scrapes and deals in one `UNION ALL` statement,
//!   newest first, cursor `(occurredAt, source, id)`; sources the viewer may not read are left
//!   out.
//! - **Live dashboard** (`service/live.rs`): one coalescer per (instance, organization, range)
//!   fed by the event bus; a window of `DASHBOARD_UPDATE_WINDOW_MS` (2 s) gathers the events
//!   that move KPIs, then one dashboard statement serves every subscriber of the key, each
//!   receiving it when one of the window's events is `visible_to` it.
//! - **Campaign and revenue analytics** (`service/campaigns.rs`, `service/sales.rs`):
//!   `campaignAnalytics(campaignId, range | preset)` — one campaign's recipients sent in the
//!   range (opens, clicks, replies, bounces, unsubscribes counted with their send), in total,
//!   per local day of sending (zero-filled) and per A/B variant (every variant listed), with
//!   rates; another organization's campaign is NOT_FOUND. `revenueAnalytics(range | preset |
//!   days, groupBy)` — won deals closed in the period per currency, by DAY / WEEK / MONTH of the
//!   close (zero-filled per currency), SOURCE, OWNER or CAMPAIGN (the last send at or before
//!   the close, as attribution's LAST_TOUCH).
//! - **Reports** (`service/reports.rs`, `report_job.rs`, `report_data.rs`, `report_render.rs`;
//!   tables `reports`, `report_runs`): `reports`, `report(id)`, `createReport(input: {name,
//!   kind, params, format: CSV | XLSX | PDF})` (params checked per kind: LEAD_LIST `status`,
//!   `source`; the others `range` or `preset`, default the last 30 days), `deleteReport`,
//!   `reportRuns(reportId)`, `generateReport(id)`: a QUEUED run and its durable
//!   `insight.generate_report` job in one transaction, at most 50 runs per organization in
//!   24 hours (RATE_LIMITED, `retryAfter` until the oldest leaves the window). The job claims
//!   the run for its attempt and fences every later write on it; the rows come from this
//!   domain's services (`emailPerformance`, `revenueAnalytics`, `dashboard`,
//!   `leadAnalytics`), the file is stored through `places::files` (dedupe, quota,
//!   `file.uploaded`) and `ReportRun.url` is a signed `GET /files/{id}` link valid 1 hour
//!   from the read. PDF: `pdf-writer`, base-14 Helvetica (extractable text), the table
//!   paginated on A4 and a vector bar chart. Events `report.changed` (created, deleted) and
//!   `report.run` (queued, running, progress, succeeded, failed), visible with ReadDeals;
//!   reads ReadDeals, writes WriteDeals.
//! - **Roles**: ReadDeals VIEWER (deals, pipelines, the analytics and tracked events),
//!   WriteDeals MEMBER, TrackEvents MEMBER, ManagePipelines MANAGER (also `setCost`). Another
//!   organization's deal, pipeline, stage, lead or campaign is NOT_FOUND.
//! - **Aggregates run in the database**: the dashboard is one statement (a `UNION ALL` of one
//!   `SUM(CASE …)` branch per KPI, splitting range and previous period); the series are one
//!   `GROUP BY` each. Time buckets go through `db::buckets` (date_trunc on PostgreSQL, strftime
//!   with the zone's offsets on SQLite) and are zero-filled from the list of the range's
//!   buckets. Ranges: `from < to`, at most 2 years, else BAD_USER_INPUT naming the field.
//! - **Events**: `deal.created`, `deal.updated` (`reason`: updated, stage_moved),
//!   `deal.closed` (won, lost) and `cost.updated`, through the outbox in the change's
//!   transaction; visible with ReadDeals.
//! - **Not built yet** (issue 26): the funnel's median time between stages, costs of scrape
//!   jobs and AI usage, campaign comparison, `conversions`, rollup tables and reports from
//!   schedules.

pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::{InsightMutation, InsightQuery, InsightSubscription};
/// Date ranges as insight reads them (presets, checked custom ranges), for other domains' stats.
pub use service::range::{resolve as resolve_range, Range};
/// The report generator's job (registered at start-up).
pub use service::report_job::{GenerateReport, KIND as GENERATE_REPORT_KIND};
pub use service::reports::{get as get_report, queue_run as queue_report_run};
