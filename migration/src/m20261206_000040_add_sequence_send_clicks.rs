//! Sequence mail is tracked like campaign mail (its own signed pixel, click and unsubscribe
//! tokens): a step's send row gets the time of its first click next to its first open, so
//! `sequenceStats` counts clicks per step.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SequenceSends::Table)
                    .add_column(
                        ColumnDef::new(SequenceSends::ClickedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SequenceSends::Table)
                    .drop_column(SequenceSends::ClickedAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum SequenceSends {
    Table,
    ClickedAt,
}
