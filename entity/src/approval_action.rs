//! `approval_actions`: the history of an approval request, one row per action.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "approval_actions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub request_id: Uuid,
    pub org_id: Uuid,
    /// `None` for the system (ESCALATE, EXPIRE).
    pub actor_id: Option<Uuid>,
    /// CREATE | APPROVE | REJECT | REQUEST_CHANGES | DELEGATE | CANCEL | EXPIRE | ESCALATE | UPDATE.
    pub action: String,
    pub comment: Option<String>,
    /// The delegate (DELEGATE).
    pub to_user_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
