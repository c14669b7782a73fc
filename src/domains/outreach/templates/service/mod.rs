//! Email template rules: CRUD, duplicate, category, favorite, validation, rendering for a lead
//! or sample data and test sends — scoped to the viewer's organization.

pub mod render;

use self::render::Content;

use chrono::Utc;
use entity::{campaign, email_template, organization, user};
use sea_orm::{
    sea_query::{Expr, ExprTrait, Func},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Select,
};
use serde_json::Value;
use uuid::Uuid;

use super::types::{
    CreateTemplateInput, RenderedEmail, Template, TemplateContentInput, TemplateFilter,
    TemplateValidation, UpdateTemplateInput,
};
use crate::{
    auth::{Permission, Viewer},
    db::{lower_contains, search_text},
    domains::leads::{self as leads, Check},
    error::{AppError, AppResult},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    platform::mailer::OutgoingEmail,
    state::AppState,
};

/// Every template query starts here.
pub fn scoped(viewer: &Viewer) -> Select<email_template::Entity> {
    email_template::Entity::find().filter(email_template::Column::OrgId.eq(viewer.org_id))
}

/// A template of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<email_template::Model> {
    scoped(viewer)
        .filter(email_template::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("template"))
}

/// The content of a stored template.
pub fn content_of(t: &email_template::Model) -> Content {
    Content {
        subject: t.subject.clone(),
        body_html: t.body_html.clone(),
        body_text: t.body_text.clone(),
    }
}

impl From<TemplateContentInput> for Content {
    fn from(i: TemplateContentInput) -> Self {
        Content {
            subject: i.subject,
            body_html: i.body_html,
            body_text: i.body_text,
        }
    }
}

/// Checks the parts: required, within size, valid syntax and known variables.
fn check_content(c: &mut Check, prefix: &str, content: &Content) {
    if content.subject.trim().is_empty() {
        c.errors.push(crate::error::FieldError {
            field: format!("{prefix}subject"),
            message: "is required".into(),
        });
    }
    if content.body_html.trim().is_empty() && content.body_text.trim().is_empty() {
        c.errors.push(crate::error::FieldError {
            field: format!("{prefix}bodyHtml"),
            message: "a template needs an HTML or a text body".into(),
        });
    }
    for issue in render::validate(content) {
        let field = match issue.part {
            render::TemplatePart::Subject => "subject",
            render::TemplatePart::BodyHtml => "bodyHtml",
            render::TemplatePart::BodyText => "bodyText",
        };
        let at = match (issue.line, issue.column) {
            (Some(l), Some(col)) => format!(" (line {l}, column {col})"),
            (Some(l), None) => format!(" (line {l})"),
            _ => String::new(),
        };
        c.errors.push(crate::error::FieldError {
            field: format!("{prefix}{field}"),
            message: format!("{}{at}", issue.message),
        });
    }
}

fn name(c: &mut Check, prefix: &str, v: &str) -> String {
    let n = c.text("name", Some(v), 200).unwrap_or_default();
    if n.is_empty() {
        c.errors.push(crate::error::FieldError {
            field: format!("{prefix}name"),
            message: "is required".into(),
        });
    }
    n
}

fn category(c: &mut Check, v: Option<&str>) -> Option<String> {
    c.text("category", v, 64).map(|s| s.to_lowercase())
}

/// A page of templates, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: &TemplateFilter,
    args: PageArgs,
) -> AppResult<IdConnection<Template>> {
    viewer.require(Permission::ReadOutreach)?;
    let mut q = scoped(viewer);
    if let Some(c) = filter
        .category
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        q = q.filter(email_template::Column::Category.eq(c.to_lowercase()));
    }
    if let Some(f) = filter.favorite {
        q = q.filter(email_template::Column::Favorite.eq(f));
    }
    if let Some(a) = filter.ai_generated {
        q = q.filter(email_template::Column::AiGenerated.eq(a));
    }
    if let Some(s) = search_text(filter.search.as_deref(), 200)? {
        q = q.filter(lower_contains(email_template::Column::Name, s));
    }
    page_by_id_desc(
        &state.db,
        q,
        email_template::Column::Id,
        &args,
        |m| m.id,
        Template::from,
    )
    .await
}

