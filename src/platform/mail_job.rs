//! Mail goes out through the job queue: the message is enqueued in the transaction of the change
//! that caused it (a registration, an invitation), so it is neither lost when SMTP is down nor
//! sent for a change that rolled back. Transient SMTP failures are retried with backoff.
//!
//! The bodies carry single-use links (email verification, password reset, invitations). Once
//! the job is finished (sent, or failed for good) its payload keeps only the recipient and the
//! subject: the bodies are replaced by [`REDACTED`] in the statement that marks the job done
//! ([`crate::jobs::JobHandler::finished_payload`]), so no usable link stays in `jobs.payload`.

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

/// What a finished job's bodies are replaced with.
pub const REDACTED: &str = "[redacted after delivery]";

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

    fn finished_payload(&self, payload: &Value) -> Option<Value> {
        let mut p = payload.clone();
        let obj = p.as_object_mut()?;
        obj.insert("text".into(), Value::String(REDACTED.into()));
        if obj.get("html").is_some_and(|h| !h.is_null()) {
            obj.insert("html".into(), Value::String(REDACTED.into()));
        }
        Some(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_payloads_keep_no_body() {
        let email = OutgoingEmail {
            to: "a@example.com".into(),
            to_name: None,
            from: None,
            reply_to: None,
            subject: "Verify".into(),
            text: "https://app/verify?token=SECRET".into(),
            html: Some("<a href=\"https://app/verify?token=SECRET\">".into()),
        };
        let payload = serde_json::to_value(&email).unwrap();
        let handler =
            SendMail(Mailer::new(None, std::env::temp_dir(), "a <a@example.com>").unwrap());
        let kept = handler.finished_payload(&payload).unwrap();
        assert!(!kept.to_string().contains("SECRET"), "{kept}");
        assert_eq!(kept["to"], "a@example.com");
        assert_eq!(kept["subject"], "Verify");
        // Still a valid payload.
        let _: OutgoingEmail = serde_json::from_value(kept).unwrap();
    }
}
