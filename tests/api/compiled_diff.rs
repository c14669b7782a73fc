//! A generated differential test of the compiled read path (`graphql::compiled`): documents
//! built by a seeded PRNG from the schema and the compiler's coverage list
//! (`graphql::compiled::coverage::COVERAGE`) — random selections over every covered field,
//! aliases, named and inline fragments, `__typename`, connection and notes arguments, orderings,
//! filters and cursors, plus now and then something the compiler leaves to the resolvers — run
//! for VIEWER, MEMBER and ADMIN of two organizations on a compiled app and on a resolvers-only
//! app (`COMPILED_READS=false`) sharing one database with rich data (many campaigns per lead,
//! more notes than a page, NULLs in every nullable column, stored values outside the enums).
//!
//! Each pair of answers must be the same JSON with the same keys in the same order (numbers
//! compared as numbers: PostgreSQL writes `13` where serde writes `13.0`), and the compiled app
//! must have run a compiled statement exactly for the documents the generator knows are covered
//! (so the test cannot pass by falling back everywhere). PostgreSQL only; `LG_DIFF_SEED` and
//! `LG_DIFF_DOCS` change the seed and the number of documents, and a failure prints the seed and
//! the documents.

use std::collections::HashMap;

use async_graphql::parser::{
    parse_schema,
    types::{TypeKind, TypeSystemDefinition},
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use leadgraph::{
    auth::Role,
    domains::leads::batched_child_page,
    graphql::compiled::coverage::{covered, Covered},
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{Options, TestApp};

const SEED: u64 = 0x5eed_2026_1206;
const DOCS: usize = 300;

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// True with probability `pct` %.
    fn pct(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Object type → its fields: (name, named result type, argument names).
type Objects = HashMap<String, Vec<(String, String, Vec<String>)>>;

fn objects() -> Objects {
    let doc = parse_schema(leadgraph::graphql::schema::export_sdl()).unwrap();
    let mut out = Objects::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let t = t.node;
        let fields = match t.kind {
            TypeKind::Object(o) => o.fields,
            TypeKind::Interface(i) => i.fields,
            _ => continue,
        };
        let fields = fields
            .iter()
            .map(|f| {
                let ty = f.node.ty.node.to_string();
                let named = ty.trim_matches(|c| c == '[' || c == ']' || c == '!');
                let args = f
                    .node
                    .arguments
                    .iter()
                    .map(|a| a.node.name.node.to_string())
                    .collect();
                (f.node.name.node.to_string(), named.to_string(), args)
            })
            .collect();
        out.insert(t.name.node.to_string(), fields);
    }
    out
}

const ORDERS: &[&str] = &[
    "null",
    r#"{"field": "CREATED_AT", "direction": "ASC"}"#,
    r#"{"field": "SCORE", "direction": "DESC"}"#,
    r#"{"field": "SCORE", "direction": "ASC"}"#,
    r#"{"field": "COMPANY", "direction": "ASC"}"#,
    r#"{"field": "COMPANY", "direction": "DESC"}"#,
    r#"{"field": "LAST_CONTACTED_AT", "direction": "DESC"}"#,
    r#"{"field": "UPDATED_AT", "direction": "ASC"}"#,
];

/// `campaigns(filter:)` values (the newest-first root).
const CAMPAIGN_FILTERS: &[&str] = &[
    r#"{}"#,
    r#"{"status": ["RUNNING", "DRAFT", "COMPLETED"]}"#,
    r#"{"status": []}"#,
    r#"{"search": "campaign 1"}"#,
    r#"{"search": "✓", "status": ["PAUSED"]}"#,
];

/// `auditLogs(filter:)` values.
const AUDIT_FILTERS: &[&str] = &[
    r#"{}"#,
    r#"{"action": "lead.update"}"#,
    r#"{"outcome": "FAILURE", "resourceType": "lead"}"#,
    r#"{"createdAfter": "2026-05-29T06:00:00+00:00"}"#,
    r#"{"createdBefore": "2026-05-29T06:00:00+00:00", "action": "lead.create"}"#,
];

/// The newest-first roots after `leads`, in the order of their cursor lists (after the
/// leads' ones, one per [`ORDERS`]).
const NEWEST_ROOTS: &[&str] = &["campaigns", "notifications", "auditLogs", "scrapeJobs"];

/// `scrapeJobs(filter:)` values.
const SCRAPE_FILTERS: &[&str] = &[
    r#"{}"#,
    r#"{"status": ["SUCCEEDED", "QUEUED"]}"#,
    r#"{"source": ["GOOGLE_MAPS"]}"#,
    r#"{"status": [], "source": ["WEBSITE", "SEARCH"]}"#,
];

const FILTERS: &[&str] = &[
    r#"{}"#,
    r#"{"status": ["NEW", "QUALIFIED"]}"#,
    r#"{"source": ["OTHER", "IMPORT"]}"#,
    r#"{"tags": {"any": ["zeta", "b2b"]}}"#,
    r#"{"tags": {"all": ["alpha", "b2b"]}, "hasEmail": true}"#,
    r#"{"minScore": 20, "maxScore": 70}"#,
    r#"{"hasPhone": false, "city": "Berlin"}"#,
    r#"{"search": "acme"}"#,
    r#"{"country": "DE", "hasEmail": false}"#,
];

/// Input fields whose strings are enum values.
const ENUM_KEYS: &[&str] = &["field", "direction", "status", "source"];

/// A JSON input value written as a GraphQL literal (strings under [`ENUM_KEYS`] as enum values).
fn literal(v: &Value, enum_key: bool) -> String {
    match v {
        Value::Object(m) => {
            let fields: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}: {}", literal(v, ENUM_KEYS.contains(&k.as_str()))))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(|v| literal(v, enum_key)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::String(s) if enum_key => s.clone(),
        other => other.to_string(),
    }
}

/// One generated document.
struct Doc {
    query: String,
    variables: Value,
    /// Whether everything in it is something the compiler covers.
    covered: bool,
    /// The response keys it selects, in order.
    keys: Keys,
}

/// The generator's state for one document.
struct Gen<'a> {
    rng: &'a mut Rng,
    objects: &'a Objects,
    /// Cursors of the org's leads under each of [`ORDERS`].
    cursors: &'a [Vec<String>],
    covered: bool,
    names: usize,
    variables: Vec<(String, String, Value)>,
    fragments: Vec<String>,
}

impl Gen<'_> {
    fn name(&mut self, prefix: &str) -> String {
        self.names += 1;
        format!("{prefix}{}", self.names)
    }

    /// `value` as a literal or, sometimes, a variable of type `ty`.
    fn value(&mut self, ty: &str, value: Value) -> String {
        if self.rng.pct(40) {
            let name = self.name("v");
            self.variables.push((name.clone(), ty.into(), value));
            format!("${name}")
        } else {
            value.to_string()
        }
    }

    fn leads_args(&mut self) -> String {
        let mut args = Vec::new();
        let order = self.rng.below(ORDERS.len());
        if order > 0 || self.rng.pct(20) {
            let value: Value = serde_json::from_str(ORDERS[order]).unwrap();
            if self.rng.pct(30) && order > 0 {
                // A literal input object in canonical form: compiled.
                args.push(format!("orderBy: {}", literal(&value, false)));
            } else {
                let name = self.name("o");
                self.variables
                    .push((name.clone(), "LeadOrder".into(), value));
                args.push(format!("orderBy: ${name}"));
            }
        }
        if self.rng.pct(40) {
            let text = FILTERS[self.rng.below(FILTERS.len())];
            let filter: Value = serde_json::from_str(text).unwrap();
            if self.rng.pct(5) {
                // One value for a list: valid, but not canonical, so left to the resolvers.
                self.covered = false;
                args.push("filter: {status: NEW, hasEmail: true}".into());
            } else if self.rng.pct(30) {
                args.push(format!("filter: {}", literal(&filter, false)));
            } else {
                let name = self.name("f");
                self.variables
                    .push((name.clone(), "LeadFilter".into(), filter));
                args.push(format!("filter: ${name}"));
            }
        }
        let cursors = &self.cursors[order];
        if self.rng.pct(12) {
            let n = *self.rng.pick(&[1, 3, 10]);
            let v = self.value("Int", json!(n));
            args.push(format!("last: {v}"));
            if !cursors.is_empty() && self.rng.pct(70) {
                let c = self.rng.pick(cursors).clone();
                let v = self.value("String", json!(c));
                args.push(format!("before: {v}"));
            }
        } else {
            if self.rng.pct(80) {
                let n = *self.rng.pick(&[0, 1, 2, 7, 25, 50, 50, 60, 200, 201]);
                let v = self.value("Int", json!(n));
                args.push(format!("first: {v}"));
            }
            if !cursors.is_empty() && self.rng.pct(20) {
                let c = if self.rng.pct(10) {
                    "nope".to_string()
                } else {
                    self.rng.pick(cursors).clone()
                };
                let v = self.value("String", json!(c));
                args.push(format!("after: {v}"));
            }
        }
        if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        }
    }

    /// A `filter` argument of type `ty` from `values` (a literal in canonical form, a
    /// variable, or now and then `odd`: valid but not canonical, left to the resolvers).
    fn filter_arg(&mut self, args: &mut Vec<String>, ty: &str, values: &[&str], odd: &str) {
        let filter: Value = serde_json::from_str(values[self.rng.below(values.len())]).unwrap();
        if self.rng.pct(5) {
            self.covered = false;
            args.push(odd.into());
        } else if self.rng.pct(40) {
            args.push(format!("filter: {}", literal(&filter, false)));
        } else {
            let name = self.name("f");
            self.variables.push((name.clone(), ty.into(), filter));
            args.push(format!("filter: ${name}"));
        }
    }

    /// Arguments of a newest-first root (one of [`NEWEST_ROOTS`]).
    fn root_args(&mut self, field: &str) -> String {
        let mut args = Vec::new();
        match field {
            "campaigns" if self.rng.pct(35) => self.filter_arg(
                &mut args,
                "CampaignFilter",
                CAMPAIGN_FILTERS,
                "filter: {status: RUNNING}",
            ),
            "auditLogs" if self.rng.pct(35) => self.filter_arg(
                &mut args,
                "AuditLogFilter",
                AUDIT_FILTERS,
                "filter: {createdAfter: \"2026-05-29T06:00:00Z\"}",
            ),
            "scrapeJobs" if self.rng.pct(35) => self.filter_arg(
                &mut args,
                "ScrapeJobFilter",
                SCRAPE_FILTERS,
                "filter: {status: RUNNING}",
            ),
            "notifications" if self.rng.pct(35) => {
                let unread = self.rng.pct(50);
                let v = self.value("Boolean", json!(unread));
                args.push(format!("unreadOnly: {v}"));
            }
            _ => {}
        }
        let slot = ORDERS.len() + NEWEST_ROOTS.iter().position(|r| *r == field).unwrap();
        let cursors = self.cursors.get(slot).cloned().unwrap_or_default();
        // `scrapeJobs` pages forward only.
        if field != "scrapeJobs" && self.rng.pct(12) {
            let n = *self.rng.pick(&[1, 2, 5]);
            let v = self.value("Int", json!(n));
            args.push(format!("last: {v}"));
            if !cursors.is_empty() && self.rng.pct(70) {
                let c = self.rng.pick(&cursors).clone();
                let v = self.value("String", json!(c));
                args.push(format!("before: {v}"));
            }
        } else {
            if self.rng.pct(80) {
                let n = *self.rng.pick(&[0, 1, 2, 3, 7, 10, 201]);
                let v = self.value("Int", json!(n));
                args.push(format!("first: {v}"));
            }
            if !cursors.is_empty() && self.rng.pct(20) {
                let c = self.rng.pick(&cursors).clone();
                let v = self.value("String", json!(c));
                args.push(format!("after: {v}"));
            }
        }
        if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        }
    }

    /// Arguments of `Campaign.recipients`: compiled for a first page without a status filter.
    fn recipients_args(&mut self) -> String {
        match self.rng.below(9) {
            0 => String::new(),
            1 => "(first: 0)".into(),
            2 => "(first: 1)".into(),
            3 => {
                let v = self.value("Int", json!(3));
                format!("(first: {v})")
            }
            4 => "(first: 25)".into(),
            5 => "(first: 60)".into(),
            6 => {
                self.covered = false;
                "(first: 2, status: [SENT, OPENED])".into()
            }
            7 => {
                self.covered = false;
                "(last: 2)".into()
            }
            _ => "(first: 2)".into(),
        }
    }

    /// Arguments of `lead(id:)`: a lead of the viewer's organization, of the other one, a
    /// missing id, or one that is not a UUID (left to the resolvers).
    fn lead_args(&mut self) -> String {
        let ids = self.cursors.last().cloned().unwrap_or_default();
        let id = match self.rng.below(10) {
            0 => Uuid::nil().to_string(),
            1 => {
                self.covered = false;
                "nope".to_string()
            }
            _ if !ids.is_empty() => self.rng.pick(&ids).clone(),
            _ => Uuid::nil().to_string(),
        };
        let v = self.value("ID", json!(id));
        format!("(id: {v})")
    }

    /// Arguments of `ScrapeJob.leads`: compiled for a first page (no cursor).
    fn job_leads_args(&mut self) -> String {
        match self.rng.below(7) {
            0 => String::new(),
            1 => "(first: 0)".into(),
            2 => "(first: 1)".into(),
            3 => {
                let v = self.value("Int", json!(3));
                format!("(first: {v})")
            }
            4 => "(first: 25)".into(),
            5 => {
                self.covered = false;
                "(first: 2, after: \"AAAA\")".into()
            }
            _ => "(first: 2)".into(),
        }
    }

    fn notes_args(&mut self) -> String {
        let mut args = Vec::new();
        let first = *self.rng.pick(&[
            None,
            Some(0),
            Some(1),
            Some(3),
            Some(20),
            Some(50),
            Some(51),
        ]);
        let after = self.rng.pct(4);
        // The one definition of the pages the compiler covers (the resolvers' batched ones).
        if batched_child_page(first, after.then_some("x")).is_none() {
            self.covered = false;
        }
        if let Some(n) = first {
            let v = self.value("Int", json!(n));
            args.push(format!("first: {v}"));
        }
        if after {
            args.push("after: \"AAAA\"".into());
        }
        if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        }
    }

    /// A selection set on the object reached through `c`, with its response keys in order.
    fn selection(&mut self, c: &Covered, depth: usize) -> (String, Keys) {
        let fields = self.objects[c.type_name].clone();
        let mut candidates: Vec<usize> = (0..fields.len())
            .filter(|&i| !c.resolvers_only.contains(&fields[i].0.as_str()))
            .collect();
        let others: Vec<usize> = (0..fields.len())
            .filter(|&i| c.resolvers_only.contains(&fields[i].0.as_str()))
            .collect();
        // Fisher–Yates, then a random prefix.
        for i in (1..candidates.len()).rev() {
            let j = self.rng.below(i + 1);
            candidates.swap(i, j);
        }
        let wide = if depth <= 1 { 8 } else { 5 };
        let take = 1 + self.rng.below(wide.min(candidates.len()));
        let mut chosen: Vec<usize> = candidates.into_iter().take(take).collect();
        if !others.is_empty() && self.rng.pct(4) {
            chosen.insert(self.rng.below(chosen.len() + 1), *self.rng.pick(&others));
            self.covered = false;
        }
        let mut items: Vec<Item> = Vec::new();
        if self.rng.pct(15) {
            items.push(leaf("__typename"));
        }
        for i in chosen {
            let (name, ty, args) = &fields[i];
            items.push(self.field(c, name, ty, args, depth, None));
            if self.rng.pct(8) {
                // The same field again under an alias.
                let alias = self.name("k");
                items.push(self.field(c, name, ty, args, depth, Some(alias)));
            }
        }
        if self.rng.pct(2) {
            // The same response key twice (merged by GraphQL): left to the resolvers.
            if let Some(leaf) = fields
                .iter()
                .find(|f| f.2.is_empty() && !self.objects.contains_key(&f.1))
            {
                if !c.resolvers_only.contains(&leaf.0.as_str()) {
                    items.push(self::leaf(&leaf.0));
                    items.push(self::leaf(&leaf.0));
                    self.covered = false;
                }
            }
        }
        if self.rng.pct(3) {
            items.push((
                "__typename @include(if: true)".into(),
                key("__typename", None),
            ));
            self.covered = false;
        }
        self.wrap(c.type_name, items)
    }

    /// One field (alias, arguments, sub-selection).
    fn field(
        &mut self,
        c: &Covered,
        name: &str,
        ty: &str,
        args: &[String],
        depth: usize,
        alias: Option<String>,
    ) -> Item {
        let mut out = String::new();
        let alias = alias.or_else(|| self.rng.pct(15).then(|| self.name("a")));
        if let Some(a) = &alias {
            out.push_str(a);
            out.push_str(": ");
        }
        let response_key = alias.unwrap_or_else(|| name.to_string());
        out.push_str(name);
        if c.type_name == "Lead" && (name == "notes" || name == "timeline") {
            out.push_str(&self.notes_args());
        } else if c.type_name == "ScrapeJob" && name == "leads" {
            out.push_str(&self.job_leads_args());
        } else if c.type_name == "Campaign" && name == "recipients" {
            out.push_str(&self.recipients_args());
        } else if !args.is_empty() && args.iter().any(|a| a == "first") && self.rng.pct(50) {
            out.push_str("(first: 2)");
        }
        let mut sub_keys = None;
        if self.objects.contains_key(ty) {
            let via = format!("{}.{name}", c.type_name);
            let (sub, keys) = match covered(&via) {
                Some(child) if !c.resolvers_only.contains(&name) => {
                    self.selection(child, depth + 1)
                }
                _ => ("__typename".into(), key("__typename", None)),
            };
            out.push_str(&format!(" {{ {sub} }}"));
            sub_keys = Some(keys);
        }
        (out, key(&response_key, sub_keys))
    }

    /// `items`, some of them moved into an inline fragment or a named fragment on `type_name`.
    fn wrap(&mut self, type_name: &str, mut items: Vec<Item>) -> (String, Keys) {
        if items.len() > 1 && self.rng.pct(30) {
            let at = self.rng.below(items.len());
            let n = 1 + self.rng.below(items.len() - at);
            let inner: Vec<Item> = items.drain(at..at + n).collect();
            let keys = Keys(inner.iter().flat_map(|(_, k)| k.0.clone()).collect());
            let inner = inner
                .into_iter()
                .map(|(t, _)| t)
                .collect::<Vec<_>>()
                .join(" ");
            let piece = match self.rng.below(3) {
                0 => format!("... on {type_name} {{ {inner} }}"),
                1 => format!("... {{ {inner} }}"),
                _ => {
                    let name = self.name("F");
                    self.fragments
                        .push(format!("fragment {name} on {type_name} {{ {inner} }}"));
                    format!("...{name}")
                }
            };
            items.insert(at, (piece, keys));
        }
        let keys = Keys(items.iter().flat_map(|(_, k)| k.0.clone()).collect());
        let text = items
            .into_iter()
            .map(|(t, _)| t)
            .collect::<Vec<_>>()
            .join(" ");
        (text, keys)
    }

    fn document(mut self) -> Doc {
        let mut roots = Vec::new();
        let n = if self.rng.pct(10) { 2 } else { 1 };
        for i in 0..n {
            let alias = (i > 0 || self.rng.pct(10)).then(|| self.name("r"));
            // Every covered root: leads (several orders and filters) and the newest-first ones.
            let field = if self.rng.pct(40) {
                "leads"
            } else {
                *self.rng.pick(&[
                    "campaigns",
                    "campaigns",
                    "notifications",
                    "notifications",
                    "auditLogs",
                    "auditLogs",
                    "scrapeJobs",
                    "scrapeJobs",
                    "lead",
                    "lead",
                ])
            };
            let root = covered(&format!("Query.{field}")).unwrap();
            let args = match field {
                "leads" => self.leads_args(),
                "lead" => self.lead_args(),
                _ => self.root_args(field),
            };
            let (sel, keys) = self.selection(root, 0);
            let text = match &alias {
                Some(a) => format!("{a}: {field}{args} {{ {sel} }}"),
                None => format!("{field}{args} {{ {sel} }}"),
            };
            roots.push((text, key(alias.as_deref().unwrap_or(field), Some(keys))));
        }
        if self.rng.pct(10) {
            roots.push(leaf("__typename"));
        }
        if self.rng.pct(4) {
            roots.push(("organization { id }".into(), key("organization", None)));
            self.covered = false;
        }
        let (body, keys) = self.wrap("Query", roots);
        let defs: Vec<String> = self
            .variables
            .iter()
            .map(|(n, t, _)| format!("${n}: {t}"))
            .collect();
        let head = if defs.is_empty() && self.rng.pct(50) {
            String::new()
        } else if defs.is_empty() {
            "query Generated ".into()
        } else {
            format!("query Generated({}) ", defs.join(", "))
        };
        let mut query = format!("{head}{{ {body} }}");
        for f in &self.fragments {
            query.push(' ');
            query.push_str(f);
        }
        let variables = Value::Object(self.variables.into_iter().map(|(n, _, v)| (n, v)).collect());
        Doc {
            query,
            variables,
            covered: self.covered,
            keys,
        }
    }
}

