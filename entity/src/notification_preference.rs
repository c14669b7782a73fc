//! `notification_preferences`: a user's choice per notification type × channel in one
//! organization. Missing rows mean the default (IN_APP on, EMAIL and WEBHOOK off).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_preferences")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub user_id: Uuid,
    /// Notification type (`LEAD_ASSIGNED`, ...).
    #[sea_orm(column_name = "type")]
    pub notification_type: String,
    /// `IN_APP` | `EMAIL` | `WEBHOOK`
    pub channel: String,
    pub enabled: bool,
    /// Slack-style incoming webhook URL (WEBHOOK rows only). A secret: never returned by the API.
    pub webhook_url: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
