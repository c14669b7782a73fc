//! `storage_usage`: bytes an organization has stored (deduplicated objects count once) and its
//! optional quota override (null: `STORAGE_QUOTA_BYTES`). Owned by the places domain's `files`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "storage_usage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    /// Bytes of the organization's stored objects.
    pub bytes_used: i64,
    /// The organization's limit in bytes; null: the deployment's default.
    pub quota_bytes: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
