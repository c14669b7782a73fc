//! Page-wide batches the ai domain provides to lower domains: `Lead.analysis`, the newest
//! analysis of every lead of a page in one statement (leads' `newest_per_lead`), registered in
//! the leads domain's analysis slot (`graphql::slot`), read with `ReadAi`.

use async_graphql::Context;
use entity::lead_analysis;
use futures::future::BoxFuture;
use uuid::Uuid;

use super::types::LeadAnalysis;
use crate::{
    auth::Permission,
    domains::leads::{newest_per_lead, LeadAnalysisSlot},
    error::AppResult,
    graphql::{
        slot::{PerKey, Slot, SlotSource},
        ContextExt,
    },
    state::AppState,
};

/// The source of `Lead.analysis`.
struct LeadAnalyses;

impl SlotSource for LeadAnalyses {
    type Item = LeadAnalysis;

    fn check(&self, ctx: &Context<'_>) -> AppResult<()> {
        ctx.viewer()?.require(Permission::ReadAi)
    }

    fn load<'a>(
        &'a self,
        state: &'a AppState,
        keys: &'a [Uuid],
    ) -> BoxFuture<'a, AppResult<PerKey<LeadAnalysis>>> {
        Box::pin(async move {
            let lead_of = |m: &lead_analysis::Model| m.lead_id;
            let newest = newest_per_lead(&state.db, "lead_analyses", keys, 1, lead_of).await?;
            Ok(newest
                .into_iter()
                .map(|(lead, rows)| (lead, rows.into_iter().map(LeadAnalysis).collect()))
                .collect())
        })
    }
}

/// Registers the `Lead.analysis` source (idempotent; before any schema is built).
pub fn register_lead_fields() {
    LeadAnalysisSlot::provide(LeadAnalyses);
}
