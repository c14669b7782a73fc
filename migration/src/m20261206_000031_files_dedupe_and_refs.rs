//! Files, part 2 (places domain): `file_blobs` holds one row per stored object of an
//! organization, keyed by its content (`org_id`, `sha256`, unique), with the number of live
//! `files` rows that use it (`ref_count`). Uploads of identical bytes add a reference to the one
//! object; deleting the last reference removes the row and then the object. The object key
//! carries the row's id (`orgs/{org}/blobs/{sha256}/{id}`), so a blob created again after its
//! last reference went never shares a key with the one being removed.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FileBlobs::Table)
                    .if_not_exists()
                    .col(uuid(FileBlobs::Id).primary_key())
                    .col(uuid(FileBlobs::OrgId))
                    .col(string_len(FileBlobs::Sha256, 64))
                    .col(string_len(FileBlobs::StorageKey, 300))
                    .col(big_integer(FileBlobs::Size))
                    .col(integer(FileBlobs::RefCount))
                    .col(timestamp_with_time_zone(FileBlobs::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // The dedupe key: concurrent uploads of the same bytes meet on it (INSERT … ON CONFLICT).
        manager
            .create_index(
                Index::create()
                    .name("uq_file_blobs_org_sha256")
                    .table(FileBlobs::Table)
                    .col(FileBlobs::OrgId)
                    .col(FileBlobs::Sha256)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FileBlobs::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum FileBlobs {
    Table,
    Id,
    OrgId,
    Sha256,
    StorageKey,
    Size,
    RefCount,
    CreatedAt,
}
