//! Avatars and logos: identity stores which file is a user's avatar
//! (`users.avatar_file_id`) or an organization's logo (`organizations.logo_file_id`); the
//! files themselves belong to places' `files`, which sits above identity. So identity defines
//! [`ImageFiles`] and places registers its implementation at start-up
//! ([`register_image_files`]): identity checks a file through it before referencing it, and
//! asks it for the signed link of `User.avatarUrl` / `Organization.logoUrl` (the files of a
//! page's users or organizations are read at once by `loader::ImageById`). The other way round,
//! files asks [`image_file_uses`] before deleting a file and [`clear_image_file`] when one is
//! deleted with `force`.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use async_trait::async_trait;
use entity::{organization, user};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait,
    QueryFilter,
};
use uuid::Uuid;

use crate::{
    auth::Viewer,
    error::{AppError, AppResult},
    state::AppState,
};

/// What an image file is referenced as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImagePurpose {
    /// A user's avatar (an AVATAR file).
    Avatar,
    /// An organization's logo (a LOGO file).
    Logo,
}

/// The image files, as identity needs them (implemented by places' files).
#[async_trait]
pub trait ImageFiles: Send + Sync + 'static {
    /// Ok when `file_id` is a live file of the viewer's organization stored for `purpose`:
    /// NOT_FOUND when it is not the organization's, BAD_USER_INPUT on `field` when it is of
    /// another kind.
    async fn check(
        &self,
        state: &AppState,
        viewer: &Viewer,
        file_id: Uuid,
        purpose: ImagePurpose,
        field: &str,
    ) -> AppResult<()>;

    /// The live image files among `file_ids` (any organization: the caller got the ids from
    /// rows of the viewer's organization), with the sizes they are stored at, in a constant
    /// number of statements (a page's avatars are loaded at once, see `loader::ImageById`).
    async fn stored(
        &self,
        db: &DatabaseConnection,
        file_ids: &[Uuid],
    ) -> AppResult<HashMap<Uuid, StoredImage>>;

    /// A signed link to the stored size of `image` that best fits `size_px` (the largest
    /// when `None`).
    fn link(&self, state: &AppState, image: &StoredImage, size_px: Option<i32>) -> String;
}

/// A live image file as [`ImageFiles::link`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// The file.
    pub file_id: Uuid,
    /// Its organization.
    pub org_id: Uuid,
    /// The sizes of its smaller variants, in pixels, ascending (the file is the largest).
    pub variant_sizes: Vec<i32>,
}

impl StoredImage {
    /// The smallest variant at least `px` big (`None`: the file itself fits best).
    pub fn best_variant(&self, px: Option<i32>) -> Option<i32> {
        let px = px?;
        self.variant_sizes.iter().copied().find(|&v| v >= px)
    }
}

static IMAGES: RwLock<Option<Arc<dyn ImageFiles>>> = RwLock::new(None);

/// Registers the image files (places, at start-up); a second registration replaces the first.
pub fn register_image_files(images: impl ImageFiles) {
    let mut slot = IMAGES.write().unwrap_or_else(|e| e.into_inner());
    *slot = Some(Arc::new(images));
}

/// The registered image files (INTERNAL when nothing registered them).
pub fn image_files() -> AppResult<Arc<dyn ImageFiles>> {
    IMAGES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| AppError::internal("no image files are registered"))
}

/// How many users and organizations show `file_id` as their avatar or logo.
pub async fn image_file_uses(conn: &impl ConnectionTrait, file_id: Uuid) -> AppResult<u64> {
    let users = user::Entity::find()
        .filter(user::Column::AvatarFileId.eq(file_id))
        .count(conn)
        .await?;
    let orgs = organization::Entity::find()
        .filter(organization::Column::LogoFileId.eq(file_id))
        .count(conn)
        .await?;
    Ok(users + orgs)
}

/// Clears every avatar and logo reference to `file_id` (it is being deleted).
pub async fn clear_image_file(conn: &impl ConnectionTrait, file_id: Uuid) -> AppResult<()> {
    user::Entity::update_many()
        .col_expr(
            user::Column::AvatarFileId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(user::Column::AvatarFileId.eq(file_id))
        .exec(conn)
        .await?;
    organization::Entity::update_many()
        .col_expr(
            organization::Column::LogoFileId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(organization::Column::LogoFileId.eq(file_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// What an input's image field asks: `None` leaves the reference, `Some(None)` clears it and
/// `Some(Some(id))` sets it to a file checked for `purpose` (NOT_FOUND for an id that is not a
/// file of the viewer's organization, BAD_USER_INPUT on `field` for a file of another kind).
pub async fn image_change(
    state: &AppState,
    viewer: &Viewer,
    input: async_graphql::MaybeUndefined<async_graphql::ID>,
    purpose: ImagePurpose,
    field: &str,
) -> AppResult<Option<Option<Uuid>>> {
    use async_graphql::MaybeUndefined::{Null, Undefined, Value};
    match input {
        Undefined => Ok(None),
        Null => Ok(Some(None)),
        Value(id) => {
            let id = crate::ids::parse_id(&id).map_err(|_| AppError::NotFound("file"))?;
            image_files()?
                .check(state, viewer, id, purpose, field)
                .await?;
            Ok(Some(Some(id)))
        }
    }
}
