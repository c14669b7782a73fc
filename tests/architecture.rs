//! The architecture rules of docs/ARCHITECTURE.md, checked by reading `src/`.
//!
//! - **Layers.** A spine module (platform, events, jobs, db, auth, graphql's context and
//!   pagination, config, state, …) never names `crate::domains`. Only the composition layer
//!   (`http`, `graphql::{roots, schema, compiled}`, `startup`, `main`, `rotate_secrets`, `lib`)
//!   and the domains themselves do.
//! - **Domain order.** Domains import only domains below them in [`ORDER`], and only through
//!   their public API: an item `crate::domains::<d>::<item>` that `<d>/mod.rs` exports, or
//!   `crate::domains::<d>::types::…`. A sub-domain (a directory with its own `resolver.rs`,
//!   e.g. `outreach/campaigns`) is reached the same way, and sub-domains of one domain form no
//!   cycle.
//! - **Template.** Every domain and sub-domain directory holds `mod.rs`, `resolver.rs`,
//!   `types.rs` or `types/`, `service.rs` or `service/` (a domain made only of sub-domains
//!   needs just `mod.rs` and `resolver.rs`), optionally `loader.rs`, tests and sub-domains —
//!   nothing else. GraphQL objects live in `types`; `resolver.rs` holds only the roots
//!   (`…Query`, `…Mutation`, `…Subscription`).
//! - **Domain API.** A (sub-)domain's `mod.rs` re-exports items (functions, types,
//!   constants), never a module of its `service`: other domains see what it exports, not all
//!   that a service module holds.
//! - **Size.** No file in `src/` over [`MAX_FILE_LINES`], no function over [`MAX_FN_LINES`].
//!
//! Each rule is a function over an in-memory file set, so the tests at the bottom also show
//! each rule failing on a small fixture (the acceptance example: `leads` importing `outreach`).
#![allow(clippy::expect_used)]

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// Domains from lowest to highest. A domain may import only domains to its left.
const ORDER: &[&str] = &[
    "audit",
    "identity",
    "jobs",
    "leads",
    "realtime",
    "notifications",
    "scraping",
    "approvals",
    "outreach",
    "ai",
    "places",
    "conversations",
    "sequences",
    "insight",
    "webhooks",
    "enrichment",
];
/// Modules (paths under `src/`, without `.rs`) that compose the domains and may name them.
const COMPOSITION: &[&str] = &[
    "lib",
    "main",
    "startup",
    "rotate_secrets",
    "http",
    "graphql/roots",
    "graphql/schema",
    "graphql/compiled",
    "domains/mod",
];
const MAX_FILE_LINES: usize = 600;
const MAX_FN_LINES: usize = 80;

/// Source files keyed by their path under `src/` (`domains/leads/mod.rs`).
type Files = BTreeMap<String, String>;

fn read_src() -> Files {
    fn walk(dir: &Path, root: &Path, out: &mut Files) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("src is readable")
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p.strip_prefix(root).expect("under src").to_string_lossy();
                let text = std::fs::read_to_string(&p).expect("utf-8 source");
                out.insert(rel.replace('\\', "/"), text);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Files::new();
    walk(&root, &root, &mut out);
    out
}

