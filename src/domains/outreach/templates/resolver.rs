//! Template queries and mutations: guard, parse, call the service, map.

use async_graphql::{Context, Json, Object, ID};

use super::{
    service::{self as templates, render::Content},
    types::{
        CreateTemplateInput, RenderedEmail, Template, TemplateContentInput, TemplateFilter,
        TemplateResult, TemplateValidation, UpdateTemplateInput,
    },
};
use crate::{
    auth::Permission,
    error::{AppError, AppResult},
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// Most ids in one batch mutation.
const MAX_BATCH: usize = 200;

use crate::domains::audit::note_ref as note;

/// Template queries.
#[derive(Default)]
pub struct TemplateQuery;

#[Object]
impl TemplateQuery {
    /// Email templates of the organization, newest first.
    async fn templates(
        &self,
        ctx: &Context<'_>,
        filter: Option<TemplateFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<Template>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        templates::list(state, viewer, &filter.unwrap_or_default(), args).await
    }

    /// One template; null when it does not exist in the viewer's organization.
    async fn template(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<Template>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadOutreach)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match templates::get(&state.db, viewer, id).await {
            Ok(t) => Ok(Some(t.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Syntax errors (with line and column) and unknown variables of a stored template (`id`)
    /// or of content given inline (`input`).
    async fn validate_template(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        input: Option<TemplateContentInput>,
    ) -> AppResult<TemplateValidation> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadOutreach)?;
        let content: Content = match (id, input) {
            (Some(id), None) => {
                templates::content_of(&templates::get(&state.db, viewer, parse_id(&id)?).await?)
            }
            (None, Some(i)) => i.into(),
            _ => return Err(AppError::invalid("id", "give exactly one of id or input")),
        };
        Ok(templates::validation(&content))
    }

    /// Renders inline content for a lead of the organization (`leadId`) or sample data
    /// (`sampleData`, merged over built-in sample values: `{lead: {firstName: "Bo"}}`).
    async fn render_template(
        &self,
        ctx: &Context<'_>,
        input: TemplateContentInput,
        lead_id: Option<ID>,
        sample_data: Option<Json<serde_json::Value>>,
    ) -> AppResult<RenderedEmail> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadOutreach)?;
        let lead = lead_id
            .map(|l| parse_id(&l).map_err(|_| AppError::invalid("leadId", "no such lead")))
            .transpose()?;
        let cx =
            templates::preview_context(state, viewer, lead, sample_data.as_ref().map(|j| &j.0))
                .await?;
        templates::render_or_invalid(&input.into(), &cx).await
    }

    /// A stored template rendered for a lead (or sample data when `leadId` is omitted).
    async fn preview_template(
        &self,
        ctx: &Context<'_>,
        id: ID,
        lead_id: Option<ID>,
    ) -> AppResult<RenderedEmail> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadOutreach)?;
        let t = templates::get(&state.db, viewer, parse_id(&id)?).await?;
        let lead = lead_id
            .map(|l| parse_id(&l).map_err(|_| AppError::invalid("leadId", "no such lead")))
            .transpose()?;
        let cx = templates::preview_context(state, viewer, lead, None).await?;
        templates::render_or_invalid(&templates::content_of(&t), &cx).await
    }
}

/// Template mutations.
#[derive(Default)]
pub struct TemplateMutation;

fn check_batch(n: usize) -> AppResult<()> {
    if n == 0 || n > MAX_BATCH {
        return Err(AppError::invalid(
            "ids",
            format!("must hold 1–{MAX_BATCH} ids"),
        ));
    }
    Ok(())
}

/// One item's result of a batch mutation (an audit note for the template it touched).
fn result(ctx: &Context<'_>, id: ID, r: AppResult<uuid::Uuid>) -> TemplateResult {
    match r {
        Ok(u) => {
            note(ctx, "template", u);
            TemplateResult {
                id,
                template_id: Some(ID(u.to_string())),
                error: None,
            }
        }
        Err(e) => TemplateResult {
            id,
            template_id: None,
            error: Some(e.into()),
        },
    }
}

