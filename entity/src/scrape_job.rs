//! `scrape_jobs`: a crawl or search-API scrape and its progress; the work runs as a `scrape.run`
//! job on the queue (`job_id`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scrape_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub created_by: Option<Uuid>,
    /// WEBSITE | SEARCH | GOOGLE_MAPS
    pub source: String,
    pub name: String,
    /// The validated, typed parameters (`{"source": …, …}`).
    pub params: Json,
    /// queued | running | succeeded | failed | cancelled
    pub status: String,
    /// Seeds and API results are stored; a resumed run does not seed again.
    pub seeded: bool,
    /// The queue attempt owning the run; writes of older attempts are fenced out.
    pub run_attempt: i32,
    /// Rows in `scrape_pages` (fetched, failed, skipped and still queued).
    pub pages_total: i32,
    pub pages_fetched: i32,
    pub pages_failed: i32,
    pub pages_skipped: i32,
    pub leads_found: i32,
    pub leads_created: i32,
    pub leads_updated: i32,
    pub current_url: Option<String>,
    pub error: Option<String>,
    /// The queue job running it.
    pub job_id: Option<Uuid>,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
