//! Contacts become leads through the leads domain's bulk API ([`save_contact`](crate::domains::leads::save_contact) one at a
//! time, [`save_contacts`](crate::domains::leads::save_contacts) for a whole batch; MERGE on a duplicate email or phone, so a lead
//! is updated, never duplicated), with provenance `scrape` (job + URL), and a
//! `scrape_job_leads` row recording what the job did to each lead the first time it met it.
//! The crawler saves whole batches of pages with [`save_batch`] (a fixed number of statements
//! per batch); [`save`] is the one-contact-at-a-time path it falls back to when a batch meets
//! a concurrent writer.

mod links;
pub mod mx;

use std::collections::{BTreeMap, HashSet};

use chrono::Utc;
use sea_orm::DatabaseTransaction;
use serde_json::json;
use url::Url;
use uuid::Uuid;

use super::extract::{check_email, EmailVerdict, PageData};
use crate::{
    auth::Viewer,
    domains::leads::{
        save_contact, save_contacts,
        types::{LeadSource, Location, OnConflict},
        Bulk, Origin, Outcome,
    },
    error::AppResult,
};
use links::{insert_links, Link};

/// One business contact found by a scrape (the leads domain's bulk contact).
pub use crate::domains::leads::Contact;

/// Tag put on leads whose email is a role address (`info@`, `sales@`, ...).
pub const ROLE_TAG: &str = "role-address";

/// What saving a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Saved {
    /// Leads linked to the job for the first time (= created + updated).
    pub found: i32,
    /// New leads.
    pub created: i32,
    /// Existing leads merged into.
    pub updated: i32,
    /// Contacts refused by validation.
    pub rejected: i32,
}

impl Saved {
    /// Counts a lead linked to the job for the first time, `created` or `updated`.
    fn linked(&mut self, outcome: &str) {
        self.found += 1;
        if outcome == "created" {
            self.created += 1;
        } else {
            self.updated += 1;
        }
    }
}

/// A contact of page `page` (an index into the batch's pages).
pub struct PageContact {
    /// The page's index in the batch.
    pub page: usize,
    /// The contact.
    pub contact: Contact,
}

/// What a batch saved.
pub struct BatchSaved {
    /// Per page (same indexes as the input).
    pub pages: Vec<Saved>,
    /// Leads linked to the job by this batch (add them to the job's set after the commit).
    pub linked: Vec<Uuid>,
    /// Outbox events recorded (the relay only needs waking when there are some).
    pub events: usize,
}

fn rules<'a>(
    viewer: &'a Viewer,
    source: LeadSource,
    origin: &'a (dyn Fn(&str) -> Origin + Send + Sync),
) -> Bulk<'a> {
    Bulk {
        viewer,
        source,
        on_conflict: OnConflict::Merge,
        origin,
    }
}

/// The contacts on a page. Emails are checked ([`check_email`]: invalid, no-reply and
/// disposable addresses are dropped; role addresses are tagged). A page with exactly one email
/// and one phone yields one contact with both; otherwise every email and every phone is a
/// contact of its own. All carry the company, the site and the page's social links.
pub fn contacts_from_page(
    data: &PageData,
    page: &Url,
    company: Option<&str>,
) -> (Vec<Contact>, i32) {
    let site = format!("{}/", page.origin().ascii_serialization());
    let location = data.address.as_ref().map(|a| Location {
        city: a.city.clone(),
        region: a.region.clone(),
        country: a.country.clone(),
        latitude: None,
        longitude: None,
    });
    let mut rejected = 0;
    let mut emails = Vec::new();
    for e in &data.emails {
        match check_email(e) {
            EmailVerdict::Valid { role } => emails.push((e.clone(), role)),
            EmailVerdict::Rejected(_) => rejected += 1,
        }
    }
    let base = |url: &Url| {
        let mut custom = BTreeMap::new();
        if !data.social.is_empty() {
            custom.insert("social".to_string(), json!(data.social));
        }
        Contact {
            company: company.map(str::to_string),
            website: Some(site.clone()),
            location: location.clone(),
            url: url.to_string(),
            custom,
            ..Default::default()
        }
    };
    let mut out = Vec::new();
    let pair = emails.len() == 1 && data.phones.len() == 1;
    for (e, role) in &emails {
        let mut c = base(page);
        c.email = Some(e.clone());
        if *role {
            c.tags.push(ROLE_TAG.into());
            c.custom.insert("roleAddress".into(), json!(true));
        }
        if pair {
            c.phone = data.phones.first().cloned();
            c.phone_e164 = true;
        }
        out.push(c);
    }
    if !pair {
        for p in &data.phones {
            let mut c = base(page);
            c.phone = Some(p.clone());
            c.phone_e164 = true;
            out.push(c);
        }
    }
    (out, rejected)
}

