//! Files as identity's [`ImageFiles`]: the check before a file becomes an avatar or a logo,
//! and the signed links of `User.avatarUrl` / `Organization.logoUrl`. Also the variants'
//! share of a delete.

use async_trait::async_trait;
use chrono::Utc;
use entity::{file, file_variant};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::{blob, link};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        identity::{ImageFiles, ImagePurpose},
        places::files::types::FileKind,
    },
    error::{AppError, AppResult},
    state::AppState,
};

/// Image links are valid until the end of the next hour: one to two hours, and the same URL
/// for everyone in the meantime (so browsers and proxies can cache the image).
const LINK_BUCKET_SECS: i64 = 3600;

/// The expiry of an image link made now.
fn link_expiry() -> i64 {
    let now = Utc::now().timestamp();
    (now / LINK_BUCKET_SECS + 2) * LINK_BUCKET_SECS
}

/// Places' implementation of identity's [`ImageFiles`].
pub struct FileImages;

fn kind_of(purpose: ImagePurpose) -> FileKind {
    match purpose {
        ImagePurpose::Avatar => FileKind::Avatar,
        ImagePurpose::Logo => FileKind::Logo,
    }
}

#[async_trait]
impl ImageFiles for FileImages {
    async fn check(
        &self,
        state: &AppState,
        viewer: &Viewer,
        file_id: Uuid,
        purpose: ImagePurpose,
        field: &str,
    ) -> AppResult<()> {
        viewer.require(Permission::ReadFiles)?;
        let m = super::get(&state.db, viewer, file_id).await?;
        let want = kind_of(purpose);
        if m.kind != want.as_str() {
            return Err(AppError::invalid(
                field,
                format!(
                    "is a {} file; it must be a {} file (upload the image with kind {})",
                    m.kind,
                    want.as_str(),
                    want.as_str()
                ),
            ));
        }
        Ok(())
    }

    async fn url(
        &self,
        state: &AppState,
        file_id: Uuid,
        size_px: Option<i32>,
    ) -> AppResult<Option<String>> {
        let Some(m) = file::Entity::find_by_id(file_id)
            .filter(file::Column::DeletedAt.is_null())
            .one(&state.db)
            .await?
        else {
            return Ok(None);
        };
        let variant = match size_px {
            Some(px) => best_variant(&state.db, file_id, px).await?,
            None => None,
        };
        Ok(Some(link::signed_url_of(
            &state.config,
            &m,
            variant,
            link_expiry(),
        )))
    }
}

/// The smallest variant of `file_id` at least `px` big (`None`: the file itself, its largest
/// size, fits best).
async fn best_variant(
    conn: &impl ConnectionTrait,
    file_id: Uuid,
    px: i32,
) -> AppResult<Option<i32>> {
    let v = file_variant::Entity::find()
        .filter(file_variant::Column::FileId.eq(file_id))
        .filter(file_variant::Column::SizePx.gte(px))
        .order_by_asc(file_variant::Column::SizePx)
        .one(conn)
        .await?;
    Ok(v.map(|v| v.size_px))
}

/// The variant `size_px` of `file_id`.
pub async fn variant(
    conn: &impl ConnectionTrait,
    file_id: Uuid,
    size_px: i32,
) -> AppResult<Option<file_variant::Model>> {
    Ok(file_variant::Entity::find()
        .filter(file_variant::Column::FileId.eq(file_id))
        .filter(file_variant::Column::SizePx.eq(size_px))
        .one(conn)
        .await?)
}

/// Drops the variants of deleted file `m`: their rows, and their references to the stored
/// objects. Returns the keys of the objects nothing uses any more (removed after the commit).
pub async fn release_variants(
    conn: &impl ConnectionTrait,
    m: &file::Model,
) -> AppResult<Vec<String>> {
    let variants = file_variant::Entity::find()
        .filter(file_variant::Column::FileId.eq(m.id))
        .all(conn)
        .await?;
    let mut gone = Vec::new();
    for v in &variants {
        if let Some(key) = blob::release(conn, m.org_id, &v.sha256, &v.storage_key, v.size).await? {
            gone.push(key);
        }
    }
    file_variant::Entity::delete_many()
        .filter(file_variant::Column::FileId.eq(m.id))
        .exec(conn)
        .await?;
    Ok(gone)
}
