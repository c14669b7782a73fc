//! Uploading: every check on the spooled uploads first, then the bytes to storage (once per
//! distinct content, [`super::blob`]), then the rows and their `file.uploaded` events in one
//! transaction. `uploadFile` stores one file; `uploadFiles` up to [`MAX_BATCH`], all or nothing:
//! one refused file refuses the call before a byte is stored (its error names
//! `input.files.{index}`), and a storage or database failure stores none of them. AVATAR and
//! LOGO uploads are re-encoded first ([`super::picture`]): the file holds the largest standard
//! size, the smaller ones are its `file_variants` (each a deduplicated blob of its own).

use async_graphql::UploadValue;
use chrono::Utc;
use entity::{file, file_variant};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, TransactionTrait};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt};
use uuid::Uuid;

use super::{blob, clean_name, picture, record, sniff, storage_error};
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
    source: Box<dyn AsyncRead + Send + Sync + Unpin>,
    size: u64,
    sha256: String,
    /// The smaller standard sizes of an image (none for other kinds).
    variants: Vec<(picture::Encoded, String)>,
}

/// Lower-case hex SHA-256 of `bytes`.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// An image upload of `size` bytes (within its kind's limit), re-encoded: the largest standard
/// size becomes the file, the others its variants.
async fn reencode(
    kind: FileKind,
    name: String,
    content_type: String,
    mut source: tokio::fs::File,
) -> AppResult<Checked> {
    let mut bytes = Vec::new();
    source
        .read_to_end(&mut bytes)
        .await
        .map_err(AppError::internal)?;
    let mut sizes = picture::process(kind, bytes, content_type)
        .await?
        .into_iter();
    let main = sizes
        .next()
        .ok_or_else(|| AppError::internal("an image came out with no size"))?;
    let variants = sizes
        .map(|e| {
            let sha = sha256_hex(&e.bytes);
            (e, sha)
        })
        .collect();
    Ok(Checked {
        name: picture::renamed(&name, main.extension),
        content_type: main.content_type.to_string(),
        size: main.bytes.len() as u64,
        sha256: sha256_hex(&main.bytes),
        source: Box::new(std::io::Cursor::new(main.bytes)),
        variants,
    })
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
    if picture::is_image(kind) {
        return reencode(kind, name, content_type, source)
            .await
            .map_err(on_field);
    }
    let sha256 = blob::sha256_of(&mut source).await?;
    Ok(Checked {
        name,
        content_type,
        source: Box::new(source),
        size,
        sha256,
        variants: Vec::new(),
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
/// checks (the bytes are not a client's).
pub async fn store_generated(
    state: &AppState,
    viewer: &Viewer,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> AppResult<file::Model> {
    let checked = Checked {
        name: name.to_string(),
        content_type: content_type.to_string(),
        size: bytes.len() as u64,
        sha256: sha256_hex(bytes),
        source: Box::new(std::io::Cursor::new(bytes.to_vec())),
        variants: Vec::new(),
    };
    let mut saved = store_all(state, viewer, FileKind::Other, vec![checked]).await?;
    saved
        .pop()
        .ok_or_else(|| AppError::internal("a generated file was not stored"))
}

/// Claims a blob per file (and per variant), writes the objects that are not stored yet, then
/// commits every row and event together. On any failure the claims are released (and objects
/// nothing else uses removed), so nothing of the call is left.
async fn store_all(
    state: &AppState,
    viewer: &Viewer,
    kind: FileKind,
    mut checked: Vec<Checked>,
) -> AppResult<Vec<file::Model>> {
    let org = viewer.org_id;
    let txn = state.db.begin().await?;
    let quota = state.config.places.storage_quota_bytes;
    // Per file: its own key, then one per variant, in order.
    let mut keys: Vec<Vec<(String, i64)>> = Vec::with_capacity(checked.len());
    for c in &checked {
        let mut claimed = Vec::with_capacity(1 + c.variants.len());
        let parts = std::iter::once((c.sha256.as_str(), c.size)).chain(
            c.variants
                .iter()
                .map(|(e, sha)| (sha.as_str(), e.bytes.len() as u64)),
        );
        for (sha, size) in parts {
            let size = i64::try_from(size).unwrap_or(i64::MAX);
            let blob = blob::claim(&txn, org, sha, size, quota).await?;
            claimed.push((blob.storage_key, size));
        }
        keys.push(claimed);
    }
    txn.commit().await?;
    let stored = async {
        for (c, claimed) in checked.iter_mut().zip(&keys) {
            put_missing(state, &claimed[0].0, &mut c.source).await?;
            for ((e, _), (key, _)) in c.variants.iter().zip(&claimed[1..]) {
                put_missing(state, key, &mut e.bytes.as_slice()).await?;
            }
        }
        let txn = state.db.begin().await?;
        let mut saved = Vec::with_capacity(checked.len());
        for (mut c, claimed) in checked.into_iter().zip(&keys) {
            let variants = std::mem::take(&mut c.variants);
            let m = row(viewer, kind, c, &claimed[0].0).insert(&txn).await?;
            for ((e, sha), (key, size)) in variants.into_iter().zip(&claimed[1..]) {
                variant_row(&m, e, sha, key, *size).insert(&txn).await?;
            }
            record(&txn, viewer, &m, true).await?;
            saved.push(m);
        }
        state.commit(txn, Wakes::Events).await?;
        Ok::<_, AppError>(saved)
    }
    .await;
    if stored.is_err() {
        unclaim(state, org, &keys.concat()).await;
    }
    stored
}

/// Writes `source` under `key` unless an object is stored there already (identical bytes).
async fn put_missing(
    state: &AppState,
    key: &str,
    source: &mut (impl AsyncRead + Unpin),
) -> AppResult<()> {
    if !state.storage.exists(key).await.map_err(storage_error)? {
        state
            .storage
            .put_reader(key, source)
            .await
            .map_err(storage_error)?;
    }
    Ok(())
}

fn variant_row(
    m: &file::Model,
    e: picture::Encoded,
    sha256: String,
    key: &str,
    size: i64,
) -> file_variant::ActiveModel {
    let px = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    file_variant::ActiveModel {
        id: Set(Uuid::now_v7()),
        file_id: Set(m.id),
        org_id: Set(m.org_id),
        size_px: Set(px(e.size_px)),
        width: Set(px(e.width)),
        height: Set(px(e.height)),
        content_type: Set(e.content_type.to_string()),
        size: Set(size),
        sha256: Set(sha256),
        storage_key: Set(key.to_string()),
        created_at: Set(Utc::now()),
    }
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
