//! Contact validation (enrichment): `validation_cache` keeps what a lookup found about an email
//! domain until it expires, so each domain is resolved once per TTL across every instance;
//! `enrichment_settings` holds each organization's opt-ins (the mailbox probe); and
//! `leads.email_status` / `leads.validated_at` hold the latest verdict on a lead's email.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ValidationCache::Table)
                    .if_not_exists()
                    .col(string_len(ValidationCache::Key, 300).primary_key())
                    .col(json_binary(ValidationCache::Answer))
                    .col(timestamp_with_time_zone(ValidationCache::CheckedAt))
                    .col(timestamp_with_time_zone(ValidationCache::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_validation_cache_expires_at")
                    .table(ValidationCache::Table)
                    .col(ValidationCache::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EnrichmentSettings::Table)
                    .if_not_exists()
                    .col(uuid(EnrichmentSettings::OrgId).primary_key())
                    .col(boolean(EnrichmentSettings::SmtpProbe).default(false))
                    .col(uuid_null(EnrichmentSettings::UpdatedBy))
                    .col(timestamp_with_time_zone(EnrichmentSettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // One column per ALTER: SQLite adds a single column at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Leads::Table)
                    .add_column(string_len_null(Leads::EmailStatus, 16))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Leads::Table)
                    .add_column(timestamp_with_time_zone_null(Leads::ValidatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [Leads::ValidatedAt, Leads::EmailStatus] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Leads::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(EnrichmentSettings::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ValidationCache::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ValidationCache {
    Table,
    Key,
    Answer,
    CheckedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum EnrichmentSettings {
    Table,
    OrgId,
    SmtpProbe,
    UpdatedBy,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    EmailStatus,
    ValidatedAt,
}
