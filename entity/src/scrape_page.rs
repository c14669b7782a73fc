//! `scrape_pages`: one row per canonical URL of a scrape job (unique per job), so a resumed or
//! retried run never fetches a page twice.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scrape_pages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub scrape_job_id: Uuid,
    pub org_id: Uuid,
    /// Canonical URL (no fragment, no tracking parameters, sorted query).
    pub url: String,
    /// Links followed from a seed (seeds are 0; sitemap entries 1).
    pub depth: i32,
    /// queued | done | failed | skipped
    pub status: String,
    pub http_status: Option<i32>,
    /// Leads this page yielded.
    pub leads_found: i32,
    pub error: Option<String>,
    pub fetched_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
