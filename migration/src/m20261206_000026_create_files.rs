//! Files (places domain): `files` holds one row per stored object of an organization — who
//! uploaded it, what it is for (`kind`), its name, the content type sniffed from its bytes, its
//! size and SHA-256, and where it lives in object storage (`storage_key`). A deleted file keeps
//! its row with `deleted_at` set (its object is removed); lists and reads skip it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Files::Table)
                    .if_not_exists()
                    .col(uuid(Files::Id).primary_key())
                    .col(uuid(Files::OrgId))
                    .col(uuid(Files::OwnerId))
                    .col(string_len(Files::Kind, 16))
                    .col(string_len(Files::Name, 255))
                    .col(string_len(Files::ContentType, 127))
                    .col(big_integer(Files::Size))
                    .col(string_len(Files::Sha256, 64))
                    .col(string_len(Files::StorageKey, 300))
                    .col(timestamp_with_time_zone(Files::CreatedAt))
                    .col(timestamp_with_time_zone_null(Files::DeletedAt))
                    .to_owned(),
            )
            .await?;
        // `files(…)` pages an organization's files newest first (ids are UUID v7).
        manager
            .create_index(
                Index::create()
                    .name("idx_files_org_id")
                    .table(Files::Table)
                    .col(Files::OrgId)
                    .col(Files::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Files::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Files {
    Table,
    Id,
    OrgId,
    OwnerId,
    Kind,
    Name,
    ContentType,
    Size,
    Sha256,
    StorageKey,
    CreatedAt,
    DeletedAt,
}
