//! `email_suppressions`: addresses an organization must never email again (unsubscribed,
//! hard-bounced, complained). Unique per (organization, lowercase email).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_suppressions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// Lowercase.
    pub email: String,
    /// unsubscribe | hard_bounce | complaint.
    pub reason: String,
    /// Where it came from: `{campaignId, recipientId, provider}`.
    pub data: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
