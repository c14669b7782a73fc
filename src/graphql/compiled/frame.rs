//! The connection around compiled rows: which `XConnection` fields were selected (nodes,
//! edges with cursors, pageInfo, totalCount, `__typename`) and how the page is written once
//! its rows are read. Shared by every compiled root (`leads`, and the newest-first roots of
//! `compiled::roots`); the rows' JSON comes from the database, the framing from here.

use super::{push_key, Sel};

/// A selected `XConnection` field.
enum Item {
    Typename,
    TotalCount,
    /// The node selection's index in [`Layout::nodes`].
    Nodes(usize),
    Edges(Vec<(String, EdgeField)>),
    PageInfo(Vec<(String, PageField)>),
}

/// A selected `XEdge` field.
enum EdgeField {
    Typename,
    Cursor,
    Node(usize),
}

#[derive(Clone, Copy)]
enum PageField {
    Typename,
    HasNext,
    HasPrevious,
    StartCursor,
    EndCursor,
}

/// The planned selection of one connection field.
pub struct Layout {
    /// `XConnection` / `XEdge` type names (`__typename` and fragment conditions).
    connection: &'static str,
    edge: &'static str,
    /// The distinct node selections' SQL (`nodes` and `edges.node` may differ).
    pub nodes: Vec<String>,
    items: Vec<(String, Item)>,
}

/// One decoded page, ready to be written.
pub struct Page<'a> {
    /// Per row (in list order), each node selection's JSON.
    pub rows: &'a [Vec<String>],
    /// Per row, its cursor (empty when [`Layout::needs_cursors`] is false).
    pub cursors: &'a [String],
    pub has_prev: bool,
    pub has_next: bool,
    /// `totalCount`, when selected.
    pub total: Option<i64>,
}

impl Layout {
    /// Plans the sub-selection of connection `field`: `node` compiles a node selection to its
    /// SQL. `None` when anything in it is not covered.
    pub fn plan(
        field: &Sel,
        connection: &'static str,
        edge: &'static str,
        mut node: impl FnMut(&[Sel]) -> Option<String>,
    ) -> Option<Layout> {
        if field.children.is_empty() {
            return None;
        }
        let mut layout = Layout {
            connection,
            edge,
            nodes: Vec::new(),
            items: Vec::new(),
        };
        for f in &field.children {
            if !f.applies_to(connection) {
                return None;
            }
            let item = layout.item(f, &mut node)?;
            layout.items.push((f.key.clone(), item));
        }
        Some(layout)
    }

    fn add_node(
        &mut self,
        sel: &[Sel],
        node: &mut impl FnMut(&[Sel]) -> Option<String>,
    ) -> Option<usize> {
        let sql = node(sel)?;
        Some(match self.nodes.iter().position(|n| *n == sql) {
            Some(i) => i,
            None => {
                self.nodes.push(sql);
                self.nodes.len() - 1
            }
        })
    }

    fn item(&mut self, f: &Sel, node: &mut impl FnMut(&[Sel]) -> Option<String>) -> Option<Item> {
        Some(match f.name.as_str() {
            "__typename" if f.is_leaf() => Item::Typename,
            "totalCount" if f.is_leaf() => Item::TotalCount,
            "nodes" if f.args.is_empty() => Item::Nodes(self.add_node(&f.children, node)?),
            "edges" if f.args.is_empty() && !f.children.is_empty() => {
                let mut items = Vec::new();
                for e in &f.children {
                    if !e.applies_to(self.edge) {
                        return None;
                    }
                    let field = match e.name.as_str() {
                        "__typename" if e.is_leaf() => EdgeField::Typename,
                        "cursor" if e.is_leaf() => EdgeField::Cursor,
                        "node" if e.args.is_empty() => {
                            EdgeField::Node(self.add_node(&e.children, node)?)
                        }
                        _ => return None,
                    };
                    items.push((e.key.clone(), field));
                }
                Item::Edges(items)
            }
            "pageInfo" if f.args.is_empty() && !f.children.is_empty() => {
                let mut items = Vec::new();
                for p in &f.children {
                    if !p.applies_to("PageInfo") || !p.is_leaf() {
                        return None;
                    }
                    let pf = match p.name.as_str() {
                        "__typename" => PageField::Typename,
                        "hasNextPage" => PageField::HasNext,
                        "hasPreviousPage" => PageField::HasPrevious,
                        "startCursor" => PageField::StartCursor,
                        "endCursor" => PageField::EndCursor,
                        _ => return None,
                    };
                    items.push((p.key.clone(), pf));
                }
                Item::PageInfo(items)
            }
            _ => return None,
        })
    }

