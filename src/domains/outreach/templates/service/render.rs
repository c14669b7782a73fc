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

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(50);
    for (name, f) in builtin_filters() {
        env.add_filter(name, move |state: &State, args: Rest<Value2>| {
            guarded(name, &f, state, &args)
        });
    }
    env
}

type Value2 = minijinja::Value;

/// minijinja's built-in filters (default features), each to be wrapped by [`guarded`].
fn builtin_filters() -> Vec<(&'static str, Value2)> {
    use minijinja::filters as f;
    macro_rules! v {
        ($f:expr) => {
            Value2::from_function($f)
        };
    }
    vec![
        ("safe", v!(f::safe)),
        ("escape", v!(f::escape)),
        ("e", v!(f::escape)),
        ("lower", v!(f::lower)),
        ("upper", v!(f::upper)),
        ("title", v!(f::title)),
        ("capitalize", v!(f::capitalize)),
        ("replace", v!(f::replace)),
        ("length", v!(f::length)),
        ("count", v!(f::length)),
        ("dictsort", v!(f::dictsort)),
        ("items", v!(f::items)),
        ("reverse", v!(f::reverse)),
        ("trim", v!(f::trim)),
        ("join", v!(f::join)),
        ("split", v!(f::split)),
        ("lines", v!(f::lines)),
        ("default", v!(f::default)),
        ("d", v!(f::default)),
        ("round", v!(f::round)),
        ("abs", v!(f::abs)),
        ("int", v!(f::int)),
        ("float", v!(f::float)),
        ("attr", v!(f::attr)),
        ("first", v!(f::first)),
        ("last", v!(f::last)),
        ("min", v!(f::min)),
        ("max", v!(f::max)),
        ("sort", v!(f::sort)),
        ("list", v!(f::list)),
        ("string", v!(f::string)),
        ("bool", v!(f::bool)),
        ("batch", v!(f::batch)),
        ("slice", v!(f::slice)),
        ("sum", v!(f::sum)),
        ("indent", v!(f::indent)),
        ("select", v!(f::select)),
        ("reject", v!(f::reject)),
        ("selectattr", v!(f::selectattr)),
        ("rejectattr", v!(f::rejectattr)),
        ("map", v!(f::map)),
        ("groupby", v!(f::groupby)),
        ("unique", v!(f::unique)),
        ("chain", v!(f::chain)),
        ("zip", v!(f::zip)),
        ("pprint", v!(f::pprint)),
        ("format", v!(f::format)),
    ]
}

/// Bytes a value holds (shallow: lists and maps count 32 bytes an item; lazy sequences such
/// as `range(…)` nothing).
fn size_of(v: &Value2) -> usize {
    match v.kind() {
        ValueKind::String | ValueKind::Bytes => v.as_str().map_or(0, str::len),
        ValueKind::Seq | ValueKind::Map => v.len().unwrap_or(0).saturating_mul(32),
        _ => 8,
    }
}

fn too_big(what: &str) -> minijinja::Error {
    minijinja::Error::new(
        ErrorKind::InvalidOperation,
        format!("{what} (template limits)"),
    )
}

/// The result size of the filters that multiply their input, estimated before they run.
fn estimate(name: &str, args: &[Value2]) -> usize {
    let str_at = |i: usize| args.get(i).and_then(|v| v.as_str()).unwrap_or("");
    match name {
        "join" => {
            let sep = str_at(1).len();
            let Some(items) = args.first().and_then(|v| v.try_iter().ok()) else {
                return 0;
            };
            let mut total = 0usize;
            for (n, item) in items.enumerate() {
                total = total
                    .saturating_add(sep)
                    .saturating_add(item.as_str().map_or(24, str::len));
                if n > MAX_ITEMS || total > MAX_VALUE {
                    return usize::MAX;
                }
            }
            total
        }
        "replace" => {
            let (s, from, to) = (str_at(0), str_at(1), str_at(2));
            let hits = if from.is_empty() {
                s.chars().count() + 1
            } else {
                s.matches(from).count()
            };
            s.len().saturating_add(hits.saturating_mul(to.len()))
        }
        "indent" => {
            let s = str_at(0);
            let width = match args.get(1) {
                Some(w) if w.as_str().is_some() => w.as_str().map_or(0, str::len),
                Some(w) => usize::try_from(w.as_i64().unwrap_or(0)).unwrap_or(usize::MAX),
                None => 4,
            };
            let lines = s.matches('\n').count() + 1;
            s.len().saturating_add(lines.saturating_mul(width))
        }
        "format" => {
            // printf widths and precisions pad: refuse large ones.
            let fmt = str_at(0);
            let mut digits = String::new();
            let mut in_spec = false;
            for c in fmt.chars() {
                if c == '%' {
                    in_spec = !in_spec;
                    digits.clear();
                } else if in_spec && c.is_ascii_digit() {
                    digits.push(c);
                    if digits.len() > 4 {
                        return usize::MAX;
                    }
                } else if in_spec && c == '.' {
                    digits.clear();
                } else if in_spec && c.is_ascii_alphabetic() {
                    in_spec = false;
                }
            }
            args.iter().map(size_of).fold(0usize, usize::saturating_add)
        }
        _ => 0,
    }
}

