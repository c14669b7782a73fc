//! The job's links to the leads it met (`scrape_job_leads`), written by [`super::save_batch`].

use chrono::Utc;
use entity::scrape_job_lead;
use sea_orm::{
    sea_query::OnConflict as SqlOnConflict, ActiveValue::Set, ConnectionTrait, DatabaseTransaction,
    DbBackend, EntityTrait, Statement,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{domains::leads::BULK_CHUNK, error::AppResult};

/// A lead met by the job, to link (`scrape_job_leads`).
pub struct Link {
    /// The lead.
    pub lead_id: Uuid,
    /// `created` or `updated`.
    pub outcome: &'static str,
    /// The page or API reference it was met at.
    pub url: String,
}

/// Inserts the job's new lead links (existing ones stay); returns how many were new. PostgreSQL gets all rows as one JSON
/// parameter (`jsonb_to_recordset`), so the statement's text, and the plan prepared for it, is
/// the same whatever the batch size; SQLite gets multi-row `INSERT`s.
pub async fn insert_links(
    txn: &DatabaseTransaction,
    job_id: Uuid,
    org_id: Uuid,
    now: chrono::DateTime<Utc>,
    links: Vec<Link>,
) -> AppResult<u64> {
    if links.is_empty() {
        return Ok(0);
    }
    if txn.get_database_backend() == DbBackend::Postgres {
        let rows: Vec<Value> = links
            .iter()
            .map(|l| json!({"lead_id": l.lead_id, "outcome": l.outcome, "url": l.url}))
            .collect();
        let done = txn
            .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            r#"INSERT INTO "scrape_job_leads" ("scrape_job_id", "lead_id", "org_id", "outcome", "url", "created_at")
SELECT $1, r.lead_id, $2, r.outcome, r.url, $3
FROM jsonb_to_recordset($4::jsonb) AS r(lead_id uuid, outcome text, url text)
ON CONFLICT ("scrape_job_id", "lead_id") DO NOTHING"#,
            [
                job_id.into(),
                org_id.into(),
                now.into(),
                Value::Array(rows).into(),
            ],
            ))
            .await?;
        return Ok(done.rows_affected());
    }
    let mut inserted = 0;
    for part in links.chunks(BULK_CHUNK) {
        let rows = part.iter().map(|l| scrape_job_lead::ActiveModel {
            scrape_job_id: Set(job_id),
            lead_id: Set(l.lead_id),
            org_id: Set(org_id),
            outcome: Set(l.outcome.into()),
            url: Set(l.url.clone()),
            created_at: Set(now),
        });
        inserted += scrape_job_lead::Entity::insert_many(rows)
            .on_conflict(
                SqlOnConflict::columns([
                    scrape_job_lead::Column::ScrapeJobId,
                    scrape_job_lead::Column::LeadId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok(inserted)
}
