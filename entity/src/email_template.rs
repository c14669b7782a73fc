//! `email_templates`: reusable subject + HTML + text bodies (minijinja syntax).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_templates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub category: Option<String>,
    pub subject: String,
    pub body_html: String,
    pub body_text: String,
    pub favorite: bool,
    /// The copy was written by the AI assistant (approval rules may look at this).
    pub ai_generated: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
