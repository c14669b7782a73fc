//! `webhook_endpoints`: an organization's outgoing webhook receivers, the event types each one
//! takes and its signing secret (sealed; the previous one too, for 24 h after a rotation).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// http(s) URL, checked by the SSRF guard when saved and again on every request.
    pub url: String,
    pub description: String,
    /// Public event type names (`["lead.created", …]`).
    pub event_types: Json,
    pub enabled: bool,
    /// Deliver in event order (one at a time).
    pub ordered: bool,
    /// `whsec_…`, sealed by the secrets box.
    pub secret: String,
    /// The secret before the last rotation, sealed; signs too until `previous_secret_expires_at`.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    /// First failed attempt since the last success; 5 days of failures disable the endpoint.
    pub failing_since: Option<DateTimeUtc>,
    /// Why the server disabled it (null when enabled or disabled by a person).
    pub disabled_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