/// Creates a template (its syntax and variables are checked).
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateTemplateInput,
) -> AppResult<email_template::Model> {
    viewer.require(Permission::WriteOutreach)?;
    let mut c = Check::new("input.");
    let name = name(&mut c, "input.", &input.name);
    let category = category(&mut c, input.category.as_deref());
    let content = Content {
        subject: input.subject,
        body_html: input.body_html,
        body_text: input.body_text,
    };
    check_content(&mut c, "input.", &content);
    c.finish()?;
    let now = Utc::now();
    Ok(email_template::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        name: Set(name),
        category: Set(category),
        subject: Set(content.subject),
        body_html: Set(content.body_html),
        body_text: Set(content.body_text),
        favorite: Set(input.favorite.unwrap_or(false)),
        // Provenance is the server's to record, never the client's claim (S6).
        ai_generated: Set(false),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?)
}

/// Changes the fields present in `input`.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateTemplateInput,
) -> AppResult<email_template::Model> {
    viewer.require(Permission::WriteOutreach)?;
    let t = get(&state.db, viewer, id).await?;
    let mut c = Check::new("input.");
    let mut a: email_template::ActiveModel = t.clone().into();
    if let Some(n) = &input.name {
        a.name = Set(name(&mut c, "input.", n));
    }
    match &input.category {
        async_graphql::MaybeUndefined::Value(v) => a.category = Set(category(&mut c, Some(v))),
        async_graphql::MaybeUndefined::Null => a.category = Set(None),
        async_graphql::MaybeUndefined::Undefined => {}
    }
    let content = Content {
        subject: input.subject.clone().unwrap_or(t.subject),
        body_html: input.body_html.clone().unwrap_or(t.body_html),
        body_text: input.body_text.clone().unwrap_or(t.body_text),
    };
    check_content(&mut c, "input.", &content);
    c.finish()?;
    a.subject = Set(content.subject);
    a.body_html = Set(content.body_html);
    a.body_text = Set(content.body_text);
    a.updated_at = Set(Utc::now());
    Ok(a.update(&state.db).await?)
}

/// Sets one column of a template.
async fn set_flag(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    f: impl FnOnce(&mut email_template::ActiveModel),
) -> AppResult<email_template::Model> {
    viewer.require(Permission::WriteOutreach)?;
    let t = get(&state.db, viewer, id).await?;
    let mut a: email_template::ActiveModel = t.into();
    f(&mut a);
    a.updated_at = Set(Utc::now());
    Ok(a.update(&state.db).await?)
}

/// Marks or unmarks a favorite.
pub async fn set_favorite(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    favorite: bool,
) -> AppResult<email_template::Model> {
    set_flag(state, viewer, id, |a| a.favorite = Set(favorite)).await
}

/// Sets (or with `None` clears) the category.
pub async fn set_category(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    value: Option<String>,
) -> AppResult<email_template::Model> {
    let mut c = Check::new("");
    let value = category(&mut c, value.as_deref());
    c.finish()?;
    set_flag(state, viewer, id, |a| a.category = Set(value)).await
}

/// Copies a template as "<name> (copy)"; the copy is not a favorite.
pub async fn duplicate(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<email_template::Model> {
    viewer.require(Permission::WriteOutreach)?;
    let t = get(&state.db, viewer, id).await?;
    let now = Utc::now();
    let name: String = format!("{} (copy)", t.name).chars().take(200).collect();
    Ok(email_template::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name),
        favorite: Set(false),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
        ..t.into()
    }
    .insert(&state.db)
    .await?)
}

/// Deletes a template. CONFLICT while a campaign that is not finished uses it.
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    viewer.require(Permission::DeleteOutreach)?;
    let t = get(&state.db, viewer, id).await?;
    let active = campaign::Entity::find()
        .filter(campaign::Column::OrgId.eq(viewer.org_id))
        .filter(campaign::Column::TemplateId.eq(t.id))
        .filter(campaign::Column::Status.is_in([
            "PENDING_APPROVAL",
            "SCHEDULED",
            "RUNNING",
            "PAUSED",
        ]))
        .count(&state.db)
        .await?;
    if active > 0 {
        return Err(AppError::Conflict(format!(
            "the template is used by {active} campaign(s) that have not finished"
        )));
    }
    email_template::Entity::delete_by_id(t.id)
        .exec(&state.db)
        .await?;
    Ok(())
}

/// Organization name and the viewer's name/email, for previews.
async fn preview_identity(
    state: &AppState,
    viewer: &Viewer,
) -> AppResult<(String, String, String)> {
    let org = organization::Entity::find_by_id(viewer.org_id)
        .one(&state.db)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    let me = user::Entity::find_by_id(viewer.user_id)
        .one(&state.db)
        .await?;
    let (name, email) = me
        .map(|u| (u.name, u.email))
        .unwrap_or_else(|| ("Sender".into(), "sender@example.com".into()));
    Ok((org, name, email))
}

