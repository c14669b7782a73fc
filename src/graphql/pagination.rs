//! Relay connections with opaque keyset cursors.
//!
//! Cursors are base64url(JSON of the sort key) — never offsets. Lists default to 50 items and
//! accept at most [`MAX_PAGE`]. `totalCount` is computed only when selected.

use std::{future::Future, pin::Pin, sync::Arc};

use async_graphql::{
    connection::{Connection, CursorType, Edge},
    Object, OutputType,
};
use base64::Engine;
use sea_orm::{
    sea_query::{Expr, ExprTrait, SimpleExpr},
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, EntityTrait, IntoSimpleExpr, Order,
    PaginatorTrait, QueryFilter, QueryOrder, Select, Statement,
};
use serde::{de::DeserializeOwned, Serialize};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// Largest page a client may ask for.
pub const MAX_PAGE: i32 = 200;
/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: i32 = 50;

/// An opaque cursor over a serializable sort key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyCursor<K>(pub K);

impl<K: Serialize + DeserializeOwned> CursorType for KeyCursor<K> {
    type Error = String;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "invalid cursor".to_string())?;
        serde_json::from_slice(&bytes)
            .map(KeyCursor)
            .map_err(|_| "invalid cursor".to_string())
    }

    fn encode_cursor(&self) -> String {
        let json = serde_json::to_vec(&self.0).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }
}

/// Validates `first`/`last` (one of them, 0–[`MAX_PAGE`], default [`DEFAULT_PAGE`]); returns the
/// page size and whether the page is read from the end.
pub fn page_size(first: Option<i32>, last: Option<i32>) -> AppResult<(u64, bool)> {
    if first.is_some() && last.is_some() {
        return Err(AppError::invalid(
            "first",
            "pass either first or last, not both",
        ));
    }
    let (field, n) = match (first, last) {
        (_, Some(l)) => ("last", l),
        (Some(f), None) => ("first", f),
        (None, None) => ("first", DEFAULT_PAGE),
    };
    if !(0..=MAX_PAGE).contains(&n) {
        return Err(AppError::invalid(
            field,
            format!("must be between 0 and {MAX_PAGE}"),
        ));
    }
    Ok((n as u64, last.is_some()))
}

/// `(hasPreviousPage, hasNextPage)` of a keyset page of `limit` that read `fetched` rows (at
/// most limit + 1: the extra row only tells that there is more in the reading direction).
pub fn page_info(
    limit: u64,
    backward: bool,
    has_after: bool,
    has_before: bool,
    fetched: usize,
) -> (bool, bool) {
    let more = fetched as u64 > limit;
    if backward {
        (more, has_before)
    } else {
        (has_after, more)
    }
}

/// The four Relay arguments, validated, with cursors decoded to the list's sort key `K`.
#[derive(Debug, Clone)]
pub struct KeysetArgs<K> {
    /// Page size.
    pub limit: u64,
    /// Items strictly after this key (in list order).
    pub after: Option<K>,
    /// Items strictly before this key (in list order).
    pub before: Option<K>,
    /// True when paging from the end (`last`).
    pub backward: bool,
}

impl<K> Default for KeysetArgs<K> {
    fn default() -> Self {
        KeysetArgs {
            limit: DEFAULT_PAGE as u64,
            after: None,
            before: None,
            backward: false,
        }
    }
}

/// The Relay arguments of a list ordered newest first by a UUID v7 id.
pub type PageArgs = KeysetArgs<Uuid>;

fn decode_key<K: Serialize + DeserializeOwned>(
    field: &str,
    raw: Option<String>,
) -> AppResult<Option<K>> {
    raw.map(|s| {
        KeyCursor::<K>::decode_cursor(&s)
            .map(|c| c.0)
            .map_err(|_| AppError::invalid(field, "invalid cursor"))
    })
    .transpose()
}

