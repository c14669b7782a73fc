//! `Lead.campaigns`: outreach provides the leads domain's campaigns slot (`graphql::slot`),
//! so leads shows a lead's campaigns without naming outreach. The batch is the campaigns of a
//! whole page of leads ([`LeadCampaign::for_leads`], two statements), read with the slot's
//! permission (`LeadCampaignsSlot::PERMISSION`, shared with the compiled read path).

use async_graphql::Context;
use futures::future::BoxFuture;
use uuid::Uuid;

use crate::domains::outreach::campaigns::LeadCampaign;
use crate::{
    domains::leads::LeadCampaignsSlot,
    error::AppResult,
    graphql::{
        slot::{PerKey, Slot, SlotSource},
        ContextExt,
    },
    state::AppState,
};

/// The source of `Lead.campaigns`.
struct LeadCampaigns;

impl SlotSource for LeadCampaigns {
    type Item = LeadCampaign;

    fn check(&self, ctx: &Context<'_>) -> AppResult<()> {
        ctx.viewer()?.require(LeadCampaignsSlot::PERMISSION)
    }

    fn load<'a>(
        &'a self,
        state: &'a AppState,
        keys: &'a [Uuid],
    ) -> BoxFuture<'a, AppResult<PerKey<LeadCampaign>>> {
        Box::pin(LeadCampaign::for_leads(&state.db, keys))
    }
}

/// Registers the source (idempotent; before any schema is built).
pub fn register() {
    LeadCampaignsSlot::provide(LeadCampaigns);
}
