//! The newest-first connections compiled to one statement (see `graphql::compiled`): every
//! root list that the resolvers page with `IdConnection` (newest first by a UUID v7 id, the
//! cursor the id) and its nested first pages.
//!
//! A root's rows are the domain's own list select (its organization scope, permission and
//! filters: e.g. `outreach::campaigns::list_select`), read through the one keyset pager
//! (`keyset_statement`, bounds from the cursors, literal limit + 1) with its column list
//! replaced by the id and one JSON column per node selection. A nested connection of a node
//! (`Campaign.recipients(first: n)`) is compiled only where the resolvers read it as a batched
//! first page (no cursor): its nodes are `array_to_json(ARRAY(… ORDER BY id DESC LIMIT n))`,
//! `totalCount` and `hasNextPage` correlated counts; its edges carry cursors, left to the
//! resolvers.

use async_graphql::connection::CursorType;
use sea_orm::{
    sea_query::{Expr, SelectStatement},
    sqlx::Row as _,
    ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, IdenStatic, QuerySelect, QueryTrait,
    Select, Statement,
};
use uuid::Uuid;

use super::{
    frame::{Layout, Page},
    leaf_object_sql, object_sql, Sel,
};
use crate::{
    graphql::pagination::{keyset_statement, ByColumn, KeyCursor, KeysetRows, PageArgs},
    state::AppState,
};

/// A planned newest-first root connection.
pub struct NewestPlan {
    args: PageArgs,
    layout: Layout,
    statement: Statement,
    count: Option<Statement>,
}

/// The `first/after/last/before` of `field` as the resolvers read them, or `None` when they
/// must (a refused value gets its error there).
pub fn page_args(field: &Sel) -> Option<PageArgs> {
    let first: Option<i32> = field.arg("first", "Int", true)?;
    let after: Option<String> = field.arg("after", "String", true)?;
    let last: Option<i32> = field.arg("last", "Int", true)?;
    let before: Option<String> = field.arg("before", "String", true)?;
    PageArgs::new(first, after, last, before).ok()
}

impl NewestPlan {
    /// The plan of a page of `select` (the domain's list select), newest first by `id`, its
    /// selection `layout` planned over the root table's row.
    pub fn new<E: EntityTrait>(
        select: Select<E>,
        id: E::Column,
        args: PageArgs,
        layout: Layout,
    ) -> NewestPlan {
        Self::with_joins(select, id, args, layout, &PageJoins::default())
    }

    /// [`NewestPlan::new`] with page-wide reads: when `joins` has any, the page's rows (every
    /// column of the root table) are read first as `lg_page`, each join is one grouped pass
    /// over the page's keys, and the nodes are built over the page's rows under the root
    /// table's own name (so node SQL is the same as without joins).
    pub fn with_joins<E: EntityTrait>(
        select: Select<E>,
        id: E::Column,
        args: PageArgs,
        layout: Layout,
        joins: &PageJoins,
    ) -> NewestPlan {
        let order = ByColumn {
            column: id,
            desc: true,
            key_of: |_: &E::Model| Uuid::nil(),
        };
        let count = layout.needs_total().then(|| {
            let query = SelectStatement::new()
                .expr(Expr::cust("COUNT(*) AS num_items"))
                .from_subquery(
                    select.clone().into_query().clear_order_by().to_owned(),
                    "sub_query",
                )
                .to_owned();
            DatabaseBackend::Postgres.build(&query)
        });
        let statement = if joins.ctes.is_empty() {
            let mut columns = select.select_only().column_as(id, "lg_id");
            for (i, node) in layout.nodes.iter().enumerate() {
                columns =
                    columns.expr_as(Expr::cust(format!("({node})::text")), format!("lg_node{i}"));
            }
            keyset_statement(DatabaseBackend::Postgres, columns, &order, &args)
        } else {
            let page = keyset_statement(DatabaseBackend::Postgres, select, &order, &args);
            joins.wrap(page, E::default().table_name(), id.as_str(), &layout, &args)
        };
        NewestPlan {
            args,
            layout,
            statement,
            count,
        }
    }

    /// The statements it runs (the page, then the count when selected).
    pub fn statements(&self) -> Vec<Statement> {
        std::iter::once(self.statement.clone())
            .chain(self.count.clone())
            .collect()
    }

    /// Runs the page statement (and the count when selected) and writes the connection.
    pub async fn execute(&self, state: &AppState, out: &mut String) -> Result<(), DbErr> {
        let rows = state.db.query_all_raw(self.statement.clone()).await?;
        let n = self.layout.nodes.len();
        let mut decoded: Vec<(Uuid, Vec<String>)> = Vec::with_capacity(rows.len());
        // The extra row (limit + 1) only tells that there is more: not decoded.
        for row in rows.iter().take(self.args.limit as usize) {
            let pg = row
                .try_as_pg_row()
                .ok_or_else(|| DbErr::Type("compiled reads need PostgreSQL rows".into()))?;
            let err = |e: sea_orm::sqlx::Error| DbErr::Type(e.to_string());
            let id: Uuid = pg.try_get(0).map_err(err)?;
            let mut json = Vec::with_capacity(n);
            for i in 0..n {
                json.push(pg.try_get::<String, _>(1 + i).map_err(err)?);
            }
            decoded.push((id, json));
        }
        let page = KeysetRows::read(&self.args, rows.len(), decoded);
        let cursors: Vec<String> = if self.layout.needs_cursors() {
            page.rows
                .iter()
                .map(|(id, _)| KeyCursor(*id).encode_cursor())
                .collect()
        } else {
            Vec::new()
        };
        let total = match &self.count {
            Some(stmt) => Some(
                state
                    .db
                    .query_one_raw(stmt.clone())
                    .await?
                    .map(|r| r.try_get::<i64>("", "num_items"))
                    .transpose()?
                    .unwrap_or(0),
            ),
            None => None,
        };
        let json: Vec<Vec<String>> = page.rows.into_iter().map(|(_, j)| j).collect();
        self.layout.write(
            out,
            &Page {
                rows: &json,
                cursors: &cursors,
                has_prev: page.has_prev,
                has_next: page.has_next,
                total,
            },
        );
        Ok(())
    }
}

