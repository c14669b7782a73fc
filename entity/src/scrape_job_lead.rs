//! `scrape_job_leads`: which leads a scrape job created or updated (and on which page first).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scrape_job_leads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub scrape_job_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub lead_id: Uuid,
    pub org_id: Uuid,
    /// created | updated
    pub outcome: String,
    pub url: String,
    pub created_at: DateTimeUtc,
    /// The lead's `created_at` (the link's lead order: `ScrapeJob.leads`).
    pub lead_created_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
