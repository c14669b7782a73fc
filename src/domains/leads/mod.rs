//! Leads: the core record — filters, keyset pages, dedupe, scoring, notes, timeline,
//! provenance, CSV/XLSX export and CSV import.
//!
//! **Rules** (`service/`). Validation and normalization (`service/validate.rs`: lowercased
//! email, E.164 phone via `phonenumber`, http(s) website, ISO country, tags
//! lowercased/deduplicated, every bad field reported at once); dedupe by email or phone inside
//! the organization (CONFLICT naming the existing lead, or `onConflict: MERGE | SKIP`);
//! provenance per field (`{kind, reference, at}`: manual user, import file + row, scrape job +
//! URL); the timeline (`lead_interactions`); rescoring and the `lead.created/updated/deleted`
//! events — all in the caller's transaction (`create_in` lets the importer commit 500 rows at
//! once). `service/actions.rs`: tags, assignment, contacts, notes, delete; `service/update.rs`:
//! the partial update; `service/merge.rs`: `mergeLeads` (fill empty fields, unite tags, move
//! notes and timeline, delete the duplicates; `dryRun` writes nothing).
//!
//! **Scoring** (`service/scoring.rs`): deterministic rules (email, phone, website, company,
//! title seniority, industry, engagement, research notes), each with points and a reason;
//! recomputed on every change.
//!
//! **Listing** (`service/query.rs`): filters (status, source, tags any/all via subqueries on
//! `lead_tags`, score range, owner, created range, has email/phone, `search`, city/region/
//! country) and keyset pages over (sort key, id) for CREATED_AT, UPDATED_AT, SCORE, COMPANY and
//! LAST_CONTACTED_AT in both directions; cursors name their ordering and are refused under
//! another. `company` is stored as `''` when unknown and a never contacted lead sorts as the
//! epoch, so every key is non-null. `search` is full-text with prefix terms (`acm` finds Acme)
//! over name, company, email, title and note bodies: generated `tsvector` columns with GIN
//! indexes on PostgreSQL (`simple` configuration), FTS5 tables kept in step by triggers on
//! SQLite (`m20261122_000006_add_lead_search`). `page_query` is also the page statement of the
//! compiled read path (`graphql::compiled::leads`, PostgreSQL).
//!
//! **Page-wide batches** (`types/lead.rs` + `loader.rs`): leads resolved together (a page, or
//! one lead) share a `LeadPage`. The first lead that needs owners, tags, the newest notes or
//! timeline entries, campaigns or the analysis loads them for all its siblings in one statement
//! (`ROW_NUMBER() OVER (PARTITION BY lead_id)` for "newest N per lead"); the others reuse the
//! result, so a nested page costs the same statements at 10, 50 and 200 leads (asserted with
//! the statement log). `Lead.campaigns` and `Lead.analysis` belong to higher domains: they are
//! field slots (`graphql::slot`, [`LeadCampaignsSlot`], [`LeadAnalysisSlot`]) whose item type
//! and batch outreach and ai register before the schema is built; leads never names them.
//!
//! **Export** (`service/export.rs`): `exportLeads` signs a 10-minute link (HS256, its own
//! audience, the filter inside); `GET /exports/leads?token=…` ([`download_export`]) streams CSV
//! in 1,000-row keyset chunks through a bounded channel, escaping formula-like cells; `format:
//! XLSX` writes a workbook in constant-memory mode to a temp file, then streams it from disk.
//!
//! **Import** (`service/import.rs`): `importLeads(file | fileId, mapping, onConflict)` enqueues
//! `leads.import` ([`IMPORT_KIND`], handler [`ImportLeads`]) over a CSV in object storage (the
//! upload streamed there, or an IMPORT file of the files domain, which asks
//! [`import_jobs_using`] before deleting one). The handler parses with `csv` (BOM, quoted newlines, ragged rows and
//! invalid UTF-8 become per-row errors) and commits 500 rows per transaction together with the
//! job's progress, so a retried job resumes after the last committed chunk. Any instance sharing
//! the storage can run it.
//!
//! **Email verdict** (`service/email_status.rs`): `Lead.emailStatus` / `Lead.validatedAt`,
//! written by contact validation (enrichment) through [`record_email_status`] with provenance
//! under `emailStatus`, cleared when the email changes; [`undeliverable_reason`] is what the
//! campaign send gate (outreach) reads. Enrichment fills empty fields through
//! [`record_enriched`] (`service/enriched.rs`: provenance `enrichment`, manual values win).
//!
//! **Stats** (`service/stats.rs`): `leadStats` counts by status, source, score band and day in
//! the database: one statement (a CTE of the filtered leads, one `GROUP BY` per dimension).
//!
//! **Events**: `lead.created`, `lead.updated` (with the changed fields), `lead.deleted`, written
//! through the outbox in the change's transaction.

pub mod loader;
pub mod resolver;
pub mod service;
pub mod types;

pub use loader::{newest_per_lead, tags};
pub use resolver::{LeadMutation, LeadQuery};
pub use service::{
    create, create_in, delete, enrichable_value,
    export::{cell as export_cell, download as download_export},
    filtered, get,
    import::{
        jobs_using_file as import_jobs_using, ImportLeads, ImportSource, KIND as IMPORT_KIND,
    },
    page, page_query,
    query::list,
    record_email_status, record_enriched, record_geocoded, record_geocoded_many, rescore_in,
    scoped, send_gate_reason, sort_expr, undeliverable_reason, Check, Created, EnrichedValue,
    Geocoded, LeadConnection, LeadKey, Origin, PageQuery, SortValue, EMAIL_STATUS_FIELD,
    ENRICHABLE_FIELDS, GEOCODED_FIELD, NOT_VALIDATED,
};
pub use types::{
    batched_child_page, Lead, LeadAnalysisSlot, LeadCampaignsSlot, LeadPage, CHILD_BATCH_MAX,
    CHILD_PAGE_DEFAULT,
};

pub use service::bulk::{
    save_many as save_contacts, save_one as save_contact, Bulk, Contact, Outcome,
    CHUNK as BULK_CHUNK,
};
