//! GraphQL types of the audience builder: the saved filter and its input.

use async_graphql::{Context, InputObject, InputType, Json, Object, ID};
use chrono::{DateTime, Utc};
use entity::audience;

use crate::{
    domains::leads::{
        self as leads,
        types::{LeadFilter, LeadOrder},
        Lead, LeadConnection,
    },
    error::AppResult,
    graphql::{pagination::KeysetArgs, ContextExt},
};

/// Input of `updateAudience`: what is given changes.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateAudienceInput {
    /// New name.
    pub name: Option<String>,
    /// New filter (replaces the old one).
    pub filter: Option<LeadFilter>,
}

/// A saved lead filter.
pub struct Audience(pub audience::Model);

impl From<audience::Model> for Audience {
    fn from(m: audience::Model) -> Self {
        Audience(m)
    }
}

impl Audience {
    fn lead_filter(&self) -> LeadFilter {
        serde_json::from_value(self.0.filter.clone()).unwrap_or_default()
    }
}

#[Object]
impl Audience {
    /// Audience id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Name (unique in the organization).
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The saved filter, in the shape of the `LeadFilter` input (pass it to `leads(filter:)`).
    async fn filter(&self) -> Json<serde_json::Value> {
        Json(
            self.lead_filter()
                .to_value()
                .into_json()
                .unwrap_or_default(),
        )
    }
    /// Who saved it.
    async fn created_by_id(&self) -> Option<ID> {
        self.0.created_by.map(|u| ID(u.to_string()))
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// The leads matching the filter now (same ordering and paging as `leads`).
    async fn leads(
        &self,
        ctx: &Context<'_>,
        order_by: Option<LeadOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<LeadConnection<Lead>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        leads::list(
            state,
            viewer,
            &self.lead_filter(),
            order_by.unwrap_or_default(),
            KeysetArgs::new(first, after, last, before)?,
        )
        .await
    }
}
