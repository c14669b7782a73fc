//! Schedules and incoming lead hooks (webhooks domain, second slice): `schedules` (cron + IANA
//! time zone + action, the next due time), `schedule_runs` (one row per fired occurrence,
//! UNIQUE (schedule_id, scheduled_at): two instances claiming the same occurrence fire it once),
//! `incoming_hooks` (an organization's lead intake URL and its sealed signing secret) and
//! `incoming_hook_receipts` (the `webhook-id`s accepted per hook, kept for the replay window).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Schedules::Table)
                    .if_not_exists()
                    .col(uuid(Schedules::Id).primary_key())
                    .col(uuid(Schedules::OrgId))
                    .col(text(Schedules::Name))
                    .col(text(Schedules::Cron))
                    .col(text(Schedules::Timezone))
                    .col(text(Schedules::Action))
                    .col(json_binary(Schedules::Payload))
                    .col(text(Schedules::Status))
                    .col(timestamp_with_time_zone_null(Schedules::NextRunAt))
                    .col(timestamp_with_time_zone_null(Schedules::LastRunAt))
                    .col(uuid_null(Schedules::CreatedBy))
                    .col(timestamp_with_time_zone(Schedules::CreatedAt))
                    .col(timestamp_with_time_zone(Schedules::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_schedules_org_id")
                    .table(Schedules::Table)
                    .col(Schedules::OrgId)
                    .col(Schedules::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_schedules_due")
                    .table(Schedules::Table)
                    .col(Schedules::Status)
                    .col(Schedules::NextRunAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ScheduleRuns::Table)
                    .if_not_exists()
                    .col(uuid(ScheduleRuns::Id).primary_key())
                    .col(uuid(ScheduleRuns::OrgId))
                    .col(uuid(ScheduleRuns::ScheduleId))
                    .col(timestamp_with_time_zone(ScheduleRuns::ScheduledAt))
                    .col(text(ScheduleRuns::Status))
                    .col(uuid_null(ScheduleRuns::EventId))
                    .col(timestamp_with_time_zone(ScheduleRuns::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_schedule_runs_occurrence")
                    .table(ScheduleRuns::Table)
                    .col(ScheduleRuns::ScheduleId)
                    .col(ScheduleRuns::ScheduledAt)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IncomingHooks::Table)
                    .if_not_exists()
                    .col(uuid(IncomingHooks::Id).primary_key())
                    .col(uuid(IncomingHooks::OrgId))
                    .col(text(IncomingHooks::Name))
                    .col(text(IncomingHooks::Secret))
                    .col(json_binary(IncomingHooks::DefaultTags))
                    .col(boolean(IncomingHooks::Enabled))
                    .col(uuid(IncomingHooks::CreatedBy))
                    .col(timestamp_with_time_zone_null(IncomingHooks::LastReceivedAt))
                    .col(timestamp_with_time_zone(IncomingHooks::CreatedAt))
                    .col(timestamp_with_time_zone(IncomingHooks::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_incoming_hooks_org_id")
                    .table(IncomingHooks::Table)
                    .col(IncomingHooks::OrgId)
                    .col(IncomingHooks::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IncomingHookReceipts::Table)
                    .if_not_exists()
                    .col(uuid(IncomingHookReceipts::HookId))
                    .col(text(IncomingHookReceipts::MessageId))
                    .col(timestamp_with_time_zone(IncomingHookReceipts::ReceivedAt))
                    .primary_key(
                        Index::create()
                            .col(IncomingHookReceipts::HookId)
                            .col(IncomingHookReceipts::MessageId),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IncomingHookReceipts::Table.into_iden(),
            IncomingHooks::Table.into_iden(),
            ScheduleRuns::Table.into_iden(),
            Schedules::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Id,
    OrgId,
    Name,
    Cron,
    Timezone,
    Action,
    Payload,
    Status,
    NextRunAt,
    LastRunAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScheduleRuns {
    Table,
    Id,
    OrgId,
    ScheduleId,
    ScheduledAt,
    Status,
    EventId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IncomingHooks {
    Table,
    Id,
    OrgId,
    Name,
    Secret,
    DefaultTags,
    Enabled,
    CreatedBy,
    LastReceivedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IncomingHookReceipts {
    Table,
    HookId,
    MessageId,
    ReceivedAt,
}
