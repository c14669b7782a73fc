//! Delivery of one notification to many recipients, honouring each recipient's preferences, in
//! the caller's transaction: IN_APP stores a row and records `notification.new` (addressed to
//! the recipient); EMAIL enqueues a `mail.send` job; WEBHOOK enqueues a `notification.webhook`
//! job. Nothing leaves the process before the transaction commits.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{membership, notification, notification_preference, user};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use super::webhook_job;
use crate::{
    domains::notifications::types::{NotificationChannel, NotificationType},
    error::AppResult,
    events::{outbox, DomainEvent, EventEnvelope, NotificationCreated},
    platform::{mail_job, mailer::OutgoingEmail},
};

/// Recipients handled per statement batch (keeps `IN (…)` lists well under SQLite's limit).
const BATCH: usize = 500;

/// A notification to deliver.
#[derive(Debug, Clone)]
pub struct NewNotification {
    /// Organization it belongs to.
    pub org_id: Uuid,
    /// Its type (decides the preferences that apply).
    pub notification_type: NotificationType,
    /// Headline.
    pub title: String,
    /// Text.
    pub body: String,
    /// An http(s) URL or an app path.
    pub link: Option<String>,
    /// `(kind, id)` of the object it is about.
    pub resource: Option<(&'static str, String)>,
}

impl NewNotification {
    /// Plain text for email and chat: title, body, link, each on its own line when present.
    pub fn text(&self) -> String {
        let mut parts = vec![self.title.clone()];
        if !self.body.is_empty() {
            parts.push(self.body.clone());
        }
        if let Some(link) = &self.link {
            parts.push(link.clone());
        }
        parts.join("\n")
    }
}

/// What a delivery did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Stored in-app notifications, by recipient.
    pub in_app: Vec<notification::Model>,
    /// Emails enqueued.
    pub emails: usize,
    /// Webhook posts enqueued.
    pub webhooks: usize,
}

/// Delivers `n` to `recipients` (deduplicated; people who are not members of the organization,
/// e.g. the creator of a job who has left since, are skipped) using `conn` (pass the caller's
/// transaction).
pub async fn deliver(
    conn: &impl ConnectionTrait,
    n: &NewNotification,
    recipients: &[Uuid],
) -> AppResult<Delivered> {
    let mut seen = HashSet::new();
    let recipients: Vec<Uuid> = recipients
        .iter()
        .copied()
        .filter(|u| seen.insert(*u))
        .collect();
    let mut out = Delivered::default();
    for chunk in recipients.chunks(BATCH) {
        deliver_batch(conn, n, chunk, &mut out).await?;
    }
    Ok(out)
}

async fn deliver_batch(
    conn: &impl ConnectionTrait,
    n: &NewNotification,
    recipients: &[Uuid],
    out: &mut Delivered,
) -> AppResult<()> {
    let recipients = members_among(conn, n.org_id, recipients).await?;
    if recipients.is_empty() {
        return Ok(());
    }
    let prefs = Prefs::load(conn, n, &recipients).await?;
    in_app(conn, n, &recipients, &prefs, out).await?;
    email(conn, n, &recipients, &prefs, out).await?;
    // WEBHOOK: only where a URL is configured; the job reads the URL when it runs.
    for u in &recipients {
        let has_url = prefs
            .get(*u, NotificationChannel::Webhook)
            .is_some_and(|p| p.enabled && p.webhook_url.is_some());
        if has_url {
            webhook_job::enqueue(conn, n.org_id, *u, n.notification_type, &n.text()).await?;
            out.webhooks += 1;
        }
    }
    Ok(())
}

/// The members of `org_id` among `recipients`, in their order.
async fn members_among(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    recipients: &[Uuid],
) -> AppResult<Vec<Uuid>> {
    let members: HashSet<Uuid> = membership::Entity::find()
        .select_only()
        .column(membership::Column::UserId)
        .filter(membership::Column::OrgId.eq(org_id))
        .filter(membership::Column::UserId.is_in(recipients.to_vec()))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    Ok(recipients
        .iter()
        .copied()
        .filter(|u| members.contains(u))
        .collect())
}

