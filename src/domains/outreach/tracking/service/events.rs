//! `Campaign.events(type)`: a campaign's tracking events (opens, clicks, replies, bounces,
//! unsubscribes) as a connection, newest first, each with its recipient's address and lead —
//! loaded for the whole page in one statement each (index `(campaign_id, kind, id)`).

use std::collections::HashMap;

use entity::{campaign_recipient, email_event, lead};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::{
    domains::{
        leads::LeadPage,
        outreach::tracking::types::{EmailEvent, EmailEventType},
    },
    error::AppResult,
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
};

/// A page of `campaign_id`'s events (of `kind`, when given), newest first; addresses and leads
/// load once for the page.
pub async fn list(
    db: &DatabaseConnection,
    campaign_id: Uuid,
    kind: Option<EmailEventType>,
    args: PageArgs,
) -> AppResult<IdConnection<EmailEvent>> {
    let mut q = email_event::Entity::find().filter(email_event::Column::CampaignId.eq(campaign_id));
    if let Some(k) = kind {
        q = q.filter(email_event::Column::Kind.eq(k.as_str()));
    }
    let mut conn = page_by_id_desc(
        db,
        q,
        email_event::Column::Id,
        &args,
        |m| m.id,
        |row| EmailEvent {
            row,
            email: None,
            lead: None,
        },
    )
    .await?;
    if conn.edges.is_empty() {
        return Ok(conn);
    }
    let mut recipient_ids: Vec<Uuid> = conn.edges.iter().map(|e| e.node.row.recipient_id).collect();
    recipient_ids.sort();
    recipient_ids.dedup();
    let emails: HashMap<Uuid, String> = campaign_recipient::Entity::find()
        .select_only()
        .column(campaign_recipient::Column::Id)
        .column(campaign_recipient::Column::Email)
        .filter(campaign_recipient::Column::Id.is_in(recipient_ids))
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let mut lead_ids: Vec<Uuid> = conn
        .edges
        .iter()
        .filter_map(|e| e.node.row.lead_id)
        .collect();
    lead_ids.sort();
    lead_ids.dedup();
    let models: HashMap<Uuid, lead::Model> = if lead_ids.is_empty() {
        HashMap::new()
    } else {
        lead::Entity::find()
            .filter(lead::Column::Id.is_in(lead_ids))
            .all(db)
            .await?
            .into_iter()
            .map(|l| (l.id, l))
            .collect()
    };
    // One `Lead` per event (a lead may appear several times), all sharing one page.
    let per_event: Vec<Option<lead::Model>> = conn
        .edges
        .iter()
        .map(|e| e.node.row.lead_id.and_then(|id| models.get(&id).cloned()))
        .collect();
    let mut wrapped = LeadPage::wrap(per_event.iter().flatten().cloned().collect()).into_iter();
    for (e, m) in conn.edges.iter_mut().zip(per_event) {
        e.node.email = emails.get(&e.node.row.recipient_id).cloned();
        if m.is_some() {
            e.node.lead = wrapped.next();
        }
    }
    Ok(conn)
}
