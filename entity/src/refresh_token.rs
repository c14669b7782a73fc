//! `refresh_tokens`: rotating refresh tokens; one family per login session.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The session (login) this token belongs to.
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub org_id: Uuid,
    /// SHA-256 hex of the opaque token.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// Set when rotated: presenting this token again is reuse.
    pub replaced_by: Option<Uuid>,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
