use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .if_not_exists()
                    .col(pk_uuid(Jobs::Id))
                    .col(uuid_null(Jobs::OrgId))
                    .col(string_len(Jobs::Kind, 64))
                    .col(json_binary(Jobs::Payload))
                    .col(string_len(Jobs::State, 16))
                    .col(integer(Jobs::Attempts).default(0))
                    .col(integer(Jobs::MaxAttempts))
                    // Scheduling columns are epoch milliseconds: compared in SQL on both backends.
                    .col(big_integer(Jobs::RunAtMs))
                    .col(big_integer_null(Jobs::LeaseUntilMs))
                    .col(string_len_null(Jobs::LockedBy, 64))
                    .col(string_len_null(Jobs::IdempotencyKey, 200).unique_key())
                    .col(json_binary_null(Jobs::Progress))
                    .col(json_binary_null(Jobs::Result))
                    .col(text_null(Jobs::LastError))
                    .col(uuid_null(Jobs::CreatedBy))
                    .col(timestamp_with_time_zone(Jobs::CreatedAt))
                    .col(timestamp_with_time_zone(Jobs::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Jobs::FinishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_state_run_at")
                    .table(Jobs::Table)
                    .col(Jobs::State)
                    .col(Jobs::RunAtMs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_jobs_org_created")
                    .table(Jobs::Table)
                    .col(Jobs::OrgId)
                    .col(Jobs::CreatedAt)
                    .col(Jobs::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Jobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    OrgId,
    Kind,
    Payload,
    State,
    Attempts,
    MaxAttempts,
    RunAtMs,
    LeaseUntilMs,
    LockedBy,
    IdempotencyKey,
    Progress,
    Result,
    LastError,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    FinishedAt,
}
