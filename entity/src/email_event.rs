//! `email_events`: what happened to a sent campaign email (open, click, bounce, unsubscribe,
//! reply, complaint).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub recipient_id: Uuid,
    pub campaign_id: Uuid,
    pub org_id: Uuid,
    pub lead_id: Option<Uuid>,
    /// open | click | bounce | unsubscribe | reply | complaint.
    pub kind: String,
    /// Details: `{url}`, `{bounce: hard|soft, reason, provider}`, `{userAgent}`, …
    pub data: Json,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
