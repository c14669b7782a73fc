//! Delivery: the `webhook.deliver` job makes one HTTP attempt of one delivery and records it.
//!
//! - **Request**: POST of the stored body through the SSRF-guarded client ([`client`]: 10 s
//!   timeout, response body capped at 64 KiB, no redirects) with `webhook-id`,
//!   `webhook-timestamp` (now, seconds) and `webhook-signature` (one `v1,…` per signing secret).
//! - **Outcome**: 2xx succeeds. 408, 409, 425, 429, 5xx, timeouts and connection failures are
//!   retried after the configured schedule (`WEBHOOK_RETRY_SCHEDULE_MS`, about 24 h by
//!   default) plus up to 20 % jitter, and never sooner than `Retry-After`; the next attempt is a
//!   new job enqueued in the transaction that records this one. Any other answer fails the
//!   delivery for good (410 Gone also disables the endpoint).
//! - **Fencing**: a job carries the attempt number it makes; the record is an update guarded on
//!   the delivery still being PENDING with one attempt fewer, so a job run twice (a crash after
//!   the request) records once.
//! - **Ordering**: on an `ordered` endpoint an attempt waits while an older delivery of the
//!   endpoint is PENDING (it re-enqueues itself at that delivery's next attempt).
//! - **Health**: an endpoint whose failures have lasted `WEBHOOK_DISABLE_AFTER_SECS` (5 days)
//!   since its last success is disabled and its creator notified.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use entity::{webhook_attempt, webhook_delivery, webhook_endpoint};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{endpoints, signing};
use crate::{
    config::Config,
    domains::{
        notifications::{deliver as notify, types::NotificationType, NewNotification},
        webhooks::types::WebhookDeliveryStatus as Status,
    },
    error::{AppError, AppResult},
    jobs::{queue, JobContext, JobError, JobHandler, NewJob},
    platform::{
        backoff,
        outbound::{OutboundClient, OutboundConfig, OutboundError},
    },
    state::{AppState, Wakes},
};

/// Job kind.
pub const KIND: &str = "webhook.deliver";
/// Longest wait for an endpoint's answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response body read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Characters of the response body kept with the attempt.
const EXCERPT_CHARS: usize = 1024;
/// Longest wait `Retry-After` can ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    delivery_id: Uuid,
    attempt: i32,
}

/// Enqueues attempt `attempt` of delivery `id`, due at `at`, in `conn` (the caller's
/// transaction). The jobs carry no organization: they are not the organization's jobs to list,
/// and their `job.updated` events would feed webhooks back into themselves.
pub async fn enqueue(
    conn: &impl ConnectionTrait,
    id: Uuid,
    attempt: i32,
    at: DateTime<Utc>,
) -> AppResult<()> {
    let payload = serde_json::to_value(Payload {
        delivery_id: id,
        attempt,
    })?;
    queue::enqueue(
        conn,
        NewJob {
            max_attempts: 3,
            run_at_ms: Some(at.timestamp_millis()),
            ..NewJob::new(KIND, payload)
        },
    )
    .await?;
    Ok(())
}

/// The SSRF-guarded client of webhook requests (the deployment's outbound allow-list).
pub fn client(config: &Config) -> Result<OutboundClient, OutboundError> {
    OutboundClient::new(OutboundConfig {
        allow_private_networks: config.outbound_allow_private_networks,
        allowed_hosts: config.outbound_allow_hosts.clone(),
        timeout: TIMEOUT,
        max_body_bytes: MAX_RESPONSE_BYTES,
        max_redirects: 0,
        ..OutboundConfig::default()
    })
}

/// The delay before the attempt after attempt `made` (1-based), or `None` when the schedule is
/// used up: the schedule's entry plus up to 20 % jitter, at least `retry_after`.
pub fn retry_delay(
    schedule: &[Duration],
    made: i32,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *schedule.get(usize::try_from(made.checked_sub(1)?).ok()?)?;
    let jitter = base.mul_f64(rand::random_range(0.0..0.2));
    Some((base + jitter).max(retry_after.unwrap_or_default()))
}

/// Whether an answer with `status` is worth another attempt.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 425 | 429 | 500..=599)
}

