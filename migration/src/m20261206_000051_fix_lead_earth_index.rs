//! PostgreSQL: the leads' spatial index on a function whose names are bound when it is created.
//!
//! `earthdistance`'s `ll_to_earth` is a SQL function whose body names `cube`, `earth()` and the
//! `earth` type unqualified. Autovacuum's ANALYZE (and `pg_dump`'s restore) runs with
//! `search_path = pg_catalog`, so evaluating the expression of `idx_leads_earth` (000024) failed
//! with `type "earth" does not exist`, and that error aborted the whole automatic analyze of
//! `leads`: its planner statistics were never refreshed by autovacuum.
//!
//! `lg_ll_to_earth` computes the same point with a SQL-standard body (`RETURN …`, PostgreSQL
//! 14+), parsed once here with the extension's schema on the path, so it resolves under any
//! search path. It is not STRICT so that the planner inlines it, as it does `ll_to_earth` (a null
//! coordinate still gives null: every function in it is strict). The index is rebuilt on it
//! under the same name. SQLite has no such index (its R*Tree of 000024 stays).

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE OR REPLACE FUNCTION lg_ll_to_earth(lat double precision, lng double precision) \
     RETURNS earth LANGUAGE sql IMMUTABLE PARALLEL SAFE \
     RETURN cube(cube(cube(earth() * cos(radians(lat)) * cos(radians(lng))), \
     earth() * cos(radians(lat)) * sin(radians(lng))), earth() * sin(radians(lat)))::earth",
    "DROP INDEX IF EXISTS idx_leads_earth",
    "CREATE INDEX idx_leads_earth ON leads USING gist (lg_ll_to_earth(latitude, longitude)) \
     WHERE latitude IS NOT NULL AND longitude IS NOT NULL",
];

const DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_leads_earth",
    "CREATE INDEX idx_leads_earth ON leads USING gist (ll_to_earth(latitude, longitude)) \
     WHERE latitude IS NOT NULL AND longitude IS NOT NULL",
    "DROP FUNCTION IF EXISTS lg_ll_to_earth(double precision, double precision)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}
