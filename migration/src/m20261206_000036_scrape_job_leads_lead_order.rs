//! The lead's creation time on its scrape-job link, so a job's leads list in lead order
//! (`ScrapeJob.leads`: newest lead first) reads `limit` index entries.
//!
//! Without it, a job's first page joined every lead the job linked and sorted them (200 leads:
//! 3 ms and 800 buffers per job; bench/shapes shape 08 ran at 0.37× PostGraphile, session 13).
//! `lead_created_at` is the lead's `created_at` (immutable), written with the link
//! (`scraping::sink::links`); the index (job, lead_created_at, lead_id) read backwards gives
//! the page in the resolvers' order (created_at DESC, id DESC).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ScrapeJobLeads::Table)
                    .add_column(
                        ColumnDef::new(ScrapeJobLeads::LeadCreatedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                r#"UPDATE "scrape_job_leads" SET "lead_created_at" =
                   (SELECT "created_at" FROM "leads" WHERE "leads"."id" = "scrape_job_leads"."lead_id")"#,
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scrape_job_leads_lead_order")
                    .table(ScrapeJobLeads::Table)
                    .col(ScrapeJobLeads::ScrapeJobId)
                    .col(ScrapeJobLeads::LeadCreatedAt)
                    .col(ScrapeJobLeads::LeadId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_scrape_job_leads_lead_order")
                    .table(ScrapeJobLeads::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ScrapeJobLeads::Table)
                    .drop_column(ScrapeJobLeads::LeadCreatedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ScrapeJobLeads {
    Table,
    ScrapeJobId,
    LeadId,
    LeadCreatedAt,
}