/// What one HTTP attempt gave.
pub struct Sent {
    /// The request headers as sent.
    pub headers: Value,
    /// The response status.
    pub status: Option<u16>,
    /// The start of the response body.
    pub excerpt: Option<String>,
    /// Why no response came.
    pub error: Option<String>,
    /// Whether a failure without a response is worth another attempt.
    pub transient: bool,
    /// `Retry-After`.
    pub retry_after: Option<Duration>,
    /// Milliseconds.
    pub duration_ms: i64,
}

impl Sent {
    /// 2xx.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// Worth another attempt.
    pub fn retryable(&self) -> bool {
        match self.status {
            Some(s) => retryable_status(s),
            None => self.transient,
        }
    }

    fn failure(headers: Value, error: String, transient: bool, started: Instant) -> Sent {
        Sent {
            headers,
            status: None,
            excerpt: None,
            error: Some(error),
            transient,
            retry_after: None,
            duration_ms: elapsed_ms(started),
        }
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// POSTs `d`'s body to `ep`, signed with `secrets`.
pub async fn send(
    client: &OutboundClient,
    secrets: &[String],
    ep: &webhook_endpoint::Model,
    d: &webhook_delivery::Model,
) -> Sent {
    let ts = Utc::now().timestamp();
    let signature = signing::signature_header(secrets, &d.message_id, ts, d.body.as_bytes());
    let pairs = [
        ("content-type", "application/json".to_string()),
        ("webhook-id", d.message_id.clone()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", signature),
    ];
    let headers = Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
            .collect(),
    );
    let started = Instant::now();
    let mut request = match client.request(reqwest::Method::POST, &ep.url) {
        Ok(r) => r,
        Err(e) => return Sent::failure(headers, e.to_string(), false, started),
    };
    for (k, v) in &pairs {
        request = request.header(*k, v.as_str());
    }
    let request = request.body(d.body.clone());
    let small = |_: u16, h: &http::HeaderMap| {
        h.get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            .is_none_or(|n| n <= MAX_RESPONSE_BYTES)
    };
    match client.execute_if(request, small).await {
        Ok((r, _)) => Sent {
            headers,
            status: Some(r.status),
            excerpt: Some(r.text_lossy().chars().take(EXCERPT_CHARS).collect()),
            error: None,
            transient: false,
            retry_after: backoff::retry_after_within(&r.headers, MAX_RETRY_AFTER),
            duration_ms: elapsed_ms(started),
        },
        Err(e) => {
            let transient = matches!(
                e,
                OutboundError::Timeout
                    | OutboundError::Http(_)
                    | OutboundError::Unresolvable { .. }
            );
            Sent::failure(headers, e.to_string(), transient, started)
        }
    }
}

/// Runs `webhook.deliver` jobs.
pub struct DeliverWebhook {
    state: AppState,
    client: OutboundClient,
}

impl DeliverWebhook {
    /// The handler, with its own client ([`client`]; the shared guarded client if that fails).
    pub fn new(state: AppState) -> Self {
        let client = client(&state.config).unwrap_or_else(|e| {
            tracing::error!(error = %e, "webhook client; using the shared outbound client");
            state.http.clone()
        });
        DeliverWebhook { state, client }
    }
}

#[async_trait]
impl JobHandler for DeliverWebhook {
    async fn run(&self, ctx: &JobContext) -> Result<Value, JobError> {
        let p: Payload = serde_json::from_value(ctx.job.payload.clone())
            .map_err(|e| JobError::Permanent(format!("bad payload: {e}")))?;
        attempt(&self.state, &self.client, p.delivery_id, p.attempt)
            .await
            .map_err(|e| JobError::Retryable(format!("{e:?}")))
    }
}

/// Makes attempt `n` of delivery `id` unless it was made already or the delivery is settled.
async fn attempt(state: &AppState, client: &OutboundClient, id: Uuid, n: i32) -> AppResult<Value> {
    let Some(d) = webhook_delivery::Entity::find_by_id(id)
        .one(&state.db)
        .await?
    else {
        return Ok(json!({"skipped": "no such delivery"}));
    };
    if d.status != Status::Pending.as_str() || d.attempts != n - 1 {
        return Ok(json!({"skipped": "already attempted"}));
    }
    let Some(ep) = webhook_endpoint::Entity::find_by_id(d.endpoint_id)
        .one(&state.db)
        .await?
    else {
        return Ok(json!({"skipped": "no such endpoint"}));
    };
    if !ep.enabled {
        give_up(state, &d, "the endpoint is disabled").await?;
        return Ok(json!({"skipped": "endpoint disabled"}));
    }
    if ep.ordered {
        if let Some(head) = older_pending(&state.db, &d).await? {
            let at = head
                .next_attempt_at
                .unwrap_or_else(Utc::now)
                .max(Utc::now())
                + chrono::Duration::milliseconds(250);
            enqueue(&state.db, d.id, n, at).await?;
            return Ok(json!({"waiting": head.id}));
        }
    }
    let secrets = endpoints::signing_secrets(&state.secrets, &ep, Utc::now())?;
    let sent = send(client, &secrets, &ep, &d).await;
    let recorded = record(state, &ep, &d, n, &sent, true).await?;
    Ok(json!({"status": sent.status, "recorded": recorded.is_some()}))
}

/// The oldest PENDING event delivery of `d`'s endpoint created before it.
async fn older_pending(
    conn: &impl ConnectionTrait,
    d: &webhook_delivery::Model,
) -> AppResult<Option<webhook_delivery::Model>> {
    Ok(webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(d.endpoint_id))
        .filter(webhook_delivery::Column::Status.eq(Status::Pending.as_str()))
        .filter(webhook_delivery::Column::EventId.is_not_null())
        .filter(webhook_delivery::Column::Id.lt(d.id))
        .order_by_asc(webhook_delivery::Column::Id)
        .one(conn)
        .await?)
}

/// Fails a PENDING delivery without an attempt.
async fn give_up(state: &AppState, d: &webhook_delivery::Model, why: &str) -> AppResult<()> {
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(Status::Failed.as_str()),
        )
        .col_expr(webhook_delivery::Column::LastError, Expr::value(why))
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(webhook_delivery::Column::Id.eq(d.id))
        .filter(webhook_delivery::Column::Status.eq(Status::Pending.as_str()))
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Records attempt `n` of `d` (fenced: `None` when another run recorded it first) and, for a
/// `live` delivery (not a test send), schedules the next attempt when the outcome allows and
/// updates the endpoint's health, all in one transaction.
pub async fn record(
    state: &AppState,
    ep: &webhook_endpoint::Model,
    d: &webhook_delivery::Model,
    n: i32,
    sent: &Sent,
    live: bool,
) -> AppResult<Option<webhook_delivery::Model>> {
    let now = Utc::now();
    let delay = (live && !sent.success() && sent.retryable())
        .then(|| retry_delay(&state.config.webhooks.retry_schedule, n, sent.retry_after))
        .flatten();
    let next = delay.map(|d| now + chrono::Duration::from_std(d).unwrap_or_default());
    let status = match (sent.success(), next) {
        (true, _) => Status::Succeeded,
        (false, Some(_)) => Status::Pending,
        (false, None) => Status::Failed,
    };
    let txn = state.db.begin().await?;
    let updated = webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::Status,
            Expr::value(status.as_str()),
        )
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(n))
        .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
        .col_expr(
            webhook_delivery::Column::LastStatusCode,
            Expr::value(sent.status.map(i32::from)),
        )
        .col_expr(
            webhook_delivery::Column::LastError,
            Expr::value(last_error(sent)),
        )
        .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_delivery::Column::Id.eq(d.id))
        .filter(webhook_delivery::Column::Status.eq(Status::Pending.as_str()))
        .filter(webhook_delivery::Column::Attempts.eq(n - 1))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    insert_attempt(&txn, d, n, sent, now).await?;
    if let Some(at) = next {
        enqueue(&txn, d.id, n + 1, at).await?;
    }
    if live {
        health(&txn, &state.config, ep, sent, now).await?;
    }
    let fresh = webhook_delivery::Entity::find_by_id(d.id).one(&txn).await?;
    state
        .commit(txn, Wakes::Jobs)
        .await
        .map_err(AppError::from)?;
    Ok(fresh)
}

