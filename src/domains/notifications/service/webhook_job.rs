//! The WEBHOOK channel: `notification.webhook` jobs POST `{"text": "…"}` (the body of a Slack
//! incoming webhook) to the recipient's configured URL through the SSRF-guarded client. Network
//! failures, 408, 429 and 5xx are retried with the queue's backoff; other answers fail the job.
//!
//! The payload names the recipient and type, not the URL: the URL is read when the job runs, so
//! turning the preference off (or changing the URL) also stops retries to the old address. The
//! jobs carry no organization, like `mail.send`: they hold a user's private message and must not
//! show up in the organization's job list (nor notify anybody when they fail).

use async_trait::async_trait;
use entity::notification_preference;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::domains::notifications::types::{NotificationChannel, NotificationType};
use crate::{
    error::AppResult,
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    platform::{
        outbound::{OutboundClient, OutboundError},
        secrets_box::SecretsBox,
    },
};

/// Job kind.
pub const KIND: &str = "notification.webhook";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    org_id: Uuid,
    user_id: Uuid,
    #[serde(rename = "type")]
    notification_type: String,
    text: String,
}

/// Enqueues a post of `text` to `user_id`'s webhook for `notification_type`, using `conn` (the
/// caller's transaction).
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    user_id: Uuid,
    notification_type: NotificationType,
    text: &str,
) -> AppResult<()> {
    let payload = Payload {
        org_id,
        user_id,
        notification_type: notification_type.as_str().to_string(),
        text: text.to_string(),
    };
    queue::enqueue(
        conn,
        NewJob {
            max_attempts: 5,
            ..NewJob::new(KIND, serde_json::to_value(&payload)?)
        },
    )
    .await?;
    Ok(())
}

/// Slack's message escaping: `&`, `<` and `>` are control characters in its text format.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Posts queued webhook notifications (the URL is stored encrypted; the box opens it).
pub struct PostWebhook(pub OutboundClient, pub std::sync::Arc<SecretsBox>);

#[async_trait]
impl JobHandler for PostWebhook {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p: Payload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        let pref = notification_preference::Entity::find()
            .filter(notification_preference::Column::OrgId.eq(p.org_id))
            .filter(notification_preference::Column::UserId.eq(p.user_id))
            .filter(notification_preference::Column::NotificationType.eq(p.notification_type))
            .filter(
                notification_preference::Column::Channel.eq(NotificationChannel::Webhook.as_str()),
            )
            .one(&ctx.db)
            .await
            .map_err(|e| JobError::Retryable(e.to_string()))?;
        let Some(pref) = pref.filter(|p| p.enabled && p.webhook_url.is_some()) else {
            return Ok(json!({"skipped": "the webhook preference is off"}));
        };
        let Some(url) = super::preferences::open_webhook_url(&self.1, &pref)
            .map_err(|e| JobError::Permanent(format!("webhook URL: {e}")))?
        else {
            return Ok(json!({"skipped": "the webhook preference is off"}));
        };
        let request = self
            .0
            .request(reqwest::Method::POST, &url)
            .map_err(|e| JobError::Permanent(e.to_string()))?
            .json(&json!({ "text": slack_escape(&p.text) }));
        let response = self.0.execute(request).await.map_err(|e| match e {
            OutboundError::Timeout
            | OutboundError::Http(_)
            | OutboundError::Unresolvable { .. } => JobError::Retryable(e.to_string()),
            other => JobError::Permanent(other.to_string()),
        })?;
        match response.status {
            200..=299 => Ok(json!({"status": response.status})),
            408 | 429 | 500..=599 => Err(JobError::Retryable(format!(
                "webhook answered {}",
                response.status
            ))),
            s => Err(JobError::Permanent(format!("webhook answered {s}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_slack_control_characters() {
        assert_eq!(slack_escape("a < b & c > d"), "a &lt; b &amp; c &gt; d");
        assert_eq!(slack_escape("plain"), "plain");
    }
}
