//! `files`: an organization's stored objects (avatars, imports, attachments), owned by the
//! places domain's `files` sub-domain. The bytes live in object storage under `storage_key`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// The uploader.
    pub owner_id: Uuid,
    /// `AVATAR`, `IMPORT`, `ATTACHMENT` or `OTHER`.
    pub kind: String,
    /// The file name as uploaded (cleaned).
    pub name: String,
    /// The content type sniffed from the bytes (or from the extension for plain text).
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// The object's key in storage (`platform::storage`).
    pub storage_key: String,
    pub created_at: DateTimeUtc,
    /// Set when the file was deleted (its object is gone; reads treat it as missing).
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
