//! `analyzeLead`, and the lead facts every lead-related task sends to the provider.

use chrono::Utc;
use entity::{lead, lead_analysis};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use uuid::Uuid;

use super::run;
use crate::{
    auth::{Permission, Viewer},
    domains::{
        ai::{
            service::provider::Task,
            types::{AiMeta, LeadAnalysisOutput, LeadFacts},
        },
        leads::{self, types::ScoreReason},
    },
    error::AppResult,
    state::AppState,
};

/// Non-empty parts joined with `sep`.
pub(crate) fn join(parts: &[Option<&str>], sep: &str) -> String {
    parts
        .iter()
        .flatten()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(sep)
}

/// `Some` when not blank.
pub(crate) fn non_empty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|v| !v.trim().is_empty())
}

/// What a task tells the provider about a lead.
pub fn lead_facts(l: &lead::Model) -> LeadFacts {
    let name = join(&[l.first_name.as_deref(), l.last_name.as_deref()], " ");
    let location = join(
        &[l.city.as_deref(), l.region.as_deref(), l.country.as_deref()],
        ", ",
    );
    let reasons: Vec<ScoreReason> =
        serde_json::from_value(l.score_reasons.clone()).unwrap_or_default();
    LeadFacts {
        name: (!name.is_empty()).then_some(name),
        title: non_empty(&l.title),
        company: (!l.company.trim().is_empty()).then(|| l.company.clone()),
        industry: non_empty(&l.industry),
        website: non_empty(&l.website),
        location: (!location.is_empty()).then_some(location),
        has_email: l.email.is_some(),
        has_phone: l.phone.is_some(),
        status: l.status.clone(),
        score: l.score,
        score_reasons: reasons.into_iter().map(|r| r.detail).collect(),
    }
}

/// Analyzes a lead of the viewer's organization with the provider and stores the analysis.
pub async fn analyze_lead(
    state: &AppState,
    viewer: &Viewer,
    lead_id: Uuid,
) -> AppResult<lead_analysis::Model> {
    viewer.require(Permission::UseAi)?;
    viewer.require(Permission::ReadLeads)?;
    let l = leads::get(&state.db, viewer, lead_id).await?;
    let facts = lead_facts(&l);
    let (out, meta): (LeadAnalysisOutput, AiMeta) =
        run(state, viewer, Task::AnalyzeLead { lead: facts }).await?;
    Ok(lead_analysis::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        lead_id: Set(l.id),
        summary: Set(out.summary),
        fit_score: Set(out.fit_score),
        reasons: Set(serde_json::to_value(&out.reasons)?),
        next_action: Set(out.next_action),
        talking_points: Set(serde_json::to_value(&out.talking_points)?),
        provider: Set(meta.provider),
        model: Set(meta.model),
        created_at: Set(Utc::now()),
    }
    .insert(&state.db)
    .await?)
}
