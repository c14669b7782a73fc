//! `incoming_hook_receipts`: `webhook-id`s an incoming hook accepted, kept for the replay window.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incoming_hook_receipts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub hook_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub message_id: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