/// Per-render total of filter results.
#[derive(Debug, Default)]
struct Built(AtomicUsize);

impl minijinja::value::Object for Built {}

/// Runs built-in filter `f` within the limits (see the module docs).
fn guarded(
    name: &str,
    f: &Value2,
    state: &State,
    args: &[Value2],
) -> Result<Value2, minijinja::Error> {
    if args.iter().any(|a| size_of(a) > MAX_VALUE) {
        return Err(too_big(&format!(
            "`{name}` was given a value larger than {MAX_VALUE} bytes"
        )));
    }
    if estimate(name, args) > MAX_VALUE {
        return Err(too_big(&format!(
            "`{name}` would build a value larger than {MAX_VALUE} bytes"
        )));
    }
    let out = f.call(state, args)?;
    let size = size_of(&out);
    let items = match out.kind() {
        ValueKind::Seq | ValueKind::Map => out.len().unwrap_or(0),
        _ => 0,
    };
    if size > MAX_VALUE || items > MAX_ITEMS {
        return Err(too_big(&format!(
            "`{name}` built a value larger than {MAX_VALUE} bytes or {MAX_ITEMS} items"
        )));
    }
    let built = state.get_or_set_temp_object("leadgraph.built", Built::default);
    if built
        .0
        .fetch_add(size, Ordering::Relaxed)
        .saturating_add(size)
        > MAX_BUILT
    {
        return Err(too_big(&format!(
            "the template builds more than {MAX_BUILT} bytes of values"
        )));
    }
    Ok(out)
}

fn unsupported(part: TemplatePart, line: Option<usize>, what: &str) -> TemplateIssue {
    TemplateIssue {
        part,
        kind: TemplateIssueKind::Unsupported,
        message: format!("{what} is not available in templates"),
        line: line.map(|l| l as i32),
        column: None,
        variable: None,
    }
}

