//! Mail goes out through the job queue: the message is enqueued in the transaction of the change
//! that caused it (a registration, an invitation), so it is neither lost when SMTP is down nor
//! sent for a change that rolled back. Transient SMTP failures are retried with backoff.

use async_trait::async_trait;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use super::mailer::{Mailer, OutgoingEmail};
use crate::{
    error::AppResult,
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
};

/// Job kind.
pub const KIND: &str = "mail.send";

/// Enqueues `email` using `conn` (the caller's transaction).
pub async fn enqueue(conn: &impl ConnectionTrait, email: &OutgoingEmail) -> AppResult<()> {
    let payload = serde_json::to_value(email)?;
    queue::enqueue(
        conn,
        NewJob {
            max_attempts: 8,
            ..NewJob::new(KIND, payload)
        },
    )
    .await?;
    Ok(())
}

/// Sends queued mail.
pub struct SendMail(pub Mailer);

#[async_trait]
impl JobHandler for SendMail {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let email: OutgoingEmail = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad mail payload: {e}")))?;
        match self.0.send(&email).await {
            Ok(id) => Ok(json!({"messageId": id})),
            Err(e) if e.is_transient() => Err(JobError::Retryable(e.to_string())),
            Err(e) => Err(JobError::Permanent(e.to_string())),
        }
    }
}