impl<K: Serialize + DeserializeOwned> KeysetArgs<K> {
    /// Validates `first/after/last/before`.
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<Self> {
        let (limit, backward) = page_size(first, last)?;
        Ok(KeysetArgs {
            limit,
            after: decode_key("after", after)?,
            before: decode_key("before", before)?,
            backward,
        })
    }
}

impl<K> KeysetArgs<K> {
    /// `(hasPreviousPage, hasNextPage)` of a page that read `fetched` rows (at most limit + 1).
    pub fn page_info(&self, fetched: usize) -> (bool, bool) {
        page_info(
            self.limit,
            self.backward,
            self.after.is_some(),
            self.before.is_some(),
            fetched,
        )
    }

    /// Refuses (BAD_USER_INPUT on `after` / `before`, with `message`) a cursor whose key `fits`
    /// rejects, e.g. a cursor of another ordering of the same list.
    pub fn check(self, fits: impl Fn(&K) -> bool, message: &str) -> AppResult<Self> {
        for (field, key) in [("after", &self.after), ("before", &self.before)] {
            if key.as_ref().is_some_and(|k| !fits(k)) {
                return Err(AppError::invalid(field, message));
            }
        }
        Ok(self)
    }
}

/// How a list is ordered by its sort key: all that [`keyset_page`] needs to know about it.
/// The key must end with a unique column (the id) so that the order is total.
pub trait KeysetOrder<E: EntityTrait> {
    /// The sort key that cursors carry.
    type Key: Serialize + DeserializeOwned + Send + Sync;
    /// The key of a row.
    fn key_of(&self, row: &E::Model) -> Self::Key;
    /// `select` narrowed to rows strictly after (`after`) or strictly before `key`, in list
    /// order.
    fn bound(&self, select: Select<E>, key: &Self::Key, after: bool) -> Select<E>;
    /// The sort expressions of the list order, or of its reverse (reading a page from the end),
    /// most significant first.
    fn order_by(&self, reversed: bool) -> Vec<(SimpleExpr, Order)>;
    /// `select` in list order, or in reverse (reading a page from the end).
    fn order(&self, select: Select<E>, reversed: bool) -> Select<E> {
        self.order_by(reversed)
            .into_iter()
            .fold(select, |q, (e, dir)| q.order_by(e, dir))
    }
}

/// The direction of one sort expression: `desc` in list order, flipped when `reversed`.
fn direction(desc: bool, reversed: bool) -> Order {
    if reversed != desc {
        Order::Desc
    } else {
        Order::Asc
    }
}

/// Ascending (or, with `desc`, descending) by one unique column whose value is the key.
pub struct ByColumn<C, F> {
    /// The column.
    pub column: C,
    /// Largest first.
    pub desc: bool,
    /// The key of a row (the column's value).
    pub key_of: F,
}

impl<E, K, F> KeysetOrder<E> for ByColumn<E::Column, F>
where
    E: EntityTrait,
    K: Serialize + DeserializeOwned + Send + Sync + Clone + Into<sea_orm::Value>,
    F: Fn(&E::Model) -> K,
{
    type Key = K;

    fn key_of(&self, row: &E::Model) -> K {
        (self.key_of)(row)
    }

    fn bound(&self, select: Select<E>, key: &K, after: bool) -> Select<E> {
        if after != self.desc {
            select.filter(self.column.gt(key.clone()))
        } else {
            select.filter(self.column.lt(key.clone()))
        }
    }

    fn order_by(&self, reversed: bool) -> Vec<(SimpleExpr, Order)> {
        vec![(
            self.column.into_simple_expr(),
            direction(self.desc, reversed),
        )]
    }
}

/// The key of an order by a sort expression with a unique id as tie-break ([`ByExprThenId`]).
pub trait ThenIdKey {
    /// The sort value, as SQL.
    fn sort_value(&self) -> SimpleExpr;
    /// The id.
    fn id_value(&self) -> sea_orm::Value;
}

