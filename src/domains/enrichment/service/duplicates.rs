//! `duplicateCandidates`: likely duplicate pairs of the viewer's organization, best first, for
//! `mergeLeads`.
//!
//! One statement reads the matching columns of the organization's newest [`MAX_SCAN`] leads
//! (the same on both backends: no `pg_trgm`, whose extension the test PostgreSQL lacks), the
//! blocks of [`matching`] choose the pairs to compare (never all pairs), each is scored, and the
//! page is cut from the sorted pairs (score descending, then the two ids) by its keyset cursor;
//! a second statement loads the page's leads. Two statements whatever the page size.
//!
//! With `leadId`, only the pairs of that lead (it comes first in each pair); another
//! organization's lead is NOT_FOUND.

use std::collections::HashMap;

use entity::lead;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::matching::{self, Fields, Keys};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        enrichment::types::{DuplicateCandidate, DuplicateCandidateConnection, DuplicateTotals},
        leads::{self, LeadPage},
    },
    error::{AppError, AppResult},
    graphql::pagination::{KeysetArgs, KeysetRows},
    state::AppState,
};

/// Most leads one call compares (the organization's newest).
pub const MAX_SCAN: u64 = 50_000;

/// A page's sort key: `(100 - points, lead, duplicate)`, ascending.
pub type PairKey = (u32, Uuid, Uuid);

/// The matching columns of a lead.
type Row = (
    Uuid,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
);

/// A scored pair before its leads are loaded.
struct Pair {
    key: PairKey,
    points: u32,
    reasons: Vec<crate::domains::enrichment::types::DuplicateReason>,
}

/// The organization's leads' matching columns, newest first.
async fn rows(state: &AppState, viewer: &Viewer) -> AppResult<Vec<Row>> {
    use lead::Column as C;
    Ok(leads::scoped(viewer)
        .select_only()
        .columns([
            C::Id,
            C::FirstName,
            C::LastName,
            C::Email,
            C::Phone,
            C::Company,
            C::Website,
        ])
        .order_by_desc(C::Id)
        .limit(MAX_SCAN)
        .into_tuple()
        .all(&state.db)
        .await?)
}

/// Every candidate pair (of `only`, when given), sorted by key.
fn pairs(rows: &[Row], only: Option<Uuid>) -> Vec<Pair> {
    let keys: Vec<Keys> = rows
        .iter()
        .map(|(_, first, last, email, phone, company, website)| {
            Keys::of(&Fields {
                first_name: first.as_deref(),
                last_name: last.as_deref(),
                email: email.as_deref(),
                phone: phone.as_deref(),
                company,
                website: website.as_deref(),
            })
        })
        .collect();
    let mut out: Vec<Pair> = matching::candidate_pairs(&keys)
        .into_iter()
        .filter_map(|(i, j)| {
            let (a, b) = (rows[i].0, rows[j].0);
            let (a, b) = match only {
                Some(id) if b == id => (b, a),
                Some(id) if a != id => return None,
                _ if only.is_none() && b < a => (b, a),
                _ => (a, b),
            };
            let (points, reasons) = matching::score(&keys[i], &keys[j])?;
            Some(Pair {
                key: (100 - points, a, b),
                points,
                reasons,
            })
        })
        .collect();
    out.sort_by_key(|p| p.key);
    out
}

/// `duplicateCandidates(leadId, first, after, last, before)`.
pub async fn candidates(
    state: &AppState,
    viewer: &Viewer,
    lead_id: Option<Uuid>,
    args: KeysetArgs<PairKey>,
) -> AppResult<DuplicateCandidateConnection> {
    viewer.require(Permission::ReadLeads)?;
    let rows = rows(state, viewer).await?;
    if let Some(id) = lead_id {
        if !rows.iter().any(|r| r.0 == id) {
            return Err(AppError::NotFound("lead"));
        }
    }
    let all = pairs(&rows, lead_id);
    let total = all.len() as u64;
    let within =
        |p: &&Pair| args.after.is_none_or(|k| p.key > k) && args.before.is_none_or(|k| p.key < k);
    let take = args.limit as usize + 1;
    let reading: Vec<&Pair> = if args.backward {
        all.iter().rev().filter(within).take(take).collect()
    } else {
        all.iter().filter(within).take(take).collect()
    };
    let page = KeysetRows::new(&args, reading);
    let mut ids: Vec<Uuid> = page.rows.iter().flat_map(|p| [p.key.1, p.key.2]).collect();
    ids.sort();
    ids.dedup();
    let models = if ids.is_empty() {
        Vec::new()
    } else {
        leads::scoped(viewer)
            .filter(lead::Column::Id.is_in(ids))
            .all(&state.db)
            .await?
    };
    let found: HashMap<Uuid, leads::Lead> = models
        .iter()
        .map(|m| m.id)
        .zip(LeadPage::wrap(models.clone()))
        .collect();
    let mut conn = DuplicateCandidateConnection::with_additional_fields(
        page.has_prev,
        page.has_next,
        DuplicateTotals { total_count: total },
    );
    for p in page.rows {
        // A lead deleted between the two statements leaves its pair out.
        let (Some(a), Some(b)) = (found.get(&p.key.1), found.get(&p.key.2)) else {
            continue;
        };
        let node = DuplicateCandidate {
            lead: a.clone(),
            duplicate: b.clone(),
            score: f64::from(p.points) / 100.0,
            reasons: p.reasons.clone(),
        };
        conn.edges.push(async_graphql::connection::Edge::new(
            crate::graphql::pagination::KeyCursor(p.key),
            node,
        ));
    }
    Ok(conn)
}
