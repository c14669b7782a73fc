//! Contacts become leads: through the leads service (`create_in`, MERGE on a duplicate email or
//! phone, so a lead is updated, never duplicated), with provenance `scrape` (job + URL), and a
//! `scrape_job_leads` row recording what the job did to each lead the first time it met it.
//! The crawler saves whole batches of pages with [`batch::save_batch`] (same rules, a fixed
//! number of statements per batch); [`save`] is the one-contact-at-a-time path it falls back
//! to when a batch meets a concurrent writer.

pub mod batch;
pub mod mx;

use std::collections::BTreeMap;

use async_graphql::Json;
use chrono::Utc;
use entity::{lead, scrape_job_lead};
use sea_orm::{
    sea_query::OnConflict as SqlOnConflict, ActiveValue::Set, ColumnTrait, DatabaseTransaction,
    EntityTrait, QueryFilter, TransactionTrait,
};
use serde_json::{json, Value};
use url::Url;
use uuid::Uuid;

use super::extract::{check_email, EmailVerdict, PageData};
use crate::{
    auth::Viewer,
    domains::leads::{
        service::{create_in, scoped, Created, Origin},
        types::{CreateLeadInput, LeadSource, Location, OnConflict},
        validate::Check,
    },
    error::{AppError, AppResult},
};

/// Tag put on leads whose email is a role address (`info@`, `sales@`, ...).
pub const ROLE_TAG: &str = "role-address";

/// One business contact found by a scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contact {
    /// Email (lowercase).
    pub email: Option<String>,
    /// Phone (E.164, or national with `location.country`).
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Location.
    pub location: Option<Location>,
    /// Tags.
    pub tags: Vec<String>,
    /// Custom fields (only set when the lead is created).
    pub custom: BTreeMap<String, Value>,
    /// Where it was found (page URL or API reference); the provenance reference.
    pub url: String,
    /// `phone` is already valid E.164, formatted by `phonenumber` (the page extractor's
    /// phones): saving takes it as it is instead of parsing it a second time.
    pub phone_e164: bool,
}

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

/// Saves `contacts` as leads of `viewer`'s organization inside `txn`, each in a savepoint (a
/// refused or conflicting contact does not spoil the others).
pub async fn save(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    job_id: Uuid,
    source: LeadSource,
    contacts: Vec<Contact>,
) -> AppResult<Saved> {
    let mut saved = Saved::default();
    for mut c in contacts {
        // Normalize up front: a bad optional field is dropped instead of losing the contact.
        let mut check = Check::new("");
        let country = c.location.as_ref().and_then(|l| l.country.clone());
        c.email = check.email("email", c.email.as_deref());
        c.phone = check.phone("phone", c.phone.as_deref(), country.as_deref());
        c.website = check.website("website", c.website.as_deref());
        c.company = c
            .company
            .map(|s| s.chars().take(300).collect::<String>())
            .filter(|s| !s.trim().is_empty());
        if c.email.is_none() && c.phone.is_none() {
            saved.rejected += 1;
            continue;
        }
        // A phone already on a lead with another email stays with that lead.
        if let (Some(email), Some(phone)) = (&c.email, &c.phone) {
            let taken = scoped(viewer)
                .filter(lead::Column::Phone.eq(phone.as_str()))
                .filter(lead::Column::Email.is_not_null())
                .filter(lead::Column::Email.ne(email.as_str()))
                .one(txn)
                .await?;
            if taken.is_some() {
                c.phone = None;
            }
        }
        let input = CreateLeadInput {
            email: c.email.clone(),
            phone: c.phone.clone(),
            company: c.company.clone(),
            website: c.website.clone(),
            location: c.location.clone(),
            source: Some(source),
            tags: (!c.tags.is_empty()).then(|| c.tags.clone()),
            custom_fields: (!c.custom.is_empty())
                .then(|| Json(Value::Object(c.custom.clone().into_iter().collect()))),
            ..Default::default()
        };
        let sp = txn.begin().await?;
        let origin = Origin::scrape(job_id, &c.url);
        let (lead_id, outcome) =
            match create_in(&sp, viewer, "", &input, OnConflict::Merge, &origin).await {
                Ok(Created::New(m)) => (m.id, "created"),
                Ok(Created::Merged(m)) | Ok(Created::Skipped(m)) => (m.id, "updated"),
                Err(AppError::BadUserInput { .. }) | Err(AppError::Conflict(_)) => {
                    sp.rollback().await?;
                    saved.rejected += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
        let linked = scrape_job_lead::Entity::insert(scrape_job_lead::ActiveModel {
            scrape_job_id: Set(job_id),
            lead_id: Set(lead_id),
            org_id: Set(viewer.org_id),
            outcome: Set(outcome.into()),
            url: Set(c.url.chars().take(2048).collect()),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            SqlOnConflict::columns([
                scrape_job_lead::Column::ScrapeJobId,
                scrape_job_lead::Column::LeadId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&sp)
        .await?;
        sp.commit().await?;
        if linked == 1 {
            saved.found += 1;
            if outcome == "created" {
                saved.created += 1;
            } else {
                saved.updated += 1;
            }
        }
    }
    Ok(saved)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domains::scraping::extract::extract;

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
