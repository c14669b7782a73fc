//! Full-text search over leads and their notes: a generated `tsvector` with GIN indexes on
//! Postgres, FTS5 tables kept in step by triggers (keyed by rowid) on SQLite.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The searchable text of a lead (email split at `@` and `.` so its parts match).
const PG_LEAD_TEXT: &str =
    "coalesce(first_name,'') || ' ' || coalesce(last_name,'') || ' ' || company || ' ' || \
    translate(coalesce(email,''), '@.', '  ') || ' ' || coalesce(title,'')";
const SQLITE_LEAD_TEXT: &str = "coalesce(new.first_name,'') || ' ' || coalesce(new.last_name,'') || ' ' || new.company || ' ' || \
    coalesce(new.email,'') || ' ' || coalesce(new.title,'')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared(&format!(
                    "ALTER TABLE leads ADD COLUMN search_vector tsvector \
                     GENERATED ALWAYS AS (to_tsvector('simple', {PG_LEAD_TEXT})) STORED"
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE INDEX idx_leads_search ON leads USING GIN (search_vector)",
                )
                .await?;
                db.execute_unprepared(
                    "ALTER TABLE lead_notes ADD COLUMN search_vector tsvector \
                     GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE INDEX idx_lead_notes_search ON lead_notes USING GIN (search_vector)",
                )
                .await?;
            }
            DatabaseBackend::Sqlite => {
                let old_text = SQLITE_LEAD_TEXT.replace("new.", "");
                for sql in [
                    "CREATE VIRTUAL TABLE leads_fts USING fts5(content, tokenize = 'unicode61')".to_string(),
                    format!("INSERT INTO leads_fts(rowid, content) SELECT rowid, {old_text} FROM leads"),
                    format!(
                        "CREATE TRIGGER leads_fts_ai AFTER INSERT ON leads BEGIN \
                         INSERT INTO leads_fts(rowid, content) VALUES (new.rowid, {SQLITE_LEAD_TEXT}); END"
                    ),
                    format!(
                        "CREATE TRIGGER leads_fts_au AFTER UPDATE ON leads BEGIN \
                         DELETE FROM leads_fts WHERE rowid = old.rowid; \
                         INSERT INTO leads_fts(rowid, content) VALUES (new.rowid, {SQLITE_LEAD_TEXT}); END"
                    ),
                    "CREATE TRIGGER leads_fts_ad AFTER DELETE ON leads BEGIN \
                     DELETE FROM leads_fts WHERE rowid = old.rowid; END"
                        .to_string(),
                    "CREATE VIRTUAL TABLE lead_notes_fts USING fts5(body, tokenize = 'unicode61')".to_string(),
                    "INSERT INTO lead_notes_fts(rowid, body) SELECT rowid, body FROM lead_notes".to_string(),
                    "CREATE TRIGGER lead_notes_fts_ai AFTER INSERT ON lead_notes BEGIN \
                     INSERT INTO lead_notes_fts(rowid, body) VALUES (new.rowid, new.body); END"
                        .to_string(),
                    "CREATE TRIGGER lead_notes_fts_au AFTER UPDATE OF body ON lead_notes BEGIN \
                     DELETE FROM lead_notes_fts WHERE rowid = old.rowid; \
                     INSERT INTO lead_notes_fts(rowid, body) VALUES (new.rowid, new.body); END"
                        .to_string(),
                    "CREATE TRIGGER lead_notes_fts_ad AFTER DELETE ON lead_notes BEGIN \
                     DELETE FROM lead_notes_fts WHERE rowid = old.rowid; END"
                        .to_string(),
                ] {
                    db.execute_unprepared(&sql).await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Postgres => {
                db.execute_unprepared("ALTER TABLE lead_notes DROP COLUMN search_vector")
                    .await?;
                db.execute_unprepared("ALTER TABLE leads DROP COLUMN search_vector")
                    .await?;
            }
            DatabaseBackend::Sqlite => {
                for t in [
                    "leads_fts_ai",
                    "leads_fts_au",
                    "leads_fts_ad",
                    "lead_notes_fts_ai",
                    "lead_notes_fts_au",
                    "lead_notes_fts_ad",
                ] {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {t}"))
                        .await?;
                }
                db.execute_unprepared("DROP TABLE IF EXISTS leads_fts")
                    .await?;
                db.execute_unprepared("DROP TABLE IF EXISTS lead_notes_fts")
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }
}
