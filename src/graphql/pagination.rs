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
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Select,
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

/// The four Relay arguments, validated.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    /// Page size.
    pub limit: u64,
    /// Items strictly after this key (in list order).
    pub after: Option<Uuid>,
    /// Items strictly before this key (in list order).
    pub before: Option<Uuid>,
    /// True when paging from the end (`last`).
    pub backward: bool,
}

fn decode_id_cursor(field: &str, raw: Option<String>) -> AppResult<Option<Uuid>> {
    raw.map(|s| {
        KeyCursor::<Uuid>::decode_cursor(&s)
            .map(|c| c.0)
            .map_err(|_| AppError::invalid(field, "invalid cursor"))
    })
    .transpose()
}

impl PageArgs {
    /// Validates `first/after/last/before`.
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<Self> {
        let (limit, backward) = page_size(first, last)?;
        Ok(PageArgs {
            limit,
            after: decode_id_cursor("after", after)?,
            before: decode_id_cursor("before", before)?,
            backward,
        })
    }
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

/// Runs a keyset page over `select`, newest first by `id_col` (UUID v7 ids sort by creation).
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
    let total = TotalCount::of(conn.clone(), select.clone());
    let mut q = select;
    if let Some(a) = args.after {
        q = q.filter(id_col.lt(a));
    }
    if let Some(b) = args.before {
        q = q.filter(id_col.gt(b));
    }
    q = if args.backward {
        q.order_by_asc(id_col)
    } else {
        q.order_by_desc(id_col)
    };
    let stmt = crate::db::with_literal_limit(conn.get_database_backend(), q, args.limit + 1);
    let mut rows = E::find().from_raw_sql(stmt).all(conn).await?;
    let more = rows.len() as u64 > args.limit;
    rows.truncate(args.limit as usize);
    let (has_prev, has_next) = if args.backward {
        rows.reverse();
        (more, args.before.is_some())
    } else {
        (args.after.is_some(), more)
    };
    let mut connection = Connection::with_additional_fields(has_prev, has_next, total);
    connection.edges.extend(
        rows.into_iter()
            .map(|m| Edge::new(KeyCursor(id_of(&m)), to_node(m))),
    );
    Ok(connection)
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
    fn page_args_validation() {
        assert_eq!(PageArgs::new(None, None, None, None).unwrap().limit, 50);
        assert!(PageArgs::new(Some(201), None, None, None).is_err());
        assert!(PageArgs::new(Some(-1), None, None, None).is_err());
        assert!(PageArgs::new(Some(1), None, Some(1), None).is_err());
        assert!(PageArgs::new(Some(1), Some("x".into()), None, None).is_err());
        assert!(PageArgs::new(None, None, Some(5), None).unwrap().backward);
    }
}
