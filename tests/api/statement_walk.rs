//! The statement-walk test (issue 22): every connection reachable from `Query` costs the same
//! number of SQL statements at page sizes 10 and 50.
//!
//! The walk reads the schema the code builds (`leadgraph::graphql::export_sdl`, parsed with
//! async-graphql's own parser), so a connection added tomorrow is walked without editing this
//! file: a connection is a field whose type's name ends in `Connection`. For each connection
//! field of `Query` it builds one document (see [`Walk`]):
//!
//! - level 1, the root's `nodes`: every leaf field (scalars and enums, lists of them) that needs
//!   no argument, every object or list-of-object field, and every nested connection
//!   (`first: $n`), each with its own level-2 selection;
//! - level 2: leaves and object/list fields (no further connections), expanded to level 3;
//! - level 3: leaves only.
//!
//! So `campaigns → recipients → lead`, `leads → notes`, `leads → campaigns → campaign`,
//! `scrapeJobs → leads`, `audiences → leads`, `approvalRequests → rule/history/assignees` and
//! `searchGoals → results → lead` are all walked. Both the root and nested pages take `$n`,
//! and [`crate::fixtures::rich_dataset`] makes every list longer than 50, so every page at both
//! sizes is full (asserted; the few that cannot be are the explicit [`NOT_FULL`] list).
//!
//! Where a field's count grows with the page size today (an N+1), it is listed in
//! [`KNOWN_N_PLUS_ONE`], with what grows. The test asserts that the set of growing fields is
//! exactly that list: fixing one fails the test until its line is removed, and a new N+1 fails
//! it too. Roots that answer with errors are the explicit [`KNOWN_ERRORS`] list (the walk still
//! counts their statements), asserted the same way.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_graphql::parser::{
    parse_schema,
    types::{BaseType, FieldDefinition, Type, TypeKind, TypeSystemDefinition},
};
use serde_json::{json, Value};

use crate::{
    fixtures::{owner, rich_dataset},
    helpers::{Options, TestApp},
};

/// The two page sizes; the dataset holds `SIZES[1] + 1` of everything.
const SIZES: [i64; 2] = [10, 50];

/// Root connections (by `Query` field) whose statement count grows with the page size today,
/// and why. Asserted to be exactly the set that grows: remove a line when its N+1 is fixed.
const KNOWN_N_PLUS_ONE: &[(&str, &str)] = &[
    // Empty since session 12: nested connections load for the whole page
    // (`graphql::siblings`, the scraping `lead_pages` UNION ALL) and per-node lookups share
    // page structs (`CampaignPage`, `ApprovalRequestPage`, `ScrapeJobPage`…). Before, at
    // 10 / 50: campaigns 83 / 403, scrapeJobs 51 / 251, audiences 41 / 201, searchGoals
    // 42 / 201, the approval roots 22–31 / 104–130 (a timer-batched DataLoader).
];

/// Roots that answer with errors on this dataset, and why (a server bug each; the walk still
/// counts their statements). On SQLite they fail every run and the list is asserted exactly,
/// like [`KNOWN_N_PLUS_ONE`]; on PostgreSQL they fail only under load (1 run of 3 in session
/// 11, when both walks ran at once), so there the errors must be a subset of this list.
const KNOWN_ERRORS: &[(&str, &str)] = &[
    // `audiences` and `scrapeJobs` answered SERVICE_UNAVAILABLE (INTERNAL before session 12)
    // at 50 until their nested leads were batched: 250 statements of one request queued on
    // SQLite's one pooled connection outlasted DATABASE_ACQUIRE_TIMEOUT_MS (2 s).
];

/// Connection paths (`root.nested`) whose pages the dataset does not fill, and why. Asserted
/// exactly, like [`KNOWN_N_PLUS_ONE`].
const NOT_FULL: &[(&str, &str)] = &[
    // The OWNER and one MEMBER (the approval requester): two members (rows for 50 more users are not worth it;
    // `members` is not nested anywhere, so its count is still walked on a one-row page).
    ("members", "one member"),
    // Invitations, API keys and background jobs are not seeded (none is nested anywhere).
    ("invitations", "not seeded"),
    ("apiKeys", "not seeded"),
    ("jobs", "not seeded"),
    ("locations", "not seeded"),
    ("webhookEndpoints", "not seeded"),
    ("deals", "not seeded"),
    ("pipelines", "not seeded"),
    ("files", "not seeded"),
    ("reports", "not seeded"),
    ("autoResponderRules", "not seeded"),
    ("schedules", "not seeded"),
    ("incomingWebhooks", "not seeded"),
    // The dataset's leads are all distinct (`enrichment_duplicates` counts a paired page's).
    ("duplicateCandidates", "no duplicates seeded"),
    // Not in the rich dataset. `sequences` and `workflows` count their lists' statements at two
    // page sizes; `insight_events` counts an events page (one flat table: page + count).
    ("analyticsEvents", "not seeded"),
    ("sequences", "not seeded"),
    ("workflows", "not seeded"),
];

