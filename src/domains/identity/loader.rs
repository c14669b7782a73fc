//! Batch loaders for identity objects (created per request in `prepare_request`).

use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::Loader;
use entity::user;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::error::AppError;

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
