//! Template rendering with minijinja, sandboxed: no loader (so `include`/`import`/`extends`
//! find nothing and no file can be read), strict undefined (a misspelt variable is an error, not
//! an empty string), a fuel limit (every template instruction costs fuel, so no loop runs
//! forever) and a recursion limit.
//!
//! Memory is bounded while rendering, not after (anyone who may preview a template, a VIEWER
//! included, chooses its source):
//! - constructs that can build data without bound are refused before the template is compiled
//!   or run ([`TemplateIssueKind::Unsupported`]): the `*` operator (string and list repetition,
//!   which minijinja also constant-folds at compile time), `set`, `with`, namespaces, macros,
//!   capture blocks, recursive loops, and more than [`MAX_CONCATS`] `~`/`+` per part;
//! - every filter is wrapped: its inputs and its result must stay under [`MAX_VALUE`], the
//!   filters that multiply (`join`, `replace`, `indent`, `format`) are refused from an estimate
//!   before they run, and all results of one render together under [`MAX_BUILT`];
//! - context strings over [`MAX_VALUE`] are refused, output goes through a writer that fails
//!   past [`MAX_OUTPUT`] per part;
//! - previews render on the blocking pool ([`render_bounded`], at most [`RENDER_SLOTS`] at once)
//!   with a wall-clock limit ([`RENDER_TIMEOUT`]).
//!
//! So one render holds at most a few MB: a `~` chain of at most 65 values of ≤ 64 KiB, 4 MiB of
//! filter results, the 512 KiB output and the source.
//!
//! Variables: `lead.*` (camelCase lead fields; absent when the lead has no value, so
//! `{{ lead.firstName | default("there") }}` works), `sender.name`/`sender.email`,
//! `organization.name` and `unsubscribeUrl`. Filters and tests are minijinja's built-ins
//! (`default`, `title`, `upper`, `trim`, …).

use std::{
    collections::BTreeSet,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, LazyLock,
    },
    time::Duration,
};

use entity::lead;
use minijinja::{
    machinery::{self, Instruction, Token},
    value::{Rest, ValueKind},
    Environment, ErrorKind, State, UndefinedBehavior,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

pub use crate::domains::outreach::templates::types::{
    TemplateIssue, TemplateIssueKind, TemplatePart,
};

/// Fuel per render: far beyond any real email (a few hundred instructions), far below a
/// runaway loop.
pub const FUEL: u64 = 200_000;
/// Largest rendered part (subject, HTML or text).
pub const MAX_OUTPUT: usize = 512 * 1024;
/// Largest template source part.
pub const MAX_SOURCE: usize = 200 * 1024;
/// Largest string a filter may take or return, and largest string in the render context.
pub const MAX_VALUE: usize = 64 * 1024;
/// Largest list or map (items) a filter may return.
pub const MAX_ITEMS: usize = 10_000;
/// Bytes all filter results of one render may add up to.
pub const MAX_BUILT: usize = 4 * 1024 * 1024;
/// `~` and `+` operators per part (a chain of them is the one way values grow without a filter).
pub const MAX_CONCATS: usize = 64;
/// Wall-clock limit of a preview render (fuel bounds the work; this bounds the wait).
pub const RENDER_TIMEOUT: Duration = Duration::from_secs(2);
/// Previews rendering at once on the blocking pool.
pub const RENDER_SLOTS: usize = 4;

/// Lead fields a template may use (`lead.<name>`); `lead.customFields.<anything>` too.
pub const LEAD_FIELDS: &[&str] = &[
    "id",
    "firstName",
    "lastName",
    "fullName",
    "email",
    "phone",
    "company",
    "title",
    "website",
    "industry",
    "city",
    "region",
    "country",
    "status",
    "source",
    "score",
    "customFields",
];
const SENDER_FIELDS: &[&str] = &["name", "email"];
const ORGANIZATION_FIELDS: &[&str] = &["name"];
/// Top-level names: the variables and minijinja's global functions.
const GLOBALS: &[&str] = &[
    "lead",
    "sender",
    "organization",
    "unsubscribeUrl",
    "range",
    "dict",
    "namespace",
    "cycler",
    "joiner",
    "debug",
    "loop",
];

/// The three parts of an email template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// Subject line (rendered without escaping; line breaks become spaces).
    pub subject: String,
    /// HTML body (values are HTML-escaped).
    pub body_html: String,
    /// Plain-text body.
    pub body_text: String,
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Subject.
    pub subject: String,
    /// HTML body.
    pub html: String,
    /// Text body.
    pub text: String,
}