/// Fields the walk leaves out, and why (each would make the walk measure something else).
const SKIPPED_FIELDS: &[(&str, &str)] = &[];

/// Named types of the schema: name → fields (objects) or `None` (scalars, enums, inputs), and
/// how nested connections are asked for.
pub struct Walk {
    types: HashMap<String, Option<Vec<FieldDefinition>>>,
    /// A nested connection's arguments (`first: $n` for the statement walk).
    nested: String,
    /// Whether nested connections also select `pageInfo` and `totalCount`.
    page_info: bool,
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

impl Walk {
    /// The walk of the statement-count test: nested pages of `first: $n`, nodes only.
    pub fn new() -> Walk {
        Walk::with_nested("first: $n", false)
    }

    /// A walk whose nested connections take `nested` and, with `page_info`, also select their
    /// `pageInfo` and `totalCount`.
    pub fn with_nested(nested: &str, page_info: bool) -> Walk {
        let doc = parse_schema(leadgraph::graphql::export_sdl()).expect("the SDL parses");
        let mut types = HashMap::new();
        for def in doc.definitions {
            if let TypeSystemDefinition::Type(t) = def {
                let t = t.node;
                let fields = match t.kind {
                    TypeKind::Object(o) => Some(o.fields.into_iter().map(|f| f.node).collect()),
                    TypeKind::Interface(i) => Some(i.fields.into_iter().map(|f| f.node).collect()),
                    _ => None,
                };
                types.insert(t.name.node.to_string(), fields);
            }
        }
        Walk {
            types,
            nested: nested.to_string(),
            page_info,
        }
    }

    fn fields(&self, ty: &str) -> Option<&Vec<FieldDefinition>> {
        self.types.get(ty).and_then(Option::as_ref)
    }

    /// `Query`'s connection fields that need no argument, sorted.
    pub fn roots(&self) -> Vec<String> {
        let mut roots: Vec<String> = self
            .fields("Query")
            .expect("Query")
            .iter()
            .filter(|f| named(&f.ty.node).ends_with("Connection") && !needs_args(f))
            .map(|f| f.name.node.to_string())
            .collect();
        roots.sort();
        roots
    }

    /// The document for root connection `root`.
    pub fn document(&self, root: &str) -> String {
        let f = self.field("Query", root);
        let sel = self.connection(f, 1, &format!("Query.{root}"));
        format!("query Walk($n: Int!) {{ {root}(first: $n) {sel} }}")
    }

    fn field(&self, ty: &str, name: &str) -> &FieldDefinition {
        self.fields(ty)
            .and_then(|fs| fs.iter().find(|f| f.name.node == name))
            .unwrap_or_else(|| panic!("{ty}.{name}"))
    }

    /// `{ nodes { … } }` of connection field `f` whose nodes are at `level`.
    fn connection(&self, f: &FieldDefinition, level: usize, path: &str) -> String {
        let node = self
            .fields(named(&f.ty.node))
            .and_then(|fs| fs.iter().find(|g| g.name.node == "nodes"))
            .unwrap_or_else(|| panic!("{path} has nodes"));
        let extra = if level > 1 && self.page_info {
            " pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount"
        } else {
            ""
        };
        format!(
            "{{ nodes {}{extra} }}",
            self.selection(named(&node.ty.node), level, path)
        )
    }

    /// The walk's nested arguments for connection field `f`, or `first: $n` when `f` lacks one
    /// of them (some nested lists page forward only).
    fn nested_args(&self, f: &FieldDefinition) -> &str {
        let has = |name: &str| f.arguments.iter().any(|a| a.node.name.node == name);
        let names = self.nested.split(',').filter_map(|a| a.split(':').next());
        if names.map(str::trim).all(has) {
            &self.nested
        } else {
            "first: $n"
        }
    }

    /// The selection of object type `ty` at `level` (see the module doc).
    fn selection(&self, ty: &str, level: usize, path: &str) -> String {
        let mut out = Vec::new();
        for f in self
            .fields(ty)
            .unwrap_or_else(|| panic!("{ty} is an object"))
        {
            let name = f.name.node.as_str();
            let target = named(&f.ty.node);
            let here = format!("{ty}.{name}");
            if SKIPPED_FIELDS.iter().any(|(s, _)| *s == here) {
                continue;
            }
            if self.fields(target).is_none() {
                if !needs_args(f) {
                    out.push(name.to_string());
                }
            } else if target.ends_with("Connection") {
                let pages = f.arguments.iter().any(|a| a.node.name.node == "first");
                if level == 1 && pages && !needs_args(f) {
                    let inner = self.connection(f, level + 1, &here);
                    out.push(format!("{name}({}) {inner}", self.nested_args(f)));
                }
            } else if level < 3 && !needs_args(f) {
                out.push(format!(
                    "{name} {}",
                    self.selection(target, level + 1, &here)
                ));
            }
        }
        assert!(!out.is_empty(), "{path}: nothing to select in {ty}");
        format!("{{ {} }}", out.join(" "))
    }
}

fn needs_args(f: &FieldDefinition) -> bool {
    f.arguments
        .iter()
        .any(|a| !a.node.ty.node.nullable && a.node.default_value.is_none())
}

/// Paths (`root.nested…`) of every connection in `v` whose `nodes` are shorter than `n`.
fn short_pages(v: &Value, path: &str, n: usize, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(nodes)) = map.get("nodes") {
                if nodes.len() != n {
                    out.insert(path.to_string());
                }
                for node in nodes {
                    short_pages(node, path, n, out);
                }
            }
            for (k, child) in map {
                if k != "nodes" {
                    short_pages(child, &format!("{path}.{k}"), n, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                short_pages(item, path, n, out);
            }
        }
        _ => {}
    }
}

