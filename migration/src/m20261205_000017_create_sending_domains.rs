use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The domains an organization may send campaigns from, once it proved control of them
        // with a DNS TXT record carrying `token`. One row per (organization, domain).
        manager
            .create_table(
                Table::create()
                    .table(SendingDomains::Table)
                    .if_not_exists()
                    .col(uuid(SendingDomains::Id).primary_key())
                    .col(uuid(SendingDomains::OrgId))
                    .col(text(SendingDomains::Domain))
                    .col(text(SendingDomains::Token))
                    .col(timestamp_with_time_zone_null(SendingDomains::VerifiedAt))
                    .col(timestamp_with_time_zone_null(SendingDomains::LastCheckedAt))
                    .col(text_null(SendingDomains::LastError))
                    .col(uuid_null(SendingDomains::CreatedBy))
                    .col(timestamp_with_time_zone(SendingDomains::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sending_domains_org_domain")
                    .table(SendingDomains::Table)
                    .col(SendingDomains::OrgId)
                    .col(SendingDomains::Domain)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sending_domains_org_id")
                    .table(SendingDomains::Table)
                    .col(SendingDomains::OrgId)
                    .col(SendingDomains::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SendingDomains::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum SendingDomains {
    Table,
    Id,
    OrgId,
    Domain,
    Token,
    VerifiedAt,
    LastCheckedAt,
    LastError,
    CreatedBy,
    CreatedAt,
}
