//! `analytics_events`: events tracked by frontends and partners (`trackEvents`), unique per
//! organization and client event id.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "analytics_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// The client's id of the event: a retried batch stores each event once.
    pub client_event_id: String,
    pub name: String,
    pub occurred_at: DateTimeUtc,
    pub lead_id: Option<Uuid>,
    pub session_id: Option<String>,
    /// A JSON object.
    pub properties: Json,
    /// Who tracked it (for API keys: the key's creator).
    pub user_id: Option<Uuid>,
    /// The API key it came through, if any.
    pub api_key_id: Option<Uuid>,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
