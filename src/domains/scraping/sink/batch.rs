//! Saving the contacts of many pages with a fixed number of statements (the crawler's group
//! commit). The rules are those of [`super::save`] (which goes through
//! `leads::service::create_in` one contact at a time):
//!
//! - a contact is normalized like `create_in` validates it (a contact whose remaining fields
//!   are invalid is rejected, not saved);
//! - a phone already on a lead with another email stays with that lead;
//! - a duplicate (same email, else same phone, in the organization) is merged into: empty
//!   fields are filled with provenance, tags added, a `merged` timeline row and `lead.updated`
//!   recorded, the score recomputed — a merge that changes nothing writes nothing;
//! - anything else is a new lead with provenance, a `created` timeline row, its score and
//!   `lead.created`;
//! - every lead met is linked to the job once (`scrape_job_leads`), counted as created or
//!   updated the first time.
//!
//! Contacts are handled in order against what the batch already decided, so two pages of one
//! batch naming the same email make one lead. A contact met again in the same batch folds into
//! that lead's pending insert or update (one event per lead per batch).
//!
//! Statements per batch, whatever its size (lists of more than [`CHUNK`] rows are split):
//! - one `SELECT` of the id, email, phone, website and company of the leads with any of the
//!   batch's emails or phones (on PostgreSQL the lists are JSON parameters, so the statement
//!   text does not change with their length);
//! - when merges add tags or change fields: one `SELECT` of those leads' full rows, one of their
//!   tags and one of their note counts;
//! - one multi-row `INSERT` each for new leads, tags, timeline rows, outbox events and job links
//!   (on PostgreSQL the job links as one `jsonb_to_recordset` parameter);
//! - one `UPDATE` per existing lead that actually changed.
//!
//! The organization's unique email/phone indexes still guard against a concurrent writer (an
//! API call creating the same email between the `SELECT` and the `INSERT`): the insert then
//! fails with CONFLICT and the caller redoes the batch through [`super::save`].

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::{lead, lead_interaction, lead_note, lead_tag};
use sea_orm::{
    sea_query::OnConflict as SqlOnConflict, ActiveModelTrait, ActiveValue::Set, ColumnTrait,
    DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
};
use serde_json::{json, Value};
use uuid::Uuid;

mod known;
mod links;

use links::{insert_links, Link};

use super::{Contact, Saved};
use crate::{
    auth::Viewer,
    domains::leads::{
        scoring,
        service::Origin,
        types::{LeadSource, LeadStatus},
        validate::Check,
    },
    error::{AppError, AppResult},
    events::{outbox, DomainEvent, EventEnvelope, LeadChanged},
};

/// Rows per multi-row statement (well under SQLite's bound-parameter limit).
pub const CHUNK: usize = 200;

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

/// A contact after normalization, ready to become or fill a lead.
struct Norm {
    page: usize,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    website: Option<String>,
    city: Option<String>,
    region: Option<String>,
    country: Option<String>,
    tags: Vec<String>,
    custom: Value,
    url: String,
}

/// A lead the batch touches.
struct Touched {
    model: lead::Model,
    /// Created by this batch.
    new: bool,
    /// Fields filled by merges (existing leads).
    changed: Vec<String>,
    /// Tags to add.
    tags: Vec<String>,
}

fn normalize(page: usize, c: Contact) -> Option<Norm> {
    // Like `save`: a bad optional field is dropped instead of losing the contact...
    let mut lenient = Check::new("");
    let raw_country = c.location.as_ref().and_then(|l| l.country.clone());
    let email = lenient.email("email", c.email.as_deref());
    let phone = if c.phone_e164 {
        c.phone.clone()
    } else {
        lenient.phone("phone", c.phone.as_deref(), raw_country.as_deref())
    };
    let website = lenient.website("website", c.website.as_deref());
    let company = c
        .company
        .map(|s| s.chars().take(300).collect::<String>())
        .filter(|s| !s.trim().is_empty());
    if email.is_none() && phone.is_none() {
        return None;
    }
    // ...and the rest is validated as `create_in` does (a failure rejects the contact).
    let mut strict = Check::new("");
    let loc = c.location.unwrap_or_default();
    let country = strict.country("location.country", loc.country.as_deref());
    let norm = Norm {
        page,
        email,
        phone,
        company: strict.text("company", company.as_deref(), 300),
        website,
        city: strict.text("location.city", loc.city.as_deref(), 200),
        region: strict.text("location.region", loc.region.as_deref(), 200),
        country,
        tags: strict.tags("tags", &c.tags),
        custom: strict.object(
            "customFields",
            (!c.custom.is_empty())
                .then(|| Value::Object(c.custom.into_iter().collect()))
                .as_ref(),
        ),
        url: c.url,
    };
    strict.finish().ok().map(|()| norm)
}