/// The page-wide reads of a root page (see [`NewestPlan::with_joins`]): a nested list that a
/// per-row subquery would read once per row (each a scan of the child table: on a small table
/// PostgreSQL picks a sequential scan per row) is read in one grouped pass over the page's
/// keys instead.
#[derive(Default)]
pub struct PageJoins {
    ctes: Vec<String>,
}

impl PageJoins {
    /// Adds a read whose `sql` selects `lg_k` (a root row's id) and `lg_v` (its value) from
    /// rows joined to `lg_page` (the page's root rows), one row per key; the SQL of the value
    /// for the current root row is returned, `empty` where the read has no row for it.
    pub fn add(&mut self, sql: String, empty: &str) -> String {
        let name = format!("lg_j{}", self.ctes.len());
        self.ctes.push(sql);
        format!("COALESCE({name}.lg_v, {empty})")
    }

    /// The statement of a page read as `page` (every root column, in reading order, limit + 1)
    /// with the joins, its nodes over the rows named `table`, in the page's reading order.
    fn wrap(
        &self,
        page: Statement,
        table: &str,
        id: &str,
        layout: &Layout,
        args: &PageArgs,
    ) -> Statement {
        let mut sql = format!("WITH lg_page AS ({})", page.sql);
        let mut from = format!("lg_page AS \"{table}\"");
        for (i, cte) in self.ctes.iter().enumerate() {
            sql.push_str(&format!(", lg_j{i} AS ({cte})"));
            from.push_str(&format!(
                " LEFT JOIN lg_j{i} ON lg_j{i}.lg_k = \"{table}\".\"{id}\""
            ));
        }
        sql.push_str(&format!(" SELECT \"{table}\".\"{id}\" AS lg_id"));
        for (i, node) in layout.nodes.iter().enumerate() {
            sql.push_str(&format!(", ({node})::text AS lg_node{i}"));
        }
        let dir = if args.backward { "ASC" } else { "DESC" };
        sql.push_str(&format!(" FROM {from} ORDER BY \"{table}\".\"{id}\" {dir}"));
        Statement { sql, ..page }
    }
}

/// A nested newest-first connection read as a batched first page: the rows of `from` (a
/// `FROM … WHERE …` naming the child table as `alias`, correlated with its parent), `node`
/// compiling a node selection over `alias`. Covers `nodes`, `totalCount` and pageInfo's
/// booleans (a first page has no previous one); `None` for anything else (cursors, `last`).
pub fn child_connection(
    field: &Sel,
    connection: &str,
    from: &str,
    alias: &str,
    node: impl FnMut(&[Sel]) -> Option<String>,
) -> Option<String> {
    let order = format!("{alias}.id DESC");
    ordered_child_connection(field, connection, from, &order, node)
}

/// [`child_connection`] in another order: `order` is the `ORDER BY` of the resolvers' page
/// (e.g. `lg_gr.rank ASC` for a goal's results).
pub fn ordered_child_connection(
    field: &Sel,
    connection: &str,
    from: &str,
    order: &str,
    node: impl FnMut(&[Sel]) -> Option<String>,
) -> Option<String> {
    if !field.only_args(&["first"]) {
        return None;
    }
    let n = page_args(field)?.limit;
    first_page_sql(field, connection, from, order, n, true, node)
}

/// The SQL of a nested connection's first page: `n` rows `FROM {from}` in `order`, as its
/// `nodes` (`node` gives a node's SQL from the node selection), `totalCount` and, when
/// `page_info`, pageInfo's booleans (`hasNextPage` from a count of n + 1 rows). Every compiled
/// nested first page is built here (`ordered_child_connection`, a lead's notes and timeline,
/// a scrape job's leads); the caller checks the arguments and gives `n`.
pub fn first_page_sql(
    field: &Sel,
    connection: &str,
    from: &str,
    order: &str,
    n: u64,
    page_info: bool,
    mut node: impl FnMut(&[Sel]) -> Option<String>,
) -> Option<String> {
    object_sql(&field.children, connection, |c| match c.name.as_str() {
        "nodes" if c.args.is_empty() => {
            let obj = node(&c.children)?;
            Some(format!(
                "array_to_json(ARRAY(SELECT {obj} FROM {from} ORDER BY {order} LIMIT {n}))"
            ))
        }
        "totalCount" if c.is_leaf() => Some(format!("(SELECT count(*) FROM {from})")),
        "pageInfo" if page_info && c.args.is_empty() => {
            leaf_object_sql(&c.children, "PageInfo", |name| match name {
                "hasNextPage" => Some(format!(
                    "((SELECT count(*) FROM (SELECT 1 FROM {from} LIMIT {}) x) > {n})",
                    n + 1
                )),
                "hasPreviousPage" => Some("false".into()),
                _ => None,
            })
        }
        _ => None,
    })
}
