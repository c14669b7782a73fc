//! Template rendering with minijinja, sandboxed: no loader (so `include`/`import`/`extends`
//! find nothing and no file can be read), strict undefined (a misspelt variable is an error, not
//! an empty string), a fuel limit (every template instruction costs fuel, so no loop runs
//! forever), a recursion limit and a cap on the output size.
//!
//! Variables: `lead.*` (camelCase lead fields; absent when the lead has no value, so
//! `{{ lead.firstName | default("there") }}` works), `sender.name`/`sender.email`,
//! `organization.name` and `unsubscribeUrl`. Filters and tests are minijinja's built-ins
//! (`default`, `title`, `upper`, `trim`, …).

use std::collections::BTreeSet;

use entity::lead;
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Fuel per render: far beyond any real email (a few hundred instructions), far below a
/// runaway loop.
pub const FUEL: u64 = 200_000;
/// Largest rendered part (subject, HTML or text).
pub const MAX_OUTPUT: usize = 512 * 1024;
/// Largest template source part.
pub const MAX_SOURCE: usize = 200 * 1024;

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

/// Which part of a template.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplatePart {
    /// The subject line.
    Subject,
    /// The HTML body.
    BodyHtml,
    /// The text body.
    BodyText,
}

impl TemplatePart {
    fn name(self) -> &'static str {
        match self {
            TemplatePart::Subject => "subject",
            // The `.html` suffix turns on HTML auto-escaping.
            TemplatePart::BodyHtml => "body.html",
            TemplatePart::BodyText => "body.txt",
        }
    }
}

/// Kind of template problem.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// A problem found in a template.
#[derive(async_graphql::SimpleObject, Debug, Clone, PartialEq)]
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

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(50);
    env
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
        if src.len() > MAX_SOURCE {
            issues.push(TemplateIssue {
                part,
                kind: TemplateIssueKind::TooLarge,
                message: format!("must be at most {MAX_SOURCE} bytes"),
                line: None,
                column: None,
                variable: None,
            });
            continue;
        }
        match env.template_from_named_str(part.name(), src) {
            Err(e) => issues.push(issue_from_error(part, src, TemplateIssueKind::Syntax, &e)),
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
        if let Ok(t) = env.template_from_named_str(part.name(), src) {
            out.extend(t.undeclared_variables(true));
        }
    }
    out.into_iter().collect()
}

/// Renders every part with `ctx`; the first failure is returned as an issue.
pub fn render(content: &Content, ctx: &Value) -> Result<Rendered, TemplateIssue> {
    let env = environment();
    let one = |part: TemplatePart, src: &str| -> Result<String, TemplateIssue> {
        let t = env
            .template_from_named_str(part.name(), src)
            .map_err(|e| issue_from_error(part, src, TemplateIssueKind::Syntax, &e))?;
        let out = t
            .render(ctx)
            .map_err(|e| issue_from_error(part, src, TemplateIssueKind::Render, &e))?;
        if out.len() > MAX_OUTPUT {
            return Err(TemplateIssue {
                part,
                kind: TemplateIssueKind::TooLarge,
                message: format!("rendered output exceeds {MAX_OUTPUT} bytes"),
                line: None,
                column: None,
                variable: None,
            });
        }
        Ok(out)
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

/// The `lead` variable: camelCase fields, absent when empty.
pub fn lead_vars(l: &lead::Model) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            m.insert(k.into(), Value::String(v.to_string()));
        }
    };
    let id = l.id.to_string();
    put("id", Some(&id));
    put("firstName", l.first_name.as_deref());
    put("lastName", l.last_name.as_deref());
    let full: Vec<&str> = [l.first_name.as_deref(), l.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let full = full.join(" ");
    put("fullName", Some(&full));
    put("email", l.email.as_deref());
    put("phone", l.phone.as_deref());
    put("company", Some(&l.company));
    put("title", l.title.as_deref());
    put("website", l.website.as_deref());
    put("industry", l.industry.as_deref());
    put("city", l.city.as_deref());
    put("region", l.region.as_deref());
    put("country", l.country.as_deref());
    put("status", Some(&l.status));
    put("source", Some(&l.source));
    m.insert("score".into(), json!(l.score));
    m.insert(
        "customFields".into(),
        if l.custom_fields.is_object() {
            l.custom_fields.clone()
        } else {
            json!({})
        },
    );
    Value::Object(m)
}

