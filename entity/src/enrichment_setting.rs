//! `enrichment_settings`: an organization's enrichment opt-ins (the SMTP mailbox probe,
//! validation on every lead write) and monthly budget.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrichment_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    /// Probe mailboxes with SMTP `RCPT TO` (when the server allows it: `SMTP_PROBE_ENABLED`).
    pub smtp_probe: bool,
    pub updated_by: Option<Uuid>,
    pub updated_at: DateTimeUtc,
    /// Most cents (credits) provider calls may cost per month; null = no limit.
    pub monthly_budget_cents: Option<i64>,
    /// Validate a lead's email whenever a write creates the lead or changes its email.
    pub validate_on_write: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
