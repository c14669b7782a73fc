//! Workflow execution completion: n8n's execution id (found by the poll job and used for
//! `GET /api/v1/executions/{id}`), the duration n8n reports, and the execution a retry
//! repeats.
//!
//! UNIQUE (workflow, remote execution id) keeps two registry executions from claiming the same
//! n8n execution (NULLs are distinct on both backends). (org, started_at) serves
//! `workflowStats` over a range.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let columns = [
            ColumnDef::new(WorkflowExecutions::RemoteExecutionId)
                .string_len(64)
                .null()
                .to_owned(),
            ColumnDef::new(WorkflowExecutions::DurationMs)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(WorkflowExecutions::RetryOf)
                .uuid()
                .null()
                .to_owned(),
        ];
        for mut c in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(WorkflowExecutions::Table)
                        .add_column(&mut c)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ux_workflow_executions_remote")
                    .table(WorkflowExecutions::Table)
                    .col(WorkflowExecutions::WorkflowId)
                    .col(WorkflowExecutions::RemoteExecutionId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_workflow_executions_org_started")
                    .table(WorkflowExecutions::Table)
                    .col(WorkflowExecutions::OrgId)
                    .col(WorkflowExecutions::StartedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "idx_workflow_executions_org_started",
            "ux_workflow_executions_remote",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(WorkflowExecutions::Table)
                        .to_owned(),
                )
                .await?;
        }
        for c in [
            WorkflowExecutions::RetryOf,
            WorkflowExecutions::DurationMs,
            WorkflowExecutions::RemoteExecutionId,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(WorkflowExecutions::Table)
                        .drop_column(c)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum WorkflowExecutions {
    Table,
    OrgId,
    WorkflowId,
    StartedAt,
    RemoteExecutionId,
    DurationMs,
    RetryOf,
}