#[Object]
impl TemplateMutation {
    /// Creates a template; syntax errors and unknown variables are BAD_USER_INPUT naming the
    /// part (`input.bodyHtml`) with line and column.
    async fn create_template(
        &self,
        ctx: &Context<'_>,
        input: CreateTemplateInput,
    ) -> AppResult<Template> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let t = templates::create(state, viewer, input).await?;
        note(ctx, "template", t.id);
        Ok(t.into())
    }

    /// Changes the fields present in `input`.
    async fn update_template(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateTemplateInput,
    ) -> AppResult<Template> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let t = templates::update(state, viewer, parse_id(&id)?, input).await?;
        note(ctx, "template", t.id);
        Ok(t.into())
    }

    /// Deletes a template (MANAGER+). CONFLICT while an unfinished campaign uses it.
    async fn delete_template(&self, ctx: &Context<'_>, id: ID) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let uuid = parse_id(&id)?;
        templates::delete(state, viewer, uuid).await?;
        note(ctx, "template", uuid);
        Ok(id)
    }

    /// Copies a template as "<name> (copy)".
    async fn duplicate_template(&self, ctx: &Context<'_>, id: ID) -> AppResult<Template> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let t = templates::duplicate(state, viewer, parse_id(&id)?).await?;
        note(ctx, "template", t.id);
        Ok(t.into())
    }

    /// Copies up to 200 templates; per-item results.
    async fn duplicate_templates(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> AppResult<Vec<TemplateResult>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::WriteOutreach)?;
        check_batch(ids.len())?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let r = match parse_id(&id) {
                Ok(u) => templates::duplicate(state, viewer, u).await.map(|t| t.id),
                Err(e) => Err(e),
            };
            out.push(result(ctx, id, r));
        }
        Ok(out)
    }

    /// Deletes up to 200 templates (MANAGER+); per-item results.
    async fn delete_templates(
        &self,
        ctx: &Context<'_>,
        ids: Vec<ID>,
    ) -> AppResult<Vec<TemplateResult>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::DeleteOutreach)?;
        check_batch(ids.len())?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let r = match parse_id(&id) {
                Ok(u) => templates::delete(state, viewer, u).await.map(|_| u),
                Err(e) => Err(e),
            };
            out.push(result(ctx, id, r));
        }
        Ok(out)
    }

    /// Sets the category (`null` clears it).
    async fn set_template_category(
        &self,
        ctx: &Context<'_>,
        id: ID,
        category: Option<String>,
    ) -> AppResult<Template> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let t = templates::set_category(state, viewer, parse_id(&id)?, category).await?;
        note(ctx, "template", t.id);
        Ok(t.into())
    }

    /// Marks a favorite.
    async fn favorite_template(&self, ctx: &Context<'_>, id: ID) -> AppResult<Template> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let t = templates::set_favorite(state, viewer, parse_id(&id)?, true).await?;
        note(ctx, "template", t.id);
        Ok(t.into())
    }

    /// Removes the favorite mark.
    async fn unfavorite_template(&self, ctx: &Context<'_>, id: ID) -> AppResult<Template> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let t = templates::set_favorite(state, viewer, parse_id(&id)?, false).await?;
        note(ctx, "template", t.id);
        Ok(t.into())
    }

    /// Sends the template, rendered for `leadId` (or sample data), to `to` now, with "[Test]"
    /// before the subject. Returns the Message-ID. SERVICE_UNAVAILABLE when the mail server
    /// refuses it.
    async fn send_test_email(
        &self,
        ctx: &Context<'_>,
        template_id: ID,
        to: String,
        lead_id: Option<ID>,
    ) -> AppResult<String> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let tid = parse_id(&template_id)?;
        let lead = lead_id
            .map(|l| parse_id(&l).map_err(|_| AppError::invalid("leadId", "no such lead")))
            .transpose()?;
        let id = templates::send_test(state, viewer, tid, &to, lead).await?;
        note(ctx, "template", tid);
        Ok(id)
    }
}
