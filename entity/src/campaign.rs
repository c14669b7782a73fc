//! `campaigns`: one email send to a list of recipients, with its lifecycle.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub template_id: Option<Uuid>,
    pub from_name: String,
    pub from_email: String,
    pub reply_to: Option<String>,
    /// `None` (or 0) = as fast as the transport allows.
    pub send_rate_per_minute: Option<i32>,
    pub schedule_at: Option<DateTimeUtc>,
    /// DRAFT | PENDING_APPROVAL | SCHEDULED | RUNNING | PAUSED | COMPLETED | STOPPED | FAILED.
    pub status: String,
    /// `[{name, subject?, templateId?, weight}]` (A/B variants).
    pub variants: Json,
    /// Template content frozen at launch: `{subject, bodyHtml, bodyText, variants: {name: {...}}}`.
    pub content: Option<Json>,
    /// The `campaign.send` job currently responsible for sending.
    pub job_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub launched_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    /// A/B test: `{testFraction, metric: OPEN_RATE|CLICK_RATE, waitMinutes, testSentAt?}`.
    pub ab_test: Option<Json>,
    /// The A/B winner once chosen: `{variantId, metric, rates: [...], decidedAt}`.
    pub ab_winner: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Send only to recipients whose address has a validation verdict (the others are
    /// SUPPRESSED).
    pub require_validated_recipients: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
