//! `conversation_messages`: one message of a conversation: inbound mail, a reply sent from the
//! inbox (QUEUED → SENDING → SENT, claimed before the SMTP transaction), the campaign email a
//! thread started from, or a private note (never sent, editable with history).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversation_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub org_id: Uuid,
    /// INBOUND | OUTBOUND.
    pub direction: String,
    /// LEAD | USER | AUTOMATION.
    pub author_kind: String,
    /// The user (USER), lead (LEAD) or campaign (AUTOMATION).
    pub author_id: Option<Uuid>,
    pub private: bool,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    /// JSON array of `{name, contentType, size}`.
    pub attachments: Json,
    /// `<…>`; unique per organization.
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// Space-separated `<…>` ids.
    pub reference_ids: Option<String>,
    /// The campaign whose email this is (the first message of a reply thread).
    pub campaign_id: Option<Uuid>,
    /// RECEIVED | NOTE | QUEUED | SENDING | SENT | FAILED | UNCERTAIN.
    pub status: String,
    pub error: Option<String>,
    /// JSON object emoji → array of user ids.
    pub reactions: Json,
    /// JSON array of earlier versions `{bodyText, bodyHtml, editedAt, editorId}` (notes).
    pub edits: Json,
    pub edited_at: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
