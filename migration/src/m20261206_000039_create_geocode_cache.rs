//! Places geocoding: `geocode_cache` keeps what a geocoder answered for a query (its candidates,
//! each with precision, and the provider as provenance), so an address is sent to a remote
//! geocoder once across every instance (Nominatim's usage policy asks for caching).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(GeocodeCache::Table)
                    .if_not_exists()
                    .col(string_len(GeocodeCache::Key, 600).primary_key())
                    .col(string_len(GeocodeCache::Provider, 40))
                    .col(json_binary(GeocodeCache::Candidates))
                    .col(timestamp_with_time_zone(GeocodeCache::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(GeocodeCache::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum GeocodeCache {
    Table,
    Key,
    Provider,
    Candidates,
    CreatedAt,
}
