//! `auto_replies`: what an auto-responder rule did about one inbound message (a queued template
//! reply, or an AI draft waiting for approval).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auto_replies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// NULL once the rule is deleted.
    pub rule_id: Option<Uuid>,
    pub conversation_id: Uuid,
    /// The inbound message that triggered it (unique).
    pub trigger_message_id: Uuid,
    /// REPLY_WITH_TEMPLATE | AI_REPLY.
    pub action: String,
    /// PENDING_APPROVAL | QUEUED | REJECTED.
    pub status: String,
    pub subject: String,
    pub body_text: String,
    pub approval_request_id: Option<Uuid>,
    /// The id of the outbound conversation message (planned with the draft; the row exists
    /// once the reply is queued).
    pub reply_message_id: Option<Uuid>,
    /// The reply's RFC 5322 Message-ID.
    pub reply_mid: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
