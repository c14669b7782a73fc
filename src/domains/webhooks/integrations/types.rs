//! GraphQL types of integrations: the stored integration (never its credential), the status
//! list's entries, and the inputs.

use async_graphql::{Enum, InputObject, Json, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::integration;

/// What an integration talks to.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationKind {
    /// The organization's SMTP server (or the deployment's).
    Smtp,
    /// An n8n instance's public REST API.
    #[graphql(name = "N8N")]
    N8n,
    /// A Slack incoming webhook.
    Slack,
    /// Outgoing webhook endpoints.
    Webhooks,
}

crate::wire_enum!(IntegrationKind {
    Smtp => "SMTP",
    N8n => "N8N",
    Slack => "SLACK",
    Webhooks => "WEBHOOKS",
});

/// A stored integration (n8n or Slack). Its credential is never shown.
pub struct Integration(pub integration::Model);

/// An n8n connection or a Slack incoming webhook of the organization.
#[Object]
impl Integration {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// N8N or SLACK.
    async fn kind(&self) -> IntegrationKind {
        IntegrationKind::parse(&self.0.kind).unwrap_or(IntegrationKind::Slack)
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// n8n's base URL (null for Slack, whose URL is the secret).
    async fn base_url(&self) -> Option<&str> {
        self.0.base_url.as_deref()
    }
    /// Whether a credential is stored (always true; the credential itself is never returned).
    async fn secret_configured(&self) -> bool {
        !self.0.secret.is_empty()
    }
    /// The last call that succeeded.
    async fn last_success_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_success_at
    }
    /// Why the last failed call failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When the last call failed.
    async fn last_error_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_error_at
    }
    /// When `testIntegration` last called it.
    async fn last_tested_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_tested_at
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

/// One entry of `integrations`.
#[derive(SimpleObject, Debug, Clone)]
pub struct IntegrationStatus {
    /// What it talks to.
    pub kind: IntegrationKind,
    /// The stored integration (n8n, Slack); null for SMTP and webhooks.
    pub id: Option<ID>,
    /// Name.
    pub name: String,
    /// Whether it is set up.
    pub configured: bool,
    /// The last call that succeeded (SMTP: not tracked, null).
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why the last failed call failed.
    pub last_error: Option<String>,
}

/// The organization's n8n connection.
#[derive(InputObject, Debug, Clone)]
#[graphql(name = "ConfigureN8nInput")]
pub struct ConfigureN8nInput {
    /// The instance's base URL (`https://n8n.example.com`); `/api/v1/…` is appended.
    pub base_url: String,
    /// An n8n API key (sent as `X-N8N-API-KEY`; stored sealed, never returned).
    pub api_key: String,
}

/// A Slack incoming webhook.
#[derive(InputObject, Debug, Clone)]
pub struct CreateSlackIntegrationInput {
    /// Name (the channel it posts to, say).
    pub name: String,
    /// `https://hooks.slack.com/services/…` (stored sealed, never returned).
    pub webhook_url: String,
}

/// A message for a Slack integration.
#[derive(InputObject, Debug, Clone)]
pub struct SendSlackMessageInput {
    /// The Slack integration.
    pub integration_id: ID,
    /// Text (the notification fallback when `blocks` is given); at most 40,000 characters.
    pub text: Option<String>,
    /// Block Kit blocks (a JSON array of at most 50).
    pub blocks: Option<Json<serde_json::Value>>,
}

/// Slack's answer to `sendSlackMessage`.
#[derive(SimpleObject, Debug, Clone)]
pub struct SlackMessageResult {
    /// Slack answered `200 ok`.
    pub ok: bool,
    /// Slack's HTTP status.
    pub status_code: i32,
}

/// What `testIntegration`'s live call said.
#[derive(SimpleObject)]
pub struct IntegrationTestResult {
    /// The call succeeded (n8n listed workflows; Slack answered `ok`).
    pub ok: bool,
    /// The HTTP status of the answer (null when none came).
    pub status_code: Option<i32>,
    /// Why it failed (never containing the credential).
    pub error: Option<String>,
    /// The integration, with `lastTestedAt` and its outcome recorded.
    pub integration: Integration,
}

impl IntegrationTestResult {
    /// A result for `row`.
    pub fn new(
        row: integration::Model,
        ok: bool,
        status: Option<u16>,
        error: Option<String>,
    ) -> Self {
        Self {
            ok,
            status_code: status.map(i32::from),
            error,
            integration: Integration(row),
        }
    }
}