/// Ascending (or, with `desc`, descending) by a sort expression that need not be unique, ties
/// broken by a unique id column in the same direction: a multi-column keyset `(expr, id)`.
pub struct ByExprThenId<C, F> {
    /// What the list is ordered by first (a column, or e.g. `COALESCE(col, …)`).
    pub expr: SimpleExpr,
    /// The unique tie-break column.
    pub id: C,
    /// Largest first.
    pub desc: bool,
    /// The key of a row: its sort value and id, as [`ThenIdKey`].
    pub key_of: F,
}

impl<E, K, F> KeysetOrder<E> for ByExprThenId<E::Column, F>
where
    E: EntityTrait,
    K: ThenIdKey + Serialize + DeserializeOwned + Send + Sync,
    F: Fn(&E::Model) -> K,
{
    type Key = K;

    fn key_of(&self, row: &E::Model) -> K {
        (self.key_of)(row)
    }

    /// `expr > v OR (expr = v AND id > id₀)` (or `<` when the side is the descending one).
    fn bound(&self, select: Select<E>, key: &K, after: bool) -> Select<E> {
        let (e, v, id) = (self.expr.clone(), key.sort_value(), key.id_value());
        let (beyond, id_beyond) = if after != self.desc {
            (e.clone().gt(v.clone()), Expr::col(self.id).gt(id))
        } else {
            (e.clone().lt(v.clone()), Expr::col(self.id).lt(id))
        };
        select.filter(
            Condition::any()
                .add(beyond)
                .add(Condition::all().add(e.eq(v)).add(id_beyond)),
        )
    }

    fn order_by(&self, reversed: bool) -> Vec<(SimpleExpr, Order)> {
        let dir = direction(self.desc, reversed);
        vec![
            (self.expr.clone(), dir.clone()),
            (self.id.into_simple_expr(), dir),
        ]
    }
}

/// `select` bounded by the page's cursors and ordered for reading it, without a limit: the
/// statement [`keyset_page`] runs, for callers that must add columns or joins of their own.
pub fn keyset_select<E: EntityTrait, O: KeysetOrder<E>>(
    select: Select<E>,
    order: &O,
    args: &KeysetArgs<O::Key>,
) -> Select<E> {
    let mut q = select;
    if let Some(a) = &args.after {
        q = order.bound(q, a, true);
    }
    if let Some(b) = &args.before {
        q = order.bound(q, b, false);
    }
    order.order(q, args.backward)
}

/// The one statement of a keyset page ([`keyset_select`] with limit + 1 rows, the extra row only
/// telling that there is more), the LIMIT written as a literal (see
/// [`crate::db::with_literal_limit`]). For callers that read rows their own way (a faster
/// decoder, other columns): [`KeysetRows::new`] then makes the page of what it read.
pub fn keyset_statement<E: EntityTrait, O: KeysetOrder<E>>(
    backend: DatabaseBackend,
    select: Select<E>,
    order: &O,
    args: &KeysetArgs<O::Key>,
) -> Statement {
    crate::db::with_literal_limit(backend, keyset_select(select, order, args), args.limit + 1)
}

/// The rows of one keyset page, in list order, with its page info.
#[derive(Clone)]
pub struct KeysetRows<M> {
    /// At most `limit` rows, in list order (a backward page is put back in order).
    pub rows: Vec<M>,
    /// `hasPreviousPage`.
    pub has_prev: bool,
    /// `hasNextPage`.
    pub has_next: bool,
}

impl<M> KeysetRows<M> {
    /// The page of the rows a [`keyset_statement`] of `args` read, in reading order.
    pub fn new<K>(args: &KeysetArgs<K>, mut rows: Vec<M>) -> Self {
        let fetched = rows.len();
        rows.truncate(args.limit as usize);
        Self::read(args, fetched, rows)
    }

    /// The page of a statement that read `fetched` rows, of which the caller converted only the
    /// first `limit`, `rows` (in reading order): the extra row needs no converting.
    pub fn read<K>(args: &KeysetArgs<K>, fetched: usize, mut rows: Vec<M>) -> Self {
        let (has_prev, has_next) = args.page_info(fetched);
        if args.backward {
            rows.reverse();
        }
        KeysetRows {
            rows,
            has_prev,
            has_next,
        }
    }

