//! `duplicateCandidates`: a likely duplicate pair, why it pairs, and its connection.

use async_graphql::{connection::Connection, Enum, SimpleObject};

use crate::{domains::leads::Lead, graphql::pagination::KeyCursor};

/// Why two leads look like one.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateReason {
    /// The same email address (normalised).
    SameEmail,
    /// The same phone number (its last 10 digits).
    SamePhone,
    /// Person names alike (Jaro-Winkler ≥ 0.9 of the normalised full names).
    SimilarName,
    /// The same normalised company name and a shared domain (email domain or website host).
    SameCompany,
    /// The same website host.
    SameWebsite,
}

/// A pair of leads that are likely one: pass `lead` and `duplicate` to `mergeLeads`.
#[derive(SimpleObject, Clone)]
pub struct DuplicateCandidate {
    /// The first lead (the one asked about, with `leadId`).
    pub lead: Lead,
    /// The lead it likely duplicates.
    pub duplicate: Lead,
    /// 0–1: how sure (0.6 at least).
    pub score: f64,
    /// Why, strongest first.
    pub reasons: Vec<DuplicateReason>,
}

/// The count of a `duplicateCandidates` list.
#[derive(SimpleObject, Debug, Clone)]
pub struct DuplicateTotals {
    /// Candidate pairs across all pages.
    pub total_count: u64,
}

/// Duplicate candidates, best first.
pub type DuplicateCandidateConnection =
    Connection<KeyCursor<(u32, uuid::Uuid, uuid::Uuid)>, DuplicateCandidate, DuplicateTotals>;
