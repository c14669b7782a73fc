//! The leads domain's GraphQL types: inputs, enums and small objects here, the `Lead` object
//! with its page-wide batches in [`lead`], operation payloads in `payloads.rs`.

pub mod lead;
mod payloads;

pub use lead::{
    batched_child_page, Lead, LeadAnalysisSlot, LeadCampaignsSlot, LeadInteraction, LeadNote,
    LeadPage, CHILD_BATCH_MAX, CHILD_PAGE_DEFAULT,
};
pub use payloads::{
    ColumnMappingInput, DeleteResult, ExportFormat, ExportLink, KeyCount, LeadImportField,
    LeadResult, LeadStats, MergeLeadsPayload,
};

use async_graphql::{Enum, InputObject, Json, MaybeUndefined, SimpleObject, ID};
use chrono::{DateTime, Utc};

/// Where a lead stands in the pipeline.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LeadStatus {
    /// Not worked yet.
    New,
    /// Reached out.
    Contacted,
    /// A fit.
    Qualified,
    /// Not a fit.
    Unqualified,
    /// Became a customer.
    Converted,
    /// Gone.
    Lost,
}

/// Where a lead came from.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LeadSource {
    /// Entered by a person.
    Manual,
    /// A CSV/XLSX import.
    Import,
    /// Crawled from a website.
    Website,
    /// A search API.
    Search,
    /// Google Maps / Places.
    GoogleMaps,
    /// Craigslist listings.
    Craigslist,
    /// Job boards.
    JobBoards,
    /// Social networks.
    Social,
    /// A referral.
    Referral,
    /// A partner integration through the API.
    Api,
    /// Anything else.
    Other,
}

/// The latest verdict on a lead's email address (contact validation).
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum EmailStatus {
    /// The domain accepts mail and nothing speaks against the address.
    Deliverable,
    /// Probably delivered but doubtful (role, disposable, free provider, catch-all).
    Risky,
    /// Mail cannot be delivered (bad syntax, no domain, no MX, null MX). Campaigns skip it.
    Undeliverable,
    /// Not decided (DNS did not answer, or the check is off).
    Unknown,
}

crate::wire_enum!(EmailStatus { Deliverable => "DELIVERABLE", Risky => "RISKY", Undeliverable => "UNDELIVERABLE", Unknown => "UNKNOWN" });
crate::wire_enum!(LeadStatus { New => "NEW", Contacted => "CONTACTED", Qualified => "QUALIFIED", Unqualified => "UNQUALIFIED", Converted => "CONVERTED", Lost => "LOST" });
crate::wire_enum!(LeadSource { Manual => "MANUAL", Import => "IMPORT", Website => "WEBSITE", Search => "SEARCH", GoogleMaps => "GOOGLE_MAPS", Craigslist => "CRAIGSLIST", JobBoards => "JOB_BOARDS", Social => "SOCIAL", Referral => "REFERRAL", Api => "API", Other => "OTHER" });

/// A place.
#[derive(SimpleObject, InputObject, Debug, Clone, Default, PartialEq)]
#[graphql(input_name = "LocationInput")]
pub struct Location {
    /// City.
    pub city: Option<String>,
    /// Region or state.
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    /// Latitude (−90…90).
    pub latitude: Option<f64>,
    /// Longitude (−180…180).
    pub longitude: Option<f64>,
}

/// What to do when a new lead matches an existing one by email or phone.
#[derive(
    Enum, Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize,
)]
pub enum OnConflict {
    /// CONFLICT error naming the existing lead (default).
    #[default]
    Error,
    /// Fill the existing lead's empty fields and add tags; return it.
    Merge,
    /// Leave the existing lead as it is; return it.
    Skip,
}

/// Input of `createLead` / `createLeads`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct CreateLeadInput {
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Email (unique per organization, case-insensitive).
    pub email: Option<String>,
    /// Phone; international format, or national with `location.country`. Stored as E.164.
    pub phone: Option<String>,
    /// Company.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Website (http/https).
    pub website: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Location.
    pub location: Option<Location>,
    /// Source (MANUAL by default).
    pub source: Option<LeadSource>,
    /// Status (NEW by default).
    pub status: Option<LeadStatus>,
    /// Tags (trimmed, lowercased, at most 50).
    pub tags: Option<Vec<String>>,
    /// Free-form fields (a JSON object).
    pub custom_fields: Option<Json<serde_json::Value>>,
    /// Owner (a member of the organization).
    pub owner_id: Option<ID>,
}

