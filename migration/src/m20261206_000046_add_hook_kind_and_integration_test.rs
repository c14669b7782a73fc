//! Incoming hook kinds and integration tests.
//!
//! `incoming_hooks.kind`: LEAD_CREATED (every existing hook: a lead intake URL) or
//! WORKFLOW_COMPLETE (n8n's signed completion callback for a workflow execution).
//! `integrations.last_tested_at`: when `testIntegration` last called it (its outcome goes to
//! the existing `last_success_at` / `last_error`).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(IncomingHooks::Table)
                    .add_column(
                        ColumnDef::new(IncomingHooks::Kind)
                            .string_len(32)
                            .not_null()
                            .default("LEAD_CREATED"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Integrations::Table)
                    .add_column(
                        ColumnDef::new(Integrations::LastTestedAt)
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
                    .table(Integrations::Table)
                    .drop_column(Integrations::LastTestedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(IncomingHooks::Table)
                    .drop_column(IncomingHooks::Kind)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum IncomingHooks {
    Table,
    Kind,
}

#[derive(DeriveIden)]
enum Integrations {
    Table,
    LastTestedAt,
}
