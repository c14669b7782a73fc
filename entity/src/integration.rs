//! `integrations`: an organization's n8n connection (base URL + sealed API key, one per
//! organization) and its Slack incoming webhooks (the URL is the credential, sealed), with the
//! last success and the last error of each.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integrations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// N8N | SLACK.
    pub kind: String,
    pub name: String,
    /// n8n's base URL (null for Slack: its URL is the secret).
    pub base_url: Option<String>,
    /// n8n API key or Slack webhook URL, sealed by the secrets box. Never returned.
    pub secret: String,
    pub last_success_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTimeUtc>,
    /// When `testIntegration` last called it.
    pub last_tested_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