/// The delivery's `lastError`: the transport error, or the non-2xx status.
fn last_error(sent: &Sent) -> Option<String> {
    match (sent.status, &sent.error) {
        (_, Some(e)) => Some(e.clone()),
        (Some(s), None) if !(200..300).contains(&s) => Some(format!("the endpoint answered {s}")),
        _ => None,
    }
}

async fn insert_attempt(
    conn: &impl ConnectionTrait,
    d: &webhook_delivery::Model,
    n: i32,
    sent: &Sent,
    now: DateTime<Utc>,
) -> AppResult<()> {
    webhook_attempt::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(d.org_id),
        delivery_id: Set(d.id),
        attempt: Set(n),
        request_headers: Set(sent.headers.clone()),
        response_status: Set(sent.status.map(i32::from)),
        response_body: Set(sent.excerpt.clone()),
        error: Set(sent.error.clone()),
        duration_ms: Set(sent.duration_ms),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// A success ends the endpoint's failure streak; a failure starts one, and disables the
/// endpoint (and notifies its creator) once it has lasted `webhooks.disable_after`, or at once
/// on 410 Gone.
async fn health(
    conn: &impl ConnectionTrait,
    config: &Config,
    ep: &webhook_endpoint::Model,
    sent: &Sent,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let col = webhook_endpoint::Column::FailingSince;
    let mut update =
        webhook_endpoint::Entity::update_many().filter(webhook_endpoint::Column::Id.eq(ep.id));
    if sent.success() {
        if ep.failing_since.is_none() {
            return Ok(());
        }
        update = update.col_expr(col, Expr::value(Option::<DateTime<Utc>>::None));
        update.exec(conn).await?;
        return Ok(());
    }
    let since = ep.failing_since.unwrap_or(now);
    let limit = chrono::Duration::from_std(config.webhooks.disable_after).unwrap_or_default();
    let reason = if sent.status == Some(410) {
        Some("the endpoint answered 410 Gone".to_string())
    } else if now - since >= limit {
        Some(format!("deliveries failed since {}", since.to_rfc3339()))
    } else {
        None
    };
    update = update.col_expr(col, Expr::value(Some(since)));
    if let Some(reason) = &reason {
        update = update
            .col_expr(webhook_endpoint::Column::Enabled, Expr::value(false))
            .col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value(reason.as_str()),
            )
            .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now));
    }
    update.exec(conn).await?;
    match (reason, ep.created_by) {
        (Some(reason), Some(owner)) if ep.enabled => {
            disabled_notice(conn, ep, &reason, owner).await
        }
        _ => Ok(()),
    }
}

