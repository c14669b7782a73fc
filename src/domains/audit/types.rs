//! GraphQL objects and inputs of the audit log.

use async_graphql::{InputObject, Json, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::audit_log;

/// One recorded mutation.
#[derive(SimpleObject, Debug, Clone)]
pub struct AuditLog {
    /// Row id.
    pub id: ID,
    /// The mutation, e.g. `createApiKey`.
    pub action: String,
    /// `success` or the error code it failed with.
    pub outcome: String,
    /// Acting user (for API keys: the key's creator).
    pub actor_user_id: Option<ID>,
    /// Acting API key, when the request used one.
    pub actor_api_key_id: Option<ID>,
    /// Kind of object changed.
    pub resource_type: Option<String>,
    /// Id of the object changed.
    pub resource_id: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Request id (matches the server logs).
    pub request_id: Option<String>,
    /// `{field: {from, to}}` for updates.
    pub changes: Option<Json<serde_json::Value>>,
    /// When it happened.
    pub created_at: DateTime<Utc>,
}

impl From<audit_log::Model> for AuditLog {
    fn from(m: audit_log::Model) -> Self {
        AuditLog {
            id: ID(m.id.to_string()),
            action: m.action,
            outcome: m.outcome,
            actor_user_id: m.actor_user_id.map(|u| ID(u.to_string())),
            actor_api_key_id: m.actor_api_key_id.map(|u| ID(u.to_string())),
            resource_type: m.resource_type,
            resource_id: m.resource_id,
            ip: m.ip,
            user_agent: m.user_agent,
            request_id: m.request_id,
            changes: m.changes.map(Json),
            created_at: m.created_at,
        }
    }
}

/// Filters for `auditLogs` and `exportAuditLogs`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct AuditLogFilter {
    /// Only this mutation.
    pub action: Option<String>,
    /// Only this actor.
    pub actor_user_id: Option<ID>,
    /// Only this kind of object.
    pub resource_type: Option<String>,
    /// Only this object.
    pub resource_id: Option<String>,
    /// Only this outcome (`success` or an error code).
    pub outcome: Option<String>,
    /// At or after this time.
    pub created_after: Option<DateTime<Utc>>,
    /// Before this time.
    pub created_before: Option<DateTime<Utc>>,
}
