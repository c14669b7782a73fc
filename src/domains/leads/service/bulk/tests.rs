//! Property test: [`save_many`] and a loop of [`save_one`] give the same result for random
//! contacts (overlapping emails, phones, websites and companies, invalid values, national
//! phones) against random existing leads, in every conflict mode: the same leads (fields,
//! score, custom fields, tags, provenance kind and reference per field), the same outcome per
//! contact, the same leads created, and for the existing leads the same changed fields in
//! their `merged` timeline rows and `lead.updated` events. (The bulk path folds several
//! contacts meeting one lead into one row and one event; the one-by-one path writes one per
//! contact, so rows and events are compared per lead, as sets.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use entity::{lead, lead_interaction, lead_tag, outbox_event};
use migration::{Migrator, MigratorTrait};
use proptest::{
    prelude::*,
    test_runner::{Config, TestCaseError, TestRunner},
};
use sea_orm::{
    ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{save_many, save_one, Bulk, Contact, Origin, Outcome};
use crate::{
    auth::{Role, Viewer, ViewerVia},
    domains::leads::{
        service::create_in,
        types::{CreateLeadInput, LeadSource, Location, OnConflict},
    },
    events::{DomainEvent, EventEnvelope},
};

/// An existing lead.
#[derive(Debug, Clone)]
struct Seed {
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    website: Option<String>,
    tags: Vec<String>,
}

#[derive(Debug, Clone)]
struct Case {
    existing: Vec<Seed>,
    contacts: Vec<Contact>,
    mode: OnConflict,
}

fn pick(values: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(values).prop_map(str::to_string))
}

