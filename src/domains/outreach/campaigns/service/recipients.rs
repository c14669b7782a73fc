//! Campaign recipients: adding leads (by ids, a lead filter or a saved audience) while skipping
//! suppressed addresses, leads without email and leads already present; removing; listing; and
//! the campaigns of a page of leads (`Lead.campaigns`).

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{audience, campaign, campaign_recipient, email_suppression, lead};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, TransactionTrait,
};
use uuid::Uuid;

use super::{lifecycle, record_status, status_of};
use crate::domains::outreach::campaigns::{
    service as campaigns,
    types::{AddRecipientsPayload, CampaignRecipient, CampaignStatus, RecipientStatus},
};
use crate::{
    auth::{Permission, Viewer},
    domains::leads::{self as leads, filtered, types::LeadFilter, Lead, LeadPage},
    error::{AppError, AppResult},
    graphql::{
        pagination::{keyset_rows, IdConnection, KeysetRows, PageArgs, TotalCount},
        siblings::first_pages,
    },
    ids::parse_id,
    state::AppState,
    state::Wakes,
};

/// Most lead ids in one `addCampaignRecipients`.
pub const MAX_LEAD_IDS: usize = 10_000;
const CHUNK: u64 = 500;

/// Who to add.
pub enum Source {
    /// These leads.
    Leads(Vec<Uuid>),
    /// Leads matching a filter.
    Filter(Box<LeadFilter>),
    /// Leads of a saved audience.
    Audience(Uuid),
}

/// The Message-ID of a recipient's email: derived from the recipient and campaign ids, so a
/// retried send carries the same id (a receiving system can dedupe by it) and replies and
/// provider events find the recipient again.
pub fn message_id(recipient: Uuid, campaign: Uuid, from_email: &str) -> String {
    let domain = from_email.rsplit('@').next().unwrap_or("localhost");
    format!("<{}.{}@{}>", recipient.simple(), campaign.simple(), domain)
}

/// Suppressed addresses among `emails` (lowercase) in `org`.
pub async fn suppressed(
    conn: &impl ConnectionTrait,
    org: Uuid,
    emails: &[String],
) -> AppResult<HashSet<String>> {
    if emails.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(email_suppression::Entity::find()
        .filter(email_suppression::Column::OrgId.eq(org))
        .filter(email_suppression::Column::Email.is_in(emails.iter().cloned()))
        .select_only()
        .column(email_suppression::Column::Email)
        .into_tuple::<String>()
        .all(conn)
        .await?
        .into_iter()
        .collect())
}

/// A lead to add: its id and email.
type Candidate = (Uuid, Option<String>);

