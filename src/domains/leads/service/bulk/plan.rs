//! The in-memory half of [`super::save_many`]: strict validation of a contact, and the
//! decision, contact by contact, against the leads already known and those the call already
//! decided to create or change.

use std::collections::HashMap;

use chrono::Utc;
use entity::lead;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{keeps_phone, Bulk, Contact, Outcome};
use crate::domains::leads::{
    service::Origin,
    types::{LeadStatus, OnConflict},
    Check,
};

/// A contact after validation, ready to become or fill a lead.
pub struct Norm {
    /// Its index in the input.
    pub index: usize,
    /// Valid email.
    pub email: Option<String>,
    /// Valid phone.
    pub phone: Option<String>,
    company: Option<String>,
    website: Option<String>,
    city: Option<String>,
    region: Option<String>,
    country: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    tags: Vec<String>,
    custom: Value,
    url: String,
}

/// A lead the call touches.
pub struct Touched {
    /// The lead as it will be (partial for existing leads: see `known`).
    pub model: lead::Model,
    /// Created by this call.
    pub new: bool,
    /// Fields filled by merges (existing leads).
    pub changed: Vec<String>,
    /// Tags to add.
    pub tags: Vec<String>,
    /// The provenance kind of a new lead (its `created` timeline row).
    pub origin: &'static str,
}

/// Validates the rest of a leniently normalized contact as `create_in` does; `None` (the
/// contact is rejected) on any failure.
pub fn normalize(index: usize, c: Contact) -> Option<Norm> {
    let mut strict = Check::new("");
    let loc = c.location.unwrap_or_default();
    let norm = Norm {
        index,
        email: c.email,
        phone: c.phone,
        company: strict.text("company", c.company.as_deref(), 300),
        website: c.website,
        city: strict.text("location.city", loc.city.as_deref(), 200),
        region: strict.text("location.region", loc.region.as_deref(), 200),
        country: strict.country("location.country", loc.country.as_deref()),
        latitude: strict.coordinate("location.latitude", loc.latitude, 90.0),
        longitude: strict.coordinate("location.longitude", loc.longitude, 180.0),
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

/// The leads touched so far, indexed by email and phone.
pub struct Plan {
    /// Every lead met, existing first.
    pub touched: Vec<Touched>,
    by_email: HashMap<String, usize>,
    by_phone: HashMap<String, usize>,
}

impl Plan {
    /// A plan over the organization's leads `existing`.
    pub fn new(existing: Vec<lead::Model>) -> Self {
        let mut plan = Plan {
            touched: Vec::with_capacity(existing.len()),
            by_email: HashMap::new(),
            by_phone: HashMap::new(),
        };
        for model in existing {
            plan.push(Touched {
                model,
                new: false,
                changed: Vec::new(),
                tags: Vec::new(),
                origin: "",
            });
        }
        plan
    }

    fn push(&mut self, t: Touched) -> usize {
        let i = self.touched.len();
        self.touched.push(t);
        self.index(i);
        i
    }

    fn index(&mut self, i: usize) {
        let m = &self.touched[i].model;
        if let Some(e) = &m.email {
            self.by_email.entry(e.clone()).or_insert(i);
        }
        if let Some(p) = &m.phone {
            self.by_phone.entry(p.clone()).or_insert(i);
        }
    }

    /// Decides what contact `n` does, against everything decided before it.
    pub fn decide(&mut self, bulk: &Bulk<'_>, mut n: Norm) -> Outcome {
        let origin = (bulk.origin)(&n.url);
        if let (Some(email), Some(phone)) = (&n.email, &n.phone) {
            let holder = self
                .by_phone
                .get(phone)
                .map(|&i| self.touched[i].model.email.as_deref());
            if !keeps_phone(email, holder, self.by_email.contains_key(email)) {
                n.phone = None;
            }
        }
        let dup = n
            .email
            .as_ref()
            .and_then(|e| self.by_email.get(e))
            .or_else(|| n.phone.as_ref().and_then(|p| self.by_phone.get(p)))
            .copied();
        match (dup, bulk.on_conflict) {
            (Some(_), OnConflict::Error) => Outcome::Rejected,
            (Some(i), OnConflict::Skip) => Outcome::Updated(self.touched[i].model.id),
            (Some(i), OnConflict::Merge) => {
                self.merge(i, &n, &origin);
                self.index(i);
                Outcome::Updated(self.touched[i].model.id)
            }
            (None, _) => {
                let model = new_lead(bulk, &n, &origin);
                let id = model.id;
                self.push(Touched {
                    model,
                    new: true,
                    changed: Vec::new(),
                    tags: n.tags,
                    origin: origin.kind,
                });
                Outcome::Created(id)
            }
        }
    }

    /// Fills the empty fields of lead `me` from `n` (never a value another lead holds).
    fn merge(&mut self, me: usize, n: &Norm, origin: &Origin) {
        let free_email = |e: &&String| self.by_email.get(*e).is_none_or(|&i| i == me);
        let free_phone = |p: &&String| self.by_phone.get(*p).is_none_or(|&i| i == me);
        let email = n.email.as_ref().filter(free_email).cloned();
        let phone = n.phone.as_ref().filter(free_phone).cloned();
        let t = &mut self.touched[me];
        let m = &mut t.model;
        let mut filled: Vec<&str> = Vec::new();
        for (slot, value, name) in [
            (&mut m.email, email, "email"),
            (&mut m.phone, phone, "phone"),
            (&mut m.website, n.website.clone(), "website"),
        ] {
            if slot.is_none() && value.is_some() {
                *slot = value;
                filled.push(name);
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
            prov.insert((*f).into(), origin.entry());
            if !t.new && !t.changed.iter().any(|c| c == f) {
                t.changed.push((*f).into());
            }
        }
        m.provenance = Value::Object(prov);
    }
}

/// A new lead from `n`, with provenance for every field it sets.
fn new_lead(bulk: &Bulk<'_>, n: &Norm, origin: &Origin) -> lead::Model {
    let mut prov = serde_json::Map::new();
    for (field, set) in [
        ("email", n.email.is_some()),
        ("phone", n.phone.is_some()),
        ("company", n.company.is_some()),
        ("website", n.website.is_some()),
    ] {
        if set {
            prov.insert(field.into(), origin.entry());
        }
    }
    let now = Utc::now();
    lead::Model {
        id: Uuid::now_v7(),
        org_id: bulk.viewer.org_id,
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
        latitude: n.latitude,
        longitude: n.longitude,
        source: bulk.source.as_str().into(),
        status: LeadStatus::New.as_str().into(),
        score: 0,
        score_reasons: json!([]),
        custom_fields: n.custom.clone(),
        provenance: Value::Object(prov),
        owner_id: None,
        last_contacted_at: None,
        created_at: now,
        updated_at: now,
        email_status: None,
        validated_at: None,
        phone_type: None,
        phone_carrier: None,
        phone_country: None,
    }
}
