//! Nested connections of a whole page at once (issue 22: a statement count that does not grow
//! with the page size).
//!
//! A list's nodes are resolved together (a page of campaigns, of scrape jobs…). When one node
//! resolves a nested connection (`Campaign.recipients`, `ScrapeJob.leads`…), the first page of
//! that connection is loaded for **every** node of the page in one statement, by
//! [`first_pages`]: the list's own filter and keyset order, numbered per parent with
//! `ROW_NUMBER() OVER (PARTITION BY parent ORDER BY …)` and cut at `limit + 1` rows per parent
//! (the extra row telling that there is a next page, as in the one pager). The result is kept in
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
    sea_query::{Alias, Asterisk, Expr, ExprTrait, Query, WindowStatement},
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryTrait, Select,
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
/// `parents`, in one statement: `select` narrowed to `parent IN (parents)`, numbered per parent
/// in the list's order, at most `limit + 1` rows per parent. Every parent has an entry (an
/// empty page when it has no rows). `args` must be [`batchable`].
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
    if !parents.is_empty() {
        let backend = conn.get_database_backend();
        let mut window = WindowStatement::partition_by(parent.as_column_ref());
        for (expr, dir) in order.order_by(args.backward) {
            window.order_by_expr(expr, dir);
        }
        let mut inner = select
            .filter(parent.is_in(parents.iter().copied()))
            .into_query();
        inner.expr_window_as(Expr::cust("ROW_NUMBER()"), window, Alias::new("lg_rn"));
        let sub = Alias::new("lg_page");
        let outer = Query::select()
            .column(Asterisk)
            .from_subquery(inner, sub.clone())
            // A literal bound, as the pager's LIMIT (`db::with_literal_limit`).
            .and_where(
                Expr::col((sub.clone(), Alias::new("lg_rn")))
                    .lte(Expr::cust((args.limit + 1).to_string())),
            )
            .order_by((sub.clone(), parent), Order::Asc)
            .order_by((sub, Alias::new("lg_rn")), Order::Asc)
            .to_owned();
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