/// `text` without comments, string and char literals (kept as blanks, so lines still count).
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && !ident_before(&b, i) {
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match b.get(j) {
                    None => break,
                    Some('"') if (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some('\n') => out.push('\n'),
                    _ => {}
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                } else if b[i] == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' && is_char_literal(&b, i) {
            // 'x' or an escape such as '\n', '\'', '\u{1F600}': skip to the closing quote.
            let mut k = i + 1;
            if b[k] == '\\' {
                k += 2;
            }
            while k < b.len() && b[k] != '\'' {
                k += 1;
            }
            out.push_str("' '");
            i = k + 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// A `'` that opens a char literal rather than a lifetime or label.
fn is_char_literal(b: &[char], i: usize) -> bool {
    matches!(
        (b.get(i + 1), b.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// The module path of a file (`domains/leads/mod.rs` → `["domains", "leads"]`).
fn module_of(file: &str) -> Vec<String> {
    let stem = file.trim_end_matches(".rs");
    let mut parts: Vec<String> = stem.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod") && parts.len() > 1 {
        parts.pop();
    }
    parts
}

/// Every absolute path the code names: `crate::a::b::c`, with `use` groups expanded and
/// `super::` resolved against the file's module.
fn referenced_paths(file: &str, code: &str) -> Vec<Vec<String>> {
    let module = module_of(file);
    let mut out = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if ident_before(&chars, i) || (i > 0 && chars[i - 1] == ':') {
            i += 1;
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
        let base = if rest.starts_with("crate::") {
            i += 7;
            Some(Vec::new())
        } else if rest.starts_with("super::") {
            let mut base = module.clone();
            while chars[i..].iter().collect::<String>().starts_with("super::") {
                base.pop();
                i += 7;
            }
            Some(base)
        } else {
            None
        };
        match base {
            Some(base) => i = parse_tree(&chars, i, base, &mut out),
            None => i += 1,
        }
    }
    out
}

/// Parses a use-tree at `i` (`a::b`, `a::{b, c::d}`, `a::*`) under `prefix`; returns the end.
fn parse_tree(c: &[char], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    loop {
        while c.get(i).is_some_and(|x| x.is_whitespace()) {
            i += 1;
        }
        if c.get(i) == Some(&'{') {
            i += 1;
            loop {
                while c.get(i).is_some_and(|x| x.is_whitespace() || *x == ',') {
                    i += 1;
                }
                match c.get(i) {
                    None => return i,
                    Some('}') => return i + 1,
                    _ => {
                        let before = i;
                        i = parse_tree(c, i, path.clone(), out);
                        if i == before {
                            i += 1;
                        }
                    }
                }
            }
        }
        let start = i;
        while c.get(i).is_some_and(|x| x.is_alphanumeric() || *x == '_') {
            i += 1;
        }
        if i == start {
            out.push(path);
            return i;
        }
        let seg: String = c[start..i].iter().collect();
        if seg != "self" {
            path.push(seg);
        }
        if c.get(i) == Some(&':') && c.get(i + 1) == Some(&':') {
            i += 2;
        } else {
            out.push(path);
            return skip_alias(c, i);
        }
    }
}

/// Skips ` as name` after a use path.
fn skip_alias(c: &[char], i: usize) -> usize {
    let mut j = i;
    while c.get(j).is_some_and(|x| x.is_whitespace()) {
        j += 1;
    }
    let is_as = c.get(j) == Some(&'a')
        && c.get(j + 1) == Some(&'s')
        && c.get(j + 2).is_some_and(|x| x.is_whitespace());
    if !is_as {
        return i;
    }
    j += 2;
    while c.get(j).is_some_and(|x| x.is_whitespace()) {
        j += 1;
    }
    while c.get(j).is_some_and(|x| x.is_alphanumeric() || *x == '_') {
        j += 1;
    }
    j
}

/// Which layer a file is in.
#[derive(Debug, Clone, PartialEq)]
enum Unit {
    Composition,
    Spine,
    /// A domain, with the sub-domain path inside it (`["outreach", "campaigns"]`).
    Domain(Vec<String>),
}

/// Directories of a domain that are part of its template, not sub-domains.
const TEMPLATE_DIRS: &[&str] = &["types", "service", "tests"];

/// Sub-domain directories: a directory with its own `mod.rs` directly inside a domain (or a
/// sub-domain), other than the template's `types/`, `service/` and `tests/`.
fn subdomains(files: &Files) -> BTreeSet<String> {
    let mut subs = BTreeSet::new();
    for f in files.keys() {
        let Some(dir) = f.strip_suffix("/mod.rs") else {
            continue;
        };
        let parts: Vec<&str> = dir.split('/').collect();
        if parts.len() < 3 || parts[0] != "domains" {
            continue;
        }
        if parts[2..].iter().all(|p| !TEMPLATE_DIRS.contains(p)) {
            subs.insert(dir.to_string());
        }
    }
    subs
}

fn unit_of(file: &str, subs: &BTreeSet<String>) -> Unit {
    let m = module_of(file);
    let joined = m.join("/");
    if COMPOSITION
        .iter()
        .any(|c| joined == *c || joined.starts_with(&format!("{c}/")))
    {
        return Unit::Composition;
    }
    if m.first().is_some_and(|s| s == "domains") && m.len() > 1 {
        return Unit::Domain(domain_key(&m[1..], subs));
    }
    Unit::Spine
}

/// The longest (sub-)domain that `path` (after `domains::`) is inside.
fn domain_key(path: &[String], subs: &BTreeSet<String>) -> Vec<String> {
    let mut key = vec![path[0].clone()];
    for seg in &path[1..] {
        let candidate = format!("domains/{}/{seg}", key.join("/"));
        if subs.contains(&candidate) {
            key.push(seg.clone());
        } else {
            break;
        }
    }
    key
}

/// Files-level modules of a (sub-)domain: file stems and directories directly inside it.
fn inner_modules(files: &Files, key: &[String]) -> BTreeSet<String> {
    let prefix = format!("domains/{}/", key.join("/"));
    files
        .keys()
        .filter_map(|f| f.strip_prefix(&prefix))
        .filter_map(|rest| rest.split('/').next())
        .map(|s| s.trim_end_matches(".rs").to_string())
        .filter(|s| s != "mod")
        .collect()
}

fn rank(domain: &str) -> Option<usize> {
    ORDER.iter().position(|d| *d == domain)
}

/// Violations of the layer and domain-order rules.
fn dependency_violations(files: &Files) -> Vec<String> {
    let subs = subdomains(files);
    let mut out = Vec::new();
    let mut sub_edges: BTreeSet<(Vec<String>, Vec<String>)> = BTreeSet::new();
    for (file, text) in files {
        let from = unit_of(file, &subs);
        for path in referenced_paths(file, &code_only(text)) {
            if path.first().is_none_or(|s| s != "domains") || path.len() < 2 {
                continue;
            }
            let to = domain_key(&path[1..], &subs);
            match &from {
                Unit::Composition => {}
                Unit::Spine => out.push(format!(
                    "{file}: the spine names a domain (crate::{})",
                    path.join("::")
                )),
                Unit::Domain(own) if own[0] != to[0] => {
                    check_cross(files, file, own, &to, &path, &mut out);
                }
                Unit::Domain(own)
                    if own != &to && !to.starts_with(own) && !own.starts_with(&to) =>
                {
                    check_api_use(files, file, &to, &path, &mut out);
                    sub_edges.insert((own.clone(), to));
                }
                Unit::Domain(_) => {}
            }
        }
    }
    out.extend(cycles(&sub_edges));
    out
}

fn check_cross(
    files: &Files,
    file: &str,
    own: &[String],
    to: &[String],
    path: &[String],
    out: &mut Vec<String>,
) {
    match (rank(&own[0]), rank(&to[0])) {
        (Some(a), Some(b)) if b < a => check_api_use(files, file, to, path, out),
        (Some(_), Some(_)) => out.push(format!(
            "{file}: `{}` imports `{}`, which is not below it in the domain order (crate::{})",
            own[0],
            to[0],
            path.join("::")
        )),
        _ => out.push(format!(
            "{file}: domain `{}` or `{}` is missing from ORDER in tests/architecture.rs",
            own[0], to[0]
        )),
    }
}

/// `path` must name the (sub-)domain's API: an item of its mod.rs or its `types`.
fn check_api_use(files: &Files, file: &str, to: &[String], path: &[String], out: &mut Vec<String>) {
    let Some(next) = path.get(1 + to.len()) else {
        return;
    };
    let inner = inner_modules(files, to);
    if inner.contains(next) && next != "types" {
        out.push(format!(
            "{file}: reaches into `{}::{next}`; use what {}/mod.rs exports (crate::{})",
            to.join("::"),
            to.join("/"),
            path.join("::")
        ));
    }
}

/// Violations of "a (sub-)domain's mod.rs re-exports items, not modules": a `pub use` in the
/// API file of a domain or sub-domain that names a module under one of its `service`
/// directories (`pub use service::{stats, smtp::{self, Sender}}` exports `stats` and `smtp`),
/// which would let other domains reach everything inside it as `<domain>::stats::…`.
fn module_reexport_violations(files: &Files) -> Vec<String> {
    let mut apis: Vec<String> = subdomains(files).into_iter().collect();
    apis.extend(
        files
            .keys()
            .filter_map(|f| f.strip_suffix("/mod.rs"))
            .filter(|d| d.starts_with("domains/") && d.matches('/').count() == 1)
            .map(str::to_string),
    );
    let mut out = Vec::new();
    for dir in apis {
        let file = format!("{dir}/mod.rs");
        let Some(text) = files.get(&file) else {
            continue;
        };
        let code: Vec<char> = code_only(text).chars().collect();
        let mut paths = Vec::new();
        let mut i = 0;
        while i < code.len() {
            let rest: String = code[i..code.len().min(i + 8)].iter().collect();
            if rest == "pub use " && !ident_before(&code, i) {
                i = parse_tree(&code, i + 8, Vec::new(), &mut paths);
            } else {
                i += 1;
            }
        }
        for path in paths {
            if path.iter().any(|s| s == "service") && is_public_module(files, &dir, &path) {
                out.push(format!(
                    "{file}: re-exports the module `{}`; export the items other domains use",
                    path.join("::")
                ));
            }
        }
    }
    out
}

/// Whether `path` (relative to the directory `dir`) names a module that its parent declares
/// `pub mod` (a private module of the same name as a re-exported function is not exported).
fn is_public_module(files: &Files, dir: &str, path: &[String]) -> bool {
    let Some((name, parents)) = path.split_last() else {
        return false;
    };
    let rel = path.join("/");
    let exists = [format!("{dir}/{rel}.rs"), format!("{dir}/{rel}/mod.rs")]
        .iter()
        .any(|f| files.contains_key(f));
    let parent = [vec![dir.to_string()], parents.to_vec()].concat().join("/");
    let declared = [format!("{parent}.rs"), format!("{parent}/mod.rs")]
        .iter()
        .filter_map(|f| files.get(f))
        .any(|text| {
            let code = code_only(text);
            ["pub mod", "pub(crate) mod", "pub(super) mod"]
                .iter()
                .any(|p| code.contains(&format!("{p} {name};")))
        });
    exists && declared
}

/// Cycles among sub-domains of one domain.
fn cycles(edges: &BTreeSet<(Vec<String>, Vec<String>)>) -> Vec<String> {
    fn reaches(
        edges: &BTreeSet<(Vec<String>, Vec<String>)>,
        from: &Vec<String>,
        goal: &Vec<String>,
        seen: &mut BTreeSet<Vec<String>>,
    ) -> bool {
        edges
            .iter()
            .filter(|(a, _)| a == from)
            .any(|(_, b)| b == goal || (seen.insert(b.clone()) && reaches(edges, b, goal, seen)))
    }
    edges
        .iter()
        .filter(|(a, b)| reaches(edges, b, a, &mut BTreeSet::new()))
        .map(|(a, b)| {
            format!(
                "sub-domain cycle: {} → {} → … → {}",
                a.join("/"),
                b.join("/"),
                a.join("/")
            )
        })
        .collect()
}

/// Violations of the domain template.
fn template_violations(files: &Files) -> Vec<String> {
    let subs = subdomains(files);
    let mut dirs: BTreeSet<String> = files
        .keys()
        .filter_map(|f| f.strip_prefix("domains/"))
        .filter_map(|r| r.split_once('/').map(|(d, _)| format!("domains/{d}")))
        .collect();
    dirs.extend(subs.iter().cloned());
    let mut out = Vec::new();
    for dir in &dirs {
        let has = |name: &str| files.contains_key(&format!("{dir}/{name}"));
        let has_dir = |name: &str| {
            files
                .keys()
                .any(|f| f.starts_with(&format!("{dir}/{name}/")))
        };
        let composed = subs.iter().any(|s| s.starts_with(&format!("{dir}/")));
        let top_level = dir.matches('/').count() == 1;
        for (what, ok) in [
            ("mod.rs", has("mod.rs")),
            ("resolver.rs", !top_level || has("resolver.rs")),
            (
                "service.rs or service/",
                composed || has("service.rs") || has_dir("service"),
            ),
        ] {
            if !ok {
                out.push(format!("{dir}: missing {what}"));
            }
        }
        for entry in files
            .keys()
            .filter_map(|f| f.strip_prefix(&format!("{dir}/")))
        {
            let first = entry.split('/').next().unwrap_or(entry);
            let allowed = matches!(
                first,
                "mod.rs"
                    | "resolver.rs"
                    | "types.rs"
                    | "types"
                    | "service.rs"
                    | "service"
                    | "loader.rs"
                    | "tests.rs"
                    | "tests"
            ) || first.ends_with("_tests.rs")
                || subs.contains(&format!("{dir}/{first}"));
            if !allowed {
                out.push(format!(
                    "{dir}/{first}: not part of the template (move it under service/)"
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out.extend(graphql_object_violations(files));
    out
}

const GRAPHQL_DERIVES: &[&str] = &[
    "SimpleObject",
    "InputObject",
    "Enum",
    "Union",
    "Interface",
    "MergedObject",
    "MergedSubscription",
];

/// GraphQL objects outside `types`, and anything but roots in `resolver.rs`.
fn graphql_object_violations(files: &Files) -> Vec<String> {
    let mut out = Vec::new();
    for (file, text) in files.iter().filter(|(f, _)| f.starts_with("domains/")) {
        let in_types = file.ends_with("/types.rs") || file.contains("/types/");
        let is_resolver = file.ends_with("/resolver.rs");
        let code = code_only(text);
        for (n, line) in code.lines().enumerate() {
            let t = line.trim();
            let derive = t.starts_with("#[derive(")
                && GRAPHQL_DERIVES.iter().any(|d| {
                    t.split(|c: char| !c.is_alphanumeric() && c != '_')
                        .any(|w| w == *d)
                });
            let attr = ["#[Object", "#[Subscription", "#[ComplexObject"]
                .iter()
                .any(|a| t.starts_with(a));
            if !(derive || attr) || in_types {
                continue;
            }
            let target = code.lines().skip(n + 1).find(|l| {
                let l = l.trim();
                l.starts_with("pub struct")
                    || l.starts_with("struct")
                    || l.starts_with("impl")
                    || l.starts_with("pub enum")
                    || l.starts_with("enum")
            });
            let root = target.is_some_and(|l| {
                let name = l.split(['{', '(', '<', ';']).next().unwrap_or("");
                let name = name.split_whitespace().last().unwrap_or("");
                ["Query", "Mutation", "Subscription"]
                    .iter()
                    .any(|s| name.ends_with(s))
            });
            if !(is_resolver && root) {
                out.push(format!("{file}:{}: GraphQL object outside types", n + 1));
            }
        }
    }
    out
}

/// Files over [`MAX_FILE_LINES`] and functions over [`MAX_FN_LINES`].
fn size_violations(files: &Files) -> Vec<String> {
    let mut out = Vec::new();
    for (file, text) in files {
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            out.push(format!("{file}: {lines} lines (max {MAX_FILE_LINES})"));
        }
        for (line, name, len) in long_functions(&code_only(text)) {
            out.push(format!(
                "{file}:{line}: fn {name} is {len} lines (max {MAX_FN_LINES})"
            ));
        }
    }
    out
}

/// `(line, name, length)` of every function longer than [`MAX_FN_LINES`].
fn long_functions(code: &str) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(name) = fn_name(lines[i]) else {
            i += 1;
            continue;
        };
        let (mut depth, mut started, mut j) = (0i32, false, i);
        'scan: while j < lines.len() {
            for ch in lines[j].chars() {
                match ch {
                    '{' => {
                        depth += 1;
                        started = true;
                    }
                    '}' => depth -= 1,
                    ';' if !started => break 'scan,
                    _ => {}
                }
                if started && depth == 0 {
                    break 'scan;
                }
            }
            j += 1;
        }
        if !started {
            i += 1;
            continue;
        }
        let len = j - i + 1;
        if len > MAX_FN_LINES {
            out.push((i + 1, name, len));
        }
        i = j + 1;
    }
    out
}

fn fn_name(line: &str) -> Option<String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "fn")?;
    let prefix_ok = words[..at].iter().all(|w| {
        matches!(
            *w,
            "pub" | "async" | "const" | "unsafe" | "extern" | "default"
        ) || w.starts_with("pub(")
    });
    let name = words.get(at + 1)?;
    let name: String = name
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (prefix_ok && !name.is_empty()).then_some(name)
}

fn report(what: &str, violations: Vec<String>) {
    assert!(
        violations.is_empty(),
        "{what} ({} violations; see docs/ARCHITECTURE.md):\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

#[test]
fn layers_and_domain_order_hold() {
    report("dependency rule", dependency_violations(&read_src()));
}

#[test]
fn every_domain_follows_the_template() {
    report("domain template", template_violations(&read_src()));
}

#[test]
fn domain_apis_export_items_not_modules() {
    report("domain API", module_reexport_violations(&read_src()));
}

#[test]
fn files_and_functions_stay_small() {
    report("size limits", size_violations(&read_src()));
}

/// A small source tree for the rule tests below.
fn fixture(extra: &[(&str, &str)]) -> Files {
    let mut files = Files::new();
    for d in ["leads", "outreach"] {
        files.insert(
            format!("domains/{d}/mod.rs"),
            "pub use service::create;".into(),
        );
        files.insert(format!("domains/{d}/resolver.rs"), String::new());
        files.insert(format!("domains/{d}/types.rs"), String::new());
        files.insert(
            format!("domains/{d}/service.rs"),
            "pub fn create() {}".into(),
        );
    }
    files.insert(
        "domains/outreach/service.rs".into(),
        "use crate::domains::leads::{create, types::Lead};\npub fn create() {}".into(),
    );
    files.insert("events/mod.rs".into(), "use crate::error::AppError;".into());
    for (f, text) in extra {
        files.insert(f.to_string(), text.to_string());
    }
    files
}

#[test]
fn the_fixture_graph_is_clean() {
    let files = fixture(&[]);
    assert_eq!(dependency_violations(&files), Vec::<String>::new());
    assert_eq!(template_violations(&files), Vec::<String>::new());
}

#[test]
fn an_upward_import_from_leads_to_outreach_fails() {
    let files = fixture(&[(
        "domains/leads/service.rs",
        "use crate::domains::outreach;\npub fn create() { outreach::create() }",
    )]);
    let v = dependency_violations(&files);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("`leads` imports `outreach`"), "{v:?}");
}

#[test]
fn grouped_and_super_paths_are_seen() {
    let grouped = fixture(&[(
        "domains/leads/types.rs",
        "use crate::{error::AppError, domains::{audit as a, outreach::create}};",
    )]);
    assert!(dependency_violations(&grouped)
        .iter()
        .any(|v| v.contains("imports `outreach`")));
    let climbing = fixture(&[(
        "domains/leads/service.rs",
        "use super::super::outreach::create;\npub fn create() {}",
    )]);
    assert!(dependency_violations(&climbing)
        .iter()
        .any(|v| v.contains("imports `outreach`")));
    let commented = fixture(&[(
        "domains/leads/service.rs",
        "// crate::domains::outreach\nconst S: &str = \"crate::domains::outreach\";",
    )]);
    assert_eq!(dependency_violations(&commented), Vec::<String>::new());
}

#[test]
fn reaching_into_another_domains_internals_fails() {
    let files = fixture(&[(
        "domains/outreach/service.rs",
        "use crate::domains::leads::service::create;\npub fn create() {}",
    )]);
    let v = dependency_violations(&files);
    assert!(
        v.iter()
            .any(|v| v.contains("reaches into `leads::service`")),
        "{v:?}"
    );
}

#[test]
fn re_exporting_a_service_module_fails() {
    let module = "pub fn score() {}";
    let service = "pub mod scoring;\nmod create;\npub use create::create;";
    let whole = fixture(&[
        ("domains/leads/service.rs", service),
        ("domains/leads/service/create.rs", "pub fn create() {}"),
        ("domains/leads/service/scoring.rs", module),
        (
            "domains/leads/mod.rs",
            "pub use service::{create, scoring::{self, score}};",
        ),
    ]);
    let v = module_reexport_violations(&whole);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(
        v[0].contains("re-exports the module `service::scoring`"),
        "{v:?}"
    );
    let items = fixture(&[
        ("domains/leads/service.rs", service),
        ("domains/leads/service/scoring.rs", module),
        (
            "domains/leads/mod.rs",
            "pub use service::{create, scoring::score as lead_score};",
        ),
    ]);
    assert_eq!(module_reexport_violations(&items), Vec::<String>::new());
    assert_eq!(
        module_reexport_violations(&fixture(&[])),
        Vec::<String>::new()
    );
}

#[test]
fn the_spine_naming_a_domain_fails() {
    let files = fixture(&[("events/outbox.rs", "use crate::domains::leads::create;")]);
    let v = dependency_violations(&files);
    assert!(
        v.iter().any(|v| v.contains("the spine names a domain")),
        "{v:?}"
    );
    let composed = fixture(&[("graphql/roots.rs", "use crate::domains::leads::create;")]);
    assert_eq!(dependency_violations(&composed), Vec::<String>::new());
}

#[test]
fn template_breaches_are_reported() {
    let files = fixture(&[
        (
            "domains/leads/object.rs",
            "#[derive(SimpleObject)]\npub struct Lead {}",
        ),
        (
            "domains/outreach/resolver.rs",
            "#[Object]\nimpl Campaign {}",
        ),
    ]);
    let v = template_violations(&files);
    assert!(
        v.iter()
            .any(|v| v.contains("leads/object.rs: not part of the template")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|v| v.contains("leads/object.rs:1: GraphQL object")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|v| v.contains("outreach/resolver.rs:1: GraphQL object")),
        "{v:?}"
    );
    let roots = fixture(&[(
        "domains/outreach/resolver.rs",
        "#[Object]\nimpl OutreachQuery {}",
    )]);
    assert_eq!(template_violations(&roots), Vec::<String>::new());
}

#[test]
fn sub_domains_are_checked_like_domains() {
    let mut files = fixture(&[]);
    for s in ["campaigns", "templates"] {
        for f in ["mod.rs", "resolver.rs", "types.rs", "service.rs"] {
            files.insert(format!("domains/outreach/{s}/{f}"), String::new());
        }
    }
    files.remove("domains/outreach/types.rs");
    files.remove("domains/outreach/service.rs");
    files.insert(
        "domains/outreach/campaigns/service.rs".into(),
        "use super::super::templates::service::render;".into(),
    );
    files.insert(
        "domains/outreach/templates/service.rs".into(),
        "use crate::domains::outreach::campaigns::launch;".into(),
    );
    let v = dependency_violations(&files);
    assert!(
        v.iter()
            .any(|v| v.contains("reaches into `outreach::templates::service`")),
        "{v:?}"
    );
    assert!(v.iter().any(|v| v.contains("sub-domain cycle")), "{v:?}");
    assert_eq!(template_violations(&files), Vec::<String>::new());
}

#[test]
fn long_functions_are_measured_from_fn_to_closing_brace() {
    let body = "    let x = 1;\n".repeat(MAX_FN_LINES - 2);
    let ok = format!("pub async fn short() {{\n{body}}}\n");
    assert!(long_functions(&ok).is_empty());
    let long = format!("fn long(\n    a: u8,\n) {{\n{body}}}\nfn decl();\n");
    assert_eq!(
        long_functions(&long),
        vec![(1, "long".to_string(), MAX_FN_LINES + 2)]
    );
}
