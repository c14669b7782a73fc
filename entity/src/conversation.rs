//! `conversations`: a thread with one lead's address in an organization (the inbox): status,
//! assignee, labels, unread count and our address in the thread.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// The lead, when the address belongs to one (NULL once the lead is deleted).
    pub lead_id: Option<Uuid>,
    /// The other party's address (lowercase).
    pub email: String,
    pub subject: String,
    /// OPEN | PENDING | SNOOZED | RESOLVED.
    pub status: String,
    /// EMAIL.
    pub channel: String,
    pub assignee_id: Option<Uuid>,
    /// JSON array of label strings.
    pub labels: Json,
    pub unread_count: i32,
    /// Our address in the thread (replies are sent from it); NULL = the server's MAIL_FROM.
    pub mailbox: Option<String>,
    /// Display name for `mailbox`.
    pub mailbox_name: Option<String>,
    pub last_message_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
