//! Starting a send run: the `campaign.send` job is enqueued in the transaction that starts (or
//! resumes, or hands over) sending, so the queue is the scheduler (`run_at = scheduleAt`) and
//! the timer of an A/B test's wait. The delivery sub-domain runs the job.

use chrono::{DateTime, Utc};
use entity::{campaign, job};
use sea_orm::ConnectionTrait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    error::AppResult,
    jobs::{queue, NewJob},
};

/// Job kind.
pub const KIND: &str = "campaign.send";

/// The job's payload.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// The campaign to send.
    pub campaign_id: Uuid,
    /// Its organization.
    pub org_id: Uuid,
}

/// Enqueues a run of `c` in `conn` (the caller's transaction), at `at` or now.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    c: &campaign::Model,
    actor: Option<Uuid>,
    at: Option<DateTime<Utc>>,
) -> AppResult<job::Model> {
    queue::enqueue(
        conn,
        NewJob {
            org_id: Some(c.org_id),
            created_by: actor,
            max_attempts: 20,
            run_at_ms: at.map(|t| t.timestamp_millis()),
            ..NewJob::new(
                KIND,
                serde_json::to_value(Payload {
                    campaign_id: c.id,
                    org_id: c.org_id,
                })?,
            )
        },
    )
    .await
}
