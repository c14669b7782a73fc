//! The batch's reads of leads the organization already has: the lookup by email and phone
//! (only what deciding needs), and the full rows of the leads a merge changes.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use entity::lead;
use sea_orm::{
    sea_query::Expr, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend,
    QueryFilter, QuerySelect,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::CHUNK;
use crate::{auth::Viewer, domains::leads::service::scoped, error::AppResult};

/// The leads of `viewer`'s organization with any of `emails` or `phones`, each once, known only
/// by id, email, phone, website and company: most leads a crawl meets again change nothing, and
/// their JSON columns cost more to send and decode than the rest ([`full_rows`] reads the rest
/// for the leads that do change).
pub async fn lookup(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    emails: &[String],
    phones: &[String],
) -> AppResult<Vec<lead::Model>> {
    let mut out = Vec::new();
    let mut seen: HashSet<Uuid> = HashSet::new();
    let chunks = emails.len().max(phones.len()).div_ceil(CHUNK);
    for i in 0..chunks {
        let part = |v: &[String]| -> Vec<String> {
            v.iter().skip(i * CHUNK).take(CHUNK).cloned().collect()
        };
        let (e, p) = (part(emails), part(phones));
        let mut any = Condition::any();
        if txn.get_database_backend() == DbBackend::Postgres {
            // One statement text for any number of emails and phones (an `IN` list is a new
            // statement to prepare for every length); `ARRAY(...)` is computed once and
            // `= ANY` still uses the organization's email and phone indexes.
            for (col, values) in [("email", e), ("phone", p)] {
                any = any.add(Expr::cust_with_values(
                    format!(
                        r#""leads"."{col}" = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))"#
                    ),
                    [json!(values)],
                ));
            }
        } else {
            if !e.is_empty() {
                any = any.add(lead::Column::Email.is_in(e));
            }
            if !p.is_empty() {
                any = any.add(lead::Column::Phone.is_in(p));
            }
        }
        let found: Vec<Known> = scoped(viewer)
            .select_only()
            .columns([
                lead::Column::Id,
                lead::Column::Email,
                lead::Column::Phone,
                lead::Column::Website,
                lead::Column::Company,
            ])
            .filter(any)
            .into_tuple()
            .all(txn)
            .await?;
        out.extend(
            found
                .into_iter()
                .filter(|k| seen.insert(k.0))
                .map(|k| partial(viewer, k)),
        );
    }
    Ok(out)
}

/// The full rows of leads `ids` of `viewer`'s organization, by id.
pub async fn full_rows(
    txn: &DatabaseTransaction,
    viewer: &Viewer,
    ids: &[Uuid],
) -> AppResult<HashMap<Uuid, lead::Model>> {
    let mut full = HashMap::new();
    for ids in ids.chunks(CHUNK) {
        for m in scoped(viewer)
            .filter(lead::Column::Id.is_in(ids.to_vec()))
            .all(txn)
            .await?
        {
            full.insert(m.id, m);
        }
    }
    Ok(full)
}

/// What the lookup reads of an existing lead: id, email, phone, website, company.
type Known = (Uuid, Option<String>, Option<String>, Option<String>, String);

/// A lead known only by the lookup's columns (the rest is read if a merge changes it).
fn partial(viewer: &Viewer, (id, email, phone, website, company): Known) -> lead::Model {
    let epoch = chrono::DateTime::<Utc>::UNIX_EPOCH;
    lead::Model {
        id,
        org_id: viewer.org_id,
        first_name: None,
        last_name: None,
        email,
        phone,
        company,
        title: None,
        website,
        industry: None,
        city: None,
        region: None,
        country: None,
        latitude: None,
        longitude: None,
        source: String::new(),
        status: String::new(),
        score: 0,
        score_reasons: json!([]),
        custom_fields: json!({}),
        provenance: json!({}),
        owner_id: None,
        last_contacted_at: None,
        created_at: epoch,
        updated_at: epoch,
        email_status: None,
        validated_at: None,
        phone_type: None,
        phone_carrier: None,
        phone_country: None,
    }
}

/// Applies to the full row `m` the fields a merge filled on its partial copy `p`, with their
/// provenance entries (`p`'s provenance holds only those).
pub fn complete(m: &mut lead::Model, p: &lead::Model, changed: &[String]) {
    for f in changed {
        match f.as_str() {
            "email" => m.email.clone_from(&p.email),
            "phone" => m.phone.clone_from(&p.phone),
            "website" => m.website.clone_from(&p.website),
            "company" => m.company.clone_from(&p.company),
            _ => {}
        }
    }
    if let (Some(into), Some(from)) = (m.provenance.as_object_mut(), p.provenance.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    } else if let Some(from) = p.provenance.as_object().filter(|o| !o.is_empty()) {
        m.provenance = Value::Object(from.clone());
    }
}
