//! `enrichment_settings.validate_on_write`: the organization's opt-in to validate a lead's email
//! whenever a write path (manual, import, API, incoming webhook, scrape) creates the lead or
//! changes its email. Off by default.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(EnrichmentSettings::Table)
                    .add_column(boolean(EnrichmentSettings::ValidateOnWrite).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(EnrichmentSettings::Table)
                    .drop_column(EnrichmentSettings::ValidateOnWrite)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum EnrichmentSettings {
    Table,
    ValidateOnWrite,
}
