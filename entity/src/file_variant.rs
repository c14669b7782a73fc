//! `file_variants`: the extra standard sizes of an image file (the 64 px avatar), one row per
//! (file, size), each on a deduplicated `file_blobs` object. Owned by the places domain's `files`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "file_variants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub file_id: Uuid,
    pub org_id: Uuid,
    /// The standard size it was made for (the longer side's bound, in pixels).
    pub size_px: i32,
    pub width: i32,
    pub height: i32,
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Lower-case hex SHA-256 of the bytes (its `file_blobs` row).
    pub sha256: String,
    pub storage_key: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