    /// A connection of these rows whose nodes are made for the whole page at once by `nodes`
    /// (one node per row, in order: e.g. nodes that share page-wide loaders); the cursors are
    /// the rows' keys.
    pub fn into_connection_batch<K, N, I>(
        self,
        total: TotalCount,
        key_of: impl Fn(&M) -> K,
        nodes: impl FnOnce(Vec<M>) -> I,
    ) -> Connection<KeyCursor<K>, N, TotalCount>
    where
        K: Serialize + DeserializeOwned + Send + Sync,
        N: OutputType,
        I: IntoIterator<Item = N>,
    {
        let mut connection =
            Connection::with_additional_fields(self.has_prev, self.has_next, total);
        let keys: Vec<K> = self.rows.iter().map(key_of).collect();
        connection.edges.extend(
            keys.into_iter()
                .zip(nodes(self.rows))
                .map(|(k, n)| Edge::new(KeyCursor(k), n)),
        );
        connection
    }

    /// A connection of these rows: one edge per row, its cursor the row's key.
    pub fn into_connection<K, N>(
        self,
        total: TotalCount,
        key_of: impl Fn(&M) -> K,
        to_node: impl Fn(M) -> N,
    ) -> Connection<KeyCursor<K>, N, TotalCount>
    where
        K: Serialize + DeserializeOwned + Send + Sync,
        N: OutputType,
    {
        let mut connection =
            Connection::with_additional_fields(self.has_prev, self.has_next, total);
        connection.edges.extend(
            self.rows
                .into_iter()
                .map(|m| Edge::new(KeyCursor(key_of(&m)), to_node(m))),
        );
        connection
    }
}

/// The rows of a keyset page of `select` in `order`, bounded by the cursors in `args`: one
/// [`keyset_statement`].
pub async fn keyset_rows<E, C, O>(
    conn: &C,
    select: Select<E>,
    order: &O,
    args: &KeysetArgs<O::Key>,
) -> AppResult<KeysetRows<E::Model>>
where
    E: EntityTrait,
    C: ConnectionTrait,
    O: KeysetOrder<E>,
{
    let stmt = keyset_statement(conn.get_database_backend(), select, order, args);
    let rows = E::find().from_raw_sql(stmt).all(conn).await?;
    Ok(KeysetRows::new(args, rows))
}

/// The one keyset pager: a page of `select` in `order`, bounded by the cursors in `args`, as a
/// Relay connection ([`keyset_rows`] + one edge per row); `totalCount` runs a count only when
/// selected.
pub async fn keyset_page<E, C, O, N>(
    conn: &C,
    select: Select<E>,
    order: &O,
    args: &KeysetArgs<O::Key>,
    to_node: impl Fn(E::Model) -> N,
) -> AppResult<Connection<KeyCursor<O::Key>, N, TotalCount>>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait + Clone + Send + Sync + 'static,
    O: KeysetOrder<E>,
    N: OutputType,
{
    let total = TotalCount::of(conn.clone(), select.clone());
    let page = keyset_rows(conn, select, order, args).await?;
    Ok(page.into_connection(total, |m| order.key_of(m), to_node))
}

type CountFn = dyn Fn() -> Pin<Box<dyn Future<Output = AppResult<u64>> + Send>> + Send + Sync;

/// Lazily computed `totalCount`.
#[derive(Clone)]
pub struct TotalCount {
    count: Arc<CountFn>,
}

impl TotalCount {
    /// Counts rows of `select` when asked.
    pub fn of<E, C>(conn: C, select: Select<E>) -> Self
    where
        E: EntityTrait,
        E::Model: Sync,
        C: ConnectionTrait + Clone + Send + Sync + 'static,
    {
        Self::lazy(conn, move || select.clone())
    }

