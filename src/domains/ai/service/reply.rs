//! `generateReply` and `conversationSuggestions`: lead-aware copy from the provider. Nothing is
//! stored or sent; the result says it is AI-written (`aiGenerated`) so approval rules can
//! target it when it is used in a campaign or reply.

use chrono::Utc;
use entity::lead_interaction;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{check_text, lead_facts, run};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        ai::{
            service::provider::Task,
            types::{
                AiMeta, ConversationSuggestion, GenerateReplyInput, RenderedTemplate, ReplyDraft,
                ReplyTone, Suggestions, TimelineFact,
            },
        },
        leads,
        outreach::templates,
    },
    error::{AppError, AppResult},
    ids::parse_id,
    state::AppState,
};

/// Timeline entries a suggestion request looks at (newest first).
const TIMELINE: u64 = 20;

/// Writes an email for a lead: to answer `conversationContext` when given, built on a template
/// when given (rendered for the lead first), in `tone`.
pub async fn generate_reply(
    state: &AppState,
    viewer: &Viewer,
    input: GenerateReplyInput,
) -> AppResult<(ReplyDraft, AiMeta)> {
    viewer.require(Permission::UseAi)?;
    viewer.require(Permission::ReadLeads)?;
    let lead_id = parse_id(&input.lead_id)
        .map_err(|_| AppError::invalid("input.leadId", "is not a valid id"))?;
    let context = match input.conversation_context.as_deref() {
        None => None,
        Some(c) if c.trim().is_empty() => None,
        Some(c) => Some(check_text("input.conversationContext", c)?),
    };
    let template_id = input
        .template_id
        .as_ref()
        .map(|t| {
            parse_id(t).map_err(|_| AppError::invalid("input.templateId", "is not a valid id"))
        })
        .transpose()?;
    let l = leads::get(&state.db, viewer, lead_id).await?;
    let template = match template_id {
        None => None,
        Some(id) => {
            viewer.require(Permission::ReadOutreach)?;
            let t = templates::get(&state.db, viewer, id)
                .await
                .map_err(|_| AppError::invalid("input.templateId", "no such template"))?;
            let ctx = templates::preview_context(state, viewer, Some(l.id), None).await?;
            let r = templates::render_or_invalid(&templates::content_of(&t), &ctx)
                .await
                .map_err(|e| AppError::invalid("input.templateId", e.public_message()))?;
            Some(RenderedTemplate {
                subject: r.subject,
                body: r.text,
            })
        }
    };
    let task = Task::Reply {
        lead: lead_facts(&l),
        context,
        tone: input.tone.unwrap_or(ReplyTone::Professional),
        template,
    };
    run(state, viewer, task).await
}

/// Next messages for a lead from its status and newest timeline entries.
pub async fn suggestions(
    state: &AppState,
    viewer: &Viewer,
    lead_id: Uuid,
) -> AppResult<(Vec<ConversationSuggestion>, AiMeta)> {
    viewer.require(Permission::UseAi)?;
    viewer.require(Permission::ReadLeads)?;
    let l = leads::get(&state.db, viewer, lead_id).await?;
    let now = Utc::now();
    let timeline: Vec<TimelineFact> = lead_interaction::Entity::find()
        .filter(lead_interaction::Column::LeadId.eq(l.id))
        .filter(lead_interaction::Column::OrgId.eq(viewer.org_id))
        .order_by_desc(lead_interaction::Column::CreatedAt)
        .order_by_desc(lead_interaction::Column::Id)
        .limit(TIMELINE)
        .all(&state.db)
        .await?
        .into_iter()
        .map(|i| TimelineFact {
            kind: i.kind,
            days_ago: (now - i.created_at).num_days().max(0),
            detail: i.data.to_string().chars().take(300).collect(),
        })
        .collect();
    let (s, meta): (Suggestions, AiMeta) = run(
        state,
        viewer,
        Task::Suggestions {
            lead: lead_facts(&l),
            timeline,
        },
    )
    .await?;
    Ok((s.suggestions, meta))
}
