//! `webhook_receipts`: provider webhook events (or signed requests) already accepted, kept for
//! the freshness window so a replay is refused.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_receipts")]
pub struct Model {
    /// `sendgrid` | `mailgun` | `inbound`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub provider: String,
    /// The provider's event id or signature token, or a SHA-256 of the signed content.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_key: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
