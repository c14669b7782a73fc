//! Nested connections of a whole page at once (issue 22: a statement count that does not grow
//! with the page size).
//!
//! A list's nodes are resolved together (a page of campaigns, of scrape jobs…). When one node
//! resolves a nested connection (`Campaign.recipients`, `ScrapeJob.leads`…), the first page of
//! that connection is loaded for **every** node of the page in one statement, by
//! [`first_pages`]: one `UNION ALL` arm per parent, each the list's own filter narrowed to
//! that parent, in the list's keyset order, numbered (`ROW_NUMBER() OVER (ORDER BY …)`) and cut
//! at `limit + 1` rows (the extra row telling that there is a next page, as in the one pager).
//! Each arm is what the parent would run alone: with an index on (parent, order) PostgreSQL
//! reads exactly `limit + 1` index entries per parent. A single `PARTITION BY parent` over `parent IN (…)` read and sorted every row of every
//! parent instead: 72 ms for ten campaigns of 5,000 recipients (bench/shapes, session 13).
//! The result is kept in
//! the page's [`PageCells`] under the field's arguments, so the siblings that ask the same
//! question read it instead of querying. Pages with a cursor (`after` / `before`) are read per
//! parent with the ordinary pager: their bounds differ per parent, and clients page a nested
//! list one parent at a time.
//!
//! Unlike async-graphql's timer-based DataLoader, the count is exact whatever the machine load:
//! the batch is the page itself.

use std::{
    collections::{hash_map::DefaultHasher, HashMap},
    hash::{Hash, Hasher},
    sync::{Arc, Mutex},
};

use sea_orm::{
    sea_query::{Alias, Asterisk, Expr, Query, SelectStatement, UnionType, WindowStatement},
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QuerySelect, QueryTrait, Select,
};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::pagination::{KeysetArgs, KeysetOrder, KeysetRows};
use crate::{error::AppResult, state::AppState};

/// Results loaded once for a page of sibling nodes, one per distinct question (a nested field's
/// arguments, hashed with [`question`]).
pub struct PageCells<T>(Mutex<HashMap<u64, Arc<OnceCell<T>>>>);

impl<T> Default for PageCells<T> {
    fn default() -> Self {
        PageCells(Mutex::new(HashMap::new()))
    }
}

impl<T> PageCells<T> {
    /// The cell of question `key`, shared by the siblings that ask it.
    pub fn cell(&self, key: u64) -> Arc<OnceCell<T>> {
        match self.0.lock() {
            Ok(mut m) => m.entry(key).or_default().clone(),
            // A poisoned lock only loses the sharing: this caller loads for itself.
            Err(_) => Arc::new(OnceCell::new()),
        }
    }
}

/// The [`PageCells`] key of a nested field's arguments (anything hashable: page size,
/// direction, filters).
pub fn question(args: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    args.hash(&mut h);
    h.finish()
}

/// True when a nested page can come from the page-wide batch: a first (or last) page, without
/// cursors, and batches not turned off (`NESTED_BATCHES=false`, for the differential test).
pub fn batchable<K>(state: &AppState, args: &KeysetArgs<K>) -> bool {
    state.config.reads.nested_batches && args.after.is_none() && args.before.is_none()
}

/// The first page (or, with `last`, the last page) of `select` in `order` for every parent in
/// `parents`, in one statement: per parent, `select` narrowed to `parent = p`, numbered in the
/// list's order and cut at `limit + 1` rows, the arms joined by `UNION ALL`. Every parent has
/// an entry (an empty page when it has no rows). `args` must be [`batchable`].
pub async fn first_pages<E, C, O>(
    conn: &C,
    select: Select<E>,
    parent: E::Column,
    parent_of: impl Fn(&E::Model) -> Uuid,
    order: &O,
    args: &KeysetArgs<O::Key>,
    parents: &[Uuid],
) -> AppResult<HashMap<Uuid, KeysetRows<E::Model>>>
where
    E: EntityTrait,
    C: ConnectionTrait,
    O: KeysetOrder<E>,
{
    debug_assert!(args.after.is_none() && args.before.is_none());
    let mut by_parent: HashMap<Uuid, Vec<E::Model>> =
        parents.iter().map(|p| (*p, Vec::new())).collect();
    let mut union: Option<SelectStatement> = None;
    for (i, p) in parents.iter().enumerate() {
        let arm = page_arm(select.clone().filter(parent.eq(*p)), order, args, i);
        match &mut union {
            None => union = Some(arm),
            Some(u) => {
                u.union(UnionType::All, arm);
            }
        }
    }
    if let Some(mut outer) = union {
        outer
            .order_by(parent, Order::Asc)
            .order_by(Alias::new("lg_rn"), Order::Asc);
        let backend = conn.get_database_backend();
        let rows = E::find()
            .from_raw_sql(backend.build(&outer))
            .all(conn)
            .await?;
        for row in rows {
            by_parent.entry(parent_of(&row)).or_default().push(row);
        }
    }
    Ok(by_parent
        .into_iter()
        .map(|(p, rows)| (p, KeysetRows::new(args, rows)))
        .collect())
}

/// One parent's arm of [`first_pages`]: `SELECT * FROM (select + ROW_NUMBER() OVER (ORDER BY
/// order) ORDER BY order LIMIT limit + 1)`, the parent's own page statement. The `LIMIT` is
/// what lets PostgreSQL plan an ordered index read of `limit + 1` entries: with only a run
/// condition on the row number it costed the whole parent and chose a bitmap scan and a sort
/// (30 ms per campaign of 5,000 recipients).
fn page_arm<E, O>(
    select: Select<E>,
    order: &O,
    args: &KeysetArgs<O::Key>,
    i: usize,
) -> SelectStatement
where
    E: EntityTrait,
    O: KeysetOrder<E>,
{
    let mut window = WindowStatement::new();
    for (expr, dir) in order.order_by(args.backward) {
        window.order_by_expr(expr, dir);
    }
    let mut inner = order
        .order(select, args.backward)
        .limit(args.limit + 1)
        .into_query();
    inner.expr_window_as(Expr::cust("ROW_NUMBER()"), window, Alias::new("lg_rn"));
    Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new(format!("lg_p{i}")))
        .to_owned()
}
