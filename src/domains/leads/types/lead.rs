//! The `Lead` GraphQL object and its children (notes, timeline entries).
//!
//! Leads resolved together (a page, or one lead) share a [`LeadPage`]: the first lead that
//! needs owners, tags, the newest notes or timeline entries, campaigns or the analysis loads
//! them for all its siblings in one statement. `campaigns` and `analysis` show data of higher
//! domains (outreach, ai): they are field slots (`graphql::slot`) whose item type and batch
//! those domains register at start-up ([`LeadCampaignsSlot`], [`LeadAnalysisSlot`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_graphql::{
    connection::{Connection, Edge},
    Context, Json, Object, SimpleObject, ID,
};
use chrono::{DateTime, Utc};
use entity::{lead, lead_interaction, lead_note, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::{EmailStatus, FieldProvenance, LeadSource, LeadStatus, Location, ScoreReason};
use crate::{
    auth::Permission,
    db::fast::ByIndex,
    domains::{
        identity::{types::User, users_by_id},
        leads::loader,
    },
    error::AppResult,
    graphql::{
        pagination::{page_by_id_desc, IdConnection, KeyCursor, PageArgs, TotalCount},
        slot::{Contributed, Slot, SlotBatch, SlotCell},
        ContextExt,
    },
};

/// `Lead.campaigns: [LeadCampaign!]!`: the campaigns a lead is a recipient of (outreach
/// provides them).
pub struct LeadCampaignsSlot;

impl Slot for LeadCampaignsSlot {
    const TYPE_NAME: &'static str = "LeadCampaign";
    fn cell() -> &'static SlotCell {
        static CELL: SlotCell = SlotCell::new();
        &CELL
    }
}

/// `Lead.analysis: LeadAnalysis`: the newest AI analysis of a lead (ai provides it, at most one
/// item per lead).
pub struct LeadAnalysisSlot;

impl Slot for LeadAnalysisSlot {
    const TYPE_NAME: &'static str = "LeadAnalysis";
    fn cell() -> &'static SlotCell {
        static CELL: SlotCell = SlotCell::new();
        &CELL
    }
}

impl LeadCampaignsSlot {
    /// Who may read `Lead.campaigns`: outreach's source checks it, and the compiled read path
    /// (`graphql::compiled::leads`) covers the field only for viewers who have it.
    pub const PERMISSION: Permission = Permission::ReadOutreach;

    /// The order of a lead's campaigns, newest recipient row first: the `ORDER BY` over the
    /// `campaign_recipients` table aliased `recipients`, for outreach's batch and the compiled
    /// path alike.
    pub fn order_by(recipients: &str) -> String {
        format!("{recipients}.id DESC")
    }
}

/// Largest `first` of a notes or timeline page served by the page-wide batch (beyond it, or
/// with a cursor, a direct query). The compiled read path covers exactly these pages
/// ([`batched_child_page`]).
pub const CHILD_BATCH_MAX: i32 = 50;

/// The size of a notes or timeline page without `first`.
pub const CHILD_PAGE_DEFAULT: i32 = 20;

/// A note on a lead.
#[derive(SimpleObject, Debug, Clone)]
pub struct LeadNote {
    /// Note id.
    pub id: ID,
    /// Text.
    pub body: String,
    /// Author's user id.
    pub author_id: Option<ID>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last edit.
    pub updated_at: DateTime<Utc>,
}

