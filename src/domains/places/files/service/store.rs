//! Uploading: every check on the spooled uploads first, then the bytes to storage (once per
//! distinct content, [`super::blob`]), then the rows and their `file.uploaded` events in one
//! transaction. `uploadFile` stores one file; `uploadFiles` up to [`MAX_BATCH`], all or nothing:
//! one refused file refuses the call before a byte is stored (its error names
//! `input.files.{index}`), and a storage or database failure stores none of them.

use async_graphql::UploadValue;
use chrono::Utc;
use entity::file;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, TransactionTrait};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use uuid::Uuid;

use super::{blob, clean_name, record, sniff, storage_error};
use crate::{
    auth::{Permission, Viewer},
    domains::places::files::types::FileKind,
    error::{AppError, AppResult},
    state::{AppState, Wakes},
};

/// Most files one `uploadFiles` call takes.
pub const MAX_BATCH: usize = 10;

/// An upload that passed every check, with its content's digest.
struct Checked {
    name: String,
    content_type: String,
    source: tokio::fs::File,
    size: u64,
    sha256: String,
}

/// The checks that run before a byte goes to storage: the name, the kind's size limit and the
/// content sniffed against the kind and the extension (BAD_USER_INPUT on `field`).
async fn check(kind: FileKind, upload: UploadValue, field: &str) -> AppResult<Checked> {
    let on_field = |e: AppError| match e {
        AppError::BadUserInput { fields, .. } => AppError::invalid(
            field,
            fields
                .into_iter()
                .map(|f| f.message)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        e => e,
    };
    let name = clean_name(&upload.filename).map_err(on_field)?;
    let mut source = tokio::fs::File::from_std(upload.content);
    let size = source.metadata().await.map_err(AppError::internal)?.len();
    let max = sniff::max_bytes(kind);
    if size > max {
        return Err(AppError::invalid(
            field,
            format!(
                "is {size} bytes; a {} file may have at most {max}",
                kind.as_str()
            ),
        ));
    }
    if size == 0 {
        return Err(AppError::invalid(field, "is empty"));
    }
    let mut head = Vec::with_capacity(sniff::HEAD_BYTES);
    (&mut source)
        .take(sniff::HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .await
        .map_err(AppError::internal)?;
    let content_type = sniff::content_type(kind, &name, &head).map_err(on_field)?;
    source
        .seek(std::io::SeekFrom::Start(0))
        .await
        .map_err(AppError::internal)?;
    let sha256 = blob::sha256_of(&mut source).await?;
    Ok(Checked {
        name,
        content_type,
        source,
        size,
        sha256,
    })
}

/// `uploadFile`: one file (errors on `input.file`).
pub async fn upload(
    state: &AppState,
    viewer: &Viewer,
    kind: FileKind,
    upload: UploadValue,
) -> AppResult<file::Model> {
    viewer.require(Permission::WriteFiles)?;
    let checked = check(kind, upload, "input.file").await?;
    let mut saved = store_all(state, viewer, kind, vec![checked]).await?;
    saved
        .pop()
        .ok_or_else(|| AppError::internal("an upload stored no file"))
}

/// `uploadFiles`: 1 to [`MAX_BATCH`] files, all or nothing (errors on `input.files[.i]`).
pub async fn upload_many(
    state: &AppState,
    viewer: &Viewer,
    kind: FileKind,
    uploads: Vec<UploadValue>,
) -> AppResult<Vec<file::Model>> {
    viewer.require(Permission::WriteFiles)?;
    if uploads.is_empty() || uploads.len() > MAX_BATCH {
        return Err(AppError::invalid(
            "input.files",
            format!("must hold 1 to {MAX_BATCH} files"),
        ));
    }
    let mut checked = Vec::with_capacity(uploads.len());
    for (i, u) in uploads.into_iter().enumerate() {
        checked.push(check(kind, u, &format!("input.files.{i}")).await?);
    }
    store_all(state, viewer, kind, checked).await
}

/// Stores bytes the server made (a generated report) as a file of kind OTHER owned by
/// `viewer`: the same dedupe, quota and `file.uploaded` as an upload, without the upload's
/// checks (the bytes are not a client's). Spooled through `DATA_DIR/tmp`, removed after.
pub async fn store_generated(
    state: &AppState,
    viewer: &Viewer,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> AppResult<file::Model> {
    let dir = state.config.data_dir.join("tmp");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(AppError::internal)?;
    let path = dir.join(format!("{}.part", Uuid::now_v7()));
    tokio::fs::write(&path, bytes)
        .await
        .map_err(AppError::internal)?;
    let saved = async {
        let mut source = tokio::fs::File::open(&path)
            .await
            .map_err(AppError::internal)?;
        let sha256 = blob::sha256_of(&mut source).await?;
        let checked = Checked {
            name: name.to_string(),
            content_type: content_type.to_string(),
            source,
            size: bytes.len() as u64,
            sha256,
        };
        let mut saved = store_all(state, viewer, FileKind::Other, vec![checked]).await?;
        saved
            .pop()
            .ok_or_else(|| AppError::internal("a generated file was not stored"))
    }
    .await;
    let _ = tokio::fs::remove_file(&path).await;
    saved
}

/// Claims a blob per file, writes the objects that are not stored yet, then commits every row
/// and event together. On any failure the claims are released (and objects nothing else uses
/// removed), so nothing of the call is left.
async fn store_all(
    state: &AppState,
    viewer: &Viewer,
    kind: FileKind,
    mut checked: Vec<Checked>,
) -> AppResult<Vec<file::Model>> {
    let org = viewer.org_id;
    let txn = state.db.begin().await?;
    let quota = state.config.places.storage_quota_bytes;
    let mut keys = Vec::with_capacity(checked.len());
    for c in &checked {
        let size = i64::try_from(c.size).unwrap_or(i64::MAX);
        let blob = blob::claim(&txn, org, &c.sha256, size, quota).await?;
        keys.push((blob.storage_key, size));
    }
    txn.commit().await?;
    let stored = async {
        for (c, (key, _)) in checked.iter_mut().zip(&keys) {
            if !state.storage.exists(key).await.map_err(storage_error)? {
                state
                    .storage
                    .put_reader(key, &mut c.source)
                    .await
                    .map_err(storage_error)?;
            }
        }
        let txn = state.db.begin().await?;
        let mut saved = Vec::with_capacity(checked.len());
        for (c, (key, _)) in checked.into_iter().zip(&keys) {
            let m = row(viewer, kind, c, key).insert(&txn).await?;
            record(&txn, viewer, &m, true).await?;
            saved.push(m);
        }
        state.commit(txn, Wakes::Events).await?;
        Ok::<_, AppError>(saved)
    }
    .await;
    if stored.is_err() {
        unclaim(state, org, &keys).await;
    }
    stored
}

fn row(viewer: &Viewer, kind: FileKind, c: Checked, key: &str) -> file::ActiveModel {
    file::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        owner_id: Set(viewer.user_id),
        kind: Set(kind.as_str().into()),
        name: Set(c.name),
        content_type: Set(c.content_type),
        size: Set(i64::try_from(c.size).unwrap_or(i64::MAX)),
        sha256: Set(c.sha256),
        storage_key: Set(key.to_string()),
        created_at: Set(Utc::now()),
        deleted_at: Set(None),
    }
}

/// Releases the claims (key, size) of a failed upload (logged, never an error of its own).
async fn unclaim(state: &AppState, org: Uuid, keys: &[(String, i64)]) {
    for (key, size) in keys {
        let sha = key.rsplit('/').nth(1).unwrap_or_default().to_string();
        let released = async {
            let txn = state.db.begin().await?;
            let gone = blob::release(&txn, org, &sha, key, *size).await?;
            txn.commit().await?;
            Ok::<_, AppError>(gone)
        }
        .await;
        match released {
            Ok(Some(key)) => {
                if let Err(e) = state.storage.delete(&key).await {
                    tracing::warn!(error = %e, key, "removing an unused object failed");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = ?e, key, "releasing an upload's claim failed"),
        }
    }
}