fn tags() -> impl Strategy<Value = Vec<String>> {
    prop::sample::subsequence(vec!["role-address", "no-mx", "Hot"], 0..=2)
        .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

const EMAILS: &[&str] = &[
    "ann@a.test",
    "bob@a.test",
    "cat@b.test",
    "Dan@B.test",
    "not-an-email",
];
const PHONES: &[&str] = &[
    "+14155552671",
    "+14155552672",
    "+14155552673",
    "(415) 555-2674",
    "12",
];
const WEBSITES: &[&str] = &["https://a.test/", "https://b.test", "not a url"];
const COMPANIES: &[&str] = &["Acme", "Beta", " "];

fn seed() -> impl Strategy<Value = Seed> {
    (
        pick(EMAILS),
        pick(PHONES),
        pick(COMPANIES),
        pick(WEBSITES),
        tags(),
    )
        .prop_map(|(email, phone, company, website, tags)| Seed {
            email,
            phone,
            company,
            website,
            tags,
        })
}

fn location() -> impl Strategy<Value = Option<Location>> {
    prop::option::of(
        (
            pick(&["US", "DE", "ZZZ"]),
            pick(&["Springfield"]),
            prop::option::of(prop::sample::select(vec![37.5, 120.0])),
        )
            .prop_map(|(country, city, latitude)| Location {
                city,
                region: None,
                country,
                latitude,
                longitude: latitude.map(|_| -122.0),
            }),
    )
}

fn contact() -> impl Strategy<Value = Contact> {
    (
        (pick(EMAILS), pick(PHONES), any::<bool>()),
        (pick(COMPANIES), pick(WEBSITES), location()),
        (tags(), any::<bool>(), 0..3usize),
    )
        .prop_map(
            |((email, phone, e164), (company, website, location), (tags, social, page))| {
                let mut custom = BTreeMap::new();
                if social {
                    custom.insert("social".to_string(), json!(["https://x.test/a"]));
                }
                Contact {
                    phone_e164: e164 && phone.as_deref().is_some_and(|p| p.starts_with('+')),
                    email,
                    phone,
                    company,
                    website,
                    location,
                    tags,
                    custom,
                    url: format!("https://a.test/page{page}"),
                }
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(seed(), 0..5),
        prop::collection::vec(contact(), 0..8),
        prop::sample::select(vec![OnConflict::Merge, OnConflict::Skip, OnConflict::Error]),
    )
        .prop_map(|(existing, contacts, mode)| Case {
            existing,
            contacts,
            mode,
        })
}

/// A lead as both paths must leave it (no ids, no timestamps).
#[derive(Debug, PartialEq)]
struct LeadView {
    fields: Value,
    tags: BTreeSet<String>,
    provenance: BTreeMap<String, (String, String)>,
    created: bool,
    merged_fields: BTreeSet<String>,
    updated_fields: BTreeSet<String>,
}

#[derive(Debug, PartialEq)]
struct Snapshot {
    leads: BTreeMap<String, LeadView>,
    outcomes: Vec<String>,
    created_events: BTreeSet<String>,
}

fn key(m: &lead::Model) -> String {
    format!("{:?}|{:?}|{}", m.email, m.phone, m.company)
}

async fn lead_view(txn: &DatabaseTransaction, viewer: &Viewer, m: &lead::Model) -> LeadView {
    let tags = lead_tag::Entity::find()
        .filter(lead_tag::Column::LeadId.eq(m.id))
        .all(txn)
        .await
        .unwrap();
    let timeline = lead_interaction::Entity::find()
        .filter(lead_interaction::Column::LeadId.eq(m.id))
        .filter(lead_interaction::Column::ActorId.eq(viewer.user_id))
        .all(txn)
        .await
        .unwrap();
    let provenance = m
        .provenance
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let s = |f: &str| v[f].as_str().unwrap_or_default().to_string();
            (k.clone(), (s("kind"), s("reference")))
        })
        .collect();
    let created = timeline
        .iter()
        .any(|t| t.kind == "created" && t.data["origin"] == "scrape");
    let merged_fields = timeline
        .iter()
        .filter(|t| t.kind == "merged" && !created)
        .flat_map(|t| {
            t.data["changedFields"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    LeadView {
        fields: json!([
            m.city,
            m.region,
            m.country,
            m.latitude,
            m.longitude,
            m.website,
            m.source,
            m.status,
            m.score,
            m.score_reasons,
            m.custom_fields
        ]),
        tags: tags.into_iter().map(|t| t.tag).collect(),
        provenance,
        created,
        merged_fields,
        updated_fields: BTreeSet::new(),
    }
}

async fn snapshot(txn: &DatabaseTransaction, viewer: &Viewer, outcomes: &[Outcome]) -> Snapshot {
    let rows = lead::Entity::find()
        .filter(lead::Column::OrgId.eq(viewer.org_id))
        .all(txn)
        .await
        .unwrap();
    let keys: BTreeMap<Uuid, String> = rows.iter().map(|m| (m.id, key(m))).collect();
    let mut leads = BTreeMap::new();
    for m in &rows {
        leads.insert(key(m), lead_view(txn, viewer, m).await);
    }
    let mut created_events = BTreeSet::new();
    for e in outbox_event::Entity::find().all(txn).await.unwrap() {
        let env: EventEnvelope = serde_json::from_value(e.payload).unwrap();
        match env.event {
            DomainEvent::LeadCreated(c) => {
                created_events.insert(keys[&c.lead_id].clone());
            }
            DomainEvent::LeadUpdated(c) => {
                let view = leads.get_mut(&keys[&c.lead_id]).unwrap();
                if !view.created {
                    view.updated_fields.extend(c.changed_fields);
                }
            }
            _ => {}
        }
    }
    let outcomes = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Created(id) => format!("created {}", keys[id]),
            Outcome::Updated(id) => format!("updated {}", keys[id]),
            Outcome::Rejected => "rejected".into(),
        })
        .collect();
    Snapshot {
        leads,
        outcomes,
        created_events,
    }
}

/// Runs `case` in a transaction (rolled back) through one path; returns what it left.
async fn run(db: &DatabaseConnection, viewer: &Viewer, case: &Case, many: bool) -> Snapshot {
    let txn = db.begin().await.unwrap();
    for s in &case.existing {
        let input = CreateLeadInput {
            email: s.email.clone(),
            phone: s.phone.clone(),
            company: s.company.clone(),
            website: s.website.clone(),
            tags: Some(s.tags.clone()),
            location: Some(Location {
                country: Some("US".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let sp = txn.begin().await.unwrap();
        let manual = Origin::manual(viewer);
        match create_in(&sp, viewer, "", &input, OnConflict::Skip, &manual).await {
            Ok(_) => sp.commit().await.unwrap(),
            Err(_) => sp.rollback().await.unwrap(),
        }
    }
    txn.execute_unprepared("DELETE FROM outbox_events")
        .await
        .unwrap();
    let origin = |url: &str| Origin::scrape(Uuid::nil(), url);
    let bulk = Bulk {
        viewer,
        source: LeadSource::Website,
        on_conflict: case.mode,
        origin: &origin,
    };
    let outcomes = if many {
        save_many(&txn, &bulk, case.contacts.clone())
            .await
            .unwrap()
            .outcomes
    } else {
        let mut out = Vec::new();
        for c in &case.contacts {
            out.push(save_one(&txn, &bulk, c.clone()).await.unwrap());
        }
        out
    };
    let snap = snapshot(&txn, viewer, &outcomes).await;
    txn.rollback().await.unwrap();
    snap
}

#[test]
fn bulk_and_one_by_one_agree() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(async {
        let mut opts = ConnectOptions::new("sqlite::memory:");
        opts.max_connections(1)
            .min_connections(1)
            .sqlx_logging(false);
        let db = Database::connect(opts).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        // The leads' organization and user are not the point here.
        db.execute_unprepared("PRAGMA foreign_keys=OFF")
            .await
            .unwrap();
        db
    });
    let viewer = Viewer {
        user_id: Uuid::now_v7(),
        org_id: Uuid::now_v7(),
        role: Role::Owner,
        via: ViewerVia::Jwt,
        session_id: None,
    };
    let mut runner = TestRunner::new(Config::with_cases(32));
    runner
        .run(&case(), |case| {
            let (one, many) = rt.block_on(async {
                (
                    run(&db, &viewer, &case, false).await,
                    run(&db, &viewer, &case, true).await,
                )
            });
            if one != many {
                return Err(TestCaseError::fail(format!(
                    "one by one:\n{one:#?}\nbulk:\n{many:#?}"
                )));
            }
            Ok(())
        })
        .unwrap();
}
