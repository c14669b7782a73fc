//! The A/B steps of the `campaign.send` job (see `campaigns::service::ab` for the design):
//! choosing the run's phase (deciding the winner when the wait is over), and handing over to a
//! delayed run when the test group is sent or a run comes early.

use chrono::{DateTime, Utc};
use entity::campaign;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::{json, Value};

use super::{
    message::Phase,
    send_job::{retry, SendCampaign},
};
use crate::{
    domains::outreach::campaigns::{
        ab_test_of, decide_ab_test, decision_due, enqueue_send as enqueue, record_status,
        record_status_with, variants_of, winner_of, with_test_sent_at, CampaignStatus,
    },
    jobs::{JobContext, JobError},
    state::Wakes,
};

impl SendCampaign {
    /// The A/B phase of this run (see `campaigns::service::ab`), or the job's result when there
    /// is nothing to send now (waiting for the decision, or superseded).
    pub(super) async fn phase(
        &self,
        ctx: &JobContext,
        c: &campaign::Model,
    ) -> Result<Result<Phase, Value>, JobError> {
        let Some(test) = ab_test_of(c).filter(|_| variants_of(c).len() >= 2) else {
            return Ok(Ok(Phase::Plain));
        };
        if let Some(w) = winner_of(c) {
            return Ok(Ok(Phase::Rest(w.variant_id)));
        }
        let Some(due) = decision_due(c, &test) else {
            return Ok(Ok(Phase::Test));
        };
        if Utc::now() < due {
            // Run early (a resume during the wait): wait out the rest.
            self.hand_over(ctx, c, due, None).await?;
            return Ok(Err(json!({"abTest": "waiting", "decideAt": due})));
        }
        let db = &self.0.db;
        let winner = decide_ab_test(db, c, &test)
            .await
            .map_err(|e| JobError::Retryable(e.public_message()))?
            .ok_or_else(|| JobError::Permanent("an A/B test without variants".into()))?;
        let txn = db.begin().await.map_err(retry)?;
        let recorded = campaign::Entity::update_many()
            .col_expr(
                campaign::Column::AbWinner,
                Expr::value(serde_json::to_value(&winner).map_err(retry)?),
            )
            .col_expr(campaign::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(campaign::Column::Id.eq(c.id))
            .filter(campaign::Column::JobId.eq(ctx.job.id))
            .filter(campaign::Column::Status.eq(CampaignStatus::Running.as_str()))
            .filter(campaign::Column::AbWinner.is_null())
            .exec(&txn)
            .await
            .map_err(retry)?;
        if recorded.rows_affected != 1 {
            return Ok(Err(json!({"skipped": "superseded"})));
        }
        record_status_with(
            &txn,
            c.org_id,
            None,
            c.id,
            CampaignStatus::Running,
            Some(winner.variant_id.clone()),
        )
        .await
        .map_err(|e| JobError::Retryable(e.public_message()))?;
        self.0.commit(txn, Wakes::Events).await.map_err(retry)?;
        Ok(Ok(Phase::Rest(winner.variant_id)))
    }

    /// The test group is sent: records `testSentAt` and hands over to a run at the decision time.
    pub(super) async fn start_wait(
        &self,
        ctx: &JobContext,
        c: &campaign::Model,
        out: Value,
    ) -> Result<Value, JobError> {
        let now = Utc::now();
        let wait = ab_test_of(c).map_or(0, |t| t.wait_minutes);
        let due = now + chrono::Duration::minutes(i64::from(wait));
        if self
            .hand_over(ctx, c, due, Some(with_test_sent_at(c, now)))
            .await?
        {
            Ok(json!({"abTest": "test sent", "decideAt": due, "test": out}))
        } else {
            Ok(json!({"skipped": "superseded", "test": out}))
        }
    }

    /// Enqueues the next run at `at` and makes it the campaign's job (only while this run is
    /// still the responsible one), in one transaction. False when superseded.
    async fn hand_over(
        &self,
        ctx: &JobContext,
        c: &campaign::Model,
        at: DateTime<Utc>,
        ab_test: Option<Value>,
    ) -> Result<bool, JobError> {
        let txn = self.0.db.begin().await.map_err(retry)?;
        let next = enqueue(&txn, c, None, Some(at))
            .await
            .map_err(|e| JobError::Retryable(e.public_message()))?;
        let mut q = campaign::Entity::update_many()
            .col_expr(campaign::Column::JobId, Expr::value(next.id))
            .col_expr(campaign::Column::UpdatedAt, Expr::value(Utc::now()));
        if let Some(v) = ab_test {
            q = q.col_expr(campaign::Column::AbTest, Expr::value(v));
        }
        let res = q
            .filter(campaign::Column::Id.eq(c.id))
            .filter(campaign::Column::JobId.eq(ctx.job.id))
            .filter(campaign::Column::Status.eq(CampaignStatus::Running.as_str()))
            .exec(&txn)
            .await
            .map_err(retry)?;
        if res.rows_affected != 1 {
            return Ok(false); // dropped: the transaction rolls back, the job is not enqueued
        }
        record_status(&txn, c.org_id, None, c.id, CampaignStatus::Running)
            .await
            .map_err(|e| JobError::Retryable(e.public_message()))?;
        self.0.commit(txn, Wakes::Jobs).await.map_err(retry)?;
        Ok(true)
    }
}
