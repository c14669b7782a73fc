use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OutboxEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OutboxEvents::Seq))
                    .col(uuid_uniq(OutboxEvents::Id))
                    .col(uuid(OutboxEvents::OrgId))
                    .col(uuid_null(OutboxEvents::UserId))
                    .col(string_len(OutboxEvents::EventType, 64))
                    .col(json_binary(OutboxEvents::Payload))
                    .col(timestamp_with_time_zone(OutboxEvents::OccurredAt))
                    .col(timestamp_with_time_zone_null(OutboxEvents::PublishedAt))
                    .to_owned(),
            )
            .await?;
        // Replay: events of one organization after a sequence number.
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_events_org_seq")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::OrgId)
                    .col(OutboxEvents::Seq)
                    .to_owned(),
            )
            .await?;
        // Relay: unpublished events in order.
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_events_unpublished")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::PublishedAt)
                    .col(OutboxEvents::Seq)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OutboxEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Seq,
    Id,
    OrgId,
    UserId,
    EventType,
    Payload,
    OccurredAt,
    PublishedAt,
}
