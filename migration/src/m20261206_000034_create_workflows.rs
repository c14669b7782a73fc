//! n8n workflows and integrations (webhooks domain, third slice): `integrations` (an
//! organization's n8n connection — base URL and sealed API key — and its Slack incoming-webhook
//! URLs, sealed; the last success and the last error of each), `workflows` (the local registry
//! kept in step with n8n: the n8n id (`remote_id`), name, definition, active flag, the webhook trigger path,
//! REMOVED when a sync no longer finds it) and `workflow_executions` (one row per
//! `executeWorkflow`: input, what the trigger answered).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Integrations::Table)
                    .if_not_exists()
                    .col(uuid(Integrations::Id).primary_key())
                    .col(uuid(Integrations::OrgId))
                    .col(text(Integrations::Kind))
                    .col(text(Integrations::Name))
                    .col(text_null(Integrations::BaseUrl))
                    .col(text(Integrations::Secret))
                    .col(timestamp_with_time_zone_null(Integrations::LastSuccessAt))
                    .col(text_null(Integrations::LastError))
                    .col(timestamp_with_time_zone_null(Integrations::LastErrorAt))
                    .col(uuid_null(Integrations::CreatedBy))
                    .col(timestamp_with_time_zone(Integrations::CreatedAt))
                    .col(timestamp_with_time_zone(Integrations::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_integrations_org_id")
                    .table(Integrations::Table)
                    .col(Integrations::OrgId)
                    .col(Integrations::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Workflows::Table)
                    .if_not_exists()
                    .col(uuid(Workflows::Id).primary_key())
                    .col(uuid(Workflows::OrgId))
                    .col(text(Workflows::RemoteId))
                    .col(text(Workflows::Name))
                    .col(json_binary(Workflows::Definition))
                    .col(boolean(Workflows::Active))
                    .col(text_null(Workflows::WebhookPath))
                    .col(text(Workflows::Status))
                    .col(uuid_null(Workflows::CreatedBy))
                    .col(timestamp_with_time_zone_null(Workflows::SyncedAt))
                    .col(timestamp_with_time_zone(Workflows::CreatedAt))
                    .col(timestamp_with_time_zone(Workflows::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_workflows_org_remote_id")
                    .table(Workflows::Table)
                    .col(Workflows::OrgId)
                    .col(Workflows::RemoteId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_workflows_org_id")
                    .table(Workflows::Table)
                    .col(Workflows::OrgId)
                    .col(Workflows::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WorkflowExecutions::Table)
                    .if_not_exists()
                    .col(uuid(WorkflowExecutions::Id).primary_key())
                    .col(uuid(WorkflowExecutions::OrgId))
                    .col(uuid(WorkflowExecutions::WorkflowId))
                    .col(text(WorkflowExecutions::Status))
                    .col(json_binary(WorkflowExecutions::Input))
                    .col(integer_null(WorkflowExecutions::ResponseStatus))
                    .col(text_null(WorkflowExecutions::Response))
                    .col(text_null(WorkflowExecutions::Error))
                    .col(uuid_null(WorkflowExecutions::StartedBy))
                    .col(timestamp_with_time_zone(WorkflowExecutions::StartedAt))
                    .col(timestamp_with_time_zone_null(
                        WorkflowExecutions::FinishedAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_workflow_executions_workflow")
                    .table(WorkflowExecutions::Table)
                    .col(WorkflowExecutions::WorkflowId)
                    .col(WorkflowExecutions::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WorkflowExecutions::Table.into_iden(),
            Workflows::Table.into_iden(),
            Integrations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Integrations {
    Table,
    Id,
    OrgId,
    Kind,
    Name,
    BaseUrl,
    Secret,
    LastSuccessAt,
    LastError,
    LastErrorAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Workflows {
    Table,
    Id,
    OrgId,
    RemoteId,
    Name,
    Definition,
    Active,
    WebhookPath,
    Status,
    CreatedBy,
    SyncedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WorkflowExecutions {
    Table,
    Id,
    OrgId,
    WorkflowId,
    Status,
    Input,
    ResponseStatus,
    Response,
    Error,
    StartedBy,
    StartedAt,
    FinishedAt,
}