impl From<lead_note::Model> for LeadNote {
    fn from(m: lead_note::Model) -> Self {
        LeadNote {
            id: ID(m.id.to_string()),
            body: m.body,
            author_id: m.author_id.map(|a| ID(a.to_string())),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// One entry of a lead's timeline.
#[derive(SimpleObject, Debug, Clone)]
pub struct LeadInteraction {
    /// Entry id.
    pub id: ID,
    /// `created`, `updated`, `status_changed`, `note_added`, `contacted`, `assigned`,
    /// `tags_added`, `tags_removed`, `merged` (email events later).
    pub kind: String,
    /// Acting user.
    pub actor_id: Option<ID>,
    /// Details, e.g. `{changedFields}` or `{from, to}`.
    pub data: Json<serde_json::Value>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<lead_interaction::Model> for LeadInteraction {
    fn from(m: lead_interaction::Model) -> Self {
        LeadInteraction {
            id: ID(m.id.to_string()),
            kind: m.kind,
            actor_id: m.actor_id.map(|a| ID(a.to_string())),
            data: Json(m.data),
            created_at: m.created_at,
        }
    }
}

type PerLead<T> = HashMap<Uuid, Vec<T>>;
type Shared<T> = Arc<OnceCell<T>>;

/// The leads resolved together (one page, or a single lead) and their children, loaded once for
/// all of them on first use.
pub struct LeadPage {
    ids: Vec<Uuid>,
    owner_ids: Vec<Uuid>,
    tags: OnceCell<HashMap<Uuid, Vec<String>>>,
    owners: OnceCell<HashMap<Uuid, user::Model>>,
    notes: Mutex<HashMap<u64, Shared<PerLead<lead_note::Model>>>>,
    timeline: Mutex<HashMap<u64, Shared<PerLead<lead_interaction::Model>>>>,
    campaigns: SlotBatch<LeadCampaignsSlot>,
    analyses: SlotBatch<LeadAnalysisSlot>,
}

impl LeadPage {
    fn new(models: &[lead::Model]) -> Arc<Self> {
        let mut owner_ids: Vec<Uuid> = models.iter().filter_map(|m| m.owner_id).collect();
        owner_ids.sort();
        owner_ids.dedup();
        Arc::new(LeadPage {
            ids: models.iter().map(|m| m.id).collect(),
            owner_ids,
            tags: OnceCell::new(),
            owners: OnceCell::new(),
            notes: Mutex::new(HashMap::new()),
            timeline: Mutex::new(HashMap::new()),
            campaigns: SlotBatch::default(),
            analyses: SlotBatch::default(),
        })
    }

    /// Wraps models that are resolved together.
    pub fn wrap(models: Vec<lead::Model>) -> Vec<Lead> {
        let page = Self::new(&models);
        models.into_iter().map(|m| Lead(m, page.clone())).collect()
    }

    fn slot<T>(map: &Mutex<HashMap<u64, Shared<T>>>, n: u64) -> Shared<T> {
        match map.lock() {
            Ok(mut m) => m.entry(n).or_default().clone(),
            Err(_) => Arc::new(OnceCell::new()),
        }
    }
}

/// A business contact in the pipeline.
#[derive(Clone)]
pub struct Lead(pub lead::Model, Arc<LeadPage>);

impl From<lead::Model> for Lead {
    fn from(m: lead::Model) -> Self {
        let page = LeadPage::new(std::slice::from_ref(&m));
        Lead(m, page)
    }
}

/// `Some(n)`, the page size, when a notes/timeline page (`first`, `after`) comes from the
/// page-wide batch; the compiled read path answers the same pages and leaves the others to the
/// resolvers.
pub fn batched_child_page(first: Option<i32>, after: Option<&str>) -> Option<u64> {
    let n = first.unwrap_or(CHILD_PAGE_DEFAULT);
    (after.is_none() && (0..=CHILD_BATCH_MAX).contains(&n)).then_some(n as u64)
}

/// A first page from `rows` (newest first, up to n + 1 of them).
fn first_page<M, N: async_graphql::OutputType>(
    mut rows: Vec<M>,
    n: u64,
    total: TotalCount,
    id_of: impl Fn(&M) -> Uuid,
    to_node: impl Fn(M) -> N,
) -> IdConnection<N> {
    let more = rows.len() as u64 > n;
    rows.truncate(n as usize);
    let mut conn = Connection::with_additional_fields(false, more, total);
    conn.edges.extend(
        rows.into_iter()
            .map(|m| Edge::new(KeyCursor(id_of(&m)), to_node(m))),
    );
    conn
}

#[Object]
impl Lead {
    /// Lead id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Given name.
    async fn first_name(&self) -> Option<&str> {
        self.0.first_name.as_deref()
    }
    /// Family name.
    async fn last_name(&self) -> Option<&str> {
        self.0.last_name.as_deref()
    }
    /// First and last name, or null.
    async fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = [self.0.first_name.as_deref(), self.0.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
    /// Email (lowercase).
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
    /// Phone in E.164.
    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }
    /// The phone's line type, as a phone look-up found it (enrichment): MOBILE, FIXED_LINE,
    /// FIXED_LINE_OR_MOBILE, VOIP, TOLL_FREE, PREMIUM_RATE, SATELLITE, PAGING,
    /// SPECIAL_SERVICES or OTHER. Cleared when the phone changes.
    async fn phone_type(&self) -> Option<&str> {
        self.0.phone_type.as_deref()
    }
    /// The phone's carrier, as a phone look-up found it (enrichment).
    async fn phone_carrier(&self) -> Option<&str> {
        self.0.phone_carrier.as_deref()
    }
    /// The phone's country (ISO 3166-1 alpha-2), as a phone look-up found it (enrichment).
    async fn phone_country(&self) -> Option<&str> {
        self.0.phone_country.as_deref()
    }
    /// Company.
    async fn company(&self) -> Option<&str> {
        (!self.0.company.is_empty()).then_some(self.0.company.as_str())
    }
    /// Job title.
    async fn title(&self) -> Option<&str> {
        self.0.title.as_deref()
    }
    /// Website.
    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }
    /// Industry.
    async fn industry(&self) -> Option<&str> {
        self.0.industry.as_deref()
    }
    /// Location.
    async fn location(&self) -> Location {
        Location {
            city: self.0.city.clone(),
            region: self.0.region.clone(),
            country: self.0.country.clone(),
            latitude: self.0.latitude,
            longitude: self.0.longitude,
        }
    }
    /// Where it came from.
    async fn source(&self) -> LeadSource {
        LeadSource::parse(&self.0.source).unwrap_or(LeadSource::Other)
    }
    /// Pipeline status.
    async fn status(&self) -> LeadStatus {
        LeadStatus::parse(&self.0.status).unwrap_or(LeadStatus::New)
    }
    /// Score 0–100.
    async fn score(&self) -> i32 {
        self.0.score
    }
    /// The rules behind the score.
    async fn score_reasons(&self) -> Vec<ScoreReason> {
        serde_json::from_value(self.0.score_reasons.clone()).unwrap_or_default()
    }
    /// Free-form fields.
    async fn custom_fields(&self) -> Json<serde_json::Value> {
        Json(self.0.custom_fields.clone())
    }
    /// For each field, where its value came from and when.
    async fn provenance(&self) -> Vec<FieldProvenance> {
        let Some(obj) = self.0.provenance.as_object() else {
            return Vec::new();
        };
        let mut out: Vec<FieldProvenance> = obj
            .iter()
            .map(|(field, v)| FieldProvenance {
                field: field.clone(),
                kind: v["kind"].as_str().unwrap_or("manual").to_string(),
                reference: v["reference"].as_str().map(str::to_string),
                at: v["at"]
                    .as_str()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(self.0.created_at),
            })
            .collect();
        out.sort_by(|a, b| a.field.cmp(&b.field));
        out
    }
    /// The latest verdict on the email (`validateContact`); its reasons are in `provenance`
    /// under `emailStatus`. Null until validated.
    async fn email_status(&self) -> Option<EmailStatus> {
        self.0.email_status.as_deref().and_then(EmailStatus::parse)
    }
    /// When the email was last validated.
    async fn validated_at(&self) -> Option<DateTime<Utc>> {
        self.0.validated_at
    }
    /// When someone last contacted the lead.
    async fn last_contacted_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_contacted_at
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Tags, sorted (loaded once for the whole page).
    async fn tags(&self, ctx: &Context<'_>) -> AppResult<Vec<String>> {
        let db = &ctx.state()?.db;
        let all = self
            .1
            .tags
            .get_or_try_init(|| loader::tags(db, &self.1.ids))
            .await?;
        Ok(all.get(&self.0.id).cloned().unwrap_or_default())
    }
    /// The owning member (loaded once for the whole page).
    async fn owner(&self, ctx: &Context<'_>) -> AppResult<Option<User>> {
        let Some(owner) = self.0.owner_id else {
            return Ok(None);
        };
        let db = &ctx.state()?.db;
        let all = self
            .1
            .owners
            .get_or_try_init(|| users_by_id(db, &self.1.owner_ids))
            .await?;
        Ok(all.get(&owner).cloned().map(User::from))
    }
    /// Notes, newest first. First pages (first ≤ 50, no cursor) are loaded once for the page.
    async fn notes(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<IdConnection<LeadNote>> {
        let children: Children<'_, lead_note::Entity> = Children {
            slots: &self.1.notes,
            table: "lead_notes",
            lead_col: lead_note::Column::LeadId,
            id_col: lead_note::Column::Id,
            id_of: |m: &lead_note::Model| m.id,
            lead_of: |m: &lead_note::Model| m.lead_id,
        };
        self.child_page(ctx, children, first, after, LeadNote::from)
            .await
    }
    /// Campaigns the lead is a recipient of, newest first, with its status in each (loaded
    /// once for the whole page).
    async fn campaigns(&self, ctx: &Context<'_>) -> AppResult<Vec<Contributed<LeadCampaignsSlot>>> {
        self.1.campaigns.get(ctx, &self.1.ids, self.0.id).await
    }
    /// The newest AI analysis (`analyzeLead`), if any; loaded once for the whole page.
    async fn analysis(
        &self,
        ctx: &Context<'_>,
    ) -> AppResult<Option<Contributed<LeadAnalysisSlot>>> {
        let mut items = self.1.analyses.get(ctx, &self.1.ids, self.0.id).await?;
        Ok((!items.is_empty()).then(|| items.swap_remove(0)))
    }
    /// Timeline, newest first. First pages (first ≤ 50, no cursor) are loaded once for the page.
    async fn timeline(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> AppResult<IdConnection<LeadInteraction>> {
        let children: Children<'_, lead_interaction::Entity> = Children {
            slots: &self.1.timeline,
            table: "lead_interactions",
            lead_col: lead_interaction::Column::LeadId,
            id_col: lead_interaction::Column::Id,
            id_of: |m: &lead_interaction::Model| m.id,
            lead_of: |m: &lead_interaction::Model| m.lead_id,
        };
        self.child_page(ctx, children, first, after, LeadInteraction::from)
            .await
    }
}

/// A child relation of leads paged newest first (notes, timeline entries).
struct Children<'a, E: EntityTrait> {
    /// The page-wide batches, by page size.
    slots: &'a Mutex<HashMap<u64, Shared<PerLead<E::Model>>>>,
    table: &'static str,
    lead_col: E::Column,
    id_col: E::Column,
    id_of: fn(&E::Model) -> Uuid,
    lead_of: fn(&E::Model) -> Uuid,
}

impl Lead {
    /// A page of `children` of this lead: a first page (first ≤ 50, no cursor) from the
    /// page-wide batch, any other by a direct query.
    async fn child_page<E, N>(
        &self,
        ctx: &Context<'_>,
        children: Children<'_, E>,
        first: Option<i32>,
        after: Option<String>,
        to_node: fn(E::Model) -> N,
    ) -> AppResult<IdConnection<N>>
    where
        E: EntityTrait,
        E::Model: ByIndex + Clone + Send + Sync,
        N: async_graphql::OutputType,
    {
        let id = self.0.id;
        let db = ctx.state()?.db.clone();
        let lead_col = children.lead_col;
        let base = move || E::find().filter(lead_col.eq(id));
        if let Some(n) = batched_child_page(first, after.as_deref()) {
            let slot = LeadPage::slot(children.slots, n);
            let all = slot
                .get_or_try_init(|| {
                    loader::newest_per_lead(
                        &db,
                        children.table,
                        &self.1.ids,
                        n + 1,
                        children.lead_of,
                    )
                })
                .await?;
            let rows = all.get(&id).cloned().unwrap_or_default();
            let total = TotalCount::lazy(db, base);
            return Ok(first_page(rows, n, total, children.id_of, to_node));
        }
        let args = PageArgs::new(first, after, None, None)?;
        page_by_id_desc(&db, base(), children.id_col, &args, children.id_of, to_node).await
    }
}