    /// Whether any selected field needs the rows' cursors.
    pub fn needs_cursors(&self) -> bool {
        self.items.iter().any(|(_, i)| match i {
            Item::Edges(items) => items.iter().any(|(_, e)| matches!(e, EdgeField::Cursor)),
            Item::PageInfo(items) => items
                .iter()
                .any(|(_, p)| matches!(p, PageField::StartCursor | PageField::EndCursor)),
            _ => false,
        })
    }

    /// Whether `totalCount` is selected.
    pub fn needs_total(&self) -> bool {
        self.items
            .iter()
            .any(|(_, i)| matches!(i, Item::TotalCount))
    }

    /// Writes the connection object of `page`.
    pub fn write(&self, out: &mut String, page: &Page<'_>) {
        out.push('{');
        for (k, (key, item)) in self.items.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            push_key(out, key);
            match item {
                Item::Typename => push_str(out, self.connection),
                Item::TotalCount => out.push_str(&page.total.unwrap_or(0).to_string()),
                Item::Nodes(n) => list(out, page.rows, |out, _, row| out.push_str(node(row, *n))),
                Item::Edges(items) => self.write_edges(out, page, items),
                Item::PageInfo(items) => write_page_info(out, page, items),
            }
        }
        out.push('}');
    }

    fn write_edges(&self, out: &mut String, page: &Page<'_>, items: &[(String, EdgeField)]) {
        list(out, page.rows, |out, i, row| {
            out.push('{');
            for (j, (k, e)) in items.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                push_key(out, k);
                match e {
                    EdgeField::Typename => push_str(out, self.edge),
                    EdgeField::Cursor => {
                        push_str(out, page.cursors.get(i).map_or("", String::as_str))
                    }
                    EdgeField::Node(n) => out.push_str(node(row, *n)),
                }
            }
            out.push('}');
        });
    }
}

fn write_page_info(out: &mut String, page: &Page<'_>, items: &[(String, PageField)]) {
    out.push('{');
    for (j, (k, p)) in items.iter().enumerate() {
        if j > 0 {
            out.push(',');
        }
        push_key(out, k);
        match p {
            PageField::Typename => out.push_str("\"PageInfo\""),
            PageField::HasNext => out.push_str(bool_str(page.has_next)),
            PageField::HasPrevious => out.push_str(bool_str(page.has_prev)),
            PageField::StartCursor => push_opt(out, page.cursors.first()),
            PageField::EndCursor => push_opt(out, page.cursors.last()),
        }
    }
    out.push('}');
}

fn node(row: &[String], i: usize) -> &str {
    row.get(i).map_or("null", String::as_str)
}

/// `[…]` of `rows`, each written by `item` (with its index).
fn list(
    out: &mut String,
    rows: &[Vec<String>],
    mut item: impl FnMut(&mut String, usize, &[String]),
) {
    out.push('[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        item(out, i, row);
    }
    out.push(']');
}

fn push_opt(out: &mut String, s: Option<&String>) {
    match s {
        Some(c) => push_str(out, c),
        None => out.push_str("null"),
    }
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// A JSON string of a type name or URL-safe base64 (cursors): nothing to escape.
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(s);
    out.push('"');
}