/// The render context for a preview: a lead of the organization, or sample data (merged over
/// the defaults, so `{lead: {firstName: "Bo"}}` changes just that).
pub async fn preview_context(
    state: &AppState,
    viewer: &Viewer,
    lead_id: Option<Uuid>,
    sample: Option<&Value>,
) -> AppResult<Value> {
    let lead = match lead_id {
        Some(id) => {
            let l = leads::get(&state.db, viewer, id)
                .await
                .map_err(|_| AppError::invalid("leadId", "no such lead"))?;
            render::lead_vars(&l)
        }
        None => render::sample_lead(),
    };
    let (org, name, email) = preview_identity(state, viewer).await?;
    let unsubscribe = format!("{}/u/preview", state.config.public_url);
    let mut ctx = render::context(lead, &name, &email, &org, &unsubscribe);
    if let Some(s) = sample {
        if !s.is_object() {
            return Err(AppError::invalid("sampleData", "must be a JSON object"));
        }
        render::merge(&mut ctx, s);
    }
    Ok(ctx)
}

/// Renders `content` with `ctx` on the blocking pool within `render::RENDER_TIMEOUT`; a
/// template problem is BAD_USER_INPUT naming the part, a render past the time limit TIMEOUT.
pub async fn render_or_invalid(content: &Content, ctx: &Value) -> AppResult<RenderedEmail> {
    let r = render::render_bounded(content.clone(), ctx.clone())
        .await
        .map_err(|f| match f {
            render::RenderFailure::Issue(i) => {
                let part = match i.part {
                    render::TemplatePart::Subject => "subject",
                    render::TemplatePart::BodyHtml => "bodyHtml",
                    render::TemplatePart::BodyText => "bodyText",
                };
                AppError::invalid(part, i.message)
            }
            render::RenderFailure::Timeout => AppError::Timeout(format!(
                "rendering the template took longer than {} s",
                render::RENDER_TIMEOUT.as_secs()
            )),
            render::RenderFailure::Internal(e) => AppError::internal(format!("render: {e}")),
        })?;
    Ok(RenderedEmail {
        subject: r.subject,
        html: r.html,
        text: r.text,
    })
}

/// `validateTemplate`.
pub fn validation(content: &Content) -> TemplateValidation {
    let issues = render::validate(content);
    TemplateValidation {
        valid: issues.is_empty(),
        issues,
        variables: render::variables(content),
    }
}

/// Sends one rendered test message to `to` (directly, so SMTP problems show up in the answer).
pub async fn send_test(
    state: &AppState,
    viewer: &Viewer,
    template_id: Uuid,
    to: &str,
    lead_id: Option<Uuid>,
) -> AppResult<String> {
    viewer.require(Permission::WriteOutreach)?;
    let mut c = Check::new("");
    let to = c.email("to", Some(to));
    c.finish()?;
    let to = to.ok_or_else(|| AppError::invalid("to", "is required"))?;
    let to = member_address(state, viewer, &to).await?;
    let t = get(&state.db, viewer, template_id).await?;
    let ctx = preview_context(state, viewer, lead_id, None).await?;
    let r = render_or_invalid(&content_of(&t), &ctx).await?;
    let email = OutgoingEmail {
        to,
        to_name: None,
        from: None,
        reply_to: None,
        subject: format!("[Test] {}", r.subject),
        text: r.text,
        html: (!r.html.trim().is_empty()).then_some(r.html),
    };
    state.mailer.send(&email).await.map_err(|e| {
        tracing::warn!(error = %e, "test email failed");
        AppError::Unavailable(format!("the mail server did not accept the message: {e}"))
    })
}

/// Test emails go only to people of the organization (S14): `to` must be the address of a user
/// with a membership in the viewer's organization (any role). Returns that user's address as
/// stored; anybody else is BAD_USER_INPUT naming `to`, so the endpoint cannot mail strangers.
async fn member_address(state: &AppState, viewer: &Viewer, to: &str) -> AppResult<String> {
    use entity::membership;
    let users = user::Entity::find()
        .filter(Expr::expr(Func::lower(Expr::col(user::Column::Email))).eq(to.to_lowercase()))
        .all(&state.db)
        .await?;
    for u in users {
        let member = membership::Entity::find()
            .filter(membership::Column::OrgId.eq(viewer.org_id))
            .filter(membership::Column::UserId.eq(u.id))
            .one(&state.db)
            .await?;
        if member.is_some() {
            return Ok(u.email);
        }
    }
    Err(AppError::invalid(
        "to",
        "test emails go only to members of the organization; use the address of a member's account",
    ))
}
