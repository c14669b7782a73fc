//! `campaign_recipients`: one lead in one campaign — the unit of exactly-once delivery
//! (PENDING → SENDING is committed before the SMTP call, SENT after it).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_recipients")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub campaign_id: Uuid,
    pub org_id: Uuid,
    /// `None` once the lead was deleted.
    pub lead_id: Option<Uuid>,
    /// The address at the time it was added (lowercase).
    pub email: String,
    /// PENDING | SENDING | SENT | OPENED | CLICKED | REPLIED | BOUNCED | UNSUBSCRIBED | FAILED |
    /// SUPPRESSED | UNCERTAIN.
    pub status: String,
    pub variant: Option<String>,
    /// `<recipient-id.campaign-id@sender-domain>`, derived, unique.
    pub message_id: String,
    pub attempts: i32,
    pub open_count: i32,
    pub click_count: i32,
    pub sent_at: Option<DateTimeUtc>,
    pub opened_at: Option<DateTimeUtc>,
    pub clicked_at: Option<DateTimeUtc>,
    pub replied_at: Option<DateTimeUtc>,
    pub bounced_at: Option<DateTimeUtc>,
    /// `hard` | `soft`.
    pub bounce_kind: Option<String>,
    pub unsubscribed_at: Option<DateTimeUtc>,
    pub last_event_at: Option<DateTimeUtc>,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
