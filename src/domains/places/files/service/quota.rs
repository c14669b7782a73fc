//! Storage quotas: `storage_usage` counts the bytes of an organization's stored objects (a
//! deduplicated object once, when its `file_blobs` row is made; given back when the row goes)
//! against its limit: its own `quota_bytes`, else `STORAGE_QUOTA_BYTES`.
//!
//! [`reserve`] charges an upload with one conditional `UPDATE … SET bytes_used = bytes_used +
//! size WHERE bytes_used + size <= COALESCE(quota_bytes, default)` in the transaction that
//! claims the blob, before any byte goes to storage: two concurrent uploads cannot both pass
//! the limit, and a refused one rolls its claim back (QUOTA_EXCEEDED with `used` and `limit`).

use entity::{file, storage_usage};
use sea_orm::{
    sea_query::{Expr, ExprTrait, Func, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use uuid::Uuid;

use super::scoped;
use crate::{
    auth::{Permission, Viewer},
    domains::places::files::types::StorageUsage,
    error::{AppError, AppResult},
    state::AppState,
};

/// The organization's row, made (with nothing used) when missing.
async fn ensure_row(conn: &impl ConnectionTrait, org: Uuid) -> AppResult<()> {
    storage_usage::Entity::insert(storage_usage::ActiveModel {
        org_id: Set(org),
        bytes_used: Set(0),
        quota_bytes: Set(None),
    })
    .on_conflict(
        OnConflict::column(storage_usage::Column::OrgId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Bytes used and the limit of `org` (`default_limit` unless it has its own).
pub async fn used_and_limit(
    conn: &impl ConnectionTrait,
    org: Uuid,
    default_limit: i64,
) -> AppResult<(i64, i64)> {
    let row = storage_usage::Entity::find_by_id(org).one(conn).await?;
    Ok(row.map_or((0, default_limit), |r| {
        (r.bytes_used, r.quota_bytes.unwrap_or(default_limit))
    }))
}

/// Charges `size` bytes to `org`; QUOTA_EXCEEDED (nothing charged) when that would pass its
/// limit.
pub async fn reserve(
    conn: &impl ConnectionTrait,
    org: Uuid,
    default_limit: i64,
    size: i64,
) -> AppResult<()> {
    ensure_row(conn, org).await?;
    let used = Expr::col(storage_usage::Column::BytesUsed);
    let limit = Func::coalesce([
        Expr::col(storage_usage::Column::QuotaBytes),
        Expr::val(default_limit),
    ]);
    let charged = storage_usage::Entity::update_many()
        .col_expr(storage_usage::Column::BytesUsed, used.clone().add(size))
        .filter(storage_usage::Column::OrgId.eq(org))
        .filter(used.add(size).lte(limit))
        .exec(conn)
        .await?;
    if charged.rows_affected == 1 {
        return Ok(());
    }
    let (used, limit) = used_and_limit(conn, org, default_limit).await?;
    Err(AppError::QuotaExceeded {
        message: format!(
            "storage quota exceeded: {used} of {limit} bytes used, the upload needs {size} more"
        ),
        used,
        limit,
    })
}

/// Gives back `size` bytes of `org` (an object no longer stored).
pub async fn refund(conn: &impl ConnectionTrait, org: Uuid, size: i64) -> AppResult<()> {
    let used = Expr::col(storage_usage::Column::BytesUsed);
    storage_usage::Entity::update_many()
        .col_expr(storage_usage::Column::BytesUsed, used.sub(size))
        .filter(storage_usage::Column::OrgId.eq(org))
        .exec(conn)
        .await?;
    Ok(())
}

/// `storageUsage`: the viewer's organization's bytes, limit and live files.
pub async fn usage(state: &AppState, viewer: &Viewer) -> AppResult<StorageUsage> {
    viewer.require(Permission::ReadFiles)?;
    let (bytes_used, limit_bytes) = used_and_limit(
        &state.db,
        viewer.org_id,
        state.config.places.storage_quota_bytes,
    )
    .await?;
    let file_count = scoped(viewer)
        .filter(file::Column::OrgId.eq(viewer.org_id))
        .count(&state.db)
        .await?;
    Ok(StorageUsage {
        bytes_used,
        limit_bytes,
        file_count: i64::try_from(file_count).unwrap_or(i64::MAX),
    })
}
