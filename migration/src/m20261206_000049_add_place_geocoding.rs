//! Places geocoding of saved locations and of leads in batches.
//!
//! `locations.geocoder` and `locations.geocode_precision`: where a location's point came from
//! when it was geocoded from its address (`gazetteer` / `nominatim`, and CITY / STREET / …);
//! both null when a person gave the point.
//!
//! `lead_geocode_attempts`: one row per lead the geocoding sweep has tried (`geocoded` or
//! `not_found`), so a lead no geocoder can place is not asked again on every sweep; it goes
//! with its lead.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        for (col, len) in [(Locations::Geocoder, 40), (Locations::GeocodePrecision, 16)] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Locations::Table)
                        .add_column(ColumnDef::new(col).string_len(len).null())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(LeadGeocodeAttempts::Table)
                    .if_not_exists()
                    .col(uuid(LeadGeocodeAttempts::LeadId).primary_key())
                    .col(uuid(LeadGeocodeAttempts::OrgId))
                    .col(string_len(LeadGeocodeAttempts::Outcome, 16))
                    .col(timestamp_with_time_zone(LeadGeocodeAttempts::AttemptedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_lead_geocode_attempts_lead")
                            .from(LeadGeocodeAttempts::Table, LeadGeocodeAttempts::LeadId)
                            .to(Leads::Table, Leads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LeadGeocodeAttempts::Table).to_owned())
            .await?;
        for col in [Locations::GeocodePrecision, Locations::Geocoder] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Locations::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Locations {
    Table,
    Geocoder,
    GeocodePrecision,
}

#[derive(DeriveIden)]
enum LeadGeocodeAttempts {
    Table,
    LeadId,
    OrgId,
    Outcome,
    AttemptedAt,
}

#[derive(DeriveIden)]
enum Leads {
    Table,
    Id,
}
