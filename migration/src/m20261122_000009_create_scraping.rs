use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ScrapeJobs::Table)
                    .if_not_exists()
                    .col(pk_uuid(ScrapeJobs::Id))
                    .col(uuid(ScrapeJobs::OrgId))
                    .col(uuid_null(ScrapeJobs::CreatedBy))
                    .col(string_len(ScrapeJobs::Source, 32))
                    .col(string_len(ScrapeJobs::Name, 200))
                    .col(json_binary(ScrapeJobs::Params))
                    .col(string_len(ScrapeJobs::Status, 16))
                    // Seeds (and API results) are stored once; a resumed run skips seeding.
                    .col(boolean(ScrapeJobs::Seeded).default(false))
                    // The queue attempt that owns the run; writes of an older attempt are fenced.
                    .col(integer(ScrapeJobs::RunAttempt).default(0))
                    .col(integer(ScrapeJobs::PagesTotal).default(0))
                    .col(integer(ScrapeJobs::PagesFetched).default(0))
                    .col(integer(ScrapeJobs::PagesFailed).default(0))
                    .col(integer(ScrapeJobs::PagesSkipped).default(0))
                    .col(integer(ScrapeJobs::LeadsFound).default(0))
                    .col(integer(ScrapeJobs::LeadsCreated).default(0))
                    .col(integer(ScrapeJobs::LeadsUpdated).default(0))
                    .col(string_len_null(ScrapeJobs::CurrentUrl, 2048))
                    .col(text_null(ScrapeJobs::Error))
                    .col(uuid_null(ScrapeJobs::JobId))
                    .col(timestamp_with_time_zone_null(ScrapeJobs::StartedAt))
                    .col(timestamp_with_time_zone_null(ScrapeJobs::FinishedAt))
                    .col(timestamp_with_time_zone(ScrapeJobs::CreatedAt))
                    .col(timestamp_with_time_zone(ScrapeJobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The list: newest first per organization (UUID v7 ids), optionally by status.
        manager
            .create_index(
                Index::create()
                    .name("idx_scrape_jobs_org_id")
                    .table(ScrapeJobs::Table)
                    .col(ScrapeJobs::OrgId)
                    .col(ScrapeJobs::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scrape_jobs_org_status")
                    .table(ScrapeJobs::Table)
                    .col(ScrapeJobs::OrgId)
                    .col(ScrapeJobs::Status)
                    .col(ScrapeJobs::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ScrapePages::Table)
                    .if_not_exists()
                    .col(pk_uuid(ScrapePages::Id))
                    .col(uuid(ScrapePages::ScrapeJobId))
                    .col(uuid(ScrapePages::OrgId))
                    .col(string_len(ScrapePages::Url, 2048))
                    .col(integer(ScrapePages::Depth))
                    .col(string_len(ScrapePages::Status, 16))
                    .col(integer_null(ScrapePages::HttpStatus))
                    .col(integer(ScrapePages::LeadsFound).default(0))
                    .col(text_null(ScrapePages::Error))
                    .col(timestamp_with_time_zone_null(ScrapePages::FetchedAt))
                    .col(timestamp_with_time_zone(ScrapePages::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScrapePages::Table, ScrapePages::ScrapeJobId)
                            .to(ScrapeJobs::Table, ScrapeJobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // One row per canonical URL and job: a retried or resumed run never fetches a page twice.
        manager
            .create_index(
                Index::create()
                    .name("uq_scrape_pages_job_url")
                    .table(ScrapePages::Table)
                    .col(ScrapePages::ScrapeJobId)
                    .col(ScrapePages::Url)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The frontier (queued pages by depth) and the pages list.
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
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scrape_pages_job_id")
                    .table(ScrapePages::Table)
                    .col(ScrapePages::ScrapeJobId)
                    .col(ScrapePages::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ScrapeJobLeads::Table)
                    .if_not_exists()
                    .col(uuid(ScrapeJobLeads::ScrapeJobId))
                    .col(uuid(ScrapeJobLeads::LeadId))
                    .col(uuid(ScrapeJobLeads::OrgId))
                    // created | updated: what the job did to the lead the first time it met it.
                    .col(string_len(ScrapeJobLeads::Outcome, 16))
                    .col(string_len(ScrapeJobLeads::Url, 2048))
                    .col(timestamp_with_time_zone(ScrapeJobLeads::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(ScrapeJobLeads::ScrapeJobId)
                            .col(ScrapeJobLeads::LeadId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScrapeJobLeads::Table, ScrapeJobLeads::ScrapeJobId)
                            .to(ScrapeJobs::Table, ScrapeJobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ScrapeJobLeads::Table, ScrapeJobLeads::LeadId)
                            .to(Leads::Table, Leads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_scrape_job_leads_lead")
                    .table(ScrapeJobLeads::Table)
                    .col(ScrapeJobLeads::LeadId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Audiences::Table)
                    .if_not_exists()
                    .col(pk_uuid(Audiences::Id))
                    .col(uuid(Audiences::OrgId))
                    .col(string_len(Audiences::Name, 200))
                    .col(json_binary(Audiences::Filter))
                    .col(uuid_null(Audiences::CreatedBy))
                    .col(timestamp_with_time_zone(Audiences::CreatedAt))
                    .col(timestamp_with_time_zone(Audiences::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_audiences_org_name")
                    .table(Audiences::Table)
                    .col(Audiences::OrgId)
                    .col(Audiences::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audiences_org_id")
                    .table(Audiences::Table)
                    .col(Audiences::OrgId)
                    .col(Audiences::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Audiences::Table.into_iden(),
            ScrapeJobLeads::Table.into_iden(),
            ScrapePages::Table.into_iden(),
            ScrapeJobs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum ScrapeJobs {
    Table,
    Id,
    OrgId,
    CreatedBy,
    Source,
    Name,
    Params,
    Status,
    Seeded,
    RunAttempt,
    PagesTotal,
    PagesFetched,
    PagesFailed,
    PagesSkipped,
    LeadsFound,
    LeadsCreated,
    LeadsUpdated,
    CurrentUrl,
    Error,
    JobId,
    StartedAt,
    FinishedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScrapePages {
    Table,
    Id,
    ScrapeJobId,
    OrgId,
    Url,
    Depth,
    Status,
    HttpStatus,
    LeadsFound,
    Error,
    FetchedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ScrapeJobLeads {
    Table,
    ScrapeJobId,
    LeadId,
    OrgId,
    Outcome,
    Url,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Audiences {
    Table,
    Id,
    OrgId,
    Name,
    Filter,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
}