/// Response keys of a selection set in order, each with its sub-selection's.
#[derive(Clone, Debug)]
struct Keys(Vec<(String, Option<Keys>)>);

/// A selection's text and its response keys.
type Item = (String, Keys);

fn key(name: &str, sub: Option<Keys>) -> Keys {
    Keys(vec![(name.to_string(), sub)])
}

fn leaf(name: &str) -> Item {
    (name.to_string(), key(name, None))
}

/// A JSON text parsed with its objects' keys kept in order (values other than objects and
/// arrays are not kept).
enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Other,
}

fn parse_ordered(text: &str) -> Option<Ordered> {
    fn ws(b: &[u8], i: &mut usize) {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    }
    fn string(b: &[u8], i: &mut usize) -> Option<String> {
        let start = *i + 1;
        *i += 1;
        while *i < b.len() && b[*i] != b'"' {
            *i += if b[*i] == b'\\' { 2 } else { 1 };
        }
        let s = std::str::from_utf8(b.get(start..*i)?).ok()?.to_string();
        *i += 1;
        Some(s)
    }
    fn value(b: &[u8], i: &mut usize) -> Option<Ordered> {
        ws(b, i);
        match *b.get(*i)? {
            b'{' => {
                *i += 1;
                let mut out = Vec::new();
                loop {
                    ws(b, i);
                    match *b.get(*i)? {
                        b'}' => {
                            *i += 1;
                            return Some(Ordered::Object(out));
                        }
                        b',' => *i += 1,
                        b'"' => {
                            let k = string(b, i)?;
                            ws(b, i);
                            (*b.get(*i)? == b':').then_some(())?;
                            *i += 1;
                            out.push((k, value(b, i)?));
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                *i += 1;
                let mut out = Vec::new();
                loop {
                    ws(b, i);
                    match *b.get(*i)? {
                        b']' => {
                            *i += 1;
                            return Some(Ordered::Array(out));
                        }
                        b',' => *i += 1,
                        _ => out.push(value(b, i)?),
                    }
                }
            }
            b'"' => string(b, i).map(|_| Ordered::Other),
            _ => {
                while *i < b.len() && !b",]} \n\t\r".contains(&b[*i]) {
                    *i += 1;
                }
                Some(Ordered::Other)
            }
        }
    }
    let b = text.as_bytes();
    let mut i = 0;
    value(b, &mut i)
}

/// Whether every object of `v` has exactly the keys of its selection set, in order.
fn keys_match(v: &Ordered, keys: &Keys, path: &str) -> Result<(), String> {
    match v {
        Ordered::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(n, item)| keys_match(item, keys, &format!("{path}[{n}]"))),
        Ordered::Object(fields) => {
            let got: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            let want: Vec<&str> = keys.0.iter().map(|(k, _)| k.as_str()).collect();
            if got != want {
                return Err(format!("{path}: keys {got:?}, selected {want:?}"));
            }
            for ((k, value), (_, sub)) in fields.iter().zip(&keys.0) {
                if let Some(sub) = sub {
                    keys_match(value, sub, &format!("{path}.{k}"))?;
                }
            }
            Ok(())
        }
        Ordered::Other => Ok(()),
    }
}

/// `keys_match` on the `data` of a response text.
fn data_keys_match(text: &str, keys: &Keys) -> Result<(), String> {
    match parse_ordered(text) {
        Some(Ordered::Object(top)) => match top.iter().find(|(k, _)| k == "data") {
            Some((_, data)) => keys_match(data, keys, "data"),
            None => Err("no data".into()),
        },
        _ => Err("not a JSON object".into()),
    }
}

/// Numbers compared as f64.
fn normalized(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(normalized).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    // Errors come in the order their fields completed, which GraphQL leaves
                    // open (two documents with a root error and field errors at once
                    // differed only in that order): compared as a set.
                    ("errors", Value::Array(a)) => {
                        let mut items: Vec<Value> = a.iter().map(normalized).collect();
                        items.sort_by_key(|e| e.to_string());
                        (k.clone(), Value::Array(items))
                    }
                    _ => (k.clone(), normalized(v)),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn at(hours: i64, nanos: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_780_000_000 + hours * 3_600, nanos)
        .unwrap()
}

const FRACTIONS: [u32; 5] = [0, 120_000_000, 123_456_000, 5_000, 999_999_000];

async fn seed_users(db: &sea_orm::DatabaseConnection) -> Vec<Uuid> {
    let mut users = Vec::new();
    for (k, name) in ["Olga \"O\" Owner", "Ünïcødé \\ 𝄞", "Plain"]
        .iter()
        .enumerate()
    {
        let id = Uuid::now_v7();
        entity::user::ActiveModel {
            id: Set(id),
            email: Set(format!("owner{k}-{}@example.com", id.simple())),
            name: Set(name.to_string()),
            password_hash: Set("x".into()),
            email_verified_at: Set((k != 1).then(|| at(0, 0))),
            avatar_file_id: Set(None),
            created_at: Set(at(-5, FRACTIONS[k + 1])),
            updated_at: Set(at(0, 0)),
        }
        .insert(db)
        .await
        .unwrap();
        users.push(id);
    }
    users
}

/// A template of `org` (campaigns of another organization may point at it: they must read
/// it as null).
async fn seed_template(db: &sea_orm::DatabaseConnection, org: Uuid, k: usize) -> Uuid {
    let id = Uuid::now_v7();
    entity::email_template::ActiveModel {
        id: Set(id),
        org_id: Set(org),
        name: Set(format!("Template {k} \"t\" ✓")),
        category: Set(k.is_multiple_of(2).then(|| "intro".to_string())),
        subject: Set(format!("Hi {{{{ lead.firstName }}}} {k}")),
        body_html: Set("<p>Hello \\ there</p>".into()),
        body_text: Set("Hello\n".into()),
        favorite: Set(k % 2 == 1),
        ai_generated: Set(k == 0),
        created_by: Set(None),
        created_at: Set(at(k as i64, FRACTIONS[k % 5])),
        updated_at: Set(at(k as i64 + 1, 0)),
    }
    .insert(db)
    .await
    .unwrap();
    id
}

async fn seed_campaigns(app: &TestApp, org: Uuid) -> Vec<Uuid> {
    let db = &app.state.db;
    // Templates: two of the organization, one of a third one.
    let stranger = Uuid::now_v7();
    app.ensure_org(stranger).await;
    let templates = [
        Some(seed_template(db, org, 0).await),
        None,
        Some(seed_template(db, org, 1).await),
        Some(seed_template(db, stranger, 2).await),
    ];
    let statuses = [
        "DRAFT",
        "RUNNING",
        "PAUSED",
        "COMPLETED",
        "weird",
        "SCHEDULED",
        "FAILED",
    ];
    let mut out = Vec::new();
    for (k, status) in statuses.iter().enumerate() {
        let id = Uuid::now_v7();
        entity::campaign::ActiveModel {
            id: Set(id),
            org_id: Set(org),
            name: Set(format!("Campaign {k} \"q\" \\ ✓\n")),
            template_id: Set(templates[k % templates.len()]),
            reply_to: Set((k % 2 == 0).then(|| "reply@example.com".to_string())),
            send_rate_per_minute: Set((k % 3 == 1).then_some(60)),
            launched_at: Set((k > 1).then(|| at(k as i64, FRACTIONS[k % 5]))),
            last_error: Set((k == 6).then(|| "smtp: 550 \"no\"".to_string())),
            from_name: Set("Us".into()),
            from_email: Set("us@example.com".into()),
            status: Set(status.to_string()),
            variants: Set(json!([])),
            created_at: Set(at(k as i64, 0)),
            updated_at: Set(at(k as i64, 0)),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        out.push(id);
    }
    out
}

/// 60 leads in `org` with NULLs in every nullable column, ties in every sort key, odd stored
/// enum values, up to 55 notes and up to 7 campaigns each.
async fn seed(app: &TestApp, org: Uuid) {
    let db = &app.state.db;
    let users = seed_users(db).await;
    let campaigns = seed_campaigns(app, org).await;
    seed_audit(app, org, users[0]).await;
    let floats = [
        52.5,
        13.0,
        -0.1,
        0.300_000_000_000_000_04,
        1e-7,
        123_456_789.125,
    ];
    let tags = ["b2b", "alpha", "zeta", "ünï", "a b"];
    for i in 0..60i64 {
        let k = i as usize;
        let id = Uuid::now_v7();
        entity::lead::ActiveModel {
            id: Set(id),
            org_id: Set(org),
            first_name: Set(match k % 5 {
                0 => None,
                1 => Some(String::new()),
                _ => Some(format!("Ann{i} ß")),
            }),
            last_name: Set((!k.is_multiple_of(3)).then(|| "O'Neil \"Q\" \\ back".to_string())),
            email: Set((!k.is_multiple_of(4)).then(|| format!("lead{i}@acme{}.test", k % 2))),
            phone: Set((k % 3 != 1).then(|| format!("+1415555{i:04}"))),
            company: Set(if k.is_multiple_of(6) {
                String::new()
            } else {
                format!("Acme {}", k % 7)
            }),
            title: Set((k % 2 == 1).then(|| "VP Ünïcode\nline\t\u{1} end".to_string())),
            website: Set((k.is_multiple_of(3)).then(|| format!("https://acme{i}.test/"))),
            industry: Set((k % 4 == 1).then(|| "Software".to_string())),
            city: Set(match k % 3 {
                0 => None,
                1 => Some("Berlin".into()),
                _ => Some("Paris".into()),
            }),
            region: Set((k % 5 == 2).then(|| "Île-de-France".to_string())),
            country: Set((k % 4 != 3).then(|| "DE".to_string())),
            latitude: Set((!k.is_multiple_of(3)).then(|| floats[k % floats.len()])),
            longitude: Set((!k.is_multiple_of(4)).then(|| floats[(k + 2) % floats.len()])),
            source: Set(["MANUAL", "IMPORT", "WEBSITE", "legacy", "OTHER"][k % 5].into()),
            status: Set(["NEW", "QUALIFIED", "CONTACTED", "weird", "LOST"][k % 5].into()),
            score: Set((i * 37 % 101) as i32 % 100),
            score_reasons: Set(json!([])),
            custom_fields: Set(json!({"k": i})),
            provenance: Set(json!({})),
            owner_id: Set(match k % 4 {
                0 => None,
                n => Some(users[n - 1]),
            }),
            last_contacted_at: Set((!k.is_multiple_of(3)).then(|| at(i % 7, FRACTIONS[k % 5]))),
            created_at: Set(at(i / 3, FRACTIONS[k % 5])),
            updated_at: Set(at(i % 11, FRACTIONS[(k + 2) % 5])),
            email_status: Set(None),
            validated_at: Set(None),
            phone_type: Set(None),
            phone_carrier: Set(None),
            phone_country: Set(None),
        }
        .insert(db)
        .await
        .unwrap();
        let lead_tags: Vec<_> = tags
            .iter()
            .take(k % 6)
            .map(|t| entity::lead_tag::ActiveModel {
                lead_id: Set(id),
                tag: Set(t.to_string()),
                org_id: Set(org),
            })
            .collect();
        if !lead_tags.is_empty() {
            entity::lead_tag::Entity::insert_many(lead_tags)
                .exec(db)
                .await
                .unwrap();
        }
        let notes: Vec<_> = (0..[0, 1, 3, 21, 55][k % 5])
            .map(|n: usize| entity::lead_note::ActiveModel {
                id: Set(Uuid::now_v7()),
                lead_id: Set(id),
                org_id: Set(org),
                author_id: Set((!n.is_multiple_of(3)).then_some(users[n % 3])),
                body: Set(format!("note {n} of {i}: \"quoted\" \t tab \\ ✓")),
                created_at: Set(at(i, FRACTIONS[n % 5])),
                updated_at: Set(at(i, 0) + Duration::microseconds(n as i64 * 7)),
            })
            .collect();
        if !notes.is_empty() {
            entity::lead_note::Entity::insert_many(notes)
                .exec(db)
                .await
                .unwrap();
        }
        let statuses = ["PENDING", "SENT", "OPENED", "weird", "BOUNCED", "FAILED"];
        let recipients: Vec<_> = campaigns
            .iter()
            .enumerate()
            .take(k % 8)
            .map(|(j, c)| entity::campaign_recipient::ActiveModel {
                id: Set(Uuid::now_v7()),
                campaign_id: Set(*c),
                org_id: Set(org),
                lead_id: Set(Some(id)),
                email: Set(format!("{id}-{j}@r.test")),
                status: Set(statuses[(k + j) % statuses.len()].into()),
                message_id: Set(format!("m-{id}-{j}")),
                attempts: Set(1),
                open_count: Set(0),
                click_count: Set(0),
                sent_at: Set((!(k + j).is_multiple_of(3)).then(|| at(i, FRACTIONS[j % 5]))),
                last_event_at: Set(((k + j) % 4 == 1).then(|| at(i + 1, FRACTIONS[(j + 1) % 5]))),
                created_at: Set(at(i, 0)),
                updated_at: Set(at(i, 0)),
                ..Default::default()
            })
            .collect();
        if !recipients.is_empty() {
            entity::campaign_recipient::Entity::insert_many(recipients)
                .exec(db)
                .await
                .unwrap();
        }
    }
    // Recipients whose lead was deleted (the foreign key is set null).
    for j in 0..3 {
        entity::campaign_recipient::ActiveModel {
            id: Set(Uuid::now_v7()),
            campaign_id: Set(campaigns[j]),
            org_id: Set(org),
            lead_id: Set(None),
            email: Set(format!("gone{j}@r.test")),
            status: Set("UNSUBSCRIBED".into()),
            message_id: Set(format!("m-gone-{j}-{org}")),
            attempts: Set(2),
            open_count: Set(3),
            click_count: Set(1),
            unsubscribed_at: Set(Some(at(70, FRACTIONS[j]))),
            created_at: Set(at(70, 0)),
            updated_at: Set(at(70, 0)),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
    }
    seed_jobs_and_timeline(app, org).await;
}

/// Notifications of `user` (the list is a person's own): every type, an odd stored one, read
/// and unread, NULLs in every nullable column.
async fn seed_notifications(app: &TestApp, org: Uuid, user: Uuid) {
    let types = [
        "LEAD_ASSIGNED",
        "JOB_FAILED",
        "weird",
        "ANNOUNCEMENT",
        "APPROVAL_PENDING",
    ];
    let rows: Vec<_> = (0..13usize)
        .map(|k| entity::notification::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org),
            user_id: Set(user),
            notification_type: Set(types[k % types.len()].into()),
            title: Set(format!("Title {k} \"q\" ✓")),
            body: Set(if k % 4 == 0 {
                String::new()
            } else {
                format!("body\n{k}\t\\")
            }),
            link: Set((k % 3 == 0).then(|| format!("/leads/{k}"))),
            resource_type: Set((k % 2 == 0).then(|| "lead".to_string())),
            resource_id: Set((k % 2 == 0).then(|| format!("r-{k}"))),
            read_at: Set((k % 3 == 1).then(|| at(k as i64, FRACTIONS[k % 5]))),
            created_at: Set(at(k as i64, FRACTIONS[(k + 1) % 5])),
        })
        .collect();
    entity::notification::Entity::insert_many(rows)
        .exec(&app.state.db)
        .await
        .unwrap();
}

/// Audit rows of `org`: every outcome, actions the filters pick, NULLs everywhere.
async fn seed_audit(app: &TestApp, org: Uuid, actor: Uuid) {
    let actions = [
        "lead.create",
        "lead.update",
        "campaign.launch",
        "auth.login",
    ];
    let rows: Vec<_> = (0..37usize)
        .map(|k| entity::audit_log::ActiveModel {
            id: Set(Uuid::now_v7()),
            org_id: Set(org),
            actor_user_id: Set((k % 3 != 0).then_some(actor)),
            actor_api_key_id: Set(None),
            action: Set(actions[k % actions.len()].into()),
            resource_type: Set((k % 4 != 3).then(|| "lead".to_string())),
            resource_id: Set((k % 5 != 0).then(|| format!("id-{k}"))),
            outcome: Set(if k % 6 == 0 { "FAILURE" } else { "SUCCESS" }.into()),
            ip: Set((k % 2 == 0).then(|| "203.0.113.7".to_string())),
            user_agent: Set((k % 3 == 1).then(|| "Mozilla/5.0 \"x\"".to_string())),
            request_id: Set((k % 4 == 1).then(|| format!("req-{k}"))),
            changes: Set(None),
            created_at: Set(at(k as i64 / 2, FRACTIONS[k % 5])),
        })
        .collect();
    entity::audit_log::Entity::insert_many(rows)
        .exec(&app.state.db)
        .await
        .unwrap();
}

/// One viewer, with a token for each app.
struct Who {
    label: String,
    compiled: String,
    resolvers: String,
}

async fn viewers(compiled: &TestApp, resolvers: &TestApp, orgs: &[Uuid]) -> Vec<Who> {
    let mut out = Vec::new();
    for (k, org) in orgs.iter().enumerate() {
        for role in [Role::Viewer, Role::Member, Role::Admin] {
            let (user, token) = compiled.member(*org, role, "Diff").await;
            seed_notifications(compiled, *org, user).await;
            out.push(Who {
                label: format!("{} of org {k}", role.as_str()),
                compiled: token,
                resolvers: resolvers.session_token(user, *org, role).await,
            });
        }
    }
    out
}

/// Cursors of the leads visible to `token` under each of [`ORDERS`], then of each of
/// [`NEWEST_ROOTS`] as `admin` sees them, then the ids of the leads `admin` sees.
async fn cursors(app: &TestApp, token: &str, admin: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for order in ORDERS {
        let order: Value = serde_json::from_str(order).unwrap();
        let v = app
            .gql(
                Some(token),
                "query($o: LeadOrder) { leads(first: 200, orderBy: $o) { edges { cursor } } }",
                json!({"o": order}),
            )
            .await;
        let edges = v["data"]["leads"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"));
        out.push(
            edges
                .iter()
                .map(|e| e["cursor"].as_str().unwrap().to_string())
                .collect(),
        );
    }
    for root in NEWEST_ROOTS {
        let v = app
            .gql(
                Some(admin),
                &format!("{{ {root}(first: 200) {{ edges {{ cursor }} }} }}"),
                json!({}),
            )
            .await;
        let edges = v["data"][root]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"));
        out.push(
            edges
                .iter()
                .map(|e| e["cursor"].as_str().unwrap().to_string())
                .collect(),
        );
    }
    // Last: lead ids for `lead(id:)`.
    let v = app
        .gql(
            Some(admin),
            "{ leads(first: 200) { nodes { id } } }",
            json!({}),
        )
        .await;
    let nodes = v["data"]["leads"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    out.push(
        nodes
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect(),
    );
    out
}

async fn text(app: &TestApp, token: &str, doc: &Doc) -> String {
    app.gql_raw(
        Some(token),
        json!({"query": doc.query, "variables": doc.variables}),
    )
    .await
    .text()
    .await
    .unwrap()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_generated_documents_answer_the_same_both_ways() {
    crate::helpers::require_postgres();
    let seed_value = env_or("LG_DIFF_SEED", SEED);
    let docs = env_or("LG_DIFF_DOCS", DOCS);
    let compiled = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let resolvers = TestApp::spawn_with(Options {
        db_url: Some(compiled.db_url.clone()),
        env: HashMap::from([("COMPILED_READS".to_string(), "false".to_string())]),
        ..Default::default()
    })
    .await;
    let orgs = [Uuid::now_v7(), Uuid::now_v7()];
    for org in orgs {
        compiled.ensure_org(org).await;
        seed(&compiled, org).await;
    }
    let who = viewers(&compiled, &resolvers, &orgs).await;
    let cursors = cursors(&resolvers, &who[0].resolvers, &who[2].resolvers).await;
    let objects = objects();
    let mut rng = Rng(seed_value | 1);
    let (mut ran_compiled, mut fell_back, mut resolver_order) = (0usize, 0usize, 0usize);
    // Runs answered by a compiled statement of each root (every covered root is exercised).
    let mut compiled_roots: HashMap<&str, usize> = HashMap::new();
    let mut failures = Vec::new();
    for d in 0..docs {
        let doc = Gen {
            rng: &mut rng,
            objects: &objects,
            cursors: &cursors,
            covered: true,
            names: 0,
            variables: Vec::new(),
            fragments: Vec::new(),
        }
        .document();
        for w in &who {
            compiled.state.sql_log.take();
            let c = text(&compiled, &w.compiled, &doc).await;
            let stmts = compiled.request_statements();
            let r = text(&resolvers, &w.resolvers, &doc).await;
            let (cv, rv): (Value, Value) = (
                serde_json::from_str(&c).unwrap_or(Value::Null),
                serde_json::from_str(&r).unwrap_or(Value::Null),
            );
            let was_compiled = stmts
                .iter()
                .any(|s| s.contains("lg_id") || s.contains("lg_node"));
            let expected = doc.covered && rv.get("errors").is_none();
            if was_compiled {
                ran_compiled += 1;
                if stmts.iter().any(|s| s.contains("lg_node0 FROM leads")) {
                    *compiled_roots.entry("lead").or_default() += 1;
                }
                for root in [
                    "leads",
                    "campaigns",
                    "notifications",
                    "audit_logs",
                    "scrape_jobs",
                ] {
                    if stmts
                        .iter()
                        .any(|s| s.contains(&format!("FROM \"{root}\"")))
                    {
                        *compiled_roots.entry(root).or_default() += 1;
                    }
                }
            } else {
                fell_back += 1;
            }
            let mut wrong = Vec::new();
            if normalized(&cv) != normalized(&rv) {
                wrong.push("the answers differ".to_string());
            }
            // The spec's order (selection order, fragments in place). The resolvers do not
            // keep it (async-graphql 7.2 collects a query's fields as they complete), so their
            // order is only counted.
            if was_compiled {
                if let Err(e) = data_keys_match(&c, &doc.keys) {
                    wrong.push(format!("compiled keys out of selection order: {e}"));
                }
            }
            if rv.get("errors").is_none() && data_keys_match(&r, &doc.keys).is_err() {
                resolver_order += 1;
            }
            if was_compiled != expected {
                wrong.push(
                    if expected {
                        "covered, but not compiled"
                    } else {
                        "compiled, but not covered"
                    }
                    .to_string(),
                );
            }
            if !wrong.is_empty() {
                failures.push(format!(
                    "seed {seed_value:#x}, document {d}, {}: {}\n  query: {}\n  variables: {}\n  \
                     compiled:  {c}\n  resolvers: {r}\n  statements: {stmts:?}",
                    w.label,
                    wrong.join(", "),
                    doc.query,
                    doc.variables
                ));
            }
        }
    }
    eprintln!(
        "compiled_diff: seed {seed_value:#x}, {docs} documents × {} viewers: {ran_compiled} \
         compiled ({compiled_roots:?}), {fell_back} fell back, {} failures; the resolvers' keys \
         were out of selection order in {resolver_order} answers",
        who.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} runs failed (LG_DIFF_SEED={seed_value:#x}); the first ones:\n{}",
        failures.len(),
        docs * who.len(),
        failures
            .iter()
            .take(4)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    // Not vacuous: most documents ran compiled, and the fallback was exercised too.
    assert!(
        ran_compiled * 2 > docs * who.len(),
        "{ran_compiled} compiled"
    );
    assert!(fell_back * 20 > docs * who.len(), "{fell_back} fell back");
    for root in [
        "leads",
        "campaigns",
        "notifications",
        "audit_logs",
        "scrape_jobs",
        "lead",
    ] {
        let n = compiled_roots.get(root).copied().unwrap_or(0);
        assert!(n * 60 > docs * who.len(), "{root}: {n} runs compiled");
    }
}

/// The generator is deterministic: the same seed gives the same documents.
#[test]
fn the_generator_is_reproducible() {
    let objects = objects();
    let cursors = vec![vec!["c".to_string()]; ORDERS.len() + NEWEST_ROOTS.len() + 1];
    let run = |seed: u64| {
        let mut rng = Rng(seed);
        (0..20)
            .map(|_| {
                let d = Gen {
                    rng: &mut rng,
                    objects: &objects,
                    cursors: &cursors,
                    covered: true,
                    names: 0,
                    variables: Vec::new(),
                    fragments: Vec::new(),
                }
                .document();
                format!("{} {} {}", d.query, d.variables, d.covered)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(SEED), run(SEED));
    assert_ne!(run(SEED), run(SEED + 2));
    let keys = |k: &[(&str, Option<Keys>)]| {
        Keys(k.iter().map(|(n, s)| (n.to_string(), s.clone())).collect())
    };
    let want = keys(&[
        ("b\\\"", None),
        ("c", Some(keys(&[("d", None), ("e", None)]))),
    ]);
    let text = r#"{"data":{"b\"":1.5e-7,"c":[{"d" : "x:,}", "e":[1,{"z":2}]}, null]}}"#;
    assert_eq!(data_keys_match(text, &want), Ok(()));
    let swapped = r#"{"data":{"b\"":1,"c":[{"e":2,"d":1}]}}"#;
    assert!(data_keys_match(swapped, &want).is_err());
}

/// Scrape jobs of `org` (every status, an odd one, some without leads) linked to its leads as
/// the scraper links them (the lead's creation time on the link), and timeline entries (odd
/// kinds, actors or none, tied times) for its leads.
async fn seed_jobs_and_timeline(app: &TestApp, org: Uuid) {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let db = &app.state.db;
    let leads: Vec<Uuid> = entity::lead::Entity::find()
        .filter(entity::lead::Column::OrgId.eq(org))
        .order_by_asc(entity::lead::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.id)
        .collect();
    let statuses = [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "bogus",
    ];
    for i in 0..9usize {
        let job = Uuid::now_v7();
        entity::scrape_job::ActiveModel {
            id: Set(job),
            org_id: Set(org),
            created_by: Set(None),
            source: Set(["WEBSITE", "GOOGLE_MAPS", "SEARCH", "legacy"][i % 4].into()),
            name: Set(format!("Scrape {i} \"q\" ü")),
            params: Set(json!({})),
            status: Set(statuses[i % statuses.len()].into()),
            seeded: Set(true),
            run_attempt: Set(1),
            pages_total: Set(0),
            pages_fetched: Set(0),
            pages_failed: Set(0),
            pages_skipped: Set(0),
            leads_found: Set(0),
            leads_created: Set(0),
            leads_updated: Set(0),
            error: Set((i % 4 == 3).then(|| "tab\there".to_string())),
            started_at: Set((i % 2 == 1).then(|| at(i as i64, FRACTIONS[i % 5]))),
            finished_at: Set((i % 3 == 2).then(|| at(i as i64 + 1, 0))),
            created_at: Set(at(i as i64, 0)),
            updated_at: Set(at(i as i64, FRACTIONS[(i + 1) % 5])),
            ..Default::default()
        }
        .insert(db)
        .await
        .unwrap();
        let links: Vec<_> = leads
            .iter()
            .enumerate()
            .filter(|(k, _)| (k + i) % 3 != 0)
            .take([0, 1, 4, 30, 60, 2, 0, 25, 7][i])
            .map(|(k, lead)| entity::scrape_job_lead::ActiveModel {
                scrape_job_id: Set(job),
                lead_id: Set(*lead),
                org_id: Set(org),
                outcome: Set(["created", "updated"][k % 2].into()),
                url: Set(format!("https://example.com/{k}")),
                created_at: Set(at(k as i64, 0)),
                lead_created_at: Set(None),
            })
            .collect();
        if !links.is_empty() {
            entity::scrape_job_lead::Entity::insert_many(links)
                .exec(db)
                .await
                .unwrap();
        }
    }
    crate::fixtures::link_lead_order(app).await;
    let entries: Vec<_> = leads
        .iter()
        .enumerate()
        .flat_map(|(k, lead)| {
            (0..[0, 2, 5, 21, 55][k % 5]).map(move |n: usize| {
                entity::lead_interaction::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    lead_id: Set(*lead),
                    org_id: Set(org),
                    kind: Set(
                        ["created", "note_added", "status_changed", "ünï \"q\" \\"][n % 4].into(),
                    ),
                    actor_id: Set((n.is_multiple_of(3)).then(Uuid::now_v7)),
                    data: Set(json!({"n": n})),
                    created_at: Set(at((n / 3) as i64, FRACTIONS[n % 5])),
                }
            })
        })
        .collect();
    for chunk in entries.chunks(500) {
        entity::lead_interaction::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await
            .unwrap();
    }
}

// ---- approvalRequests and searchGoals (compiled/approvals.rs, compiled/goals.rs) ----------
// A self-contained block: its own documents over the two roots (the same selection generator),
// its own data (`compiled_more`'s seeds: rules of another organization, history entries stored
// under another organization, deleted leads, ranks inserted out of order) and its own run.

/// `approvalRequests(filter:)` values (enum values only under `status`: see [`ENUM_KEYS`]).
const APPROVAL_FILTERS: &[&str] = &[
    r#"{}"#,
    r#"{"status": ["PENDING", "APPROVED"]}"#,
    r#"{"status": []}"#,
    r#"{"urgent": true}"#,
    r#"{"assignedToMe": true}"#,
    r#"{"urgent": false, "status": ["REJECTED"]}"#,
];

/// The roots of this block, in the order of their cursor lists.
const MORE_ROOTS: &[&str] = &["approvalRequests", "searchGoals"];

impl Gen<'_> {
    /// Arguments of one of [`MORE_ROOTS`] (`self.cursors` holds their cursors, in that order).
    fn more_root_args(&mut self, field: &str) -> String {
        let mut args = Vec::new();
        if field == "approvalRequests" && self.rng.pct(35) {
            self.filter_arg(
                &mut args,
                "ApprovalRequestFilter",
                APPROVAL_FILTERS,
                "filter: {status: PENDING}",
            );
        }
        let slot = MORE_ROOTS.iter().position(|r| *r == field).unwrap();
        let cursors = self.cursors.get(slot).cloned().unwrap_or_default();
        if self.rng.pct(12) {
            let n = *self.rng.pick(&[1, 2, 5]);
            let v = self.value("Int", json!(n));
            args.push(format!("last: {v}"));
            if !cursors.is_empty() && self.rng.pct(70) {
                let c = self.rng.pick(&cursors).clone();
                let v = self.value("String", json!(c));
                args.push(format!("before: {v}"));
            }
        } else {
            if self.rng.pct(80) {
                let n = *self.rng.pick(&[0, 1, 2, 3, 7, 201]);
                let v = self.value("Int", json!(n));
                args.push(format!("first: {v}"));
            }
            if !cursors.is_empty() && self.rng.pct(20) {
                let c = self.rng.pick(&cursors).clone();
                let v = self.value("String", json!(c));
                args.push(format!("after: {v}"));
            }
        }
        if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        }
    }

    /// A document over [`MORE_ROOTS`] (as [`Gen::document`] over the other roots).
    fn more_document(mut self) -> Doc {
        let mut roots = Vec::new();
        let n = if self.rng.pct(10) { 2 } else { 1 };
        for i in 0..n {
            let alias = (i > 0 || self.rng.pct(10)).then(|| self.name("r"));
            let field = *self.rng.pick(MORE_ROOTS);
            let root = covered(&format!("Query.{field}")).unwrap();
            let args = self.more_root_args(field);
            let (sel, keys) = self.selection(root, 0);
            let text = match &alias {
                Some(a) => format!("{a}: {field}{args} {{ {sel} }}"),
                None => format!("{field}{args} {{ {sel} }}"),
            };
            roots.push((text, key(alias.as_deref().unwrap_or(field), Some(keys))));
        }
        if self.rng.pct(10) {
            roots.push(leaf("__typename"));
        }
        let (body, keys) = self.wrap("Query", roots);
        let defs: Vec<String> = self
            .variables
            .iter()
            .map(|(n, t, _)| format!("${n}: {t}"))
            .collect();
        let head = if defs.is_empty() {
            String::new()
        } else {
            format!("query Generated({}) ", defs.join(", "))
        };
        let mut query = format!("{head}{{ {body} }}");
        for f in &self.fragments {
            query.push(' ');
            query.push_str(f);
        }
        let variables = Value::Object(self.variables.into_iter().map(|(n, _, v)| (n, v)).collect());
        Doc {
            query,
            variables,
            covered: self.covered,
            keys,
        }
    }
}

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_generated_approvals_and_goals_answer_the_same_both_ways() {
    crate::helpers::require_postgres();
    let seed_value = env_or("LG_DIFF_SEED", SEED);
    let docs = env_or("LG_DIFF_DOCS", DOCS / 2);
    let compiled = TestApp::spawn_with(Options::with_env(&[("RECORD_SQL", "true")])).await;
    let resolvers = TestApp::spawn_with(Options {
        db_url: Some(compiled.db_url.clone()),
        env: HashMap::from([("COMPILED_READS".to_string(), "false".to_string())]),
        ..Default::default()
    })
    .await;
    let orgs = [Uuid::now_v7(), Uuid::now_v7()];
    for org in orgs {
        compiled.ensure_org(org).await;
        seed(&compiled, org).await;
    }
    for (org, other) in [(orgs[0], orgs[1]), (orgs[1], orgs[0])] {
        crate::compiled_more::seed_requests(&compiled, org, other).await;
        crate::compiled_more::seed_goals(&compiled, org, other).await;
    }
    let who = viewers(&compiled, &resolvers, &orgs).await;
    let mut cursors = Vec::new();
    for root in MORE_ROOTS {
        let q = format!("{{ {root}(first: 200) {{ edges {{ cursor }} }} }}");
        let v = resolvers.gql(Some(&who[2].resolvers), &q, json!({})).await;
        let edges = v["data"][root]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"));
        cursors.push(
            edges
                .iter()
                .map(|e| e["cursor"].as_str().unwrap().to_string())
                .collect::<Vec<_>>(),
        );
    }
    let objects = objects();
    let mut rng = Rng((seed_value ^ 0x0a99_90a1) | 1);
    let (mut ran_compiled, mut fell_back) = (0usize, 0usize);
    let mut per_root: HashMap<&str, usize> = HashMap::new();
    let mut failures = Vec::new();
    for d in 0..docs {
        let doc = Gen {
            rng: &mut rng,
            objects: &objects,
            cursors: &cursors,
            covered: true,
            names: 0,
            variables: Vec::new(),
            fragments: Vec::new(),
        }
        .more_document();
        for w in &who {
            compiled.state.sql_log.take();
            let c = text(&compiled, &w.compiled, &doc).await;
            let stmts = compiled.request_statements();
            let r = text(&resolvers, &w.resolvers, &doc).await;
            let (cv, rv): (Value, Value) = (
                serde_json::from_str(&c).unwrap_or(Value::Null),
                serde_json::from_str(&r).unwrap_or(Value::Null),
            );
            let was_compiled = stmts.iter().any(|s| s.contains("lg_id"));
            let expected = doc.covered && rv.get("errors").is_none();
            if was_compiled {
                ran_compiled += 1;
                for root in ["approval_requests", "search_goals"] {
                    if stmts
                        .iter()
                        .any(|s| s.contains(&format!("FROM \"{root}\"")))
                    {
                        *per_root.entry(root).or_default() += 1;
                    }
                }
            } else {
                fell_back += 1;
            }
            let mut wrong = Vec::new();
            if normalized(&cv) != normalized(&rv) {
                wrong.push("the answers differ".to_string());
            }
            if was_compiled {
                if let Err(e) = data_keys_match(&c, &doc.keys) {
                    wrong.push(format!("compiled keys out of selection order: {e}"));
                }
            }
            if was_compiled != expected {
                wrong.push(format!("compiled = {was_compiled}, covered = {expected}"));
            }
            if !wrong.is_empty() {
                failures.push(format!(
                    "seed {seed_value:#x}, document {d}, {}: {}\n  query: {}\n  variables: {}\n  \
                     compiled:  {c}\n  resolvers: {r}\n  statements: {stmts:?}",
                    w.label,
                    wrong.join(", "),
                    doc.query,
                    doc.variables
                ));
            }
        }
    }
    let runs = docs * who.len();
    eprintln!(
        "compiled_diff (approvals, goals): seed {seed_value:#x}, {runs} runs: {ran_compiled} \
         compiled ({per_root:?}), {fell_back} fell back, {} failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed; the first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(4)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    assert!(ran_compiled * 2 > runs, "{ran_compiled} compiled");
    assert!(fell_back * 20 > runs, "{fell_back} fell back");
    for root in ["approval_requests", "search_goals"] {
        let n = per_root.get(root).copied().unwrap_or(0);
        assert!(n * 5 > runs, "{root}: {n} runs compiled");
    }
}
