//! Files: list, read, delete. Uploads are in [`store`] (what an upload may be, in [`sniff`];
//! deduplication of identical bytes, in [`blob`]); signed download links and the download
//! route, in [`link`].

pub mod blob;
pub mod images;
pub mod link;
pub mod picture;
pub mod quota;
pub mod sniff;
pub mod store;

use chrono::Utc;
use entity::file;
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select,
    TransactionTrait,
};
use uuid::Uuid;

use super::types::{FileFilter, StoredFile};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        identity::{clear_image_file, image_file_uses},
        leads::import_jobs_using,
    },
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, FileChanged},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    platform::storage::StorageError,
    state::{AppState, Wakes},
};

/// Longest file name kept, in characters.
const MAX_NAME_CHARS: usize = 255;

/// Every file query starts here: the viewer's organization, deleted files left out.
pub fn scoped(viewer: &Viewer) -> Select<file::Entity> {
    file::Entity::find()
        .filter(file::Column::OrgId.eq(viewer.org_id))
        .filter(file::Column::DeletedAt.is_null())
}

/// A file of the viewer's organization, or NOT_FOUND.
pub async fn get(conn: &impl ConnectionTrait, viewer: &Viewer, id: Uuid) -> AppResult<file::Model> {
    scoped(viewer)
        .filter(file::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("file"))
}

/// A storage failure as the client sees it (the detail is logged).
pub fn storage_error(e: StorageError) -> AppError {
    tracing::error!(error = %e, "object storage failed");
    AppError::Unavailable("file storage is unavailable; try again later".into())
}

