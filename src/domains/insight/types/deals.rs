//! Deals, pipelines and their stages: objects, inputs and the status enum.

use async_graphql::{Enum, InputObject, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{deal, deal_stage, pipeline};

/// Where a deal stands.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealStatus {
    /// In the pipeline.
    Open,
    /// Won: its value counts as revenue.
    Won,
    /// Lost (`lostReason` says why).
    Lost,
}

crate::wire_enum!(DealStatus {
    Open => "OPEN",
    Won => "WON",
    Lost => "LOST",
});

/// A stage of a pipeline.
#[derive(SimpleObject, Debug, Clone)]
pub struct DealStage {
    /// Stage id.
    pub id: ID,
    /// Name.
    pub name: String,
    /// 0-based order within the pipeline.
    pub position: i32,
    /// Chance a deal in this stage is won, in percent (0–100).
    pub win_probability: i32,
}

impl From<deal_stage::Model> for DealStage {
    fn from(m: deal_stage::Model) -> Self {
        DealStage {
            id: ID(m.id.to_string()),
            name: m.name,
            position: m.position,
            win_probability: m.win_probability,
        }
    }
}

/// A sales pipeline: ordered stages deals move through.
#[derive(SimpleObject, Debug, Clone)]
pub struct Pipeline {
    /// Pipeline id.
    pub id: ID,
    /// Name.
    pub name: String,
    /// Its stages, in order.
    pub stages: Vec<DealStage>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Pipeline {
    /// The object of a pipeline row with its stages (in order).
    pub fn new(m: pipeline::Model, stages: Vec<deal_stage::Model>) -> Self {
        Pipeline {
            id: ID(m.id.to_string()),
            name: m.name,
            stages: stages.into_iter().map(DealStage::from).collect(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// An opportunity with a lead.
#[derive(SimpleObject, Debug, Clone)]
pub struct Deal {
    /// Deal id.
    pub id: ID,
    /// Title.
    pub title: String,
    /// Value in minor units of `currency` (cents for USD, yen for JPY).
    pub amount_minor: i64,
    /// ISO 4217 code (`EUR`).
    pub currency: String,
    /// Open, won or lost.
    pub status: DealStatus,
    /// Why it was lost.
    pub lost_reason: Option<String>,
    /// Its pipeline.
    pub pipeline_id: ID,
    /// Its stage.
    pub stage: DealStage,
    /// The lead (null once the lead was deleted).
    pub lead_id: Option<ID>,
    /// The member responsible.
    pub owner_id: Option<ID>,
    /// When it is expected to close.
    pub expected_close_date: Option<NaiveDate>,
    /// When it was won or lost.
    pub closed_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Deal {
    /// The object of a deal row and its stage.
    pub fn new(m: deal::Model, stage: deal_stage::Model) -> Self {
        Deal {
            id: ID(m.id.to_string()),
            title: m.title,
            amount_minor: m.amount_minor,
            currency: m.currency,
            status: DealStatus::parse(&m.status).unwrap_or(DealStatus::Open),
            lost_reason: m.lost_reason,
            pipeline_id: ID(m.pipeline_id.to_string()),
            stage: stage.into(),
            lead_id: m.lead_id.map(|u| ID(u.to_string())),
            owner_id: m.owner_id.map(|u| ID(u.to_string())),
            expected_close_date: m.expected_close_date,
            closed_at: m.closed_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A stage in `createPipeline` / `updatePipeline` (list order = stage order).
#[derive(InputObject, Debug, Clone)]
pub struct StageInput {
    /// An existing stage to keep (update only); absent = a new stage.
    pub id: Option<ID>,
    /// Name (1–100 characters, unique in the pipeline).
    pub name: String,
    /// Chance of winning in percent, 0–100.
    pub win_probability: i32,
}

/// Input of `createPipeline`.
#[derive(InputObject, Debug, Clone)]
pub struct CreatePipelineInput {
    /// Name (1–100 characters).
    pub name: String,
    /// 1–20 stages, in order.
    pub stages: Vec<StageInput>,
}

/// Input of `updatePipeline` (absent fields stay).
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdatePipelineInput {
    /// Name.
    pub name: Option<String>,
    /// The full new list of stages, in order: stages with an `id` are kept (renamed,
    /// re-ordered), those without are added, stages left out are removed (CONFLICT while a
    /// deal is in one).
    pub stages: Option<Vec<StageInput>>,
}

/// Input of `createDeal`.
#[derive(InputObject, Debug, Clone)]
pub struct CreateDealInput {
    /// The lead.
    pub lead_id: ID,
    /// Title (1–200 characters).
    pub title: String,
    /// Value in minor units (≥ 0).
    pub amount_minor: i64,
    /// ISO 4217 code (`EUR`, `USD`, ...).
    pub currency: String,
    /// The pipeline.
    pub pipeline_id: ID,
    /// The stage (default: the pipeline's first).
    pub stage_id: Option<ID>,
    /// The member responsible.
    pub owner_id: Option<ID>,
    /// When it is expected to close.
    pub expected_close_date: Option<NaiveDate>,
}

/// Input of `updateDeal` (absent fields stay).
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateDealInput {
    /// Title.
    pub title: Option<String>,
    /// Value in minor units.
    pub amount_minor: Option<i64>,
    /// ISO 4217 code.
    pub currency: Option<String>,
    /// The member responsible.
    pub owner_id: Option<ID>,
    /// When it is expected to close.
    pub expected_close_date: Option<NaiveDate>,
}

/// Filter of `deals`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct DealFilter {
    /// Only deals with this status.
    pub status: Option<DealStatus>,
    /// Only deals of this pipeline.
    pub pipeline_id: Option<ID>,
    /// Only deals in this stage.
    pub stage_id: Option<ID>,
    /// Only deals of this owner.
    pub owner_id: Option<ID>,
    /// Only deals of this lead.
    pub lead_id: Option<ID>,
}
