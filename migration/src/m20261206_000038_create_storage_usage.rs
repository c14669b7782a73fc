//! Files, part 3 (places domain): `storage_usage` holds the bytes an organization has stored
//! (one row per organization; deduplicated objects count once) and an optional per-organization
//! quota that overrides `STORAGE_QUOTA_BYTES`. Uploads reserve their bytes with one conditional
//! `UPDATE` (used + size ≤ quota), so concurrent uploads cannot both pass the limit. The rows
//! are filled from what is stored now: every `file_blobs` row, plus live files stored before
//! deduplication (no blob row; they own their object).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const BACKFILL: &str = r#"
INSERT INTO "storage_usage" ("org_id", "bytes_used")
SELECT u."org_id", SUM(u."size") FROM (
    SELECT b."org_id", b."size" FROM "file_blobs" AS b
    UNION ALL
    SELECT f."org_id", f."size" FROM "files" AS f
    WHERE f."deleted_at" IS NULL
      AND NOT EXISTS (SELECT 1 FROM "file_blobs" AS b2 WHERE b2."storage_key" = f."storage_key")
) AS u
GROUP BY u."org_id""#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StorageUsage::Table)
                    .if_not_exists()
                    .col(uuid(StorageUsage::OrgId).primary_key())
                    .col(big_integer(StorageUsage::BytesUsed))
                    .col(big_integer_null(StorageUsage::QuotaBytes))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(BACKFILL)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(StorageUsage::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum StorageUsage {
    Table,
    OrgId,
    BytesUsed,
    QuotaBytes,
}
