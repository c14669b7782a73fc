//! The crawl's group commit. Finished pages wait in memory until the previous commit is done,
//! then everything that finished meanwhile (at most [`MAX_BATCH`] pages) commits in **one
//! transaction** with a fixed number of statements: the fenced counter update, one `INSERT` of
//! the new links, one write of the pages' outcomes (PostgreSQL: a HOT `UPDATE`), and the batched
//! lead writes of
//! [`sink::batch`]. On PostgreSQL the rows go as one JSON parameter (`jsonb_to_recordset`), so a
//! statement's text, and the plan prepared for it, does not change with the batch size; SQLite
//! gets multi-row `INSERT`s of at most [`CHUNK`] rows. A batch waits for [`MIN_BATCH`] pages or
//! [`LINGER`] (never when nothing is left to fetch): at a low page rate every page commits on its
//! own after the linger; under load the batches grow by themselves.
//!
//! Crash safety: a page is DONE only once its batch committed. A crash (or cancel, or lost
//! lease) loses the uncommitted batch and the one committing, nothing else: those pages are
//! still QUEUED in the database and are fetched again by the next attempt, and their leads were
//! not written, so nothing is duplicated. Batches commit in order, so a page's row always
//! commits in the same batch as its discoverer's or a later one.

use std::{collections::HashSet, time::Duration};

