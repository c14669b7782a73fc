use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One row per organization: its own provider keys for the scraping sources (a missing
        // key falls back to the server's environment key). Like the other scraping tables it has
        // no foreign key to `organizations`.
        manager
            .create_table(
                Table::create()
                    .table(ScrapingSettings::Table)
                    .if_not_exists()
                    .col(uuid(ScrapingSettings::OrgId).primary_key())
                    .col(text_null(ScrapingSettings::BraveApiKey))
                    .col(text_null(ScrapingSettings::GooglePlacesApiKey))
                    .col(text_null(ScrapingSettings::SocialApiKey))
                    .col(uuid_null(ScrapingSettings::UpdatedBy))
                    .col(timestamp_with_time_zone(ScrapingSettings::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScrapingSettings::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ScrapingSettings {
    Table,
    OrgId,
    BraveApiKey,
    GooglePlacesApiKey,
    SocialApiKey,
    UpdatedBy,
    UpdatedAt,
}
