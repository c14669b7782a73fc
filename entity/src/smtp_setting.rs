//! `smtp_settings`: an organization's own SMTP server for campaign sends (one row per
//! organization; absent = the server-wide `SMTP_URL`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "smtp_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub org_id: Uuid,
    pub host: String,
    pub port: i32,
    /// NONE | STARTTLS | TLS.
    pub security: String,
    pub username: Option<String>,
    /// Encrypted (`v1:<kid>:…`, see `platform::secrets_box`; rows from before encryption may
    /// hold plain text until `leadgraph rotate-secrets`). Never returned by the API.
    pub password: Option<String>,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