/// Saves `contacts` as leads of `viewer`'s organization inside `txn`, one at a time, each in
/// a savepoint (a refused or conflicting contact does not spoil the others).
pub async fn save(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    job_id: Uuid,
    source: LeadSource,
    contacts: Vec<Contact>,
) -> AppResult<Saved> {
    let origin = move |url: &str| Origin::scrape(job_id, url);
    let bulk = rules(viewer, source, &origin);
    let mut saved = Saved::default();
    for c in contacts {
        let url: String = c.url.chars().take(2048).collect();
        let (lead_id, outcome) = match save_contact(txn, &bulk, c).await? {
            Outcome::Created(id) => (id, "created"),
            Outcome::Updated(id) => (id, "updated"),
            Outcome::Rejected => {
                saved.rejected += 1;
                continue;
            }
        };
        let link = Link {
            lead_id,
            outcome,
            url,
        };
        let linked = insert_links(txn, job_id, viewer.org_id, Utc::now(), vec![link]).await?;
        if linked == 1 {
            saved.linked(outcome);
        }
    }
    Ok(saved)
}

/// Saves the contacts of a batch of `pages` pages with [`save_contacts`](crate::domains::leads::save_contacts) and links the leads
/// the job had not met (`linked` holds those it had). CONFLICT when a concurrent writer got in
/// the way: redo the batch with [`save`].
pub async fn save_batch(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    job_id: Uuid,
    source: LeadSource,
    contacts: Vec<PageContact>,
    linked: &HashSet<Uuid>,
    pages: usize,
) -> AppResult<BatchSaved> {
    let origin = move |url: &str| Origin::scrape(job_id, url);
    let bulk = rules(viewer, source, &origin);
    let (meta, list): (Vec<(usize, String)>, Vec<Contact>) = contacts
        .into_iter()
        .map(|pc| {
            let page = pc.page.min(pages.saturating_sub(1));
            (
                (page, pc.contact.url.chars().take(2048).collect()),
                pc.contact,
            )
        })
        .unzip();
    let done = save_contacts(txn, &bulk, list).await?;
    let mut saved = vec![Saved::default(); pages];
    let mut links: Vec<Link> = Vec::new();
    let mut newly: Vec<Uuid> = Vec::new();
    for ((page, url), outcome) in meta.into_iter().zip(done.outcomes) {
        let (lead_id, outcome) = match outcome {
            Outcome::Created(id) => (id, "created"),
            Outcome::Updated(id) => (id, "updated"),
            Outcome::Rejected => {
                if let Some(s) = saved.get_mut(page) {
                    s.rejected += 1;
                }
                continue;
            }
        };
        if linked.contains(&lead_id) || newly.contains(&lead_id) {
            continue;
        }
        newly.push(lead_id);
        links.push(Link {
            lead_id,
            outcome,
            url,
        });
        if let Some(s) = saved.get_mut(page) {
            s.linked(outcome);
        }
    }
    insert_links(txn, job_id, viewer.org_id, Utc::now(), links).await?;
    Ok(BatchSaved {
        pages: saved,
        linked: newly,
        events: done.events,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domains::scraping::service::extract::extract;

    #[test]
    fn pairs_one_email_with_one_phone_else_separate() {
        let page = Url::parse("https://acme.example/contact").unwrap();
        let one = extract(
            r#"<p>jane@acme.example +1 415 555 2671 temp@mailinator.com</p>"#,
            &page,
            None,
        );
        let (c, rejected) = contacts_from_page(&one, &page, Some("Acme"));
        assert_eq!(rejected, 1);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].email.as_deref(), Some("jane@acme.example"));
        assert_eq!(c[0].phone.as_deref(), Some("+14155552671"));
        assert_eq!(c[0].website.as_deref(), Some("https://acme.example/"));
        assert_eq!(c[0].company.as_deref(), Some("Acme"));

        let two = extract(
            r#"<p>info@acme.example, bob@acme.example, +1 415 555 2671</p>"#,
            &page,
            None,
        );
        let (c, _) = contacts_from_page(&two, &page, None);
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].tags, [ROLE_TAG]);
        assert!(c[1].tags.is_empty());
        assert!(c[0].phone.is_none() && c[1].phone.is_none());
        assert_eq!(c[2].phone.as_deref(), Some("+14155552671"));
        assert!(c[2].email.is_none());
    }
}
