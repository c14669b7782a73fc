//! Places: `locations` (an organization's saved places: a point, a radius, tags) and the
//! spatial index over leads' coordinates that the places queries filter candidates with.
//!
//! - PostgreSQL: the `cube` and `earthdistance` contrib extensions and a GiST index on
//!   `ll_to_earth(latitude, longitude)` (points on a sphere in 3-D, so boxes crossing the
//!   antimeridian or covering a pole are plain cubes).
//! - SQLite: an R*Tree virtual table `lead_geo(id = leads.rowid, lat, lng)` kept in step with
//!   the leads' coordinates by triggers (like the FTS5 tables of `000006`).

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const PG_UP: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS cube",
    "CREATE EXTENSION IF NOT EXISTS earthdistance",
    "CREATE INDEX idx_leads_earth ON leads USING gist (ll_to_earth(latitude, longitude)) \
     WHERE latitude IS NOT NULL AND longitude IS NOT NULL",
];

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE lead_geo USING rtree(id, min_lat, max_lat, min_lng, max_lng)",
    "INSERT INTO lead_geo(id, min_lat, max_lat, min_lng, max_lng) \
     SELECT rowid, latitude, latitude, longitude, longitude FROM leads \
     WHERE latitude IS NOT NULL AND longitude IS NOT NULL",
    "CREATE TRIGGER lead_geo_ai AFTER INSERT ON leads \
     WHEN new.latitude IS NOT NULL AND new.longitude IS NOT NULL BEGIN \
     INSERT INTO lead_geo(id, min_lat, max_lat, min_lng, max_lng) \
     VALUES (new.rowid, new.latitude, new.latitude, new.longitude, new.longitude); END",
    "CREATE TRIGGER lead_geo_au AFTER UPDATE OF latitude, longitude ON leads BEGIN \
     DELETE FROM lead_geo WHERE id = old.rowid; \
     INSERT INTO lead_geo(id, min_lat, max_lat, min_lng, max_lng) \
     SELECT new.rowid, new.latitude, new.latitude, new.longitude, new.longitude \
     WHERE new.latitude IS NOT NULL AND new.longitude IS NOT NULL; END",
    "CREATE TRIGGER lead_geo_ad AFTER DELETE ON leads BEGIN \
     DELETE FROM lead_geo WHERE id = old.rowid; END",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Locations::Table)
                    .if_not_exists()
                    .col(uuid(Locations::Id).primary_key())
                    .col(uuid(Locations::OrgId))
                    .col(string_len(Locations::Name, 200))
                    .col(string_len_null(Locations::Address, 500))
                    .col(double(Locations::Latitude))
                    .col(double(Locations::Longitude))
                    .col(double(Locations::RadiusKm))
                    .col(text(Locations::Tags))
                    .col(uuid_null(Locations::CreatedBy))
                    .col(timestamp_with_time_zone(Locations::CreatedAt))
                    .col(timestamp_with_time_zone(Locations::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_locations_org_latitude")
                    .table(Locations::Table)
                    .col(Locations::OrgId)
                    .col(Locations::Latitude)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => PG_UP,
            DatabaseBackend::Sqlite => SQLITE_UP,
            _ => &[],
        };
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements: &[&str] = match manager.get_database_backend() {
            DatabaseBackend::Postgres => &["DROP INDEX IF EXISTS idx_leads_earth"],
            DatabaseBackend::Sqlite => &[
                "DROP TRIGGER IF EXISTS lead_geo_ai",
                "DROP TRIGGER IF EXISTS lead_geo_au",
                "DROP TRIGGER IF EXISTS lead_geo_ad",
                "DROP TABLE IF EXISTS lead_geo",
            ],
            _ => &[],
        };
        for sql in statements {
            db.execute_unprepared(sql).await?;
        }
        manager
            .drop_table(Table::drop().table(Locations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Locations {
    Table,
    Id,
    OrgId,
    Name,
    Address,
    Latitude,
    Longitude,
    RadiusKm,
    Tags,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}
