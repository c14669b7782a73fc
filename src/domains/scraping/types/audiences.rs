//! GraphQL types of the audience builder: the saved filter and its input.

use std::sync::Arc;

use async_graphql::{Context, InputObject, InputType, Json, Object, ID};
use chrono::{DateTime, Utc};
use entity::audience;
use uuid::Uuid;

use crate::{
    auth::Permission,
    domains::{
        leads::{
            self as leads,
            types::{LeadFilter, LeadOrder},
            Lead, LeadConnection,
        },
        scraping::service::{audiences::leads_of_audiences, lead_pages::LeadPages},
    },
    error::AppResult,
    graphql::{
        pagination::KeysetArgs,
        siblings::{batchable, question, PageCells},
        ContextExt,
    },
};

/// Input of `updateAudience`: what is given changes.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateAudienceInput {
    /// New name.
    pub name: Option<String>,
    /// New filter (replaces the old one).
    pub filter: Option<LeadFilter>,
}

/// Audiences resolved together (one page): their `leads` pages load once for all of them, in
/// one statement per distinct arguments (`service::lead_pages`).
pub struct AudiencePage {
    filters: Vec<(Uuid, LeadFilter)>,
    leads: PageCells<LeadPages>,
}

/// A saved lead filter.
#[derive(Clone)]
pub struct Audience(pub audience::Model, Arc<AudiencePage>);

impl Audience {
    /// Wraps models that are resolved together.
    pub fn wrap(models: Vec<audience::Model>) -> Vec<Audience> {
        let page = Arc::new(AudiencePage {
            filters: models.iter().map(|m| (m.id, filter_of(m))).collect(),
            leads: PageCells::default(),
        });
        models
            .into_iter()
            .map(|m| Audience(m, page.clone()))
            .collect()
    }

    fn lead_filter(&self) -> LeadFilter {
        filter_of(&self.0)
    }
}

impl From<audience::Model> for Audience {
    fn from(m: audience::Model) -> Self {
        let mut all = Audience::wrap(vec![m]);
        all.remove(0)
    }
}

/// The saved filter of an audience (an unreadable one matches every lead, as before).
fn filter_of(m: &audience::Model) -> LeadFilter {
    serde_json::from_value(m.filter.clone()).unwrap_or_default()
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
        let args = KeysetArgs::new(first, after, last, before)?;
        let order = order_by.unwrap_or_default();
        if !batchable(state, &args) {
            return leads::list(state, viewer, &self.lead_filter(), order, args).await;
        }
        viewer.require(Permission::ReadLeads)?;
        let cell = self.1.leads.cell(question((
            args.limit,
            args.backward,
            format!("{:?}", order),
        )));
        let pages = cell
            .get_or_try_init(|| leads_of_audiences(state, viewer, &self.1.filters, order, &args))
            .await?;
        match pages.connection(&state.db, self.0.id) {
            Some(c) => Ok(c),
            None => leads::list(state, viewer, &self.lead_filter(), order, args).await,
        }
    }
}
