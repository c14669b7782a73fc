//! `jobs`: the durable work queue (scrapes, sends, webhooks, ...).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Owning organization; `None` for system jobs.
    pub org_id: Option<Uuid>,
    /// Handler name, e.g. `scrape.website`.
    pub kind: String,
    pub payload: Json,
    /// queued | running | succeeded | failed | cancelled
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    /// Earliest start, epoch milliseconds.
    pub run_at_ms: i64,
    /// While running: the lease expiry, epoch milliseconds.
    pub lease_until_ms: Option<i64>,
    /// Worker id holding the lease.
    pub locked_by: Option<String>,
    #[sea_orm(unique)]
    pub idempotency_key: Option<String>,
    pub progress: Option<Json>,
    pub result: Option<Json>,
    pub last_error: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
