//! Lets a page's status update be a HOT update on PostgreSQL.
//!
//! Every crawled page row is written twice: inserted QUEUED when it is discovered, then updated
//! once its fetch ended (status, HTTP status, error, leads found, fetched at). With `status` in
//! an index, that update wrote a new entry into every index of the table. Without it, and with
//! room left on each heap page for the second version (fillfactor 50: each row is updated about
//! once), PostgreSQL updates the row in place on its page and touches no index.
//!
//! The dropped index (job, status, id) served status filters of a job's pages; those now read
//! the job's pages through `idx_scrape_pages_job_id` (job, id) and filter them, which is bounded
//! by the job's page budget.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_scrape_pages_job_status")
                    .table(ScrapePages::Table)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE scrape_pages SET (fillfactor = 50)")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("ALTER TABLE scrape_pages RESET (fillfactor)")
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_scrape_pages_job_status")
                    .table(ScrapePages::Table)
                    .col(ScrapePages::ScrapeJobId)
                    .col(ScrapePages::Status)
                    .col(ScrapePages::Id)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ScrapePages {
    Table,
    ScrapeJobId,
    Status,
    Id,
}
