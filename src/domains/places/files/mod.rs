//! Files: the organization's stored objects (avatars, imports, attachments) on object storage
//! (`platform::storage`: `DATA_DIR/files`, or an S3-compatible bucket with `STORAGE_URL`).
//!
//! **Upload** (`uploadFile(input: {kind, file})`, a GraphQL multipart request): `http::upload`
//! refuses an anonymous request (401) or one without an upload permission (403) before reading
//! the body, and spools the file part (≤ `MAX_UPLOAD_BYTES`, 413 past it). Then, before a byte
//! goes to storage: the name (directories and control characters removed), the kind's size
//! limit (AVATAR 5 MiB, ATTACHMENT 25 MiB, IMPORT and OTHER 50 MiB), and the content type
//! sniffed from the magic bytes (`infer`), which must be one the kind allows and agree with
//! the name's extension; executables are refused for every kind (all BAD_USER_INPUT on
//! `input.file`). `uploadFiles(input: {kind, files})` takes 1–10 files, all or nothing (errors
//! on `input.files.{i}`). **Dedupe**: an organization's identical bytes (same SHA-256) are
//! stored once, under `orgs/{org}/blobs/{sha256}/{blob}`, counted by `file_blobs` (race-free
//! through its unique key, `service/blob.rs`); then the rows and `file.uploaded` commit together.
//!
//! **Images** (`service/picture.rs`): AVATAR and LOGO uploads are decoded (bounded by
//! `image::Limits`: a decompression bomb is BAD_USER_INPUT), resized to the standard sizes and
//! re-encoded without metadata on the blocking pool; the file holds the largest size, the
//! others are its `file_variants` (deduplicated blobs too). Files implements identity's
//! `ImageFiles` ([`FileImages`], registered by `places::register`): the check behind
//! `updateMe(avatarFileId)` / `updateOrganization(logoFileId)` and the signed links of
//! `User.avatarUrl` / `Organization.logoUrl`.
//!
//! **Reads**: `files(filter: {kind, ownerId, createdAfter}, …)` pages newest first, `file(id)`
//! is null for another organization's id. `fileDownloadUrl(id, expiresInSeconds)` signs a link
//! served by `GET /files/{id}` ([`download`]: Range requests, `nosniff`, attachments except
//! raster images); another organization's file or a link that does not verify is 404.
//!
//! **Delete** (`deleteFile(id, force)`): the uploader, or MANAGER and up; CONFLICT while an
//! unfinished `importLeads(fileId)` job reads the file (asked of leads) or it is an avatar or
//! a logo (asked of identity), unless `force` (which clears the avatar or logo). The
//! row is marked deleted with `file.deleted`; the object is removed with its last reference.
//! **Quotas** (`service/quota.rs`): `storageUsage` (bytes used, limit, files); new bytes are
//! charged to `storage_usage` with one conditional UPDATE in the claiming transaction, before
//! storage (QUOTA_EXCEEDED with `used`/`limit`; duplicates free; the last delete gives back).
//! Roles: `ReadFiles` (VIEWER), `WriteFiles` (MEMBER), `DeleteFiles` (MANAGER). Files import no
//! other part of places; of other domains, only leads and identity (below places).

mod resolver;
pub mod service;
pub mod types;

pub use resolver::{FilesMutation, FilesQuery};
pub use service::images::FileImages;
pub use service::link::{download, signed_file_url};
pub use service::store::store_generated;
pub use service::{delete_generated, remove_objects};
pub use types::{FileKind, StorageUsage, StoredFile};
