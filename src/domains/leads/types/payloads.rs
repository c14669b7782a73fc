//! The payloads and small objects of lead operations: batch results, `mergeLeads`,
//! `exportLeads`, `importLeads` mappings and `leadStats`.

use async_graphql::{Enum, InputObject, SimpleObject, ID};
use serde::{Deserialize, Serialize};

use super::{ItemError, Lead};

/// Per-item outcome of a batch mutation.
#[derive(SimpleObject)]
pub struct LeadResult {
    /// Position in the input list.
    pub index: i32,
    /// The lead, on success.
    pub lead: Option<Lead>,
    /// The error, on failure.
    pub error: Option<ItemError>,
}

/// Per-item outcome of `deleteLeads`.
#[derive(SimpleObject)]
pub struct DeleteResult {
    /// The id asked for.
    pub id: ID,
    /// Whether it was deleted.
    pub deleted: bool,
    /// The error, on failure.
    pub error: Option<ItemError>,
}

/// Result of `mergeLeads`.
#[derive(SimpleObject)]
pub struct MergeLeadsPayload {
    /// The primary lead after the merge (with `dryRun`: as it would be).
    pub lead: Lead,
    /// Fields that took a duplicate's value.
    pub changed_fields: Vec<String>,
    /// Tags added to the primary.
    pub added_tags: Vec<String>,
    /// Notes moved to the primary.
    pub moved_notes: i64,
    /// Whether nothing was written.
    pub dry_run: bool,
}

/// A download link.
#[derive(SimpleObject)]
pub struct ExportLink {
    /// GET this URL for the file (no further authentication needed).
    pub url: String,
    /// When the link stops working.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// A count for one key.
#[derive(SimpleObject, Debug, Clone, PartialEq, Eq)]
pub struct KeyCount {
    /// The key (status, source, score band `0-19`…`80-100`, or day `YYYY-MM-DD`).
    pub key: String,
    /// How many leads.
    pub count: i64,
}

/// Aggregates over leads.
#[derive(SimpleObject, Debug, Clone)]
pub struct LeadStats {
    /// Matching leads.
    pub total: i64,
    /// By status.
    pub by_status: Vec<KeyCount>,
    /// By source.
    pub by_source: Vec<KeyCount>,
    /// By score band.
    pub by_score_band: Vec<KeyCount>,
    /// Created per day over the last 30 days (UTC).
    pub created_per_day: Vec<KeyCount>,
}

/// Lead fields a CSV column can feed.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeadImportField {
    /// Given name.
    FirstName,
    /// Family name.
    LastName,
    /// Email.
    Email,
    /// Phone.
    Phone,
    /// Company.
    Company,
    /// Job title.
    Title,
    /// Website.
    Website,
    /// Industry.
    Industry,
    /// City.
    City,
    /// Region.
    Region,
    /// Country code.
    Country,
    /// Tags, separated by `;` or `,`.
    Tags,
    /// Leave the column out.
    Ignore,
}

/// Which CSV column feeds which field.
#[derive(InputObject, Debug, Clone, Serialize, Deserialize)]
pub struct ColumnMappingInput {
    /// Header of the column, as in the file.
    pub column: String,
    /// Target field.
    pub field: LeadImportField,
}

/// File format of `exportLeads`.
#[derive(
    async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize,
)]
pub enum ExportFormat {
    /// UTF-8 CSV with a header row (formula-like cells escaped).
    #[default]
    Csv,
    /// Excel workbook (cells are typed strings/numbers, so nothing is evaluated as a formula).
    Xlsx,
}
