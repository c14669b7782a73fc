//! `marketing_costs`: money an organization spent on a campaign or a lead source (what `roi`
//! divides by), in integer minor units of an ISO 4217 currency.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "marketing_costs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    /// CAMPAIGN | SOURCE.
    pub kind: String,
    /// The campaign id, or the source name.
    pub subject: String,
    /// The campaign, for kind CAMPAIGN.
    pub campaign_id: Option<Uuid>,
    /// Minor units.
    pub amount_minor: i64,
    /// ISO 4217, uppercase.
    pub currency: String,
    pub updated_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
