//! GraphQL types of incoming lead hooks.

use async_graphql::{Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::incoming_hook;

/// What requests to an incoming hook do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncomingWebhookKind {
    /// Each request creates or merges a lead.
    #[default]
    LeadCreated,
    /// Each request reports a workflow execution finished (n8n's completion callback).
    WorkflowComplete,
}

crate::wire_enum!(IncomingWebhookKind {
    LeadCreated => "LEAD_CREATED",
    WorkflowComplete => "WORKFLOW_COMPLETE",
});

/// An incoming hook with the public base URL its address is built on.
pub struct IncomingWebhook {
    /// The row.
    pub row: incoming_hook::Model,
    /// `PUBLIC_URL` of the deployment.
    pub base_url: String,
}

/// A URL partners (forms, Zapier, n8n) POST leads to, signed per the Standard Webhooks spec.
#[Object]
impl IncomingWebhook {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// Name (recorded in the leads' provenance).
    async fn name(&self) -> &str {
        &self.row.name
    }
    /// What its requests do.
    async fn kind(&self) -> IncomingWebhookKind {
        IncomingWebhookKind::parse(&self.row.kind).unwrap_or_default()
    }
    /// Where to POST: `{PUBLIC_URL}/hooks/in/{id}`.
    async fn url(&self) -> String {
        format!(
            "{}/hooks/in/{}",
            self.base_url.trim_end_matches('/'),
            self.row.id
        )
    }
    /// Tags added to every lead it brings in.
    async fn default_tags(&self) -> Vec<String> {
        self.row
            .default_tags
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Whether requests are accepted.
    async fn enabled(&self) -> bool {
        self.row.enabled
    }
    /// The last accepted request.
    async fn last_received_at(&self) -> Option<DateTime<Utc>> {
        self.row.last_received_at
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }
}

/// An incoming hook with its signing secret, shown this once.
#[derive(SimpleObject)]
pub struct IncomingWebhookSecretPayload {
    /// The hook.
    pub hook: IncomingWebhook,
    /// `whsec_…`: sign requests with it (Standard Webhooks).
    pub secret: String,
}

/// A new incoming hook.
#[derive(InputObject, Debug, Clone)]
pub struct CreateIncomingWebhookInput {
    /// Name (at most 200 characters).
    pub name: String,
    /// What its requests do (LEAD_CREATED when left out).
    pub kind: Option<IncomingWebhookKind>,
    /// Tags added to every lead it brings in.
    pub default_tags: Option<Vec<String>>,
}
