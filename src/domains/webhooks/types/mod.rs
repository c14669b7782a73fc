//! GraphQL types of outgoing webhooks: endpoints, deliveries with their attempts, test results
//! and statistics; schedules and incoming hooks in their own files. The signing secret is only ever shown by [`WebhookSecretPayload`].

use async_graphql::{Enum, InputObject, Json, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::{webhook_attempt, webhook_delivery, webhook_endpoint};

use crate::events::EventType;

mod incoming;
mod schedules;

pub use incoming::{
    CreateIncomingWebhookInput, IncomingWebhook, IncomingWebhookKind, IncomingWebhookSecretPayload,
};
pub use schedules::{
    CreateScheduleInput, Schedule, ScheduleAction, ScheduleRun, ScheduleStatus, UpdateScheduleInput,
};

/// A delivery's state.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookDeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Given up: a non-retryable answer, the retry schedule used up, or the endpoint disabled.
    Failed,
}

crate::wire_enum!(WebhookDeliveryStatus {
    Pending => "PENDING",
    Succeeded => "SUCCEEDED",
    Failed => "FAILED",
});

/// The event types an endpoint row stores (public names such as `lead.created`) as the enum.
pub fn stored_event_types(m: &webhook_endpoint::Model) -> Vec<EventType> {
    use async_graphql::resolver_utils::EnumType;
    let names: Vec<&str> = m
        .event_types
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    EventType::items()
        .iter()
        .map(|item| item.value)
        .filter(|t| names.contains(&t.type_name()))
        .collect()
}

/// A receiver of the organization's events, signed per the Standard Webhooks spec.
pub struct WebhookEndpoint(pub webhook_endpoint::Model);

/// An HTTPS (or HTTP) URL the organization's events are POSTed to.
#[Object]
impl WebhookEndpoint {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Where events are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }
    /// What it is for.
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// The event types it receives.
    async fn event_types(&self) -> Vec<EventType> {
        stored_event_types(&self.0)
    }
    /// Whether events are delivered to it.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// Whether deliveries go one at a time, in event order.
    async fn ordered(&self) -> bool {
        self.0.ordered
    }
    /// Why the server disabled it (5 days of failed deliveries, or 410 Gone).
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    /// The first failed attempt since the last success (null when healthy).
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since
    }
    /// Until when the secret before the last rotation still signs (a second signature).
    async fn previous_secret_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0
            .previous_secret_expires_at
            .filter(|at| *at > Utc::now())
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

impl From<webhook_endpoint::Model> for WebhookEndpoint {
    fn from(m: webhook_endpoint::Model) -> Self {
        WebhookEndpoint(m)
    }
}