/// What a walk found: statements per page size, short pages and the roots that answered with
/// errors, by root connection.
struct Found {
    counts: BTreeMap<String, Vec<usize>>,
    short: BTreeSet<String>,
    errors: BTreeMap<String, String>,
}

/// Walks every root connection on a fresh app with `env`.
async fn walk(env: &[(&str, &str)]) -> Found {
    let mut env: Vec<(&str, &str)> = env.to_vec();
    // The walk's documents are deliberately wide (every field at 50 × 50): lift the cost and
    // rate limits, which have their own tests.
    env.extend([
        ("RECORD_SQL", "true"),
        ("MAX_QUERY_COMPLEXITY", "100000000"),
        ("RATE_LIMIT_VIEWER_PER_MINUTE", "100000"),
    ]);
    let app = TestApp::spawn_with(Options::with_env(&env)).await;
    let (me, org) = owner(&app).await;
    rich_dataset(&app, org, me.id, SIZES[1] as usize + 1).await;
    let walk = Walk::new();
    let mut found = Found {
        counts: BTreeMap::new(),
        short: BTreeSet::new(),
        errors: BTreeMap::new(),
    };
    for root in walk.roots() {
        let doc = walk.document(&root);
        let mut per_size = Vec::new();
        for n in SIZES {
            // The fewer of two runs: a timer-batched DataLoader may split a batch when the
            // machine is loaded (seen once for `teams`, 3 → 4); an N+1 grows in both runs.
            let mut fewest = usize::MAX;
            for _ in 0..2 {
                app.state.sql_log.take();
                let v = app.gql(Some(&me.token), &doc, json!({ "n": n })).await;
                if let Some(e) = v.get("errors") {
                    let first = e.get(0).cloned().unwrap_or_default();
                    found
                        .errors
                        .insert(root.clone(), format!("at {n}: {first}\n{doc}"));
                }
                short_pages(&v["data"][&root], &root, n as usize, &mut found.short);
                fewest = fewest.min(app.request_statements().len());
            }
            per_size.push(fewest);
        }
        eprintln!("walk: {root}: statements at first = {SIZES:?}: {per_size:?}");
        found.counts.insert(root, per_size);
    }
    eprintln!("walk: short pages: {:?}", found.short);
    eprintln!("walk: errors: {:#?}", found.errors);
    found
}

/// The walk's findings are exactly the declared lists.
fn assert_as_declared(found: &Found) {
    let errored: BTreeSet<&str> = found.errors.keys().map(String::as_str).collect();
    let known: BTreeSet<&str> = KNOWN_ERRORS.iter().map(|(r, _)| *r).collect();
    if crate::helpers::postgres_url().is_some() {
        assert!(
            errored.is_subset(&known),
            "roots answering with errors: {:#?}",
            found.errors
        );
    } else {
        assert_eq!(
            errored, known,
            "roots answering with errors: {:#?}",
            found.errors
        );
    }
    let expected_short: BTreeSet<String> = NOT_FULL.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(
        found.short, expected_short,
        "connections whose pages are not full"
    );
    let growing: BTreeSet<&str> = found
        .counts
        .iter()
        .filter(|(_, c)| c.iter().any(|x| *x != c[0]))
        .map(|(r, _)| r.as_str())
        .collect();
    let known: BTreeSet<&str> = KNOWN_N_PLUS_ONE.iter().map(|(r, _)| *r).collect();
    assert_eq!(
        growing, known,
        "root connections whose statement count grows with the page size: {:#?}",
        found.counts
    );
}

/// The resolvers (both backends; the PostgreSQL run of the suite covers PostgreSQL).
#[tokio::test]
async fn every_connection_costs_the_same_statements_at_page_sizes_10_and_50() {
    let found = walk(&[("COMPILED_READS", "false")]).await;
    assert!(found.counts.len() >= 20, "{:?}", found.counts);
    assert_as_declared(&found);
}

/// PostgreSQL with the default configuration: lead lists take the compiled single statement.
#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (the compiled path is PostgreSQL only)"]
async fn pg_only_every_connection_costs_the_same_statements_with_compiled_reads() {
    crate::helpers::require_postgres();
    assert_as_declared(&walk(&[]).await);
}
