//! `enrichment_run_items`: one finished lead × field of a batch run, written in the transaction
//! of its result (a resumed run skips it).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrichment_run_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub lead_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub field: String,
    /// The field's outcome (FILLED, ALREADY_FILLED, NOT_FOUND, FAILED, ...).
    pub outcome: String,
    /// The provider that filled it.
    pub provider: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