mod sandbox;
#[cfg(test)]
mod tests;
mod vars;

use self::sandbox::*;
pub use self::vars::{context, lead_vars, merge, sample_lead};

/// Compiles one part after the checks above.
fn compile<'e>(
    env: &'e Environment<'static>,
    part: TemplatePart,
    src: &'e str,
) -> Result<minijinja::Template<'e, 'e>, TemplateIssue> {
    check_tokens(part, src)?;
    let t = env
        .template_from_named_str(part.name(), src)
        .map_err(|e| issue_from_error(part, src, TemplateIssueKind::Syntax, &e))?;
    check_instructions(part, &t)?;
    Ok(t)
}

/// Output buffer that fails once it would pass its cap, so output never grows past it.
struct CappedWriter {
    buf: Vec<u8>,
    cap: usize,
    exceeded: bool,
}

impl std::io::Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.cap {
            self.exceeded = true;
            return Err(std::io::Error::other("rendered output too large"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The first string in `v` longer than [`MAX_VALUE`], as a path.
fn oversized(v: &Value, path: &str) -> Option<String> {
    match v {
        Value::String(s) if s.len() > MAX_VALUE => Some(path.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| oversized(x, &format!("{path}[{i}]"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            oversized(
                x,
                &if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                },
            )
        }),
        _ => None,
    }
}

/// Line and column (1-based) of byte offset `at` in `src`.
fn position(src: &str, at: usize) -> (i32, i32) {
    let at = at.min(src.len());
    let before = src.get(..at).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line as i32, col as i32)
}

/// An issue with no position in the source.
fn issue(part: TemplatePart, kind: TemplateIssueKind, message: String) -> TemplateIssue {
    TemplateIssue {
        part,
        kind,
        message,
        line: None,
        column: None,
        variable: None,
    }
}

/// The issue of a part over [`MAX_SOURCE`], which is never compiled.
fn oversized_source(part: TemplatePart, src: &str) -> Option<TemplateIssue> {
    (src.len() > MAX_SOURCE).then(|| {
        issue(
            part,
            TemplateIssueKind::TooLarge,
            format!("must be at most {MAX_SOURCE} bytes"),
        )
    })
}

fn issue_from_error(
    part: TemplatePart,
    src: &str,
    kind: TemplateIssueKind,
    e: &minijinja::Error,
) -> TemplateIssue {
    let (line, column) = match e.range() {
        Some(r) => {
            let (l, c) = position(src, r.start);
            (Some(l), Some(c))
        }
        None => (e.line().map(|l| l as i32), None),
    };
    let message = match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    };
    TemplateIssue {
        part,
        kind,
        message,
        line,
        column,
        variable: None,
    }
}

/// Whether `path` (`lead.firstName`) is a variable templates may use.
fn known(path: &str) -> bool {
    let mut parts = path.split('.');
    let Some(root) = parts.next() else {
        return false;
    };
    let field = parts.next();
    match (root, field) {
        (r, None) => GLOBALS.contains(&r),
        ("lead", Some("customFields")) => true,
        ("lead", Some(f)) => LEAD_FIELDS.contains(&f) && parts.next().is_none(),
        ("sender", Some(f)) => SENDER_FIELDS.contains(&f) && parts.next().is_none(),
        ("organization", Some(f)) => ORGANIZATION_FIELDS.contains(&f) && parts.next().is_none(),
        (r, Some(_)) => GLOBALS.contains(&r) && !["lead", "sender", "organization"].contains(&r),
    }
}

fn parts(content: &Content) -> [(TemplatePart, &str); 3] {
    [
        (TemplatePart::Subject, content.subject.as_str()),
        (TemplatePart::BodyHtml, content.body_html.as_str()),
        (TemplatePart::BodyText, content.body_text.as_str()),
    ]
}

/// Checks syntax and variables of every part. Empty when the template is fine.
pub fn validate(content: &Content) -> Vec<TemplateIssue> {
    let env = environment();
    let mut issues = Vec::new();
    for (part, src) in parts(content) {
        if let Some(issue) = oversized_source(part, src) {
            issues.push(issue);
            continue;
        }
        match compile(&env, part, src) {
            Err(issue) => issues.push(issue),
            Ok(t) => {
                let vars: BTreeSet<String> = t.undeclared_variables(true).into_iter().collect();
                for v in vars.into_iter().filter(|v| !known(v)) {
                    let (line, column) = match src.find(v.as_str()) {
                        Some(at) => {
                            let (l, c) = position(src, at);
                            (Some(l), Some(c))
                        }
                        None => (None, None),
                    };
                    issues.push(TemplateIssue {
                        part,
                        kind: TemplateIssueKind::UnknownVariable,
                        message: format!("unknown variable {v}"),
                        line,
                        column,
                        variable: Some(v),
                    });
                }
            }
        }
    }
    issues
}

/// The variables a template uses (all parts), sorted.
pub fn variables(content: &Content) -> Vec<String> {
    let env = environment();
    let mut out = BTreeSet::new();
    for (part, src) in parts(content) {
        if oversized_source(part, src).is_some() {
            continue;
        }
        if let Ok(t) = compile(&env, part, src) {
            out.extend(t.undeclared_variables(true));
        }
    }
    out.into_iter().collect()
}

/// Renders every part with `ctx`; the first failure is returned as an issue.
pub fn render(content: &Content, ctx: &Value) -> Result<Rendered, TemplateIssue> {
    let env = environment();
    if let Some(path) = oversized(ctx, "") {
        let message = format!("the value {path} is larger than {MAX_VALUE} bytes");
        return Err(TemplateIssue {
            variable: Some(path),
            ..issue(TemplatePart::Subject, TemplateIssueKind::TooLarge, message)
        });
    }
    let one = |part: TemplatePart, src: &str| -> Result<String, TemplateIssue> {
        if let Some(issue) = oversized_source(part, src) {
            return Err(issue);
        }
        let t = compile(&env, part, src)?;
        let mut out = CappedWriter {
            buf: Vec::with_capacity(src.len().min(MAX_OUTPUT)),
            cap: MAX_OUTPUT,
            exceeded: false,
        };
        if let Err(e) = t.render_captured_to(ctx, &mut out) {
            if out.exceeded {
                return Err(issue(
                    part,
                    TemplateIssueKind::TooLarge,
                    format!("rendered output exceeds {MAX_OUTPUT} bytes"),
                ));
            }
            return Err(issue_from_error(part, src, TemplateIssueKind::Render, &e));
        }
        String::from_utf8(out.buf).map_err(|_| {
            issue(
                part,
                TemplateIssueKind::Render,
                "rendered output is not UTF-8".into(),
            )
        })
    };
    let subject = one(TemplatePart::Subject, &content.subject)?;
    let subject = subject
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Rendered {
        subject,
        html: one(TemplatePart::BodyHtml, &content.body_html)?,
        text: one(TemplatePart::BodyText, &content.body_text)?,
    })
}

/// Why a bounded render failed.
#[derive(Debug)]
pub enum RenderFailure {
    /// A template problem (BAD_USER_INPUT).
    Issue(TemplateIssue),
    /// [`RENDER_TIMEOUT`] passed.
    Timeout,
    /// The blocking task failed.
    Internal(String),
}

static SLOTS: LazyLock<Arc<tokio::sync::Semaphore>> =
    LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(RENDER_SLOTS)));

/// [`render`] on the blocking pool, at most [`RENDER_SLOTS`] at once, answered within
/// [`RENDER_TIMEOUT`] (a render past it keeps its slot until fuel stops it).
pub async fn render_bounded(content: Content, ctx: Value) -> Result<Rendered, RenderFailure> {
    let work = async move {
        let permit = SLOTS
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| RenderFailure::Internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            render(&content, &ctx)
        })
        .await
        .map_err(|e| RenderFailure::Internal(e.to_string()))?
        .map_err(RenderFailure::Issue)
    };
    tokio::time::timeout(RENDER_TIMEOUT, work)
        .await
        .unwrap_or(Err(RenderFailure::Timeout))
}
