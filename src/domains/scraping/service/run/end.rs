//! How a run ends: success ([`Run::finish`]) or a failure, final or to be retried
//! ([`Run::stopped`]).

use chrono::Utc;
use entity::{scrape_job, scrape_page};
use sea_orm::{
    sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::Value;

use super::{progress, record_progress, Run, ScrapeJobStatus, ScrapePageStatus, Stop};
use crate::jobs::JobError;
use crate::state::Wakes;

impl Run<'_> {
    /// Marks the job succeeded (or failed, when no page could be fetched at all).
    pub(super) async fn finish(&self) -> Result<Value, Stop> {
        let txn = self.state.db.begin().await?;
        let job = self.fresh(&txn).await?;
        if job.pages_fetched == 0 && job.pages_failed > 0 && job.leads_found == 0 {
            let first = scrape_page::Entity::find()
                .filter(scrape_page::Column::ScrapeJobId.eq(self.id))
                .filter(scrape_page::Column::Status.eq(ScrapePageStatus::Failed.as_str()))
                .order_by_asc(scrape_page::Column::Id)
                .one(&txn)
                .await?;
            txn.rollback().await?;
            let why = first
                .and_then(|p| p.error.map(|e| format!("{}: {e}", p.url)))
                .unwrap_or_default();
            return Err(Stop::Failed {
                message: format!("no page could be fetched ({why})"),
                retryable: false,
            });
        }
        let now = Utc::now();
        let res = self
            .fenced()
            .col_expr(
                scrape_job::Column::Status,
                Expr::value(ScrapeJobStatus::Succeeded.as_str()),
            )
            .col_expr(scrape_job::Column::FinishedAt, Expr::value(now))
            .col_expr(scrape_job::Column::UpdatedAt, Expr::value(now))
            .col_expr(
                scrape_job::Column::CurrentUrl,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                scrape_job::Column::Error,
                Expr::value(Option::<String>::None),
            )
            .exec(&txn)
            .await?;
        if res.rows_affected != 1 {
            return Err(Stop::Cancelled);
        }
        let done = self.fresh(&txn).await?;
        record_progress(&txn, &done, true).await?;
        self.state.commit(txn, Wakes::Events).await?;
        crate::db::spawn_analyze_if_grown(
            &self.state.db,
            "leads",
            u64::try_from(done.leads_created).unwrap_or(0),
        );
        Ok(serde_json::to_value(progress(&done)).unwrap_or_default())
    }

    /// Records a failure: the final one (FAILED, `scrape.completed`) or one that will be retried
    /// (QUEUED with the error), then tells the queue.
    pub(super) async fn stopped(&self, stop: Stop) -> Result<Value, JobError> {
        let (message, retryable) = match stop {
            Stop::Cancelled => return Err(JobError::Cancelled),
            Stop::Failed { message, retryable } => (message, retryable),
        };
        let last = !retryable || self.ctx.job.attempts >= self.ctx.job.max_attempts;
        if let Err(e) = self.record_failure(&message, last).await {
            tracing::warn!(scrape_job_id = %self.id, error = ?e, "recording a scrape failure failed");
        }
        Err(if retryable {
            JobError::Retryable(message)
        } else {
            JobError::Permanent(message)
        })
    }

    async fn record_failure(&self, message: &str, last: bool) -> Result<(), Stop> {
        let txn = self.state.db.begin().await?;
        let now = Utc::now();
        let (status, error) = if last {
            (ScrapeJobStatus::Failed, message.to_string())
        } else {
            (
                ScrapeJobStatus::Queued,
                format!("attempt {} failed, will retry: {message}", self.attempt),
            )
        };
        let mut update = self
            .fenced()
            .col_expr(scrape_job::Column::Status, Expr::value(status.as_str()))
            .col_expr(scrape_job::Column::Error, Expr::value(error))
            .col_expr(
                scrape_job::Column::CurrentUrl,
                Expr::value(Option::<String>::None),
            )
            .col_expr(scrape_job::Column::UpdatedAt, Expr::value(now));
        if last {
            update = update.col_expr(scrape_job::Column::FinishedAt, Expr::value(now));
        }
        if update.exec(&txn).await?.rows_affected != 1 {
            return Ok(());
        }
        let fresh = self.fresh(&txn).await?;
        record_progress(&txn, &fresh, last).await?;
        self.state.commit(txn, Wakes::Events).await?;
        Ok(())
    }
}
