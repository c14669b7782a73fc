//! `deal_stages`: the ordered stages of a pipeline, each with a win probability (0–100 %).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deal_stages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub org_id: Uuid,
    pub pipeline_id: Uuid,
    pub name: String,
    /// 0-based order within the pipeline.
    pub position: i32,
    /// Percent, 0–100.
    pub win_probability: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
