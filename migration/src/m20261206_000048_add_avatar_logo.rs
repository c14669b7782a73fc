//! Avatars and logos (identity, with places' files): `users.avatar_file_id` and
//! `organizations.logo_file_id` name an AVATAR / LOGO file (null: none; no foreign key, a
//! file deleted with `force` leaves the reference cleared by the deleting transaction).
//! `file_variants` holds the extra standard sizes of an image file (the 64 px avatar): one
//! row per (file, size), each on a deduplicated `file_blobs` object like a file's own bytes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::AvatarFileId).uuid().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .add_column(ColumnDef::new(Organizations::LogoFileId).uuid().null())
                    .to_owned(),
            )
            .await?;
        // deleteFile asks whether a file is someone's avatar or logo.
        for (name, table, col) in [
            (
                "idx_users_avatar_file_id",
                Users::Table.into_iden(),
                Users::AvatarFileId.into_iden(),
            ),
            (
                "idx_organizations_logo_file_id",
                Organizations::Table.into_iden(),
                Organizations::LogoFileId.into_iden(),
            ),
        ] {
            manager
                .create_index(Index::create().name(name).table(table).col(col).to_owned())
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(FileVariants::Table)
                    .if_not_exists()
                    .col(uuid(FileVariants::Id).primary_key())
                    .col(uuid(FileVariants::FileId))
                    .col(uuid(FileVariants::OrgId))
                    .col(integer(FileVariants::SizePx))
                    .col(integer(FileVariants::Width))
                    .col(integer(FileVariants::Height))
                    .col(string_len(FileVariants::ContentType, 100))
                    .col(big_integer(FileVariants::Size))
                    .col(string_len(FileVariants::Sha256, 64))
                    .col(string_len(FileVariants::StorageKey, 300))
                    .col(timestamp_with_time_zone(FileVariants::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_file_variants_file_size")
                    .table(FileVariants::Table)
                    .col(FileVariants::FileId)
                    .col(FileVariants::SizePx)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FileVariants::Table).to_owned())
            .await?;
        for (name, table) in [
            (
                "idx_organizations_logo_file_id",
                Organizations::Table.into_iden(),
            ),
            ("idx_users_avatar_file_id", Users::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Organizations::Table)
                    .drop_column(Organizations::LogoFileId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::AvatarFileId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    AvatarFileId,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    LogoFileId,
}

#[derive(DeriveIden)]
enum FileVariants {
    Table,
    Id,
    FileId,
    OrgId,
    SizePx,
    Width,
    Height,
    ContentType,
    Size,
    Sha256,
    StorageKey,
    CreatedAt,
}
