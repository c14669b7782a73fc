//! `Campaign.events(type)`: a campaign's tracking events (opens, clicks, replies, bounces,
//! unsubscribes) as a connection, newest first, each with its recipient's address and lead —
//! loaded for the whole page in one statement each.

use std::collections::HashMap;

use async_graphql::{Enum, Json, Object, ID};
use chrono::{DateTime, Utc};
use entity::{campaign_recipient, email_event, lead};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use crate::{
    domains::leads::object::{Lead, LeadPage},
    error::AppResult,
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
};

/// Kind of a campaign email event.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailEventType {
    /// The open pixel loaded.
    Open,
    /// A tracked link was followed.
    Click,
    /// The lead replied.
    Reply,
    /// The message bounced (`details.bounce` = hard | soft).
    Bounce,
    /// The lead unsubscribed.
    Unsubscribe,
    /// A spam complaint.
    Complaint,
}

impl EmailEventType {
    fn as_str(self) -> &'static str {
        match self {
            EmailEventType::Open => "open",
            EmailEventType::Click => "click",
            EmailEventType::Reply => "reply",
            EmailEventType::Bounce => "bounce",
            EmailEventType::Unsubscribe => "unsubscribe",
            EmailEventType::Complaint => "complaint",
        }
    }
    fn parse(s: &str) -> EmailEventType {
        match s {
            "open" => EmailEventType::Open,
            "click" => EmailEventType::Click,
            "reply" => EmailEventType::Reply,
            "bounce" => EmailEventType::Bounce,
            "unsubscribe" => EmailEventType::Unsubscribe,
            _ => EmailEventType::Complaint,
        }
    }
}

/// Something that happened to one campaign email.
pub struct EmailEvent {
    row: email_event::Model,
    email: Option<String>,
    lead: Option<Lead>,
}

#[Object]
impl EmailEvent {
    /// Event id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }
    /// Kind.
    #[graphql(name = "type")]
    async fn kind(&self) -> EmailEventType {
        EmailEventType::parse(&self.row.kind)
    }
    /// When it happened.
    async fn at(&self) -> DateTime<Utc> {
        self.row.at
    }
    /// The campaign recipient.
    async fn recipient_id(&self) -> ID {
        ID(self.row.recipient_id.to_string())
    }
    /// The address the email went to.
    async fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }
    /// The lead (null once deleted).
    async fn lead(&self) -> Option<&Lead> {
        self.lead.as_ref()
    }
    /// The clicked URL (CLICK events).
    async fn url(&self) -> Option<&str> {
        self.row.data.get("url").and_then(|v| v.as_str())
    }
    /// Details: `{url}`, `{bounce, reason, provider}`, `{userAgent}`, …
    async fn details(&self) -> Json<serde_json::Value> {
        Json(self.row.data.clone())
    }
}

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
