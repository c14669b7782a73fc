//! The job's links to the leads it met (`scrape_job_leads`), written by [`super::save_batch`].

use chrono::Utc;
use entity::scrape_job_lead;
use sea_orm::{
    sea_query::{Expr, OnConflict as SqlOnConflict, Query},
    ConnectionTrait, DatabaseTransaction, DbBackend, Statement,
};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    domains::leads::BULK_CHUNK,
    error::{AppError, AppResult},
};

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
            r#"INSERT INTO "scrape_job_leads" ("scrape_job_id", "lead_id", "org_id", "outcome", "url", "created_at", "lead_created_at")
SELECT $1, r.lead_id, $2, r.outcome, r.url, $3, (SELECT l."created_at" FROM "leads" l WHERE l."id" = r.lead_id)
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
        let mut insert = Query::insert();
        insert
            .into_table(scrape_job_lead::Entity)
            .columns([
                scrape_job_lead::Column::ScrapeJobId,
                scrape_job_lead::Column::LeadId,
                scrape_job_lead::Column::OrgId,
                scrape_job_lead::Column::Outcome,
                scrape_job_lead::Column::Url,
                scrape_job_lead::Column::CreatedAt,
                scrape_job_lead::Column::LeadCreatedAt,
            ])
            .on_conflict(
                SqlOnConflict::columns([
                    scrape_job_lead::Column::ScrapeJobId,
                    scrape_job_lead::Column::LeadId,
                ])
                .do_nothing()
                .to_owned(),
            );
        for l in part {
            insert
                .values([
                    job_id.into(),
                    l.lead_id.into(),
                    org_id.into(),
                    l.outcome.into(),
                    l.url.clone().into(),
                    now.into(),
                    // The lead's creation time, in the same statement (see the migration
                    // `scrape_job_leads_lead_order`).
                    Expr::cust_with_values(
                        r#"(SELECT "created_at" FROM "leads" WHERE "id" = ?)"#,
                        [l.lead_id],
                    ),
                ])
                .map_err(|e| AppError::internal(format!("link insert: {e}")))?;
        }
        inserted += txn
            .execute_raw(txn.get_database_backend().build(&insert))
            .await?
            .rows_affected();
    }
    Ok(inserted)
}
