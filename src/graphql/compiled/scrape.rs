//! `scrapeJobs` compiled to one statement (see `graphql::compiled::newest`): the job rows of
//! scraping's own list select, and each job's first page of leads in lead order (newest lead
//! first, as `ScrapeJob.leads` lists them), the leads' fields as the `leads` compiler writes
//! them.
//!
//! A job's leads are read through its links in the links' lead-order index
//! (`scrape_job_leads (scrape_job_id, lead_created_at, lead_id)`, migration 036): `limit`
//! index entries per job, where ordering the joined leads read and sorted every lead the job
//! linked. `lead_created_at` is the lead's `created_at`, so the order is the resolvers'
//! (`created_at DESC, id DESC`); the differential test holds the two together.

use async_graphql::resolver_utils::EnumType;

use super::{
    enum_sql,
    frame::Layout,
    leads::lead_field,
    newest::{first_page_sql, page_args, NewestPlan},
    object_sql, timestamp_sql, Sel,
};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        leads::LeadKey,
        scraping::{
            service::list_select,
            types::{ScrapeJobFilter, ScrapeJobStatus, ScrapeSource},
        },
    },
    graphql::pagination::KeysetArgs,
};
use entity::scrape_job;

/// The job row of the root page.
const J: &str = "\"scrape_jobs\"";

/// Plans the root `scrapeJobs` field, or `None` when the resolvers must run it.
pub fn plan_scrape_jobs(viewer: &Viewer, field: &Sel) -> Option<NewestPlan> {
    if !field.only_args(&["filter", "first", "after"]) {
        return None;
    }
    let filter: Option<ScrapeJobFilter> = field.arg("filter", "ScrapeJobFilter", false)?;
    let args = page_args(field)?;
    let select = list_select(viewer, &filter.unwrap_or_default()).ok()?;
    let layout = Layout::plan(field, "ScrapeJobConnection", "ScrapeJobEdge", |sel| {
        object_sql(sel, "ScrapeJob", |f| job_field(viewer, f))
    })?;
    Some(NewestPlan::new(
        select,
        scrape_job::Column::Id,
        args,
        layout,
    ))
}

/// The SQL of one selected `ScrapeJob` field of the row [`J`].
fn job_field(viewer: &Viewer, f: &Sel) -> Option<String> {
    let col = |c: &str| format!("{J}.\"{c}\"");
    if f.name == "leads" {
        return job_leads(viewer, f);
    }
    if !f.is_leaf() {
        return None;
    }
    Some(match f.name.as_str() {
        "id" | "name" | "error" => col(&f.name),
        "source" => enum_sql(&col("source"), ScrapeSource::ALL, "WEBSITE"),
        "status" => status_sql(&col("status")),
        "jobId" => col("job_id"),
        "createdById" => col("created_by"),
        "startedAt" => timestamp_sql(&col("started_at")),
        "finishedAt" => timestamp_sql(&col("finished_at")),
        "createdAt" => timestamp_sql(&col("created_at")),
        "updatedAt" => timestamp_sql(&col("updated_at")),
        _ => return None,
    })
}

/// The status, stored in lower case, as its GraphQL name (an unknown value reads FAILED, as in
/// the resolvers).
fn status_sql(expr: &str) -> String {
    let mut sql = format!("CASE {expr}");
    for item in ScrapeJobStatus::items() {
        sql.push_str(&format!(
            " WHEN '{}' THEN '{}'",
            item.value.as_str(),
            item.name
        ));
    }
    sql.push_str(" ELSE 'FAILED' END");
    sql
}

/// `ScrapeJob.leads(first: n)` as the resolvers read it from their page-wide batch (no cursor):
/// nodes and totalCount. Its edges and pageInfo are left to the resolvers: `LeadConnection`'s
/// coverage is the root `leads`' (cursors included), which a nested page does not write.
fn job_leads(viewer: &Viewer, f: &Sel) -> Option<String> {
    if !f.only_args(&["first"]) || viewer.require(Permission::ReadLeads).is_err() {
        return None;
    }
    let first: Option<i32> = f.arg("first", "Int", true)?;
    let n = KeysetArgs::<LeadKey>::new(first, None, None, None)
        .ok()?
        .limit;
    let rows = format!(
        "scrape_job_leads lg_l JOIN leads ON \"leads\".\"id\" = lg_l.lead_id \
         WHERE lg_l.scrape_job_id = {J}.\"id\" AND \"leads\".\"org_id\" = {J}.\"org_id\""
    );
    first_page_sql(
        f,
        "LeadConnection",
        &rows,
        "lg_l.lead_created_at DESC, lg_l.lead_id DESC",
        n,
        false,
        |sel| object_sql(sel, "Lead", |l| lead_field(viewer, l)),
    )
}