/// Refuses the `*` operator before compiling: minijinja folds constant expressions while
/// compiling, so `{{ "x" * 100000000 }}` would allocate 100 MB in the compiler itself.
fn check_tokens(part: TemplatePart, src: &str) -> Result<(), TemplateIssue> {
    for tok in machinery::tokenize(
        src,
        false,
        Default::default(),
        machinery::WhitespaceConfig::default(),
    ) {
        match tok {
            Ok((Token::Mul, span)) => {
                return Err(unsupported(
                    part,
                    Some(span.start_line as usize),
                    "the `*` operator (it repeats strings and lists)",
                ))
            }
            Ok(_) => {}
            // The compiler reports syntax errors with their position.
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Refuses the compiled constructs that can build data without bound (see the module docs).
fn check_instructions(
    part: TemplatePart,
    t: &minijinja::Template<'_, '_>,
) -> Result<(), TemplateIssue> {
    let compiled = machinery::get_compiled_template(t);
    if !compiled.blocks.is_empty() {
        return Err(unsupported(part, None, "`block`"));
    }
    let code = &compiled.instructions;
    let mut concats = 0usize;
    let mut prev_assigns = false;
    for idx in 0..code.len() {
        let Some(instr) = code.get(idx as u32) else {
            break;
        };
        let line = code.get_line(idx as u32);
        let refuse = |what: &str| Err(unsupported(part, line, what));
        let assigns = matches!(
            instr,
            Instruction::Iterate(_) | Instruction::UnpackList(_) | Instruction::UnpackLists(_)
        );
        match instr {
            Instruction::Mul => return refuse("the `*` operator"),
            Instruction::StringConcat | Instruction::Add => {
                concats += 1;
                if concats > MAX_CONCATS {
                    return refuse(&format!("more than {MAX_CONCATS} `~` or `+` operators"));
                }
            }
            // A loop target or unpacking is fine; anything else is `set`.
            Instruction::StoreLocal(_) if !prev_assigns => return refuse("`set`"),
            Instruction::SetAttr(_) => return refuse("assigning attributes (namespace)"),
            Instruction::PushWith => return refuse("`with`"),
            Instruction::BeginCapture(_) => {
                return refuse("capturing output (`set` and `filter` blocks, `call`)")
            }
            Instruction::BuildMacro(..) | Instruction::Enclose(_) | Instruction::GetClosure => {
                return refuse("`macro`")
            }
            Instruction::FastRecurse | Instruction::CallObject(_) => {
                return refuse("calling values (recursive loops)")
            }
            Instruction::CallFunction(name, _)
                if !["range", "dict", "cycler", "joiner"].contains(name) =>
            {
                return refuse(&format!("the function `{name}`"));
            }
            Instruction::Include(_)
            | Instruction::ExportLocals
            | Instruction::LoadBlocks
            | Instruction::CallBlock(_)
            | Instruction::FastSuper => return refuse("`include`, `import` and `extends`"),
            _ => {}
        }
        prev_assigns = assigns || (matches!(instr, Instruction::StoreLocal(_)) && prev_assigns);
    }
    Ok(())
}

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
        if src.len() > MAX_SOURCE {
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
        return Err(TemplateIssue {
            part: TemplatePart::Subject,
            kind: TemplateIssueKind::TooLarge,
            message: format!("the value {path} is larger than {MAX_VALUE} bytes"),
            line: None,
            column: None,
            variable: Some(path),
        });
    }
    let one = |part: TemplatePart, src: &str| -> Result<String, TemplateIssue> {
        if src.len() > MAX_SOURCE {
            return Err(TemplateIssue {
                part,
                kind: TemplateIssueKind::TooLarge,
                message: format!("must be at most {MAX_SOURCE} bytes"),
                line: None,
                column: None,
                variable: None,
            });
        }
        let t = compile(&env, part, src)?;
        let mut out = CappedWriter {
            buf: Vec::with_capacity(src.len().min(MAX_OUTPUT)),
            cap: MAX_OUTPUT,
            exceeded: false,
        };
        if let Err(e) = t.render_captured_to(ctx, &mut out) {
            if out.exceeded {
                return Err(TemplateIssue {
                    part,
                    kind: TemplateIssueKind::TooLarge,
                    message: format!("rendered output exceeds {MAX_OUTPUT} bytes"),
                    line: None,
                    column: None,
                    variable: None,
                });
            }
            return Err(issue_from_error(part, src, TemplateIssueKind::Render, &e));
        }
        String::from_utf8(out.buf).map_err(|_| TemplateIssue {
            part,
            kind: TemplateIssueKind::Render,
            message: "rendered output is not UTF-8".into(),
            line: None,
            column: None,
            variable: None,
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
        assert_eq!(e.kind, TemplateIssueKind::Unsupported);
        assert!(!e.message.contains("root:"));
    }

    /// The error, or a panic that does not print a huge rendering.
    fn short_err(r: Result<Rendered, TemplateIssue>) -> TemplateIssue {
        match r {
            Ok(r) => panic!("rendered {} bytes of HTML", r.html.len()),
            Err(e) => e,
        }
    }

    #[test]
    fn amplifying_constructs_are_refused_before_they_build_anything() {
        // Repetition: refused before compiling (minijinja would fold it to 100 MB there).
        for src in [
            "{{ \"x\" * 100000000 }}",
            "{{ lead.company * 1000000 }}",
            "{{ [1] * 100000000 }}",
        ] {
            let e = short_err(render(&content("", src, ""), &ctx()));
            assert_eq!(e.kind, TemplateIssueKind::Unsupported, "{src}: {e:?}");
            assert!(e.message.contains('*'), "{e:?}");
            let issues = validate(&content("", src, ""));
            assert_eq!(issues[0].kind, TemplateIssueKind::Unsupported, "{src}");
        }
        // Doubling through assignments (2^22 bytes without any output).
        let doubling = format!(
            "{{% set s = \"x\" %}}{}ok",
            "{% set s = s ~ s %}".repeat(22)
        );
        let namespace = "{% set ns = namespace(s=\"x\") %}{% for i in range(40) %}\
                         {% set ns.s = ns.s ~ ns.s %}{% endfor %}";
        let with_chain = format!(
            "{}{{{{ b }}}}{}",
            "{% with b = lead.company ~ lead.company %}".repeat(30),
            "{% endwith %}".repeat(30)
        );
        let macro_rec = "{% macro f(s, n) %}{% if n %}{{ f(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ f('x', 40) }}";
        let capture = "{% set s %}{{ lead.company }}{% endset %}{{ s }}";
        let recursive = "{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}";
        for src in [
            doubling.as_str(),
            namespace,
            with_chain.as_str(),
            macro_rec,
            capture,
            recursive,
        ] {
            let e = short_err(render(&content("", src, ""), &ctx()));
            assert_eq!(e.kind, TemplateIssueKind::Unsupported, "{src}: {e:?}");
        }
        // Too many concatenations in one part.
        let chain = format!(
            "{{{{ lead.company{} }}}}",
            " ~ lead.company".repeat(MAX_CONCATS + 1)
        );
        let e = short_err(render(&content("", &chain, ""), &ctx()));
        assert_eq!(e.kind, TemplateIssueKind::Unsupported, "{e:?}");
        // Loops with loop targets and unpacking still work.
        let r = render(
            &content(
                "",
                "{% for k, v in {'a': 1}|items %}{{ k }}={{ v }}{% endfor %}{% for i in range(3) %}{{ i }}{% endfor %}",
                "",
            ),
            &ctx(),
        )
        .unwrap();
        assert_eq!(r.html, "a=1012");
    }

    #[test]
    fn filters_and_output_are_bounded_while_rendering() {
        let mut c = ctx();
        c["s"] = json!("y".repeat(2048));
        // `replace` of every position: 2 KiB × 2 KiB, refused from the estimate.
        for src in [
            "{{ s | replace('', s) }}",
            "{{ range(100000) | join(s) }}",
            "{{ s | indent(100000000) }}",
            "{{ '%100000000s' | format('x') }}",
        ] {
            let e = short_err(render(&content("", src, ""), &c));
            assert_eq!(e.kind, TemplateIssueKind::Render, "{src}: {e:?}");
            assert!(e.message.contains("template limits"), "{src}: {e:?}");
        }
        // Nested filters double the value each time: refused once it would pass the limit.
        let src = format!("{{{{ s{} }}}}", " | replace('y', 'yy')".repeat(8));
        let e = short_err(render(&content("", &src, ""), &c));
        assert!(e.message.contains("template limits"), "{e:?}");
        // Huge output from a loop stops at the cap.
        let e = short_err(render(
            &content("", "{% for i in range(100000) %}{{ s }}{% endfor %}", ""),
            &c,
        ));
        assert_eq!(e.kind, TemplateIssueKind::TooLarge, "{e:?}");
        // A context string over the value limit.
        let mut big = ctx();
        big["lead"]["company"] = json!("z".repeat(MAX_VALUE + 1));
        let e = short_err(render(&content("{{ lead.company }}", "", ""), &big));
        assert_eq!(e.kind, TemplateIssueKind::TooLarge, "{e:?}");
        // Ordinary filters keep working.
        let r = render(
            &content(
                "",
                "{{ lead.company | replace('Ltd', 'Limited') | upper }} {{ ['a', 'b'] | join(', ') }} {{ '%s!' | format(lead.firstName) }}",
                "",
            ),
            &ctx(),
        )
        .unwrap();
        assert_eq!(r.html, "ANALYTICAL ENGINES LIMITED a, b Ada!");
    }

    #[tokio::test]
    async fn bounded_render_runs_on_the_blocking_pool() {
        let r = render_bounded(content("Hi {{ lead.firstName }}", "", ""), ctx())
            .await
            .unwrap();
        assert_eq!(r.subject, "Hi Ada");
        let e = render_bounded(content("", "{{ 'x' * 3 }}", ""), ctx())
            .await
            .unwrap_err();
        assert!(matches!(e, RenderFailure::Issue(_)), "{e:?}");
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
