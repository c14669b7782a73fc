//! `notifications`: one message to one user in one organization (in-app channel).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// The recipient.
    pub user_id: Uuid,
    /// `LEAD_ASSIGNED`, `IMPORT_FINISHED`, `JOB_FAILED`, `ANNOUNCEMENT`, ...
    #[sea_orm(column_name = "type")]
    pub notification_type: String,
    pub title: String,
    pub body: String,
    /// An http(s) URL or a path inside the app.
    pub link: Option<String>,
    /// Kind of the object it is about (`lead`, `job`), when there is one.
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub read_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
