//! The sandbox of the template renderer: the environment (no loader, strict undefined, fuel,
//! recursion limit), the wrapped built-in filters with their size caps and estimates, and the
//! scans that refuse unbounded constructs from the tokens and the compiled instructions.

use super::*;

pub(super) fn environment() -> Environment<'static> {
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

pub(super) type Value2 = minijinja::Value;

/// minijinja's built-in filters (default features), each to be wrapped by [`guarded`].
pub(super) fn builtin_filters() -> Vec<(&'static str, Value2)> {
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
pub(super) fn size_of(v: &Value2) -> usize {
    match v.kind() {
        ValueKind::String | ValueKind::Bytes => v.as_str().map_or(0, str::len),
        ValueKind::Seq | ValueKind::Map => v.len().unwrap_or(0).saturating_mul(32),
        _ => 8,
    }
}

pub(super) fn too_big(what: &str) -> minijinja::Error {
    minijinja::Error::new(
        ErrorKind::InvalidOperation,
        format!("{what} (template limits)"),
    )
}

/// The result size of the filters that multiply their input, estimated before they run.
pub(super) fn estimate(name: &str, args: &[Value2]) -> usize {
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
pub(super) struct Built(AtomicUsize);

impl minijinja::value::Object for Built {}

/// Runs built-in filter `f` within the limits (see the module docs).
pub(super) fn guarded(
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

pub(super) fn unsupported(part: TemplatePart, line: Option<usize>, what: &str) -> TemplateIssue {
    TemplateIssue {
        line: line.map(|l| l as i32),
        ..super::issue(
            part,
            TemplateIssueKind::Unsupported,
            format!("{what} is not available in templates"),
        )
    }
}

/// Refuses the `*` operator before compiling: minijinja folds constant expressions while
/// compiling, so `{{ "x" * 100000000 }}` would allocate 100 MB in the compiler itself.
pub(super) fn check_tokens(part: TemplatePart, src: &str) -> Result<(), TemplateIssue> {
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
pub(super) fn check_instructions(
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
