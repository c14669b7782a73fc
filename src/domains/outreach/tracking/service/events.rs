//! `Campaign.events(type)`: a campaign's tracking events (opens, clicks, replies, bounces,
//! unsubscribes) as a connection, newest first, each with its recipient's address and lead —
//! loaded for the whole page in one statement each (index `(campaign_id, kind, id)`).
//!
//! A page of campaigns reads the first (or last) events page of every campaign at once
//! ([`EventPages`], `graphql::siblings`): one statement for the events of all of them, one for
//! their addresses, one for their leads (wrapped once, so the leads' own fields load once too).
//! A page with a cursor is read per campaign by [`list`].

use std::collections::HashMap;

use entity::{campaign_recipient, email_event, lead};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect, Select};
use uuid::Uuid;

use crate::{
    domains::{
        leads::{Lead, LeadPage},
        outreach::tracking::types::{EmailEvent, EmailEventType},
    },
    error::AppResult,
    graphql::{
        pagination::{keyset_rows, IdConnection, KeysetRows, PageArgs, TotalCount},
        siblings::first_pages,
    },
};

/// Events of `kind` (all kinds when absent).
fn of_kind(kind: Option<EmailEventType>) -> Select<email_event::Entity> {
    let q = email_event::Entity::find();
    match kind {
        Some(k) => q.filter(email_event::Column::Kind.eq(k.as_str())),
        None => q,
    }
}

/// Newest first (UUID v7 ids sort by creation).
fn newest_first() -> crate::graphql::pagination::NewestFirst<email_event::Entity> {
    crate::graphql::pagination::newest_first::<email_event::Entity>(email_event::Column::Id, |m| {
        m.id
    })
}

/// The recipients' addresses and the leads of some event rows: one statement each, the leads
/// resolved together (one `LeadPage`, each lead once).
async fn decorations<'a>(
    db: &DatabaseConnection,
    rows: impl Iterator<Item = &'a email_event::Model> + Clone,
) -> AppResult<(HashMap<Uuid, String>, HashMap<Uuid, Lead>)> {
    let mut recipient_ids: Vec<Uuid> = rows.clone().map(|r| r.recipient_id).collect();
    recipient_ids.sort();
    recipient_ids.dedup();
    let emails: HashMap<Uuid, String> = if recipient_ids.is_empty() {
        HashMap::new()
    } else {
        campaign_recipient::Entity::find()
            .select_only()
            .column(campaign_recipient::Column::Id)
            .column(campaign_recipient::Column::Email)
            .filter(campaign_recipient::Column::Id.is_in(recipient_ids))
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect()
    };
    let mut lead_ids: Vec<Uuid> = rows.filter_map(|r| r.lead_id).collect();
    lead_ids.sort();
    lead_ids.dedup();
    let leads = if lead_ids.is_empty() {
        HashMap::new()
    } else {
        let models = lead::Entity::find()
            .filter(lead::Column::Id.is_in(lead_ids))
            .all(db)
            .await?;
        LeadPage::wrap(models)
            .into_iter()
            .map(|l| (l.0.id, l))
            .collect()
    };
    Ok((emails, leads))
}

fn to_connection(
    db: &DatabaseConnection,
    campaign_id: Uuid,
    kind: Option<EmailEventType>,
    page: KeysetRows<email_event::Model>,
    emails: &HashMap<Uuid, String>,
    leads: &HashMap<Uuid, Lead>,
) -> IdConnection<EmailEvent> {
    let total = TotalCount::lazy(db.clone(), move || {
        of_kind(kind).filter(email_event::Column::CampaignId.eq(campaign_id))
    });
    page.into_connection(
        total,
        |m| m.id,
        |row| EmailEvent {
            email: emails.get(&row.recipient_id).cloned(),
            lead: row.lead_id.and_then(|id| leads.get(&id).cloned()),
            row,
        },
    )
}

/// A page of `campaign_id`'s events (of `kind`, when given), newest first; addresses and leads
/// load once for the page.
pub async fn list(
    db: &DatabaseConnection,
    campaign_id: Uuid,
    kind: Option<EmailEventType>,
    args: PageArgs,
) -> AppResult<IdConnection<EmailEvent>> {
    let select = of_kind(kind).filter(email_event::Column::CampaignId.eq(campaign_id));
    let page = keyset_rows(db, select, &newest_first(), &args).await?;
    let (emails, leads) = decorations(db, page.rows.iter()).await?;
    Ok(to_connection(db, campaign_id, kind, page, &emails, &leads))
}

/// The events pages of a page of campaigns, with their addresses and leads, for
/// `Campaign.events`: three statements for the whole page.
pub struct EventPages {
    pages: HashMap<Uuid, KeysetRows<email_event::Model>>,
    emails: HashMap<Uuid, String>,
    leads: HashMap<Uuid, Lead>,
}

impl EventPages {
    /// Loads the pages of `campaign_ids` (`args` must be `siblings::batchable`).
    pub async fn load(
        db: &DatabaseConnection,
        campaign_ids: &[Uuid],
        kind: Option<EmailEventType>,
        args: &PageArgs,
    ) -> AppResult<Self> {
        let pages = first_pages(
            db,
            of_kind(kind),
            email_event::Column::CampaignId,
            |m| m.campaign_id,
            &newest_first(),
            args,
            campaign_ids,
        )
        .await?;
        let (emails, leads) = decorations(db, pages.values().flat_map(|p| p.rows.iter())).await?;
        Ok(EventPages {
            pages,
            emails,
            leads,
        })
    }

    /// The page of one campaign of the batch.
    pub fn connection(
        &self,
        db: &DatabaseConnection,
        campaign_id: Uuid,
        kind: Option<EmailEventType>,
        args: &PageArgs,
    ) -> IdConnection<EmailEvent> {
        let page = match self.pages.get(&campaign_id) {
            Some(p) => p.clone(),
            None => KeysetRows::new(args, Vec::new()),
        };
        to_connection(db, campaign_id, kind, page, &self.emails, &self.leads)
    }
}