/// An endpoint with its signing secret, shown this once (create, rotate).
#[derive(SimpleObject)]
pub struct WebhookSecretPayload {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`: the HMAC-SHA256 key is the base64-decoded part after the prefix.
    pub secret: String,
}

/// A new endpoint.
#[derive(InputObject, Debug, Clone)]
pub struct CreateWebhookEndpointInput {
    /// http(s) URL; private and loopback addresses are refused.
    pub url: String,
    /// What it is for (at most 500 characters).
    pub description: Option<String>,
    /// The event types it receives (at least one; `NOTIFICATION_NEW` is personal and not
    /// deliverable).
    pub event_types: Vec<EventType>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Deliver one at a time in event order (default false).
    pub ordered: Option<bool>,
}

/// Changes to an endpoint; absent fields stay.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateWebhookEndpointInput {
    /// http(s) URL.
    pub url: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// The event types it receives.
    pub event_types: Option<Vec<EventType>>,
    /// Whether events are delivered.
    pub enabled: Option<bool>,
    /// Deliver one at a time in event order.
    pub ordered: Option<bool>,
}

/// Filters of `webhookDeliveries`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct WebhookDeliveryFilter {
    /// Only deliveries in this state.
    pub status: Option<WebhookDeliveryStatus>,
    /// Only deliveries of this event type.
    pub event_type: Option<EventType>,
}

/// One event (or test send) for one endpoint, with its attempts.
pub struct WebhookDelivery {
    /// The row.
    pub row: webhook_delivery::Model,
    /// Its attempts, oldest first (loaded for the whole page at once).
    pub attempts: Vec<webhook_attempt::Model>,
}

/// One event sent (or to be sent) to one endpoint.
#[Object]
impl WebhookDelivery {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// The endpoint.
    async fn endpoint_id(&self) -> ID {
        ID(self.row.endpoint_id.to_string())
    }
    /// The event (null for test sends).
    async fn event_id(&self) -> Option<ID> {
        self.row.event_id.map(|id| ID(id.to_string()))
    }
    /// The `webhook-id` header, the same on every attempt (receivers dedupe by it).
    async fn message_id(&self) -> &str {
        &self.row.message_id
    }
    /// Public event type (`lead.created`).
    async fn event_type(&self) -> &str {
        &self.row.event_type
    }
    /// Its state.
    async fn status(&self) -> WebhookDeliveryStatus {
        WebhookDeliveryStatus::parse(&self.row.status).unwrap_or(WebhookDeliveryStatus::Failed)
    }
    /// The JSON body exactly as signed and sent.
    async fn request_body(&self) -> &str {
        &self.row.body
    }
    /// Attempts made.
    async fn attempt_count(&self) -> i32 {
        self.row.attempts
    }
    /// When the next attempt is due (PENDING only).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.row.next_attempt_at
    }
    /// The last answer's status code.
    async fn last_status_code(&self) -> Option<i32> {
        self.row.last_status_code
    }
    /// The last failure.
    async fn last_error(&self) -> Option<&str> {
        self.row.last_error.as_deref()
    }
    /// Every attempt, oldest first.
    async fn attempts(&self) -> Vec<WebhookAttempt> {
        self.attempts.iter().cloned().map(WebhookAttempt).collect()
    }
    /// When the event was queued for the endpoint.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// One HTTP attempt of a delivery.
pub struct WebhookAttempt(pub webhook_attempt::Model);

/// What was sent and what came back.
#[Object]
impl WebhookAttempt {
    /// 1-based attempt number.
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }
    /// The request headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`, …).
    async fn request_headers(&self) -> Json<serde_json::Value> {
        Json(self.0.request_headers.clone())
    }
    /// The response status (null when no response came).
    async fn response_status(&self) -> Option<i32> {
        self.0.response_status
    }
    /// The first kilobyte of the response body.
    async fn response_body_excerpt(&self) -> Option<&str> {
        self.0.response_body.as_deref()
    }
    /// Why there was no response (timeout, refused, …).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// Milliseconds from sending to the end of the response.
    async fn duration_ms(&self) -> i64 {
        self.0.duration_ms
    }
    /// When it was made.
    async fn attempted_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// The answer to `testWebhookEndpoint`.
#[derive(SimpleObject)]
pub struct WebhookTestResult {
    /// The endpoint answered 2xx.
    pub success: bool,
    /// Its status code (null when no response came).
    pub status_code: Option<i32>,
    /// The first kilobyte of its body.
    pub response_body: Option<String>,
    /// Why there was no response.
    pub error: Option<String>,
    /// Milliseconds.
    pub duration_ms: i64,
    /// The recorded delivery (also listed by `webhookDeliveries`).
    pub delivery: WebhookDelivery,
}

/// Delivery statistics of one endpoint.
#[derive(SimpleObject, Debug, Clone, Default)]
pub struct WebhookStats {
    /// Deliveries.
    pub total: i64,
    /// Succeeded.
    pub succeeded: i64,
    /// Failed for good.
    pub failed: i64,
    /// Waiting for an attempt.
    pub pending: i64,
    /// Succeeded / (succeeded + failed); null before any finished.
    pub success_rate: Option<f64>,
    /// HTTP attempts made.
    pub attempts: i64,
    /// Mean attempt duration in milliseconds; null before any attempt.
    pub average_duration_ms: Option<f64>,
    /// When the last successful delivery finished.
    pub last_success_at: Option<DateTime<Utc>>,
    /// When the last delivery failed for good.
    pub last_failure_at: Option<DateTime<Utc>>,
}
