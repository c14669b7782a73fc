//! `sending_domains`: domains an organization may send campaigns from, verified by a DNS TXT
//! record `leadgraph-verification=<token>` (at `_leadgraph.<domain>` or the domain itself).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sending_domains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// Lowercase ASCII, no trailing dot.
    pub domain: String,
    /// Random; the TXT value is `leadgraph-verification=<token>`.
    pub token: String,
    /// Set once the TXT record was found; NULL = not usable.
    pub verified_at: Option<DateTimeUtc>,
    pub last_checked_at: Option<DateTimeUtc>,
    /// Why the last check did not verify it.
    pub last_error: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
