//! The campaign GraphQL types: the `Campaign`, `CampaignRecipient` and `LeadCampaign` objects
//! (campaigns resolved together, one page, share a [`CampaignPage`]: their templates and counters
//! load once for all of them), the live `CampaignEvent`, and the inputs, payloads and statistics
//! ([`inputs`]).

mod event;
mod inputs;

pub use event::{campaign_of, CampaignEvent, CampaignEventKind};
pub use inputs::*;

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};
use entity::{campaign, campaign_recipient, email_template};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::service::{ab, recipients, stats};
pub use crate::domains::outreach::types::{CampaignStatus, RecipientStatus};
use crate::{
    auth::Permission,
    domains::{
        leads::Lead,
        outreach::{
            templates::Template,
            tracking::{self, EmailEvent, EmailEventType},
        },
    },
    error::AppResult,
    graphql::{
        pagination::{IdConnection, PageArgs},
        siblings::{batchable, question, PageCells},
        ContextExt,
    },
};

/// Campaigns resolved together, with their templates, statistics (counters and stats) and
/// first pages of recipients and events loaded once for all.
pub struct CampaignPage {
    ids: Vec<Uuid>,
    template_ids: Vec<Uuid>,
    templates: OnceCell<HashMap<Uuid, email_template::Model>>,
    stats: OnceCell<stats::PageStats>,
    recipients: PageCells<recipients::RecipientPages>,
    events: PageCells<tracking::EventPages>,
}

/// An email campaign.
#[derive(Clone)]
pub struct Campaign(pub campaign::Model, Arc<CampaignPage>);

impl Campaign {
    /// Wraps models that are resolved together.
    pub fn wrap(models: Vec<campaign::Model>) -> Vec<Campaign> {
        let mut template_ids: Vec<Uuid> = models.iter().filter_map(|m| m.template_id).collect();
        template_ids.sort();
        template_ids.dedup();
        let page = Arc::new(CampaignPage {
            ids: models.iter().map(|m| m.id).collect(),
            template_ids,
            templates: OnceCell::new(),
            stats: OnceCell::new(),
            recipients: PageCells::default(),
            events: PageCells::default(),
        });
        models
            .into_iter()
            .map(|m| Campaign(m, page.clone()))
            .collect()
    }
}

impl Campaign {
    /// The statistics rows of the whole page (one grouped statement, on first use).
    async fn page_stats(&self, ctx: &Context<'_>) -> AppResult<&stats::PageStats> {
        let db = &ctx.state()?.db;
        self.1
            .stats
            .get_or_try_init(|| stats::PageStats::load(db, &self.1.ids))
            .await
    }
}

impl From<campaign::Model> for Campaign {
    fn from(m: campaign::Model) -> Self {
        let page = Arc::new(CampaignPage {
            ids: vec![m.id],
            template_ids: m.template_id.into_iter().collect(),
            templates: OnceCell::new(),
            stats: OnceCell::new(),
            recipients: PageCells::default(),
            events: PageCells::default(),
        });
        Campaign(m, page)
    }
}