    /// Counts rows of the select `make` builds, when asked: nothing is built for the (common)
    /// connections whose `totalCount` is not selected, e.g. the notes of each lead in a page.
    pub fn lazy<E, C, F>(conn: C, make: F) -> Self
    where
        E: EntityTrait,
        E::Model: Sync,
        C: ConnectionTrait + Clone + Send + Sync + 'static,
        F: Fn() -> Select<E> + Send + Sync + 'static,
    {
        TotalCount {
            count: Arc::new(move || {
                let conn = conn.clone();
                let select = make();
                Box::pin(async move { Ok(select.count(&conn).await?) })
            }),
        }
    }
}

#[Object]
impl TotalCount {
    /// Number of items matching the filter, across all pages.
    async fn total_count(&self) -> async_graphql::Result<u64> {
        Ok((self.count)().await?)
    }
}

/// A connection whose nodes are ordered newest first by a UUID v7 id.
pub type IdConnection<N> = Connection<KeyCursor<Uuid>, N, TotalCount>;

/// Newest first by a UUID v7 id column (v7 ids sort by creation): the order of most lists.
pub type NewestFirst<E> =
    ByColumn<<E as EntityTrait>::Column, fn(&<E as EntityTrait>::Model) -> Uuid>;

/// [`NewestFirst`] by `id`, the row's key being `key_of` (its id).
pub fn newest_first<E: EntityTrait>(
    id: E::Column,
    key_of: fn(&E::Model) -> Uuid,
) -> NewestFirst<E> {
    ByColumn {
        column: id,
        desc: true,
        key_of,
    }
}

/// A keyset page of `select`, newest first by `id_col` (UUID v7 ids sort by creation).
pub async fn page_by_id_desc<E, C, N, F>(
    conn: &C,
    select: Select<E>,
    id_col: E::Column,
    args: &PageArgs,
    id_of: impl Fn(&E::Model) -> Uuid,
    to_node: F,
) -> AppResult<IdConnection<N>>
where
    E: EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait + Clone + Send + Sync + 'static,
    N: OutputType,
    F: Fn(E::Model) -> N,
{
    let order = ByColumn {
        column: id_col,
        desc: true,
        key_of: id_of,
    };
    keyset_page(conn, select, &order, args, to_node).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_garbage() {
        let id = Uuid::now_v7();
        let c = KeyCursor(id).encode_cursor();
        assert_eq!(KeyCursor::<Uuid>::decode_cursor(&c).unwrap().0, id);
        assert!(KeyCursor::<Uuid>::decode_cursor("not-a-cursor").is_err());
    }

    #[test]
    fn page_info_reads_the_extra_row_and_the_cursor_side() {
        let fwd = PageArgs::new(
            Some(2),
            Some(KeyCursor(Uuid::nil()).encode_cursor()),
            None,
            None,
        )
        .unwrap();
        assert_eq!(fwd.page_info(3), (true, true));
        assert_eq!(fwd.page_info(2), (true, false));
        let first = PageArgs::new(Some(2), None, None, None).unwrap();
        assert_eq!(first.page_info(1), (false, false));
        let back = KeysetArgs::<(i64, Uuid)>::new(None, None, Some(2), None).unwrap();
        assert_eq!(back.page_info(3), (true, false));
        assert!(KeysetArgs::<(i64, Uuid)>::new(Some(1), Some("x".into()), None, None).is_err());
    }

    #[test]
    fn page_args_validation() {
        assert_eq!(PageArgs::new(None, None, None, None).unwrap().limit, 50);
        assert!(PageArgs::new(Some(201), None, None, None).is_err());
        assert!(PageArgs::new(Some(-1), None, None, None).is_err());
        assert!(PageArgs::new(Some(1), None, Some(1), None).is_err());
        assert!(PageArgs::new(Some(1), Some("x".into()), None, None).is_err());
        assert!(PageArgs::new(None, None, Some(5), None).unwrap().backward);
    }
}
