//! `workflows`: the organization's n8n workflows as last pushed or pulled (UNIQUE
//! (org_id, remote_id)).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflows")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// The workflow's id in n8n.
    pub remote_id: String,
    pub name: String,
    /// `{nodes, connections, settings}` as n8n holds them.
    pub definition: Json,
    pub active: bool,
    /// The `path` of its first Webhook trigger node, when it has one.
    pub webhook_path: Option<String>,
    /// SYNCED | REMOVED (a sync no longer found it in n8n).
    pub status: String,
    pub created_by: Option<Uuid>,
    pub synced_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