/// Adds one chunk of leads in `txn`; returns (added, already present, suppressed, without
/// email).
async fn add_chunk(
    txn: &DatabaseTransaction,
    c: &campaign::Model,
    rows: &[Candidate],
) -> AppResult<(i64, i64, i64, i64)> {
    let (with, without): (Vec<&Candidate>, Vec<&Candidate>) =
        rows.iter().partition(|l| l.1.is_some());
    let emails: Vec<String> = with
        .iter()
        .filter_map(|l| l.1.clone())
        .map(|e| e.to_lowercase())
        .collect();
    let blocked = suppressed(txn, c.org_id, &emails).await?;
    let ids: Vec<Uuid> = with.iter().map(|l| l.0).collect();
    let present: HashSet<Uuid> = campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.eq(c.id))
        .filter(campaign_recipient::Column::LeadId.is_in(ids))
        .select_only()
        .column(campaign_recipient::Column::LeadId)
        .into_tuple::<Option<Uuid>>()
        .all(txn)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let now = Utc::now();
    let (mut added, mut already, mut supp) = (0, 0, 0);
    let mut new_rows = Vec::new();
    for (lead_id, email) in with {
        let email = email.clone().unwrap_or_default().to_lowercase();
        if present.contains(lead_id) {
            already += 1;
        } else if blocked.contains(&email) {
            supp += 1;
        } else {
            let id = Uuid::now_v7();
            added += 1;
            new_rows.push(campaign_recipient::ActiveModel {
                id: Set(id),
                campaign_id: Set(c.id),
                org_id: Set(c.org_id),
                lead_id: Set(Some(*lead_id)),
                email: Set(email),
                status: Set(RecipientStatus::Pending.as_str().into()),
                variant: Set(None),
                message_id: Set(message_id(id, c.id, &c.from_email)),
                attempts: Set(0),
                open_count: Set(0),
                click_count: Set(0),
                sent_at: Set(None),
                opened_at: Set(None),
                clicked_at: Set(None),
                replied_at: Set(None),
                bounced_at: Set(None),
                bounce_kind: Set(None),
                unsubscribed_at: Set(None),
                last_event_at: Set(None),
                error: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
    }
    if !new_rows.is_empty() {
        // A concurrent add of the same lead is absorbed by the unique (campaign, lead) index.
        campaign_recipient::Entity::insert_many(new_rows)
            .on_conflict(
                OnConflict::columns([
                    campaign_recipient::Column::CampaignId,
                    campaign_recipient::Column::LeadId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    Ok((added, already, supp, without.len() as i64))
}

/// Collects the leads to add. A DRAFT campaign takes them chunk by chunk, one transaction each;
/// any other campaign may be sending (or about to), so its new recipients are held back and
/// inserted in one transaction together with the approval gate's decision ([`commit_held`]):
/// the send job never sees a recipient the gate has not cleared.
struct Adder<'a> {
    state: &'a AppState,
    c: &'a campaign::Model,
    held: Option<Vec<Candidate>>,
    out: AddRecipientsPayload,
}

impl Adder<'_> {
    fn count(&mut self, r: (i64, i64, i64, i64)) {
        self.out.added += r.0;
        self.out.already_present += r.1;
        self.out.suppressed += r.2;
        self.out.without_email += r.3;
    }

    async fn take(&mut self, rows: &[lead::Model]) -> AppResult<()> {
        let rows: Vec<Candidate> = rows.iter().map(|l| (l.id, l.email.clone())).collect();
        if let Some(held) = &mut self.held {
            held.extend(rows);
            return Ok(());
        }
        let txn = self.state.db.begin().await?;
        let r = add_chunk(&txn, self.c, &rows).await?;
        txn.commit().await?;
        self.count(r);
        Ok(())
    }
}

/// Inserts the held recipients of a campaign that is not a DRAFT and asks the gate again
/// (`lifecycle::regate`), all in one transaction that first locks the campaign row.
async fn commit_held(
    state: &AppState,
    viewer: &Viewer,
    adder: &mut Adder<'_>,
    held: Vec<Candidate>,
) -> AppResult<()> {
    let txn = state.db.begin().await?;
    // Taking the row lock first orders this with launches, pauses and approvals.
    campaign::Entity::update_many()
        .col_expr(campaign::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(campaign::Column::Id.eq(adder.c.id))
        .exec(&txn)
        .await?;
    let c = campaigns::get(&txn, viewer, adder.c.id).await?;
    if !addable(status_of(&c)) {
        return Err(AppError::Conflict(format!(
            "recipients cannot be added to a {} campaign",
            c.status
        )));
    }
    for chunk in held.chunks(CHUNK as usize) {
        let r = add_chunk(&txn, &c, chunk).await?;
        adder.count(r);
    }
    if adder.out.added > 0 {
        record_status(&txn, c.org_id, Some(viewer.user_id), c.id, status_of(&c)).await?;
        lifecycle::regate(&txn, viewer, c).await?;
    }
    state.commit(txn, Wakes::Events).await?;
    Ok(())
}

fn addable(s: CampaignStatus) -> bool {
    matches!(
        s,
        CampaignStatus::Draft
            | CampaignStatus::Scheduled
            | CampaignStatus::Paused
            | CampaignStatus::Running
    )
}

/// Adds leads to a campaign that is not finished (DRAFT, SCHEDULED, PAUSED or RUNNING).
/// Suppressed addresses and leads without email are never added. Recipients added to a
/// SCHEDULED or RUNNING campaign pass the approval gate again (PENDING_APPROVAL when a rule
/// applies to the new recipient set); a PAUSED campaign is checked when it resumes.
pub async fn add(
    state: &AppState,
    viewer: &Viewer,
    campaign_id: Uuid,
    source: Source,
) -> AppResult<AddRecipientsPayload> {
    viewer.require(Permission::WriteOutreach)?;
    let c = campaigns::get(&state.db, viewer, campaign_id).await?;
    let status = status_of(&c);
    if !addable(status) {
        return Err(AppError::Conflict(format!(
            "recipients cannot be added to a {} campaign",
            c.status
        )));
    }
    let mut adder = Adder {
        state,
        c: &c,
        held: (status != CampaignStatus::Draft).then(Vec::new),
        out: AddRecipientsPayload::default(),
    };
    match source {
        Source::Leads(ids) => {
            if ids.is_empty() || ids.len() > MAX_LEAD_IDS {
                return Err(AppError::invalid(
                    "leadIds",
                    format!("must hold 1–{MAX_LEAD_IDS} ids"),
                ));
            }
            let wanted: HashSet<Uuid> = ids.iter().copied().collect();
            let mut found = Vec::with_capacity(wanted.len());
            let unique: Vec<Uuid> = wanted.iter().copied().collect();
            for chunk in unique.chunks(CHUNK as usize) {
                found.extend(
                    leads::scoped(viewer)
                        .filter(lead::Column::Id.is_in(chunk.iter().copied()))
                        .all(&state.db)
                        .await?,
                );
            }
            // Another organization's lead reads like a missing one.
            if found.len() < wanted.len() {
                return Err(AppError::invalid(
                    "leadIds",
                    "contains leads that do not exist",
                ));
            }
            for chunk in found.chunks(CHUNK as usize) {
                adder.take(chunk).await?;
            }
        }
        Source::Filter(f) => apply_filter(state, viewer, &f, &mut adder).await?,
        Source::Audience(id) => {
            let a = audience::Entity::find_by_id(id)
                .filter(audience::Column::OrgId.eq(viewer.org_id))
                .one(&state.db)
                .await?
                .ok_or_else(|| AppError::invalid("audienceId", "no such audience"))?;
            let f: LeadFilter = serde_json::from_value(a.filter).map_err(|_| {
                AppError::invalid("audienceId", "the audience's filter is not readable")
            })?;
            apply_filter(state, viewer, &f, &mut adder).await?;
        }
    }
    if let Some(held) = adder.held.take() {
        commit_held(state, viewer, &mut adder, held).await?;
    } else if adder.out.added > 0 {
        campaigns::announce_status(state, c.org_id, Some(viewer.user_id), c.id, status).await?;
    }
    let mut out = adder.out;
    out.total = campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.eq(c.id))
        .count(&state.db)
        .await? as i64;
    Ok(out)
}

async fn apply_filter(
    state: &AppState,
    viewer: &Viewer,
    f: &LeadFilter,
    adder: &mut Adder<'_>,
) -> AppResult<()> {
    let base = filtered(state.db.get_database_backend(), viewer, f).map_err(|e| match e {
        AppError::BadUserInput { fields, .. } => AppError::invalid_fields(fields),
        e => e,
    })?;
    let mut last: Option<Uuid> = None;
    loop {
        let mut q = base.clone().order_by_asc(lead::Column::Id).limit(CHUNK);
        if let Some(l) = last {
            q = q.filter(lead::Column::Id.gt(l));
        }
        let rows = q.all(&state.db).await?;
        if rows.is_empty() {
            return Ok(());
        }
        adder.take(&rows).await?;
        if (rows.len() as u64) < CHUNK {
            return Ok(());
        }
        last = rows.last().map(|r| r.id);
    }
}

/// Parses the one source given.
pub fn source_from(
    lead_ids: Option<Vec<async_graphql::ID>>,
    filter: Option<LeadFilter>,
    audience_id: Option<async_graphql::ID>,
) -> AppResult<Source> {
    match (lead_ids, filter, audience_id) {
        (Some(ids), None, None) => Ok(Source::Leads(
            ids.iter()
                .map(|i| {
                    parse_id(i).map_err(|_| AppError::invalid("leadIds", "contains an invalid id"))
                })
                .collect::<AppResult<_>>()?,
        )),
        (None, Some(f), None) => Ok(Source::Filter(Box::new(f))),
        (None, None, Some(a)) => {
            Ok(Source::Audience(parse_id(&a).map_err(|_| {
                AppError::invalid("audienceId", "no such audience")
            })?))
        }
        _ => Err(AppError::invalid(
            "input",
            "give exactly one of leadIds, filter or audienceId",
        )),
    }
}

/// Removes a lead that has not been sent to yet.
pub async fn remove(
    state: &AppState,
    viewer: &Viewer,
    campaign_id: Uuid,
    lead_id: Uuid,
) -> AppResult<()> {
    viewer.require(Permission::WriteOutreach)?;
    let c = campaigns::get(&state.db, viewer, campaign_id).await?;
    let r = campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.eq(c.id))
        .filter(campaign_recipient::Column::LeadId.eq(lead_id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("recipient"))?;
    let res = campaign_recipient::Entity::delete_many()
        .filter(campaign_recipient::Column::Id.eq(r.id))
        .filter(campaign_recipient::Column::Status.eq(RecipientStatus::Pending.as_str()))
        .exec(&state.db)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::Conflict(
            "the email to this lead was already sent or is being sent".into(),
        ));
    }
    Ok(())
}

/// Recipients of some statuses (all when `statuses` is empty or absent).
fn of_statuses(statuses: &Option<Vec<RecipientStatus>>) -> Select<campaign_recipient::Entity> {
    let q = campaign_recipient::Entity::find();
    match statuses.as_ref().filter(|s| !s.is_empty()) {
        Some(s) => q.filter(campaign_recipient::Column::Status.is_in(s.iter().map(|x| x.as_str()))),
        None => q,
    }
}

/// Newest first (UUID v7 ids sort by creation).
fn newest_first() -> crate::graphql::pagination::NewestFirst<campaign_recipient::Entity> {
    crate::graphql::pagination::newest_first::<campaign_recipient::Entity>(
        campaign_recipient::Column::Id,
        |m| m.id,
    )
}

/// The leads of some recipient rows, by id, resolved together (one statement, one `LeadPage`).
async fn leads_of<'a>(
    db: &DatabaseConnection,
    rows: impl Iterator<Item = &'a campaign_recipient::Model>,
) -> AppResult<HashMap<Uuid, Lead>> {
    let mut ids: Vec<Uuid> = rows.filter_map(|r| r.lead_id).collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let models = lead::Entity::find()
        .filter(lead::Column::Id.is_in(ids))
        .all(db)
        .await?;
    Ok(LeadPage::wrap(models)
        .into_iter()
        .map(|l| (l.0.id, l))
        .collect())
}

/// The recipients pages of a page of campaigns and their leads, for `Campaign.recipients`:
/// a first (or last) page per campaign in one statement, their leads in one more
/// (`graphql::siblings`). A page with a cursor is read by [`list`] instead.
pub struct RecipientPages {
    pages: HashMap<Uuid, KeysetRows<campaign_recipient::Model>>,
    leads: HashMap<Uuid, Lead>,
}

impl RecipientPages {
    /// Loads the pages of `campaign_ids` (`args` must be `siblings::batchable`).
    pub async fn load(
        db: &DatabaseConnection,
        campaign_ids: &[Uuid],
        statuses: &Option<Vec<RecipientStatus>>,
        args: &PageArgs,
    ) -> AppResult<Self> {
        let pages = first_pages(
            db,
            of_statuses(statuses),
            campaign_recipient::Column::CampaignId,
            |m| m.campaign_id,
            &newest_first(),
            args,
            campaign_ids,
        )
        .await?;
        let leads = leads_of(db, pages.values().flat_map(|p| p.rows.iter())).await?;
        Ok(RecipientPages { pages, leads })
    }

    /// The page of one campaign of the batch.
    pub fn connection(
        &self,
        db: &DatabaseConnection,
        campaign_id: Uuid,
        statuses: Option<Vec<RecipientStatus>>,
        args: &PageArgs,
    ) -> IdConnection<CampaignRecipient> {
        let page = match self.pages.get(&campaign_id) {
            Some(p) => p.clone(),
            None => KeysetRows::new(args, Vec::new()),
        };
        to_connection(db, campaign_id, statuses, page, &self.leads)
    }
}

fn to_connection(
    db: &DatabaseConnection,
    campaign_id: Uuid,
    statuses: Option<Vec<RecipientStatus>>,
    page: KeysetRows<campaign_recipient::Model>,
    leads: &HashMap<Uuid, Lead>,
) -> IdConnection<CampaignRecipient> {
    let total = TotalCount::lazy(db.clone(), move || {
        of_statuses(&statuses).filter(campaign_recipient::Column::CampaignId.eq(campaign_id))
    });
    page.into_connection(
        total,
        |m| m.id,
        |m| CampaignRecipient {
            lead: m.lead_id.and_then(|id| leads.get(&id).cloned()),
            row: m,
        },
    )
}

/// One page of a campaign's recipients, newest first; optionally only some statuses.
pub async fn list(
    db: &DatabaseConnection,
    campaign_id: Uuid,
    statuses: Option<Vec<RecipientStatus>>,
    args: PageArgs,
) -> AppResult<IdConnection<CampaignRecipient>> {
    let select =
        of_statuses(&statuses).filter(campaign_recipient::Column::CampaignId.eq(campaign_id));
    let page = keyset_rows(db, select, &newest_first(), &args).await?;
    let leads = leads_of(db, page.rows.iter()).await?;
    Ok(to_connection(db, campaign_id, statuses, page, &leads))
}

/// For `Lead.campaigns`: the recipient rows of `lead_ids` with their campaigns, newest first per
/// lead (one statement for the whole page).
pub async fn campaigns_of_leads(
    db: &DatabaseConnection,
    lead_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<(campaign_recipient::Model, campaign::Model)>>> {
    use crate::db::fast::{column_list, Decoder};
    use sea_orm::Statement;

    let mut out: HashMap<Uuid, Vec<(campaign_recipient::Model, campaign::Model)>> = HashMap::new();
    if lead_ids.is_empty() {
        return Ok(out);
    }
    // One statement: the recipient rows with their campaign, in the slot's order (newest first).
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT {}, {} FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id \
         WHERE r.lead_id IN ({}) ORDER BY {}",
        column_list::<campaign_recipient::Model>("r", "r_"),
        column_list::<campaign::Model>("c", "c_"),
        crate::db::placeholders(backend, 1, lead_ids.len()),
        crate::domains::leads::LeadCampaignsSlot::order_by("r")
    );
    let values: Vec<sea_orm::Value> = lead_ids.iter().map(|u| (*u).into()).collect();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let width = <campaign_recipient::Model as crate::db::fast::ByIndex>::COLUMNS.len();
    let (dr, dc) = (
        Decoder::for_rows::<campaign_recipient::Model>(&rows, 0, "r_"),
        Decoder::for_rows::<campaign::Model>(&rows, width, "c_"),
    );
    for row in &rows {
        let r: campaign_recipient::Model = dr.decode(row, 0, "r_")?;
        let c: campaign::Model = dc.decode(row, width, "c_")?;
        if let Some(lead) = r.lead_id {
            out.entry(lead).or_default().push((r, c));
        }
    }
    Ok(out)
}