#[Object]
impl Campaign {
    /// Campaign id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Lifecycle status.
    async fn status(&self) -> CampaignStatus {
        CampaignStatus::parse(&self.0.status).unwrap_or(CampaignStatus::Draft)
    }
    /// The template (null once deleted).
    async fn template(&self, ctx: &Context<'_>) -> AppResult<Option<Template>> {
        let Some(id) = self.0.template_id else {
            return Ok(None);
        };
        let db = &ctx.state()?.db;
        let all = self
            .1
            .templates
            .get_or_try_init(|| async {
                Ok::<_, crate::error::AppError>(
                    email_template::Entity::find()
                        .filter(email_template::Column::Id.is_in(self.1.template_ids.clone()))
                        .filter(email_template::Column::OrgId.eq(self.0.org_id))
                        .all(db)
                        .await?
                        .into_iter()
                        .map(|t| (t.id, t))
                        .collect(),
                )
            })
            .await?;
        Ok(all.get(&id).cloned().map(Template))
    }
    /// From display name.
    #[graphql(name = "fromName")]
    async fn sender_name(&self) -> &str {
        &self.0.from_name
    }
    /// From address.
    async fn from_email(&self) -> &str {
        &self.0.from_email
    }
    /// Reply-To address.
    async fn reply_to(&self) -> Option<&str> {
        self.0.reply_to.as_deref()
    }
    /// Messages per minute; null = unlimited.
    async fn send_rate_per_minute(&self) -> Option<i32> {
        self.0.send_rate_per_minute
    }
    /// Sends only to recipients whose address was validated; the others are SUPPRESSED.
    async fn require_validated_recipients(&self) -> bool {
        self.0.require_validated_recipients
    }
    /// When it starts (scheduled campaigns).
    async fn schedule_at(&self) -> Option<DateTime<Utc>> {
        self.0.schedule_at
    }
    /// A/B variants.
    async fn variants(&self) -> Vec<CampaignVariant> {
        serde_json::from_value(self.0.variants.clone()).unwrap_or_default()
    }
    /// When sending started.
    async fn launched_at(&self) -> Option<DateTime<Utc>> {
        self.0.launched_at
    }
    /// When it completed or was stopped.
    async fn completed_at(&self) -> Option<DateTime<Utc>> {
        self.0.completed_at
    }
    /// Why it failed (or the reviewer's comment after a rejected approval).
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// Creating user.
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
    /// Delivery counters (loaded once for the whole page).
    async fn counters(&self, ctx: &Context<'_>) -> AppResult<CampaignCounters> {
        Ok(self.page_stats(ctx).await?.counters(self.0.id))
    }
    /// Full statistics (same as `campaignStats(id)`).
    async fn stats(&self, ctx: &Context<'_>) -> AppResult<CampaignStats> {
        Ok(self.page_stats(ctx).await?.stats(self.0.id))
    }
    /// A/B winner selection settings (null = variants are split by weight for everybody).
    async fn ab_test(&self) -> Option<AbTest> {
        ab::test_of(&self.0)
    }
    /// The A/B winner once chosen (the variant everybody after the test fraction gets).
    async fn ab_winner(&self) -> Option<AbWinner> {
        ab::winner_of(&self.0)
    }
    /// Tracking events (opens, clicks, replies, bounces, unsubscribes), newest first, each
    /// with its address and lead (loaded once per page); optionally of one type.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "type")] kind: Option<EmailEventType>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<EmailEvent>> {
        let args = PageArgs::new(first, after, last, before)?;
        let state = ctx.state()?;
        let db = &state.db;
        if !batchable(state, &args) {
            return tracking::events_of_campaign(db, self.0.id, kind, args).await;
        }
        let cell = self.1.events.cell(question((
            args.limit,
            args.backward,
            kind.map(|k| k.as_str()),
        )));
        let pages = cell
            .get_or_try_init(|| tracking::EventPages::load(db, &self.1.ids, kind, &args))
            .await?;
        Ok(pages.connection(db, self.0.id, kind, &args))
    }
    /// Recipients, newest first; optionally only some statuses.
    async fn recipients(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        status: Option<Vec<RecipientStatus>>,
    ) -> AppResult<IdConnection<CampaignRecipient>> {
        let args = PageArgs::new(first, after, last, before)?;
        let state = ctx.state()?;
        let db = &state.db;
        if !batchable(state, &args) {
            return recipients::list(db, self.0.id, status, args).await;
        }
        let cell = self
            .1
            .recipients
            .cell(question((args.limit, args.backward, &status)));
        let pages = cell
            .get_or_try_init(|| recipients::RecipientPages::load(db, &self.1.ids, &status, &args))
            .await?;
        Ok(pages.connection(db, self.0.id, status, &args))
    }
}

/// One lead in a campaign.
pub struct CampaignRecipient {
    /// The row.
    pub row: campaign_recipient::Model,
    /// The lead (loaded for the whole page), unless deleted.
    pub lead: Option<Lead>,
}

