//! Deduplication: an organization's identical bytes are stored once. Each distinct content
//! (organization, SHA-256) has one `file_blobs` row with the object's key and the number of
//! live files using it.
//!
//! - [`claim`] adds a reference in one `INSERT … ON CONFLICT (org_id, sha256) DO UPDATE SET
//!   ref_count = ref_count + 1` (the unique key decides, never a read-then-write), then reads
//!   the row back. The uploader claims *before* it writes the object and writes it unless it
//!   already exists (PUTs are atomic; two first uploads of the same bytes write the same bytes).
//! - [`release`] drops a reference in the deleting transaction and removes the row when it was
//!   the last; the caller removes the object after the commit. A claim waits on the release's
//!   row lock, so it either counts on the old row (which then survives) or makes a new row
//!   with a new key (the id is in the key), never the key being removed.
//! - Quotas ([`super::quota`]): a blob's bytes are charged when its row is made (in the
//!   claiming transaction, QUOTA_EXCEEDED past the limit) and given back when it is removed;
//!   another reference to stored bytes costs nothing.
//! - Files stored before deduplication (key `orgs/{org}/files/{id}`, no blob row) own their
//!   object: releasing one removes it.

use chrono::Utc;
use entity::file_blob;
use sea_orm::{
    sea_query::{Expr, ExprTrait, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use uuid::Uuid;

use super::quota;
use crate::error::{AppError, AppResult};

/// Read size when hashing a spooled upload.
const HASH_CHUNK: usize = 1024 * 1024;

/// The object key of a blob: by organization, content and the row that owns it.
fn blob_key(org: Uuid, sha256: &str, id: Uuid) -> String {
    format!("orgs/{}/blobs/{sha256}/{}", org.simple(), id.simple())
}

/// Lower-case hex SHA-256 of a spooled upload, read in 1 MiB chunks; rewinds it.
pub async fn sha256_of(source: &mut tokio::fs::File) -> AppResult<String> {
    use sha2::{Digest, Sha256};
    source
        .seek(std::io::SeekFrom::Start(0))
        .await
        .map_err(AppError::internal)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; HASH_CHUNK];
    loop {
        let n = source.read(&mut buf).await.map_err(AppError::internal)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    source
        .seek(std::io::SeekFrom::Start(0))
        .await
        .map_err(AppError::internal)?;
    Ok(hex::encode(hasher.finalize()))
}

/// Adds a reference to the organization's blob of `sha256` (a new row, and key, when there is
/// none: its bytes are then charged to the quota, `default_quota` unless the organization has
/// its own) and returns the row.
pub async fn claim(
    conn: &impl ConnectionTrait,
    org: Uuid,
    sha256: &str,
    size: i64,
    default_quota: i64,
) -> AppResult<file_blob::Model> {
    let id = Uuid::now_v7();
    file_blob::Entity::insert(file_blob::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        sha256: Set(sha256.to_string()),
        storage_key: Set(blob_key(org, sha256, id)),
        size: Set(size),
        ref_count: Set(1),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([file_blob::Column::OrgId, file_blob::Column::Sha256])
            .value(
                file_blob::Column::RefCount,
                Expr::col((file_blob::Entity, file_blob::Column::RefCount)).add(1),
            )
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    let row = file_blob::Entity::find()
        .filter(file_blob::Column::OrgId.eq(org))
        .filter(file_blob::Column::Sha256.eq(sha256))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::internal("a claimed blob row is missing"))?;
    if row.id == id {
        quota::reserve(conn, org, default_quota, size).await?;
    }
    Ok(row)
}

/// Drops one reference to the object under `key` (of content `sha256`, `size` bytes). Returns
/// the key when nothing uses the object any more (its bytes are then given back to the quota):
/// the caller removes it after committing.
pub async fn release(
    conn: &impl ConnectionTrait,
    org: Uuid,
    sha256: &str,
    key: &str,
    size: i64,
) -> AppResult<Option<String>> {
    let scope = |q: sea_orm::Condition| {
        q.add(file_blob::Column::OrgId.eq(org))
            .add(file_blob::Column::Sha256.eq(sha256))
            .add(file_blob::Column::StorageKey.eq(key))
    };
    let counted = file_blob::Entity::update_many()
        .col_expr(
            file_blob::Column::RefCount,
            Expr::col(file_blob::Column::RefCount).sub(1),
        )
        .filter(scope(sea_orm::Condition::all()))
        .exec(conn)
        .await?;
    if counted.rows_affected == 0 {
        // Stored before deduplication: the file owns its object.
        quota::refund(conn, org, size).await?;
        return Ok(Some(key.to_string()));
    }
    let removed = file_blob::Entity::delete_many()
        .filter(scope(sea_orm::Condition::all()))
        .filter(file_blob::Column::RefCount.lte(0))
        .exec(conn)
        .await?;
    if removed.rows_affected == 0 {
        return Ok(None);
    }
    quota::refund(conn, org, size).await?;
    Ok(Some(key.to_string()))
}