/// Input of `updateLead` / `updateLeads`: only fields present change; `null` clears.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateLeadInput {
    /// Given name.
    pub first_name: MaybeUndefined<String>,
    /// Family name.
    pub last_name: MaybeUndefined<String>,
    /// Email.
    pub email: MaybeUndefined<String>,
    /// Phone.
    pub phone: MaybeUndefined<String>,
    /// Company.
    pub company: MaybeUndefined<String>,
    /// Job title.
    pub title: MaybeUndefined<String>,
    /// Website.
    pub website: MaybeUndefined<String>,
    /// Industry.
    pub industry: MaybeUndefined<String>,
    /// Location (replaces the whole location).
    pub location: MaybeUndefined<Location>,
    /// Source.
    pub source: Option<LeadSource>,
    /// Status.
    pub status: Option<LeadStatus>,
    /// Free-form fields (replaces them).
    pub custom_fields: MaybeUndefined<Json<serde_json::Value>>,
}

/// Tag matching in `LeadFilter`.
#[derive(InputObject, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TagFilter {
    /// Leads with at least one of these tags.
    pub any: Option<Vec<String>>,
    /// Leads with all of these tags.
    pub all: Option<Vec<String>>,
}

/// Filters for `leads` (all given conditions must hold).
#[derive(InputObject, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct LeadFilter {
    /// Any of these statuses.
    pub status: Option<Vec<LeadStatus>>,
    /// Any of these sources.
    pub source: Option<Vec<LeadSource>>,
    /// Tag conditions.
    pub tags: Option<TagFilter>,
    /// Score at least.
    pub min_score: Option<i32>,
    /// Score at most.
    pub max_score: Option<i32>,
    /// Owned by this user.
    pub owner_id: Option<ID>,
    /// Created at or after.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before.
    pub created_before: Option<DateTime<Utc>>,
    /// Has (true) or lacks (false) an email.
    pub has_email: Option<bool>,
    /// Has (true) or lacks (false) a phone.
    pub has_phone: Option<bool>,
    /// Case-insensitive text over name, company, email and notes.
    pub search: Option<String>,
    /// City (case-insensitive).
    pub city: Option<String>,
    /// Region (case-insensitive).
    pub region: Option<String>,
    /// Country code.
    pub country: Option<String>,
}

/// Sort keys for `leads`.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LeadOrderField {
    /// Creation time (default).
    #[default]
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Score.
    Score,
    /// Company name.
    Company,
    /// Last contact (never-contacted leads sort as oldest).
    LastContactedAt,
}

/// Sort direction.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Ascending.
    Asc,
    /// Descending (default).
    #[default]
    Desc,
}

/// Ordering of `leads`.
#[derive(InputObject, Debug, Clone, Copy, Default)]
pub struct LeadOrder {
    /// Sort key.
    pub field: LeadOrderField,
    /// Direction.
    pub direction: OrderDirection,
}

/// Why a lead has its score.
#[derive(SimpleObject, Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreReason {
    /// Rule name.
    pub rule: String,
    /// Points it added.
    pub points: i32,
    /// Human-readable explanation.
    pub detail: String,
}

/// Where one field's value came from.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct FieldProvenance {
    /// The field (`email`, `phone`, ...).
    pub field: String,
    /// `manual`, `import`, `scrape` or `enrichment`.
    pub kind: String,
    /// Who or what: user id, import file + row, scrape job + URL, provider.
    pub reference: Option<String>,
    /// When the value was set.
    pub at: DateTime<Utc>,
}

/// An error of one item in a batch mutation.
#[derive(SimpleObject, Debug, Clone)]
pub struct ItemError {
    /// Error code (as in `extensions.code`).
    pub code: String,
    /// Message.
    pub message: String,
    /// Offending fields, for BAD_USER_INPUT.
    pub fields: Vec<String>,
}

impl From<crate::error::AppError> for ItemError {
    fn from(e: crate::error::AppError) -> Self {
        let fields = match &e {
            crate::error::AppError::BadUserInput { fields, .. } => {
                fields.iter().map(|f| f.field.clone()).collect()
            }
            _ => Vec::new(),
        };
        ItemError {
            code: e.code().as_str().to_string(),
            message: e.public_message(),
            fields,
        }
    }
}
