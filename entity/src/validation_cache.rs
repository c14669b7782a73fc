//! `validation_cache`: what contact validation found about an email domain (its MX answer),
//! reused by every instance until `expires_at`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "validation_cache")]
pub struct Model {
    /// `mx:<ascii domain>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The answer (JSON, shaped by the enrichment domain).
    pub answer: Json,
    pub checked_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