fn provenance_entry(origin: &Origin) -> Value {
    json!({"kind": origin.kind, "reference": origin.reference, "at": Utc::now()})
}

/// Saves `contacts` for job `job_id` in `txn` (see the module documentation). `linked` holds
/// the leads already linked to the job; `pages` is the number of pages in the batch.
pub async fn save_batch(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    job_id: Uuid,
    source: LeadSource,
    contacts: Vec<PageContact>,
    linked: &HashSet<Uuid>,
    pages: usize,
) -> AppResult<BatchSaved> {
    let mut saved = vec![Saved::default(); pages];
    let mut norms = Vec::with_capacity(contacts.len());
    for pc in contacts {
        let page = pc.page.min(pages.saturating_sub(1));
        match normalize(page, pc.contact) {
            Some(n) => norms.push(n),
            None => {
                if let Some(s) = saved.get_mut(page) {
                    s.rejected += 1;
                }
            }
        }
    }
    if norms.is_empty() {
        return Ok(BatchSaved {
            pages: saved,
            linked: Vec::new(),
            events: 0,
        });
    }

    // Existing leads with any of the batch's emails or phones.
    let emails: Vec<String> = unique(norms.iter().filter_map(|n| n.email.clone()));
    let phones: Vec<String> = unique(norms.iter().filter_map(|n| n.phone.clone()));
    let mut touched: Vec<Touched> = Vec::new();
    let mut by_email: HashMap<String, usize> = HashMap::new();
    let mut by_phone: HashMap<String, usize> = HashMap::new();
    for m in known::lookup(txn, viewer, &emails, &phones).await? {
        index(&mut by_email, &mut by_phone, &m, touched.len());
        touched.push(Touched {
            model: m,
            new: false,
            changed: Vec::new(),
            tags: Vec::new(),
        });
    }

    // Decide, contact by contact.
    let now = Utc::now();
    let mut links: Vec<Link> = Vec::new();
    let mut newly_linked: Vec<Uuid> = Vec::new();
    for mut n in norms {
        let origin = Origin::scrape(job_id, &n.url);
        // A phone already on a lead with another email stays with that lead.
        if let (Some(email), Some(phone)) = (&n.email, &n.phone) {
            let taken = by_phone
                .get(phone)
                .is_some_and(|&i| touched[i].model.email.as_ref().is_some_and(|e| e != email));
            if taken {
                n.phone = None;
            }
        }
        let dup = n
            .email
            .as_ref()
            .and_then(|e| by_email.get(e))
            .or_else(|| n.phone.as_ref().and_then(|p| by_phone.get(p)))
            .copied();
        let (idx, outcome) = match dup {
            Some(i) => {
                merge(&mut touched[i], &n, &origin, &by_email, &by_phone, i);
                index(&mut by_email, &mut by_phone, &touched[i].model.clone(), i);
                (i, "updated")
            }
            None => {
                let model = new_lead(viewer, source, &n, &origin, now);
                let i = touched.len();
                index(&mut by_email, &mut by_phone, &model, i);
                touched.push(Touched {
                    model,
                    new: true,
                    changed: Vec::new(),
                    tags: n.tags.clone(),
                });
                (i, "created")
            }
        };
        let lead_id = touched[idx].model.id;
        if !linked.contains(&lead_id) && !newly_linked.contains(&lead_id) {
            newly_linked.push(lead_id);
            links.push(Link {
                lead_id,
                outcome,
                url: n.url.chars().take(2048).collect(),
            });
            if let Some(s) = saved.get_mut(n.page) {
                s.found += 1;
                if outcome == "created" {
                    s.created += 1;
                } else {
                    s.updated += 1;
                }
            }
        }
    }

    // Tags that merges would add, against the tags the leads have.
    let tagging: Vec<Uuid> = touched
        .iter()
        .filter(|t| !t.new && !t.tags.is_empty())
        .map(|t| t.model.id)
        .collect();
    let mut have: HashMap<Uuid, Vec<String>> = HashMap::new();
    for ids in tagging.chunks(CHUNK) {
        for row in lead_tag::Entity::find()
            .filter(lead_tag::Column::LeadId.is_in(ids.to_vec()))
            .all(txn)
            .await?
        {
            have.entry(row.lead_id).or_default().push(row.tag);
        }
    }
    for t in touched.iter_mut().filter(|t| !t.new) {
        let old = have.get(&t.model.id).cloned().unwrap_or_default();
        t.tags.retain(|tag| !old.contains(tag));
        // A lead has at most 50 tags; extra scraped tags are dropped.
        t.tags.truncate(50usize.saturating_sub(old.len()));
        if !t.tags.is_empty() {
            t.changed.push("tags".into());
        }
    }

    // Scores: new leads have no notes; changed leads are rescored with theirs.
    let rescoring: Vec<Uuid> = touched
        .iter()
        .filter(|t| !t.new && !t.changed.is_empty())
        .map(|t| t.model.id)
        .collect();
    let mut notes: HashMap<Uuid, u64> = HashMap::new();
    for ids in rescoring.chunks(CHUNK) {
        let rows: Vec<(Uuid, i64)> = lead_note::Entity::find()
            .select_only()
            .column(lead_note::Column::LeadId)
            .column_as(lead_note::Column::Id.count(), "n")
            .filter(lead_note::Column::LeadId.is_in(ids.to_vec()))
            .group_by(lead_note::Column::LeadId)
            .into_tuple()
            .all(txn)
            .await?;
        for (id, n) in rows {
            notes.insert(id, u64::try_from(n).unwrap_or(0));
        }
    }

    // The full rows of the existing leads that change, with what the batch filled in.
    let mut full = known::full_rows(txn, viewer, &rescoring).await?;
    for t in touched
        .iter_mut()
        .filter(|t| !t.new && !t.changed.is_empty())
    {
        let Some(mut m) = full.remove(&t.model.id) else {
            // Deleted since the lookup: redo the batch contact by contact.
            return Err(AppError::Conflict("a lead changed during the crawl".into()));
        };
        known::complete(&mut m, &t.model, &t.changed);
        t.model = m;
    }

    // Write.
    let mut inserts: Vec<lead::ActiveModel> = Vec::new();
    let mut tag_rows: Vec<lead_tag::ActiveModel> = Vec::new();
    let mut timeline: Vec<lead_interaction::ActiveModel> = Vec::new();
    let mut events: Vec<EventEnvelope> = Vec::new();
    for t in touched {
        if !t.new && t.changed.is_empty() {
            continue;
        }
        let mut m = t.model;
        let (score, reasons) = scoring::score(&m, notes.get(&m.id).copied().unwrap_or(0));
        m.score = score;
        m.score_reasons = serde_json::to_value(&reasons)?;
        for tag in &t.tags {
            tag_rows.push(lead_tag::ActiveModel {
                lead_id: Set(m.id),
                tag: Set(tag.clone()),
                org_id: Set(viewer.org_id),
            });
        }
        let (kind, data, event) = if t.new {
            (
                "created",
                json!({"source": m.source, "origin": "scrape"}),
                DomainEvent::LeadCreated(LeadChanged {
                    lead_id: m.id,
                    changed_fields: vec![],
                    owner_id: None,
                }),
            )
        } else {
            (
                "merged",
                json!({"changedFields": t.changed}),
                DomainEvent::LeadUpdated(LeadChanged {
                    lead_id: m.id,
                    changed_fields: t.changed.clone(),
                    owner_id: None,
                }),
            )
        };
        timeline.push(lead_interaction::ActiveModel {
            id: Set(Uuid::now_v7()),
            lead_id: Set(m.id),
            org_id: Set(viewer.org_id),
            kind: Set(kind.into()),
            actor_id: Set(Some(viewer.user_id)),
            data: Set(data),
            created_at: Set(now),
        });
        events.push(EventEnvelope::new(
            viewer.org_id,
            Some(viewer.user_id),
            event,
        ));
        if t.new {
            inserts.push(m.into());
        } else {
            let mut a: lead::ActiveModel = m.clone().into();
            for (col, f) in [
                (lead::Column::Email, "email"),
                (lead::Column::Phone, "phone"),
                (lead::Column::Website, "website"),
                (lead::Column::Company, "company"),
            ] {
                if t.changed.iter().any(|c| c == f) {
                    a.reset(col);
                }
            }
            a.reset(lead::Column::Provenance);
            a.reset(lead::Column::Score);
            a.reset(lead::Column::ScoreReasons);
            a.updated_at = Set(now);
            a.update(txn).await?;
        }
    }
    for rows in chunked(inserts) {
        lead::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    for rows in chunked(tag_rows) {
        lead_tag::Entity::insert_many(rows)
            .on_conflict(
                SqlOnConflict::columns([lead_tag::Column::LeadId, lead_tag::Column::Tag])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
    }
    for rows in chunked(timeline) {
        lead_interaction::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    outbox::record_many(txn, &events).await?;
    let recorded = events.len();
    insert_links(txn, job_id, viewer.org_id, now, links).await?;
    Ok(BatchSaved {
        pages: saved,
        linked: newly_linked,
        events: recorded,
    })
}

fn unique(it: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    it.filter(|s| seen.insert(s.clone())).collect()
}

fn chunked<T>(rows: Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut it = rows.into_iter().peekable();
    while it.peek().is_some() {
        out.push(it.by_ref().take(CHUNK).collect());
    }
    out
}

fn index(
    by_email: &mut HashMap<String, usize>,
    by_phone: &mut HashMap<String, usize>,
    m: &lead::Model,
    i: usize,
) {
    if let Some(e) = &m.email {
        by_email.entry(e.clone()).or_insert(i);
    }
    if let Some(p) = &m.phone {
        by_phone.entry(p.clone()).or_insert(i);
    }
}

/// Fills the empty fields of `t` from `n` (never a value another lead of the batch holds).
fn merge(
    t: &mut Touched,
    n: &Norm,
    origin: &Origin,
    by_email: &HashMap<String, usize>,
    by_phone: &HashMap<String, usize>,
    me: usize,
) {
    let mut filled: Vec<&str> = Vec::new();
    let m = &mut t.model;
    if m.email.is_none() {
        if let Some(e) = n
            .email
            .as_ref()
            .filter(|e| by_email.get(*e).is_none_or(|&i| i == me))
        {
            m.email = Some(e.clone());
            filled.push("email");
        }
    }
    if m.phone.is_none() {
        if let Some(p) = n
            .phone
            .as_ref()
            .filter(|p| by_phone.get(*p).is_none_or(|&i| i == me))
        {
            m.phone = Some(p.clone());
            filled.push("phone");
        }
    }
    if m.website.is_none() {
        if let Some(w) = &n.website {
            m.website = Some(w.clone());
            filled.push("website");
        }
    }
    if m.company.is_empty() {
        if let Some(c) = &n.company {
            m.company = c.clone();
            filled.push("company");
        }
    }
    for tag in &n.tags {
        if !t.tags.contains(tag) {
            t.tags.push(tag.clone());
        }
    }
    if filled.is_empty() {
        return;
    }
    let mut prov = m.provenance.as_object().cloned().unwrap_or_default();
    for f in &filled {
        prov.insert((*f).into(), provenance_entry(origin));
        if !t.new && !t.changed.iter().any(|c| c == f) {
            t.changed.push((*f).into());
        }
    }
    m.provenance = Value::Object(prov);
}

/// A new lead of `viewer`'s organization from `n`, with provenance for every field it sets.
fn new_lead(
    viewer: &Viewer,
    source: LeadSource,
    n: &Norm,
    origin: &Origin,
    now: chrono::DateTime<Utc>,
) -> lead::Model {
    let mut prov = serde_json::Map::new();
    for (field, set) in [
        ("email", n.email.is_some()),
        ("phone", n.phone.is_some()),
        ("company", n.company.is_some()),
        ("website", n.website.is_some()),
    ] {
        if set {
            prov.insert(field.into(), provenance_entry(origin));
        }
    }
    lead::Model {
        id: Uuid::now_v7(),
        org_id: viewer.org_id,
        first_name: None,
        last_name: None,
        email: n.email.clone(),
        phone: n.phone.clone(),
        company: n.company.clone().unwrap_or_default(),
        title: None,
        website: n.website.clone(),
        industry: None,
        city: n.city.clone(),
        region: n.region.clone(),
        country: n.country.clone(),
        latitude: None,
        longitude: None,
        source: source.as_str().into(),
        status: LeadStatus::New.as_str().into(),
        score: 0,
        score_reasons: json!([]),
        custom_fields: n.custom.clone(),
        provenance: Value::Object(prov),
        owner_id: None,
        last_contacted_at: None,
        created_at: now,
        updated_at: now,
    }
}
