//! `ai_cache`: AI results by request hash when Redis is not configured.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_cache")]
pub struct Model {
    /// SHA-256 (hex) of provider, model, operation and prompt.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The cached result as JSON text.
    pub value: String,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
