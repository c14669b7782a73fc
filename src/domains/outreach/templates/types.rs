//! The template GraphQL types: the `Template` object, its inputs and filters, rendering and
//! validation results (`RenderedEmail`, `TemplateValidation`, `TemplateIssue`).

use async_graphql::{Enum, InputObject, MaybeUndefined, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entity::email_template;

use super::service::{content_of, render};
use crate::domains::leads::types::ItemError;

/// A reusable email: subject, HTML and text bodies in minijinja syntax.
pub struct Template(pub email_template::Model);

impl From<email_template::Model> for Template {
    fn from(m: email_template::Model) -> Self {
        Template(m)
    }
}

#[Object]
impl Template {
    /// Template id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Category (lowercase).
    async fn category(&self) -> Option<&str> {
        self.0.category.as_deref()
    }
    /// Subject line.
    async fn subject(&self) -> &str {
        &self.0.subject
    }
    /// HTML body.
    async fn body_html(&self) -> &str {
        &self.0.body_html
    }
    /// Plain-text body.
    async fn body_text(&self) -> &str {
        &self.0.body_text
    }
    /// Marked as a favorite.
    async fn favorite(&self) -> bool {
        self.0.favorite
    }
    /// Written by the AI assistant.
    async fn ai_generated(&self) -> bool {
        self.0.ai_generated
    }
    /// The variables it uses (`lead.firstName`, `sender.name`, …).
    async fn variables(&self) -> Vec<String> {
        render::variables(&content_of(&self.0))
    }
    /// Creating user.
    async fn created_by_id(&self) -> Option<ID> {
        self.0.created_by.map(|u| ID(u.to_string()))
    }
    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Input of `createTemplate`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct CreateTemplateInput {
    /// Name (1–200 characters).
    pub name: String,
    /// Category, e.g. `intro`, `follow-up` (at most 64 characters).
    pub category: Option<String>,
    /// Subject line (minijinja syntax).
    pub subject: String,
    /// HTML body (minijinja syntax; values are HTML-escaped).
    pub body_html: String,
    /// Plain-text body (minijinja syntax). Empty = none.
    #[graphql(default)]
    pub body_text: String,
    /// Marked as a favorite.
    pub favorite: Option<bool>,
    /// Ignored (kept so existing clients still validate): whether copy is AI-written is recorded
    /// by the server, since approval rules rely on it.
    pub ai_generated: Option<bool>,
}

/// Input of `updateTemplate`: only the fields present change.
#[derive(InputObject, Debug, Clone, Default)]
pub struct UpdateTemplateInput {
    /// Name.
    pub name: Option<String>,
    /// Category (`null` clears it).
    pub category: MaybeUndefined<String>,
    /// Subject line.
    pub subject: Option<String>,
    /// HTML body.
    pub body_html: Option<String>,
    /// Plain-text body.
    pub body_text: Option<String>,
    /// Ignored (kept so existing clients still validate): whether copy is AI-written is recorded
    /// by the server, since approval rules rely on it.
    pub ai_generated: Option<bool>,
}

/// Template content given inline (`validateTemplate`, `renderTemplate`).
#[derive(InputObject, Debug, Clone, Default)]
pub struct TemplateContentInput {
    /// Subject line.
    pub subject: String,
    /// HTML body.
    pub body_html: String,
    /// Plain-text body.
    #[graphql(default)]
    pub body_text: String,
}

/// Filters of `templates`.
#[derive(InputObject, Debug, Clone, Default)]
pub struct TemplateFilter {
    /// Only this category.
    pub category: Option<String>,
    /// Only favorites (true) or only non-favorites (false).
    pub favorite: Option<bool>,
    /// Only AI-written (true) or only human-written (false).
    pub ai_generated: Option<bool>,
    /// Name contains (case-insensitive).
    pub search: Option<String>,
}

/// Per-item outcome of `duplicateTemplates` / `deleteTemplates`.
#[derive(SimpleObject)]
pub struct TemplateResult {
    /// The id asked for.
    pub id: ID,
    /// The new or deleted template's id, on success.
    pub template_id: Option<ID>,
    /// The error, on failure.
    pub error: Option<ItemError>,
}

/// The rendered email lives with approvals (a lower domain that previews it).
pub use crate::domains::approvals::types::RenderedEmail;

/// Result of `validateTemplate`.
#[derive(SimpleObject, Debug, Clone)]
pub struct TemplateValidation {
    /// No issues.
    pub valid: bool,
    /// Syntax errors and unknown variables, with line and column.
    pub issues: Vec<TemplateIssue>,
    /// Every variable the template uses (`lead.firstName`, …).
    pub variables: Vec<String>,
}

/// Which part of a template.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplatePart {
    /// The subject line.
    Subject,
    /// The HTML body.
    BodyHtml,
    /// The text body.
    BodyText,
}

impl TemplatePart {
    pub(crate) fn name(self) -> &'static str {
        match self {
            TemplatePart::Subject => "subject",
            // The `.html` suffix turns on HTML auto-escaping.
            TemplatePart::BodyHtml => "body.html",
            TemplatePart::BodyText => "body.txt",
        }
    }
}

/// Kind of template problem.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateIssueKind {
    /// The template does not parse.
    Syntax,
    /// A variable that is not offered (`lead.fristName`).
    UnknownVariable,
    /// Rendering failed (missing value under strict undefined, fuel exhausted, output too
    /// large, …).
    Render,
    /// The part is too long.
    TooLarge,
    /// A construct templates may not use because it could build unbounded data: the `*`
    /// operator, `set`, `with`, namespaces, macros, capture blocks, recursive loops, or too many
    /// `~`/`+` in one part.
    Unsupported,
}

/// A problem found in a template.
#[derive(SimpleObject, Debug, Clone, PartialEq)]
pub struct TemplateIssue {
    /// The part it is in.
    pub part: TemplatePart,
    /// What kind of problem.
    pub kind: TemplateIssueKind,
    /// Human-readable description.
    pub message: String,
    /// 1-based line, when known.
    pub line: Option<i32>,
    /// 1-based column, when known.
    pub column: Option<i32>,
    /// The variable, for UNKNOWN_VARIABLE.
    pub variable: Option<String>,
}
