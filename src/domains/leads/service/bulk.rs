//! Leads from automated sources (scrapes), one at a time or many at once, under one set of
//! rules. [`save_one`] goes through [`create_in`] (in a savepoint); [`save_many`] decides a
//! whole list in memory and writes it with a fixed number of statements. Both:
//!
//! - normalize a contact leniently first (a bad optional field is dropped instead of losing the
//!   contact; no email and no phone left rejects it), then validate the rest as `create_in`
//!   does (a failure rejects the contact);
//! - keep a phone with the lead that already has it when that lead has another email, or when
//!   another lead has the contact's email ([`keeps_phone`]): one contact never names two leads;
//! - treat a duplicate (same email, else same phone, in the organization) by the conflict mode:
//!   MERGE fills the empty email, phone, website and company with provenance, adds tags, records
//!   a `merged` timeline row and `lead.updated` and rescores (a merge that changes nothing
//!   writes nothing); SKIP leaves it; ERROR rejects the contact;
//! - make anything else a new lead with provenance, a `created` timeline row, its score and
//!   `lead.created`.
//!
//! [`save_many`] handles contacts in order against what it already decided, so two contacts
//! naming the same email make one lead, and a contact met again folds into that lead's pending
//! insert or update: one timeline row and one event per lead per call, where the one-by-one
//! path writes one per contact (`bulk/tests.rs` checks both paths give the same leads, tags,
//! provenance, outcomes and changed fields for random contacts).
//!
//! Statements per [`save_many`] call, whatever its size (lists over [`CHUNK`] rows are split):
//! one `SELECT` of id, email, phone, website and company of the leads with any of the emails
//! or phones (on PostgreSQL the lists are JSON parameters, so the statement text does not
//! change with their length); when merges change leads, one `SELECT` each of their full rows,
//! tags and note counts; one multi-row `INSERT` each for new leads, tags, timeline rows and
//! outbox events; one `UPDATE` per existing lead that changed. The organization's unique
//! email/phone indexes still guard against a concurrent writer: the insert then fails with
//! CONFLICT and the caller redoes the list with [`save_one`].

use std::collections::BTreeMap;

use async_graphql::Json;
use sea_orm::{ColumnTrait, Condition, DatabaseTransaction, QueryFilter, TransactionTrait};
use serde_json::Value;
use uuid::Uuid;

mod known;
mod plan;
#[cfg(test)]
mod tests;
mod write;

pub use super::Origin;
use super::{create_in, scoped, validate::Check, Created};
use crate::domains::leads::types::{CreateLeadInput, LeadSource, Location, OnConflict};
use crate::{
    auth::Viewer,
    error::{AppError, AppResult},
};
use entity::lead;

/// Rows per multi-row statement (well under SQLite's bound-parameter limit).
pub const CHUNK: usize = 200;

/// One contact found by an automated source.
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

/// How contacts are saved: whose, with which source, what a duplicate does, and where their
/// values came from (provenance, from the contact's `url`).
pub struct Bulk<'a> {
    /// The organization and actor.
    pub viewer: &'a Viewer,
    /// `source` of new leads.
    pub source: LeadSource,
    /// What a duplicate does.
    pub on_conflict: OnConflict,
    /// Provenance of a contact's values, from its `url`.
    pub origin: &'a (dyn Fn(&str) -> Origin + Send + Sync),
}

/// What became of one contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new lead.
    Created(Uuid),
    /// An existing lead (merged into, or left as it was).
    Updated(Uuid),
    /// Refused by validation, or a duplicate under `OnConflict::Error`.
    Rejected,
}

/// What [`save_many`] did.
pub struct Saved {
    /// Per contact, in input order.
    pub outcomes: Vec<Outcome>,
    /// Outbox events recorded (the relay only needs waking when there are some).
    pub events: usize,
}

/// The lenient pass: invalid email, phone or website are dropped, the company cut to 300
/// characters. `None` when neither an email nor a phone is left.
fn lenient(mut c: Contact) -> Option<Contact> {
    let mut check = Check::new("");
    let country = c.location.as_ref().and_then(|l| l.country.clone());
    c.email = check.email("email", c.email.as_deref());
    if !c.phone_e164 {
        c.phone = check.phone("phone", c.phone.as_deref(), country.as_deref());
    }
    c.website = check.website("website", c.website.as_deref());
    c.company = c
        .company
        .map(|s| s.chars().take(300).collect::<String>())
        .filter(|s| !s.trim().is_empty());
    (c.email.is_some() || c.phone.is_some()).then_some(c)
}

