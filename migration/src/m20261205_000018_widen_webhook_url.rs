//! Notification webhook URLs are stored encrypted now (`platform::secrets_box`): a sealed URL of
//! the maximum 2,048 characters is about 2,800 characters long, more than the `varchar(2048)`
//! the column was created with. PostgreSQL gets `text`; SQLite does not enforce lengths.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE notification_preferences ALTER COLUMN webhook_url TYPE text",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE notification_preferences ALTER COLUMN webhook_url TYPE varchar(2048)",
                )
                .await?;
        }
        Ok(())
    }
}
