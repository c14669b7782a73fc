//! Batch loaders for identity objects, built per request by the spine's type-keyed
//! [`Loaders`] registry; [`IdentityLoaders`] names them (`ctx.loaders()?.users()`).

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::user;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::service::images::{image_files, StoredImage};
use crate::{
    error::AppError,
    graphql::context::{Loaders, RequestLoader},
};

/// `loaders.users()` / `loaders.team_members()` on the request's loaders.
pub trait IdentityLoaders {
    /// Users by id.
    fn users(&self) -> Arc<DataLoader<UserById>>;
    /// Team member ids by team id.
    fn team_members(&self) -> Arc<DataLoader<TeamMemberIds>>;
    /// Live avatar and logo files by file id.
    fn images(&self) -> Arc<DataLoader<ImageById>>;
}

impl IdentityLoaders for Loaders {
    fn users(&self) -> Arc<DataLoader<UserById>> {
        self.get::<UserById>()
    }

    fn team_members(&self) -> Arc<DataLoader<TeamMemberIds>> {
        self.get::<TeamMemberIds>()
    }

    fn images(&self) -> Arc<DataLoader<ImageById>> {
        self.get::<ImageById>()
    }
}

impl RequestLoader for ImageById {
    fn new(db: DatabaseConnection) -> Self {
        ImageById { db }
    }
}

/// Live image files (avatars, logos) by file id, through the registered
/// [`super::ImageFiles::stored`]: a constant number of statements per batch, so a page of
/// users with `avatarUrl` costs the same at any page size.
pub struct ImageById {
    /// Database.
    pub db: DatabaseConnection,
}

impl Loader<Uuid> for ImageById {
    type Value = StoredImage;
    type Error = Arc<AppError>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, StoredImage>, Self::Error> {
        let images = image_files().map_err(Arc::new)?;
        images.stored(&self.db, ids).await.map_err(Arc::new)
    }
}

impl RequestLoader for UserById {
    fn new(db: DatabaseConnection) -> Self {
        UserById { db }
    }
}

impl RequestLoader for TeamMemberIds {
    fn new(db: DatabaseConnection) -> Self {
        TeamMemberIds { db }
    }
}

/// Users by id, one query per batch.
pub struct UserById {
    /// Database.
    pub db: DatabaseConnection,
}

impl Loader<Uuid> for UserById {
    type Value = user::Model;
    type Error = Arc<AppError>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, user::Model>, Self::Error> {
        users_by_id(&self.db, ids).await.map_err(Arc::new)
    }
}

/// Users by id in one query.
pub async fn users_by_id(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, user::Model>, AppError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = crate::db::fast::all(
        db,
        user::Entity::find().filter(user::Column::Id.is_in(ids.iter().copied())),
    )
    .await?;
    Ok(rows.into_iter().map(|u| (u.id, u)).collect())
}

/// Member user ids by team id, one query per batch.
pub struct TeamMemberIds {
    /// Database.
    pub db: DatabaseConnection,
}

impl Loader<Uuid> for TeamMemberIds {
    type Value = Vec<Uuid>;
    type Error = Arc<AppError>;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<Uuid>>, Self::Error> {
        use entity::team_member;
        use sea_orm::QueryOrder;
        let rows = team_member::Entity::find()
            .filter(team_member::Column::TeamId.is_in(ids.iter().copied()))
            .order_by_asc(team_member::Column::Id)
            .all(&self.db)
            .await
            .map_err(|e| Arc::new(AppError::from(e)))?;
        let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for r in rows {
            out.entry(r.team_id).or_default().push(r.user_id);
        }
        Ok(out)
    }
}