/// Tells the endpoint's creator that it was disabled.
async fn disabled_notice(
    conn: &impl ConnectionTrait,
    ep: &webhook_endpoint::Model,
    reason: &str,
    owner: Uuid,
) -> AppResult<()> {
    let n = NewNotification {
        org_id: ep.org_id,
        notification_type: NotificationType::JobFailed,
        title: "Webhook endpoint disabled".to_string(),
        body: format!("{} was disabled: {reason}.", ep.url),
        link: None,
        resource: Some(("webhook_endpoint", ep.id.to_string())),
    };
    notify(conn, &n, &[owner]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_schedule_grows_with_jitter_honours_retry_after_and_ends() {
        let s = [Duration::from_secs(5), Duration::from_secs(300)];
        let first = retry_delay(&s, 1, None).unwrap();
        assert!(first >= s[0] && first <= s[0].mul_f64(1.2), "{first:?}");
        let second = retry_delay(&s, 2, None).unwrap();
        assert!(second >= s[1] && second <= s[1].mul_f64(1.2), "{second:?}");
        let later = Duration::from_secs(3600);
        assert_eq!(retry_delay(&s, 1, Some(later)), Some(later));
        assert_eq!(retry_delay(&s, 3, None), None);
        assert_eq!(retry_delay(&s, 0, None), None);
    }

    #[test]
    fn only_timeouts_conflicts_throttles_and_server_errors_are_retried() {
        for s in [408, 409, 425, 429, 500, 502, 503, 504] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [300, 301, 400, 401, 403, 404, 410, 413, 422] {
            assert!(!retryable_status(s), "{s}");
        }
    }
}
