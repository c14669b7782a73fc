//! `webhook_receipts`: one row per provider event (or signed request) already accepted, so a
//! replayed one is refused. The primary key (provider, event key) makes the check one
//! `INSERT … ON CONFLICT DO NOTHING` that works across instances; rows older than the
//! freshness window are deleted as new ones arrive.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookReceipts::Table)
                    .if_not_exists()
                    .col(string_len(WebhookReceipts::Provider, 32))
                    .col(string_len(WebhookReceipts::EventKey, 128))
                    .col(timestamp_with_time_zone(WebhookReceipts::ReceivedAt))
                    .primary_key(
                        Index::create()
                            .col(WebhookReceipts::Provider)
                            .col(WebhookReceipts::EventKey),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_receipts_received_at")
                    .table(WebhookReceipts::Table)
                    .col(WebhookReceipts::ReceivedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookReceipts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum WebhookReceipts {
    Table,
    Provider,
    EventKey,
    ReceivedAt,
}
