//! `webhook_deliveries`: one event (or test send) for one endpoint: the exact body that is
//! signed, its status and the time of its next attempt.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub endpoint_id: Uuid,
    /// The outbox event; null for test sends.
    pub event_id: Option<Uuid>,
    /// The `webhook-id` header: the same on every attempt.
    pub message_id: String,
    /// Public event type name (`lead.created`).
    pub event_type: String,
    /// The JSON body exactly as signed and sent.
    pub body: String,
    /// `PENDING`, `SUCCEEDED`, `FAILED`.
    pub status: String,
    /// Attempts made.
    pub attempts: i32,
    pub next_attempt_at: Option<DateTimeUtc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