/// Sample values for previews without a lead.
pub fn sample_lead() -> Value {
    json!({
        "id": "00000000-0000-0000-0000-000000000000",
        "firstName": "Ada", "lastName": "Lovelace", "fullName": "Ada Lovelace",
        "email": "ada@example.com", "company": "Analytical Engines Ltd", "title": "Head of Research",
        "website": "https://example.com/", "industry": "Computing", "city": "London",
        "country": "GB", "status": "NEW", "source": "MANUAL", "score": 50, "customFields": {}
    })
}

/// The full render context.
pub fn context(
    lead: Value,
    sender_name: &str,
    sender_email: &str,
    organization: &str,
    unsubscribe_url: &str,
) -> Value {
    json!({
        "lead": lead,
        "sender": {"name": sender_name, "email": sender_email},
        "organization": {"name": organization},
        "unsubscribeUrl": unsubscribe_url,
    })
}

/// Deep-merges `over` into `base` (objects merge, anything else replaces).
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(subject: &str, html: &str, text: &str) -> Content {
        Content {
            subject: subject.into(),
            body_html: html.into(),
            body_text: text.into(),
        }
    }

    fn ctx() -> Value {
        context(sample_lead(), "Sam", "sam@x.io", "Acme", "https://u/x")
    }

    #[test]
    fn renders_escapes_and_uses_filters() {
        let mut lead = sample_lead();
        lead["company"] = json!("<b>Evil</b>");
        lead.as_object_mut().unwrap().remove("title");
        let c = context(lead, "Sam", "sam@x.io", "Acme", "https://u/x");
        let r = render(
            &content(
                "Hi {{ lead.firstName }}\nthere",
                "<p>{{ lead.company }} {{ lead.title | default('friend') | title }}</p>",
                "{{ lead.company }} from {{ sender.name }} at {{ organization.name }}",
            ),
            &c,
        )
        .unwrap();
        assert_eq!(r.subject, "Hi Ada there");
        assert_eq!(r.html, "<p>&lt;b&gt;Evil&lt;&#x2f;b&gt; Friend</p>");
        assert_eq!(r.text, "<b>Evil</b> from Sam at Acme");
    }

    #[test]
    fn strict_undefined_fuel_and_no_files() {
        let e = render(&content("{{ lead.nope }}", "", ""), &ctx()).unwrap_err();
        assert_eq!(e.kind, TemplateIssueKind::Render);
        let e = render(
            &content(
                "",
                "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
                "",
            ),
            &ctx(),
        )
        .unwrap_err();
        assert!(e.message.contains("fuel"), "{e:?}");
        let e = render(&content("", "", "{% include '/etc/passwd' %}"), &ctx()).unwrap_err();
        assert_eq!(e.kind, TemplateIssueKind::Render);
        assert!(!e.message.contains("root:"));
    }

    #[test]
    fn validation_reports_unknown_variables_and_syntax_with_positions() {
        let issues = validate(&content(
            "Hi {{ lead.firstName }}",
            "<p>\n  {{ lead.fristName }} {{ sender.name }} {{ foo }}</p>",
            "{% if %}",
        ));
        let unknown: Vec<_> = issues
            .iter()
            .filter(|i| i.kind == TemplateIssueKind::UnknownVariable)
            .map(|i| (i.variable.clone().unwrap(), i.line, i.column))
            .collect();
        assert_eq!(
            unknown,
            vec![
                ("foo".to_string(), Some(2), Some(45)),
                ("lead.fristName".to_string(), Some(2), Some(6)),
            ]
        );
        let syntax = issues
            .iter()
            .find(|i| i.kind == TemplateIssueKind::Syntax)
            .unwrap();
        assert_eq!(syntax.part, TemplatePart::BodyText);
        assert_eq!(syntax.line, Some(1));
        assert!(syntax.column.is_some());
        assert!(validate(&content(
            "{{ lead.customFields.plan }}",
            "{{ unsubscribeUrl }}",
            ""
        ))
        .is_empty());
    }
}