#[Object]
impl CampaignRecipient {
    /// Recipient id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// The lead (null once deleted).
    async fn lead(&self) -> Option<&Lead> {
        self.lead.as_ref()
    }
    /// The address it was sent to (as it was when added).
    async fn email(&self) -> &str {
        &self.row.email
    }
    /// Furthest step reached.
    async fn status(&self) -> RecipientStatus {
        RecipientStatus::parse(&self.row.status).unwrap_or(RecipientStatus::Pending)
    }
    /// A/B variant.
    async fn variant(&self) -> Option<&str> {
        self.row.variant.as_deref()
    }
    /// Message-ID of the email.
    async fn message_id(&self) -> &str {
        &self.row.message_id
    }
    /// Send attempts.
    async fn attempts(&self) -> i32 {
        self.row.attempts
    }
    /// Times opened.
    async fn open_count(&self) -> i32 {
        self.row.open_count
    }
    /// Clicks.
    async fn click_count(&self) -> i32 {
        self.row.click_count
    }
    /// Accepted by the mail server.
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.row.sent_at
    }
    /// First open.
    async fn opened_at(&self) -> Option<DateTime<Utc>> {
        self.row.opened_at
    }
    /// First click.
    async fn clicked_at(&self) -> Option<DateTime<Utc>> {
        self.row.clicked_at
    }
    /// First reply.
    async fn replied_at(&self) -> Option<DateTime<Utc>> {
        self.row.replied_at
    }
    /// Bounce.
    async fn bounced_at(&self) -> Option<DateTime<Utc>> {
        self.row.bounced_at
    }
    /// `hard` or `soft`.
    async fn bounce_kind(&self) -> Option<&str> {
        self.row.bounce_kind.as_deref()
    }
    /// Unsubscribe.
    async fn unsubscribed_at(&self) -> Option<DateTime<Utc>> {
        self.row.unsubscribed_at
    }
    /// Latest tracking event.
    async fn last_event_at(&self) -> Option<DateTime<Utc>> {
        self.row.last_event_at
    }
    /// Why it failed.
    async fn error(&self) -> Option<&str> {
        self.row.error.as_deref()
    }
}

/// A campaign a lead is (or was) a recipient of.
#[derive(Clone)]
pub struct LeadCampaign {
    campaign: Campaign,
    row: campaign_recipient::Model,
}

impl LeadCampaign {
    /// The campaigns of a page of leads: two statements, and every campaign wrapped once for
    /// the whole page (so their templates and counters load once too).
    pub async fn for_leads(
        db: &sea_orm::DatabaseConnection,
        lead_ids: &[Uuid],
    ) -> AppResult<HashMap<Uuid, Vec<LeadCampaign>>> {
        let rows = recipients::campaigns_of_leads(db, lead_ids).await?;
        let mut distinct: HashMap<Uuid, campaign::Model> = HashMap::new();
        for list in rows.values() {
            for (_, c) in list {
                distinct.entry(c.id).or_insert_with(|| c.clone());
            }
        }
        let wrapped: HashMap<Uuid, Campaign> = Campaign::wrap(distinct.into_values().collect())
            .into_iter()
            .map(|c| (c.0.id, c))
            .collect();
        Ok(rows
            .into_iter()
            .map(|(lead, list)| {
                let items = list
                    .into_iter()
                    .filter_map(|(row, c)| {
                        wrapped.get(&c.id).map(|w| LeadCampaign {
                            campaign: w.clone(),
                            row,
                        })
                    })
                    .collect();
                (lead, items)
            })
            .collect())
    }
}

#[Object]
impl LeadCampaign {
    /// The campaign.
    async fn campaign(&self) -> &Campaign {
        &self.campaign
    }
    /// The lead's status in it.
    async fn status(&self) -> RecipientStatus {
        RecipientStatus::parse(&self.row.status).unwrap_or(RecipientStatus::Pending)
    }
    /// When the email was sent.
    async fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.row.sent_at
    }
    /// Latest tracking event.
    async fn last_event_at(&self) -> Option<DateTime<Utc>> {
        self.row.last_event_at
    }
}

/// Requires the read permission (used by `Lead.campaigns`).
pub fn can_read(ctx: &Context<'_>) -> AppResult<()> {
    ctx.viewer()?.require(Permission::ReadOutreach)
}
