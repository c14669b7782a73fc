//! GraphQL types of files: the `File` object, its kind, the upload inputs and the list filter.

use async_graphql::{Enum, InputObject, SimpleObject, Upload, ID};
use chrono::{DateTime, Utc};
use entity::file;

/// What a file is for; decides its size limit and the types it may have.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A profile picture: PNG, JPEG, GIF or WebP, at most 5 MiB. Stored re-encoded without
    /// metadata as a 256 × 256 square (and a 64 × 64 one), never as uploaded.
    Avatar,
    /// An organization's logo: PNG, JPEG, GIF or WebP, at most 5 MiB. Stored re-encoded
    /// without metadata, fitted within 512 × 512.
    Logo,
    /// Data to import: CSV, TSV, JSON, plain text or XLSX, at most 50 MiB.
    Import,
    /// A document attached to something: images, PDF, Office documents, ZIP or plain text, at
    /// most 25 MiB.
    Attachment,
    /// Anything else except executables, at most 50 MiB.
    Other,
}
crate::wire_enum!(FileKind { Avatar => "AVATAR", Logo => "LOGO", Import => "IMPORT", Attachment => "ATTACHMENT", Other => "OTHER" });

/// A file stored for the organization. Its bytes are fetched through `fileDownloadUrl`.
#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "File")]
pub struct StoredFile {
    /// File id.
    pub id: ID,
    /// What it is for.
    pub kind: FileKind,
    /// The file name as uploaded (directories removed).
    pub name: String,
    /// The content type found in the bytes (not the one the client declared).
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// The uploader's user id.
    pub owner_id: ID,
    /// Uploaded.
    pub created_at: DateTime<Utc>,
}

impl From<file::Model> for StoredFile {
    fn from(m: file::Model) -> Self {
        StoredFile {
            id: ID(m.id.to_string()),
            kind: FileKind::parse(&m.kind).unwrap_or(FileKind::Other),
            name: m.name,
            content_type: m.content_type,
            size: m.size,
            sha256: m.sha256,
            owner_id: ID(m.owner_id.to_string()),
            created_at: m.created_at,
        }
    }
}

/// Input of `uploadFile` (a GraphQL multipart request).
#[derive(InputObject)]
pub struct UploadFileInput {
    /// What the file is for.
    pub kind: FileKind,
    /// The file; its bytes must be of a type the kind allows, and agree with its name's
    /// extension.
    pub file: Upload,
}

/// Filters for `files`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct FileFilter {
    /// Only files of this kind.
    pub kind: Option<FileKind>,
    /// Only files uploaded by this user.
    pub owner_id: Option<ID>,
    /// Only files uploaded at or after this time.
    pub created_after: Option<DateTime<Utc>>,
}

/// Input of `uploadFiles` (a GraphQL multipart request).
#[derive(InputObject)]
pub struct UploadFilesInput {
    /// What the files are for (all of them).
    pub kind: FileKind,
    /// 1 to 10 files; each must pass the checks `uploadFile` makes.
    pub files: Vec<Upload>,
}

/// The organization's stored bytes against its limit.
#[derive(SimpleObject, Debug, Clone)]
pub struct StorageUsage {
    /// Bytes stored: identical files count once (their bytes are stored once).
    pub bytes_used: i64,
    /// Bytes the organization may store; an upload past it fails with QUOTA_EXCEEDED.
    pub limit_bytes: i64,
    /// Files of the organization (not deleted).
    pub file_count: i64,
}
