//! `sequence_sends`: one step's message to one enrollment, claimed before it is sent (unique per
//! enrollment and step, so a retried job never sends the step twice).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sequence_sends")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub sequence_id: Uuid,
    pub enrollment_id: Uuid,
    pub step: i32,
    /// SENDING | SENT | UNCERTAIN | SKIPPED | SUPPRESSED | FAILED.
    pub status: String,
    /// Our Message-ID of the mail.
    pub message_id: String,
    pub error: Option<String>,
    pub sent_at: Option<DateTimeUtc>,
    pub opened_at: Option<DateTimeUtc>,
    /// The first click on a tracked link of the mail.
    pub clicked_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