/// The file name without directories or control characters; BAD_USER_INPUT when nothing is
/// left or it is too long.
fn clean_name(raw: &str) -> AppResult<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let name: String = base.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim().to_string();
    if name.is_empty() || name == "." || name == ".." {
        return Err(AppError::invalid("input.file", "has no file name"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::invalid(
            "input.file",
            format!("name is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name)
}

/// Records `file.uploaded` (or `file.deleted`) for `m` in the outbox.
pub(crate) async fn record(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    m: &file::Model,
    uploaded: bool,
) -> AppResult<()> {
    let payload = FileChanged {
        file_id: m.id,
        kind: m.kind.clone(),
        name: m.name.clone(),
        size: m.size,
    };
    let event = if uploaded {
        DomainEvent::FileUploaded(payload)
    } else {
        DomainEvent::FileDeleted(payload)
    };
    outbox::record(
        conn,
        &EventEnvelope::new(viewer.org_id, Some(viewer.user_id), event),
    )
    .await
}

/// A page of the organization's files, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: &FileFilter,
    args: PageArgs,
) -> AppResult<IdConnection<StoredFile>> {
    viewer.require(Permission::ReadFiles)?;
    let mut q = scoped(viewer);
    if let Some(k) = filter.kind {
        q = q.filter(file::Column::Kind.eq(k.as_str()));
    }
    if let Some(owner) = &filter.owner_id {
        let owner = Uuid::parse_str(owner.as_str())
            .map_err(|_| AppError::invalid("filter.ownerId", "is not a user id"))?;
        q = q.filter(file::Column::OwnerId.eq(owner));
    }
    if let Some(after) = filter.created_after {
        q = q.filter(file::Column::CreatedAt.gte(after));
    }
    page_by_id_desc(
        &state.db,
        q,
        file::Column::Id,
        &args,
        |m| m.id,
        StoredFile::from,
    )
    .await
}

/// Deletes a file: its own uploader (`WriteFiles`) or a MANAGER (`DeleteFiles`). Refused with
/// CONFLICT while something uses it (an import job not finished yet, a user's avatar or an
/// organization's logo), unless `force` (which also clears the avatar or logo). The row
/// is marked deleted, its reference to the stored object dropped and `file.deleted` recorded
/// in one transaction (the row is written before the references are read, so an import that
/// starts at the same time either sees the file deleted or is seen here). The object is
/// removed after the commit when no other file has the same bytes (a failure there is logged
/// and leaves an orphan object, never a row without its bytes).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid, force: bool) -> AppResult<()> {
    viewer.require(Permission::WriteFiles)?;
    let txn = state.db.begin().await?;
    // Marked first, so the transaction's first statement is a write. On SQLite with two
    // instances on one file, a transaction that read first fails its first write at once when
    // the other instance wrote in between (SQLITE_BUSY_SNAPSHOT, answered INTERNAL), where a
    // first write waits its turn. A refusal below drops the transaction, and the mark with it.
    let marked = file::Entity::update_many()
        .col_expr(file::Column::DeletedAt, Expr::value(Utc::now()))
        .filter(file::Column::Id.eq(id))
        .filter(file::Column::OrgId.eq(viewer.org_id))
        .filter(file::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected == 0 {
        return Err(AppError::NotFound("file"));
    }
    let m = file::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("file"))?;
    if m.owner_id != viewer.user_id {
        viewer.require(Permission::DeleteFiles)?;
    }
    if force {
        clear_image_file(&txn, id).await?;
    } else {
        refuse_while_used(&txn, viewer, id).await?;
    }
    let gone = release(&txn, viewer, &m).await?;
    state.commit(txn, Wakes::Events).await?;
    remove_objects(state, gone).await;
    Ok(())
}

/// Deletes, inside the caller's transaction, the files a higher domain generated and owns (a
/// report's outputs) when the owner goes: each file of the viewer's organization among `ids`
/// that is not deleted yet is marked deleted, an avatar or logo use cleared, its stored bytes
/// released and `file.deleted` recorded. A file an unfinished import job reads is left alone
/// (a member chose to import it). Returns the objects nothing uses any more, for
/// [`remove_objects`] after the commit.
pub async fn delete_generated(
    txn: &impl ConnectionTrait,
    viewer: &Viewer,
    ids: &[Uuid],
) -> AppResult<Vec<String>> {
    let mut gone = Vec::new();
    if ids.is_empty() {
        return Ok(gone);
    }
    let files = scoped(viewer)
        .filter(file::Column::Id.is_in(ids.iter().copied()))
        .all(txn)
        .await?;
    for m in files {
        if import_jobs_using(txn, viewer.org_id, m.id).await? > 0 {
            continue;
        }
        let marked = file::Entity::update_many()
            .col_expr(file::Column::DeletedAt, Expr::value(Utc::now()))
            .filter(file::Column::Id.eq(m.id))
            .filter(file::Column::DeletedAt.is_null())
            .exec(txn)
            .await?;
        if marked.rows_affected == 0 {
            // A concurrent deleteFile marked it first and released its bytes.
            continue;
        }
        clear_image_file(txn, m.id).await?;
        gone.extend(release(txn, viewer, &m).await?);
    }
    Ok(gone)
}

/// The last step of deleting file `m` (already marked deleted): its variants' and its own
/// stored bytes released and `file.deleted` recorded; the objects nothing uses any more.
async fn release(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    m: &file::Model,
) -> AppResult<Vec<String>> {
    let mut gone = images::release_variants(conn, m).await?;
    gone.extend(blob::release(conn, viewer.org_id, &m.sha256, &m.storage_key, m.size).await?);
    record(conn, viewer, m, false).await?;
    Ok(gone)
}

/// Removes stored objects after the commit that released them; a failure is logged and leaves
/// an orphan object, never a row without its bytes.
pub async fn remove_objects(state: &AppState, keys: Vec<String>) {
    for key in keys {
        if let Err(e) = state.storage.delete(&key).await {
            tracing::warn!(error = %e, key, "removing a deleted file's object failed");
        }
    }
}

/// CONFLICT while an unfinished import job reads file `id`, or it is an avatar or a logo.
async fn refuse_while_used(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<()> {
    let jobs = import_jobs_using(conn, viewer.org_id, id).await?;
    if jobs > 0 {
        return Err(AppError::Conflict(format!(
            "the file is used by {jobs} unfinished import job(s); pass force: true to delete it anyway"
        )));
    }
    let shown = image_file_uses(conn, id).await?;
    if shown > 0 {
        return Err(AppError::Conflict(format!(
            "the file is shown as {shown} avatar(s) or logo(s); pass force: true to delete it anyway (they are removed)"
        )));
    }
    Ok(())
}

/// A signed download URL of a file, valid for `expires_in_seconds` (1 s – 7 days).
pub async fn download_url(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    expires_in_seconds: i64,
) -> AppResult<String> {
    viewer.require(Permission::ReadFiles)?;
    if !(1..=link::MAX_EXPIRY_SECS).contains(&expires_in_seconds) {
        return Err(AppError::invalid(
            "expiresInSeconds",
            format!("must be between 1 and {}", link::MAX_EXPIRY_SECS),
        ));
    }
    let m = get(&state.db, viewer, id).await?;
    let expires = Utc::now().timestamp() + expires_in_seconds;
    Ok(link::signed_url(&state.config, &m, expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_directories_and_control_characters() {
        assert_eq!(clean_name("C:\\Users\\me\\photo.png").unwrap(), "photo.png");
        assert_eq!(clean_name("../../etc/pa\u{0}sswd").unwrap(), "passwd");
        assert!(clean_name("dir/").is_err());
        assert!(clean_name("..").is_err());
        assert!(clean_name(&"a".repeat(256)).is_err());
    }
}