/// Whether a contact with an email keeps its phone. `holder` is the email of the lead that has
/// the phone (`None` when no lead has it); `email_taken` whether a lead has the contact's email.
/// A phone stays with its lead when that lead has another email, or when the contact's email
/// belongs to another lead.
pub(crate) fn keeps_phone(email: &str, holder: Option<Option<&str>>, email_taken: bool) -> bool {
    match holder {
        None => true,
        Some(Some(e)) => e == email,
        Some(None) => !email_taken,
    }
}

/// Saves one contact inside `txn`, in a savepoint (a refused or conflicting contact does not
/// spoil the transaction).
pub async fn save_one(
    txn: &DatabaseTransaction,
    bulk: &Bulk<'_>,
    c: Contact,
) -> AppResult<Outcome> {
    let Some(mut c) = lenient(c) else {
        return Ok(Outcome::Rejected);
    };
    if let (Some(email), Some(phone)) = (&c.email, &c.phone) {
        let holders = scoped(bulk.viewer)
            .filter(
                Condition::any()
                    .add(lead::Column::Email.eq(email.as_str()))
                    .add(lead::Column::Phone.eq(phone.as_str())),
            )
            .all(txn)
            .await?;
        let holder = holders.iter().find(|m| m.phone.as_ref() == Some(phone));
        let taken = holders.iter().any(|m| m.email.as_ref() == Some(email));
        if !keeps_phone(email, holder.map(|m| m.email.as_deref()), taken) {
            c.phone = None;
        }
    }
    let input = CreateLeadInput {
        email: c.email.clone(),
        phone: c.phone.clone(),
        company: c.company.clone(),
        website: c.website.clone(),
        location: c.location.clone(),
        source: Some(bulk.source),
        tags: (!c.tags.is_empty()).then(|| c.tags.clone()),
        custom_fields: (!c.custom.is_empty())
            .then(|| Json(Value::Object(c.custom.clone().into_iter().collect()))),
        ..Default::default()
    };
    let sp = txn.begin().await?;
    let origin = (bulk.origin)(&c.url);
    let outcome = match create_in(&sp, bulk.viewer, "", &input, bulk.on_conflict, &origin).await {
        Ok(Created::New(m)) => Outcome::Created(m.id),
        Ok(Created::Merged(m)) | Ok(Created::Skipped(m)) => Outcome::Updated(m.id),
        Err(AppError::BadUserInput { .. }) | Err(AppError::Conflict(_)) => {
            sp.rollback().await?;
            return Ok(Outcome::Rejected);
        }
        Err(e) => return Err(e),
    };
    sp.commit().await?;
    Ok(outcome)
}

/// Saves `contacts` inside `txn` with a fixed number of statements (see the module doc).
/// CONFLICT when a concurrent writer got in the way: redo the list with [`save_one`].
pub async fn save_many(
    txn: &DatabaseTransaction,
    bulk: &Bulk<'_>,
    contacts: Vec<Contact>,
) -> AppResult<Saved> {
    let mut outcomes = vec![Outcome::Rejected; contacts.len()];
    let norms: Vec<plan::Norm> = contacts
        .into_iter()
        .enumerate()
        .filter_map(|(i, c)| plan::normalize(i, lenient(c)?))
        .collect();
    if norms.is_empty() {
        return Ok(Saved {
            outcomes,
            events: 0,
        });
    }
    let emails = unique(norms.iter().filter_map(|n| n.email.clone()));
    let phones = unique(norms.iter().filter_map(|n| n.phone.clone()));
    let existing = known::lookup(txn, bulk.viewer, &emails, &phones).await?;
    let mut plan = plan::Plan::new(existing);
    for n in norms {
        let at = n.index;
        outcomes[at] = plan.decide(bulk, n);
    }
    let events = write::write(txn, bulk.viewer, plan.touched).await?;
    Ok(Saved { outcomes, events })
}

fn unique(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    it.filter(|s| seen.insert(s.clone())).collect()
}