/// The recipients' stored preferences for the notification's type.
struct Prefs(HashMap<(Uuid, String), notification_preference::Model>);

impl Prefs {
    async fn load(
        conn: &impl ConnectionTrait,
        n: &NewNotification,
        recipients: &[Uuid],
    ) -> AppResult<Prefs> {
        Ok(Prefs(
            notification_preference::Entity::find()
                .filter(notification_preference::Column::OrgId.eq(n.org_id))
                .filter(
                    notification_preference::Column::NotificationType
                        .eq(n.notification_type.as_str()),
                )
                .filter(notification_preference::Column::UserId.is_in(recipients.to_vec()))
                .all(conn)
                .await?
                .into_iter()
                .map(|p| ((p.user_id, p.channel.clone()), p))
                .collect(),
        ))
    }

    fn get(&self, user: Uuid, ch: NotificationChannel) -> Option<&notification_preference::Model> {
        self.0.get(&(user, ch.as_str().to_string()))
    }

    fn enabled(&self, user: Uuid, ch: NotificationChannel) -> bool {
        self.get(user, ch)
            .map_or(ch.default_enabled(), |p| p.enabled)
    }
}

/// IN_APP: one row per recipient, and an event only that recipient receives.
async fn in_app(
    conn: &impl ConnectionTrait,
    n: &NewNotification,
    recipients: &[Uuid],
    prefs: &Prefs,
    out: &mut Delivered,
) -> AppResult<()> {
    let now = Utc::now();
    let rows: Vec<notification::Model> = recipients
        .iter()
        .filter(|u| prefs.enabled(**u, NotificationChannel::InApp))
        .map(|u| notification::Model {
            id: Uuid::now_v7(),
            org_id: n.org_id,
            user_id: *u,
            notification_type: n.notification_type.as_str().to_string(),
            title: n.title.clone(),
            body: n.body.clone(),
            link: n.link.clone(),
            resource_type: n.resource.as_ref().map(|(k, _)| (*k).to_string()),
            resource_id: n.resource.as_ref().map(|(_, id)| id.clone()),
            read_at: None,
            created_at: now,
        })
        .collect();
    if !rows.is_empty() {
        notification::Entity::insert_many(rows.iter().map(|m| notification::ActiveModel {
            id: Set(m.id),
            org_id: Set(m.org_id),
            user_id: Set(m.user_id),
            notification_type: Set(m.notification_type.clone()),
            title: Set(m.title.clone()),
            body: Set(m.body.clone()),
            link: Set(m.link.clone()),
            resource_type: Set(m.resource_type.clone()),
            resource_id: Set(m.resource_id.clone()),
            read_at: Set(None),
            created_at: Set(m.created_at),
        }))
        .exec(conn)
        .await?;
        for m in &rows {
            let event = EventEnvelope::new(
                n.org_id,
                Some(m.user_id),
                DomainEvent::NotificationCreated(NotificationCreated {
                    notification_id: m.id,
                    notification_type: m.notification_type.clone(),
                    title: m.title.clone(),
                }),
            );
            outbox::record(conn, &event).await?;
        }
    }
    out.in_app.extend(rows);
    Ok(())
}

/// EMAIL: to the account's address, through the job queue.
async fn email(
    conn: &impl ConnectionTrait,
    n: &NewNotification,
    recipients: &[Uuid],
    prefs: &Prefs,
    out: &mut Delivered,
) -> AppResult<()> {
    let email_to: Vec<Uuid> = recipients
        .iter()
        .copied()
        .filter(|u| prefs.enabled(*u, NotificationChannel::Email))
        .collect();
    if email_to.is_empty() {
        return Ok(());
    }
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(email_to))
        .all(conn)
        .await?;
    for u in users {
        mail_job::enqueue(
            conn,
            &OutgoingEmail {
                to: u.email,
                to_name: Some(u.name),
                from: None,
                reply_to: None,
                subject: format!("[Leadgraph] {}", n.title),
                text: format!(
                    "{}\n\nYou receive this because email notifications of this kind are on in your Leadgraph notification preferences.\n",
                    n.text()
                ),
                html: None,
            },
        )
        .await?;
        out.emails += 1;
    }
    Ok(())
}
