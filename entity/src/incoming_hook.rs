//! `incoming_hooks`: an organization's lead intake URLs (`POST /hooks/in/{id}`), each with a
//! Standard Webhooks signing secret (sealed by the secrets box).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "incoming_hooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// LEAD_CREATED (a lead intake URL) | WORKFLOW_COMPLETE (n8n's completion callback).
    pub kind: String,
    /// `whsec_…`, sealed by the secrets box.
    pub secret: String,
    /// Tags added to every lead it brings in (`["webform"]`).
    pub default_tags: Json,
    pub enabled: bool,
    /// Leads are written on behalf of this member (capped at MEMBER).
    pub created_by: Uuid,
    pub last_received_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
