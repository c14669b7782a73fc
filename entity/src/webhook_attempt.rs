//! `webhook_attempts`: one HTTP attempt of a webhook delivery: what was sent, what came back.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub delivery_id: Uuid,
    /// 1-based.
    pub attempt: i32,
    /// `{name: value}` of the request headers.
    pub request_headers: Json,
    /// Null when no response came (timeout, refused).
    pub response_status: Option<i32>,
    /// The first bytes of the response body.
    pub response_body: Option<String>,
    /// Transport error, when there was no response.
    pub error: Option<String>,
    pub duration_ms: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
