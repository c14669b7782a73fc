//! `reports.deleted_at`: `deleteReport` marks a report deleted instead of removing it and its
//! runs. The daily limit of `generateReport` counts the organization's runs of the last 24
//! hours; removing them with their report gave the limit back, so a create-generate-delete loop
//! could run reports without bound. The runs stay (unreachable, like their report); their
//! generated files are deleted with the report.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Reports::Table)
                    .add_column(timestamp_with_time_zone_null(Reports::DeletedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Reports::Table)
                    .drop_column(Reports::DeletedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Reports {
    Table,
    DeletedAt,
}
