//! `file_blobs`: one stored object per organization and content (SHA-256), shared by the
//! `files` rows with those bytes (`ref_count` of them). Owned by the places domain's `files`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "file_blobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// Lower-case hex SHA-256 of the bytes (unique per organization).
    pub sha256: String,
    /// The object's key in storage: `orgs/{org}/blobs/{sha256}/{id}`.
    pub storage_key: String,
    /// Bytes.
    pub size: i64,
    /// Live `files` rows using the object.
    pub ref_count: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
