//! `schedule_runs.error`: why an occurrence's action could not be carried out (a
//! GENERATE_REPORT schedule whose report was deleted, whose creator left or may no longer
//! generate reports, or whose organization is at the daily report limit). Such a run is stored
//! with status `FAILED`; null for a run that did what it was asked.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ScheduleRuns::Table)
                    .add_column(text_null(ScheduleRuns::Error))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(ScheduleRuns::Table)
                    .drop_column(ScheduleRuns::Error)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ScheduleRuns {
    Table,
    Error,
}
