//! Files as identity's [`ImageFiles`]: the check before a file becomes an avatar or a logo,
//! and the signed links of `User.avatarUrl` / `Organization.logoUrl`. Also the variants'
//! share of a delete.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::Utc;
use entity::{file, file_variant};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::{blob, link};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        identity::{ImageFiles, ImagePurpose, StoredImage},
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

    async fn stored(
        &self,
        db: &DatabaseConnection,
        file_ids: &[Uuid],
    ) -> AppResult<HashMap<Uuid, StoredImage>> {
        if file_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let files: Vec<(Uuid, Uuid)> = file::Entity::find()
            .select_only()
            .columns([file::Column::Id, file::Column::OrgId])
            .filter(file::Column::Id.is_in(file_ids.iter().copied()))
            .filter(file::Column::DeletedAt.is_null())
            .into_tuple()
            .all(db)
            .await?;
        let sizes: Vec<(Uuid, i32)> = file_variant::Entity::find()
            .select_only()
            .columns([file_variant::Column::FileId, file_variant::Column::SizePx])
            .filter(file_variant::Column::FileId.is_in(files.iter().map(|f| f.0)))
            .order_by_asc(file_variant::Column::SizePx)
            .into_tuple()
            .all(db)
            .await?;
        let mut out: HashMap<Uuid, StoredImage> = files
            .into_iter()
            .map(|(file_id, org_id)| {
                let image = StoredImage {
                    file_id,
                    org_id,
                    variant_sizes: Vec::new(),
                };
                (file_id, image)
            })
            .collect();
        for (file_id, px) in sizes {
            if let Some(image) = out.get_mut(&file_id) {
                image.variant_sizes.push(px);
            }
        }
        Ok(out)
    }

    fn link(&self, state: &AppState, image: &StoredImage, size_px: Option<i32>) -> String {
        link::signed_variant_url(
            &state.config,
            image.file_id,
            image.org_id,
            image.best_variant(size_px),
            link_expiry(),
        )
    }
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