use chrono::Utc;
use entity::{scrape_job, scrape_job_lead, scrape_page};
use sea_orm::{
    sea_query::{Expr, ExprTrait, OnConflict as SqlOnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QuerySelect, Statement, TransactionTrait,
};
use serde_json::{json, Value};
use tokio::sync::Mutex;
use url::Url;
use uuid::Uuid;

use super::{fenced, Stop};
use crate::{
    auth::Viewer,
    domains::{
        leads::types::LeadSource,
        scraping::{
            service::sink::{self, mx, save_batch, Contact, PageContact, Saved},
            types::ScrapePageStatus,
        },
    },
    error::AppError,
    state::{AppState, Wakes},
};

/// Most pages per transaction.
pub const MAX_BATCH: usize = 64;
/// A batch this large commits as soon as the previous commit is done...
pub const MIN_BATCH: usize = 32;
/// ...a smaller one once its first page waited this long (or when no page is left to fetch).
/// Fewer, larger transactions cost the server and the database less per page (every
/// transaction is 5–8 statements whatever its size) and wake them less often.
pub const LINGER: Duration = Duration::from_millis(15);
/// Rows per multi-row page statement.
const CHUNK: usize = 200;

/// A page whose fetch ended, waiting for its batch.
pub struct Finished {
    /// Page row id.
    pub id: Uuid,
    /// Canonical URL.
    pub url: Url,
    /// Depth.
    pub depth: i32,
    /// DONE, SKIPPED or FAILED.
    pub status: ScrapePageStatus,
    /// HTTP status, when there was a response.
    pub http_status: Option<u16>,
    /// Why it was skipped or failed.
    pub error: Option<String>,
    /// Contacts found on it.
    pub contacts: Vec<Contact>,
}

/// One transaction's worth of work.
#[derive(Default)]
pub struct Batch {
    /// Pages whose fetch ended.
    pub pages: Vec<Finished>,
    /// New page rows (queued) discovered by these pages (or seeded).
    pub new_pages: Vec<(Uuid, Url, i32)>,
    /// Contacts not from a page (API sources).
    pub contacts: Vec<Contact>,
    /// Marks the job seeded.
    pub seeded: bool,
    /// The page most recently started.
    pub current: Option<String>,
}

/// Counter increments of one transaction.
#[derive(Default)]
struct Delta {
    total: i32,
    fetched: i32,
    failed: i32,
    skipped: i32,
    saved: Saved,
}

enum Attempt {
    Committed,
    /// A concurrent writer took an email or phone: redo the batch contact by contact.
    Conflict,
}

/// Writes batches for one run (owned, so a commit runs as its own task).
pub struct Writer {
    state: AppState,
    id: Uuid,
    attempt: i32,
    viewer: Viewer,
    source: LeadSource,
    /// Leads linked to the job (committed); batches run one at a time under this lock.
    linked: Mutex<HashSet<Uuid>>,
}

impl Writer {
    /// Loads the leads already linked to the job (one statement).
    pub async fn load(
        state: AppState,
        id: Uuid,
        attempt: i32,
        viewer: Viewer,
        source: LeadSource,
    ) -> Result<Writer, Stop> {
        let linked = Self::linked_ids(&state, id).await?;
        Ok(Writer {
            state,
            id,
            attempt,
            viewer,
            source,
            linked: Mutex::new(linked),
        })
    }

    async fn linked_ids(state: &AppState, id: Uuid) -> Result<HashSet<Uuid>, Stop> {
        let ids: Vec<Uuid> = scrape_job_lead::Entity::find()
            .select_only()
            .column(scrape_job_lead::Column::LeadId)
            .filter(scrape_job_lead::Column::ScrapeJobId.eq(id))
            .into_tuple()
            .all(&state.db)
            .await?;
        Ok(ids.into_iter().collect())
    }

    /// Commits `batch` (see the module documentation).
    pub async fn commit(&self, mut batch: Batch) -> Result<(), Stop> {
        // Deliverability of the crawled emails (one cached MX lookup per domain, bounded by its
        // timeout; a no-op unless EMAIL_MX_CHECK is on), before any transaction opens. API-source
        // contacts (`batch.contacts`) were annotated by their source.
        let sources = &self.state.config.sources;
        futures::future::join_all(
            batch
                .pages
                .iter_mut()
                .map(|p| mx::annotate(sources, &mut p.contacts)),
        )
        .await;
        let mut linked = self.linked.lock().await;
        match self.try_commit(&batch, &mut linked, true).await? {
            Attempt::Committed => Ok(()),
            Attempt::Conflict => {
                match self.try_commit(&batch, &mut linked, false).await? {
                    Attempt::Committed => {}
                    Attempt::Conflict => {
                        return Err(Stop::Failed {
                            message: "conflicting lead writes".into(),
                            retryable: true,
                        })
                    }
                }
                *linked = Self::linked_ids(&self.state, self.id).await?;
                Ok(())
            }
        }
    }

    async fn try_commit(
        &self,
        batch: &Batch,
        linked: &mut HashSet<Uuid>,
        fast: bool,
    ) -> Result<Attempt, Stop> {
        let txn = self.state.db.begin().await?;
        let mut delta = Delta {
            total: i32::try_from(batch.new_pages.len()).unwrap_or(i32::MAX),
            ..Delta::default()
        };
        for p in &batch.pages {
            match p.status {
                ScrapePageStatus::Done => delta.fetched += 1,
                ScrapePageStatus::Failed => delta.failed += 1,
                _ => delta.skipped += 1,
            }
        }
        // The fence first: a job that is no longer ours (cancelled, deleted, taken over) gets
        // no writes at all.
        self.bump(&txn, &delta, batch.current.clone(), batch.seeded)
            .await?;
        self.insert_pages(&txn, &batch.new_pages).await?;
        let Some((per_page, recorded)) = self.save_contacts(&txn, batch, linked, fast).await?
        else {
            txn.rollback().await?;
            return Ok(Attempt::Conflict);
        };
        for s in &per_page {
            delta.saved.found += s.found;
            delta.saved.created += s.created;
            delta.saved.updated += s.updated;
        }
        self.record_pages(&txn, &batch.pages, &per_page).await?;
        if delta.saved.found > 0 {
            let add = |c: scrape_job::Column, n: i32| Expr::col(c).add(n);
            fenced(self.id, self.attempt)
                .col_expr(
                    scrape_job::Column::LeadsFound,
                    add(scrape_job::Column::LeadsFound, delta.saved.found),
                )
                .col_expr(
                    scrape_job::Column::LeadsCreated,
                    add(scrape_job::Column::LeadsCreated, delta.saved.created),
                )
                .col_expr(
                    scrape_job::Column::LeadsUpdated,
                    add(scrape_job::Column::LeadsUpdated, delta.saved.updated),
                )
                .exec(&txn)
                .await?;
        }
        // Waking the relay costs it two transactions; a batch that only moved pages (a
        // re-crawl finding leads the job already has) has nothing for it.
        if recorded {
            self.state.commit(txn, Wakes::Events).await?;
        } else {
            txn.commit().await?;
        }
        Ok(Attempt::Committed)
    }

    /// Saves the batch's contacts: with [`save_batch`] (`fast`), else contact by contact.
    /// Returns the per-page counts and whether outbox events were recorded; `None` when a
    /// concurrent writer got in the way of the fast path (roll back and retry slowly).
    async fn save_contacts(
        &self,
        txn: &DatabaseTransaction,
        batch: &Batch,
        linked: &mut HashSet<Uuid>,
        fast: bool,
    ) -> Result<Option<(Vec<Saved>, bool)>, Stop> {
        let n = batch.pages.len();
        // Whether the transaction recorded outbox events (the contact-by-contact path goes
        // through `create_in`, which may; assume it did).
        let mut recorded = !fast;
        let per_page: Vec<Saved> = if fast {
            let contacts: Vec<PageContact> = batch
                .pages
                .iter()
                .enumerate()
                .flat_map(|(i, p)| {
                    p.contacts.iter().map(move |c| PageContact {
                        page: i,
                        contact: c.clone(),
                    })
                })
                .chain(batch.contacts.iter().map(|c| PageContact {
                    page: n,
                    contact: c.clone(),
                }))
                .collect();
            match save_batch(
                txn,
                &self.viewer,
                self.id,
                self.source,
                contacts,
                linked,
                n + 1,
            )
            .await
            {
                Ok(s) => {
                    linked.extend(s.linked);
                    recorded = s.events > 0;
                    s.pages
                }
                Err(AppError::Conflict(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        } else {
            let mut out = Vec::with_capacity(n + 1);
            for list in batch
                .pages
                .iter()
                .map(|p| &p.contacts)
                .chain(std::iter::once(&batch.contacts))
            {
                out.push(sink::save(txn, &self.viewer, self.id, self.source, list.clone()).await?);
            }
            out
        };
        Ok(Some((per_page, recorded)))
    }

    /// Applies the page counters, fenced. `Cancelled` when the job is no longer ours.
    async fn bump(
        &self,
        txn: &DatabaseTransaction,
        d: &Delta,
        current: Option<String>,
        seeded: bool,
    ) -> Result<(), Stop> {
        let add = |c: scrape_job::Column, n: i32| Expr::col(c).add(n);
        let mut update = fenced(self.id, self.attempt)
            .col_expr(
                scrape_job::Column::PagesTotal,
                add(scrape_job::Column::PagesTotal, d.total),
            )
            .col_expr(
                scrape_job::Column::PagesFetched,
                add(scrape_job::Column::PagesFetched, d.fetched),
            )
            .col_expr(
                scrape_job::Column::PagesFailed,
                add(scrape_job::Column::PagesFailed, d.failed),
            )
            .col_expr(
                scrape_job::Column::PagesSkipped,
                add(scrape_job::Column::PagesSkipped, d.skipped),
            )
            .col_expr(scrape_job::Column::UpdatedAt, Expr::value(Utc::now()));
        if current.is_some() {
            update = update.col_expr(scrape_job::Column::CurrentUrl, Expr::value(current));
        }
        if seeded {
            update = update.col_expr(scrape_job::Column::Seeded, Expr::value(true));
        }
        if update.exec(txn).await?.rows_affected == 1 {
            Ok(())
        } else {
            Err(Stop::Cancelled)
        }
    }

    /// Inserts new page rows (queued). The caller's visited set (seeded from the database when
    /// the run started, and this run is the job's only writer) says they are new; a row that
    /// exists anyway means that set is wrong, and the attempt stops to reload it.
    async fn insert_pages(
        &self,
        txn: &DatabaseTransaction,
        rows: &[(Uuid, Url, i32)],
    ) -> Result<(), Stop> {
        if rows.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let queued = ScrapePageStatus::Queued.as_str();
        let inserted = if txn.get_database_backend() == DbBackend::Postgres {
            let json: Vec<Value> = rows
                .iter()
                .map(|(id, u, d)| json!({"id": id, "url": u.as_str(), "depth": d}))
                .collect();
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                r#"INSERT INTO "scrape_pages" ("id", "scrape_job_id", "org_id", "url", "depth", "status", "leads_found", "created_at")
SELECT r.id, $1, $2, r.url, r.depth, $3, 0, $4
FROM jsonb_to_recordset($5::jsonb) AS r(id uuid, url text, depth int)
ON CONFLICT ("scrape_job_id", "url") DO NOTHING"#,
                [
                    self.id.into(),
                    self.viewer.org_id.into(),
                    queued.into(),
                    now.into(),
                    Value::Array(json).into(),
                ],
            ))
            .await?
            .rows_affected()
        } else {
            let mut n = 0;
            for chunk in rows.chunks(CHUNK) {
                n += scrape_page::Entity::insert_many(chunk.iter().map(|(id, u, d)| {
                    scrape_page::ActiveModel {
                        id: Set(*id),
                        scrape_job_id: Set(self.id),
                        org_id: Set(self.viewer.org_id),
                        url: Set(u.to_string()),
                        depth: Set(*d),
                        status: Set(queued.into()),
                        http_status: Set(None),
                        leads_found: Set(0),
                        error: Set(None),
                        fetched_at: Set(None),
                        created_at: Set(now),
                    }
                }))
                .on_conflict(
                    SqlOnConflict::columns([
                        scrape_page::Column::ScrapeJobId,
                        scrape_page::Column::Url,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
            }
            n
        };
        if inserted != rows.len() as u64 {
            return Err(Stop::Failed {
                message: "the crawl frontier is out of date; reloading it".into(),
                retryable: true,
            });
        }
        Ok(())
    }

    /// Records the pages' outcomes. PostgreSQL: one `UPDATE` of the rows (every page in one
    /// JSON parameter, one statement text for any batch size); it changes no indexed column, so
    /// it is a HOT update (migration `m20261202_000016`). Every page's row exists (inserted by
    /// this batch or an earlier one); a missing one means the frontier is wrong, and the attempt
    /// stops to reload it. SQLite: multi-row upserts on the page id.
    async fn record_pages(
        &self,
        txn: &DatabaseTransaction,
        pages: &[Finished],
        saved: &[Saved],
    ) -> Result<(), Stop> {
        if pages.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let found = |i: usize| saved.get(i).map(|s| s.found).unwrap_or(0);
        if txn.get_database_backend() == DbBackend::Postgres {
            return self.record_pages_pg(txn, pages, saved, now).await;
        }
        let rows: Vec<scrape_page::ActiveModel> = pages
            .iter()
            .enumerate()
            .map(|(i, p)| scrape_page::ActiveModel {
                id: Set(p.id),
                scrape_job_id: Set(self.id),
                org_id: Set(self.viewer.org_id),
                url: Set(p.url.to_string()),
                depth: Set(p.depth),
                status: Set(p.status.as_str().into()),
                http_status: Set(p.http_status.map(i32::from)),
                leads_found: Set(found(i)),
                error: Set(p.error.clone()),
                fetched_at: Set(Some(now)),
                created_at: Set(now),
            })
            .collect();
        let mut it = rows.into_iter().peekable();
        while it.peek().is_some() {
            let chunk: Vec<_> = it.by_ref().take(CHUNK).collect();
            scrape_page::Entity::insert_many(chunk)
                .on_conflict(
                    SqlOnConflict::column(scrape_page::Column::Id)
                        .update_columns([
                            scrape_page::Column::Status,
                            scrape_page::Column::HttpStatus,
                            scrape_page::Column::Error,
                            scrape_page::Column::LeadsFound,
                            scrape_page::Column::FetchedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(txn)
                .await?;
        }
        Ok(())
    }

    /// [`Self::record_pages`] on PostgreSQL.
    async fn record_pages_pg(
        &self,
        txn: &DatabaseTransaction,
        pages: &[Finished],
        saved: &[Saved],
        now: chrono::DateTime<Utc>,
    ) -> Result<(), Stop> {
        let found = |i: usize| saved.get(i).map(|s| s.found).unwrap_or(0);
        let json: Vec<Value> = pages
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "id": p.id,
                    "status": p.status.as_str(),
                    "http_status": p.http_status,
                    "leads_found": found(i),
                    "error": p.error,
                })
            })
            .collect();
        let updated = txn
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                r#"UPDATE "scrape_pages" AS p SET "status" = r.status, "http_status" = r.http_status,
"leads_found" = r.leads_found, "error" = r.error, "fetched_at" = $2
FROM jsonb_to_recordset($3::jsonb)
AS r(id uuid, status text, http_status int, leads_found int, error text)
WHERE p."id" = r.id AND p."scrape_job_id" = $1"#,
                [self.id.into(), now.into(), Value::Array(json).into()],
            ))
            .await?
            .rows_affected();
        if updated != pages.len() as u64 {
            return Err(Stop::Failed {
                message: "the crawl frontier is out of date; reloading it".into(),
                retryable: true,
            });
        }
        Ok(())
    }
}
