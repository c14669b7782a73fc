//! `enrichLead` (one lead, answered synchronously) and `enrichmentHistory` (a lead's provider
//! calls, newest first).

use std::collections::BTreeSet;

use entity::enrichment_call;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use uuid::Uuid;

use super::{
    budget, providers,
    waterfall::{apply, Waterfall},
};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        enrichment::types::{EnrichLeadInput, EnrichLeadPayload, EnrichmentCall, EnrichmentField},
        leads,
    },
    error::{AppError, AppResult},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    ids::parse_id,
    state::{AppState, Wakes},
};

/// Most fields in one request (every enrichable field).
pub const MAX_FIELDS: usize = 9;

/// 1–[`MAX_FIELDS`] distinct fields, or BAD_USER_INPUT on `field`.
pub fn check_fields(field: &str, fields: &[EnrichmentField]) -> AppResult<Vec<EnrichmentField>> {
    let distinct: BTreeSet<EnrichmentField> = fields.iter().copied().collect();
    if fields.is_empty() || distinct.len() != fields.len() {
        return Err(AppError::invalid(
            field,
            format!("must hold 1–{MAX_FIELDS} distinct fields"),
        ));
    }
    Ok(fields.to_vec())
}

/// Enriches one lead now (MEMBER+): the waterfall for each field, the values written with
/// provenance, the calls in the history, the budget charged.
pub async fn enrich_lead(
    state: &AppState,
    viewer: &Viewer,
    input: EnrichLeadInput,
) -> AppResult<EnrichLeadPayload> {
    viewer.require(Permission::EnrichLeads)?;
    viewer.require(Permission::WriteLeads)?;
    let fields = check_fields("input.fields", &input.fields)?;
    let id = parse_id(&input.lead_id).map_err(|_| AppError::NotFound("lead"))?;
    let lead = leads::get(&state.db, viewer, id).await?;
    let ready = providers::ready(&state.db, state, viewer.org_id).await?;
    let overwrite = input.overwrite.unwrap_or(false);
    let w = Waterfall {
        state,
        org: viewer.org_id,
        providers: &ready,
        limit: budget::limit(&state.db, viewer.org_id).await?,
        overwrite,
        run_id: None,
    };
    let pass = w.seek(&lead, &fields).await?;
    let txn = state.db.begin().await?;
    let outcomes = apply(&txn, viewer, &pass, overwrite).await?;
    state.commit(txn, Wakes::Events).await?;
    let lead = leads::get(&state.db, viewer, id).await?;
    Ok(EnrichLeadPayload {
        lead: lead.into(),
        fields: outcomes,
    })
}

/// A lead's provider calls, newest first (MEMBER+); another organization's lead is NOT_FOUND.
pub async fn history(
    state: &AppState,
    viewer: &Viewer,
    lead_id: Uuid,
    args: PageArgs,
) -> AppResult<IdConnection<EnrichmentCall>> {
    viewer.require(Permission::EnrichLeads)?;
    leads::get(&state.db, viewer, lead_id).await?;
    let select = enrichment_call::Entity::find()
        .filter(enrichment_call::Column::OrgId.eq(viewer.org_id))
        .filter(enrichment_call::Column::LeadId.eq(lead_id));
    page_by_id_desc(
        &state.db,
        select,
        enrichment_call::Column::Id,
        &args,
        |m| m.id,
        |row| EnrichmentCall { row },
    )
    .await
}
