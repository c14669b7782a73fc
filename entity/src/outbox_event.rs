//! `outbox_events`: domain events written in the same transaction as the change they describe;
//! the relay publishes them to the bus and stamps `published_at`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_events")]
pub struct Model {
    /// Insert-order sequence.
    #[sea_orm(primary_key)]
    pub seq: i64,
    /// Public event id (UUID v7), used by clients to dedupe.
    #[sea_orm(unique)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Option<Uuid>,
    pub event_type: String,
    /// The full serialized event envelope.
    pub payload: Json,
    pub occurred_at: DateTimeUtc,
    pub published_at: Option<DateTimeUtc>,
    /// Publication order, gap-free across organizations; set by the relay; the replay cursor.
    pub position: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
