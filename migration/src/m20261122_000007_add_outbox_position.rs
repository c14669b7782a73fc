//! Publication positions for the outbox. `seq` is taken at insert, so two transactions can commit
//! out of `seq` order and a cursor on `seq` could skip the later-committed, lower-`seq` event.
//! The relay assigns `position` at publication instead: gap-free, in publication order, so
//! subscribers resume by it and detect missed bus messages as a gap.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OutboxEvents::Table)
                    .add_column(ColumnDef::new(OutboxEvents::Position).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // Events published before this migration keep their order.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE outbox_events SET position = seq WHERE published_at IS NOT NULL",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_events_position")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::Position)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_events_org_position")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::OrgId)
                    .col(OutboxEvents::Position)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "idx_outbox_events_org_position",
            "idx_outbox_events_position",
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(OutboxEvents::Table)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(OutboxEvents::Table)
                    .drop_column(OutboxEvents::Position)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Position,
    OrgId,
}
