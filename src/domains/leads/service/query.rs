//! Listing leads: filters, ordering and keyset pagination over (sort key, id).

use async_graphql::connection::{Connection, CursorType, Edge};
use chrono::{DateTime, Utc};
use entity::{lead, lead_tag};
use sea_orm::{
    sea_query::{Expr, ExprTrait, Func, Query, SimpleExpr},
    ColumnTrait, Condition, DatabaseBackend, Order, QueryFilter, QueryOrder, QuerySelect, Select,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::scoped;
use crate::{
    auth::{Permission, Viewer},
    domains::leads::types::{
        Lead, LeadFilter, LeadOrder, LeadOrderField, LeadPage, OrderDirection, TagFilter,
    },
    error::{AppError, AppResult},
    graphql::pagination::{self, page_size, KeyCursor, TotalCount},
    ids::parse_id,
    state::AppState,
};

/// The sort key of one row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SortValue {
    /// Integer keys (score).
    Int(i64),
    /// Time keys.
    Time(DateTime<Utc>),
    /// Text keys (company).
    Text(String),
}

/// Cursor payload: the order it belongs to, the key and the id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadKey {
    /// Order field name, so a cursor from another ordering is refused.
    pub o: String,
    /// Sort value.
    pub v: SortValue,
    /// Row id (tie-breaker).
    pub id: Uuid,
}

/// A page of leads.
pub type LeadConnection<N> = Connection<KeyCursor<LeadKey>, N, TotalCount>;

fn never() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// The sort expression of `field` (what `PageQuery::select` orders by first).
pub fn sort_expr(field: LeadOrderField) -> SimpleExpr {
    match field {
        LeadOrderField::CreatedAt => Expr::col(lead::Column::CreatedAt),
        LeadOrderField::UpdatedAt => Expr::col(lead::Column::UpdatedAt),
        LeadOrderField::Score => Expr::col(lead::Column::Score),
        LeadOrderField::Company => Expr::col(lead::Column::Company),
        LeadOrderField::LastContactedAt => Func::coalesce([
            Expr::col(lead::Column::LastContactedAt),
            Expr::value(never()),
        ])
        .into(),
    }
}

fn sort_value(field: LeadOrderField, m: &lead::Model) -> SortValue {
    match field {
        LeadOrderField::CreatedAt => SortValue::Time(m.created_at),
        LeadOrderField::UpdatedAt => SortValue::Time(m.updated_at),
        LeadOrderField::Score => SortValue::Int(i64::from(m.score)),
        LeadOrderField::Company => SortValue::Text(m.company.clone()),
        LeadOrderField::LastContactedAt => {
            SortValue::Time(m.last_contacted_at.unwrap_or_else(never))
        }
    }
}

fn value_expr(v: &SortValue) -> SimpleExpr {
    match v {
        SortValue::Int(i) => Expr::value(*i),
        SortValue::Time(t) => Expr::value(*t),
        SortValue::Text(s) => Expr::value(s.clone()),
    }
}

fn field_name(f: LeadOrderField) -> &'static str {
    match f {
        LeadOrderField::CreatedAt => "createdAt",
        LeadOrderField::UpdatedAt => "updatedAt",
        LeadOrderField::Score => "score",
        LeadOrderField::Company => "company",
        LeadOrderField::LastContactedAt => "lastContactedAt",
    }
}

/// Rows strictly after `key` in the (possibly reversed) order.
fn after(field: LeadOrderField, key: &LeadKey, descending: bool) -> Condition {
    let e = sort_expr(field);
    let v = value_expr(&key.v);
    let (beyond, id_beyond) = if descending {
        (
            e.clone().lt(v.clone()),
            Expr::col(lead::Column::Id).lt(key.id),
        )
    } else {
        (
            e.clone().gt(v.clone()),
            Expr::col(lead::Column::Id).gt(key.id),
        )
    };
    Condition::any()
        .add(beyond)
        .add(Condition::all().add(e.eq(v)).add(id_beyond))
}

/// Search terms: alphanumeric runs, lowercased, at most 8.
fn terms(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .take(8)
        .map(str::to_lowercase)
        .collect()
}

/// Full-text match over name, company, email, title and note bodies; every term is a prefix
/// (`acm` finds Acme). Postgres: the generated `search_vector` columns (GIN); SQLite: FTS5.
fn search_condition(backend: DatabaseBackend, viewer: &Viewer, s: &str) -> SimpleExpr {
    let terms = terms(s);
    if terms.is_empty() {
        return Expr::cust("1 = 0");
    }
    let org = sea_orm::Value::from(viewer.org_id);
    match backend {
        DatabaseBackend::Postgres => {
            let q = terms
                .iter()
                .map(|t| format!("{t}:*"))
                .collect::<Vec<_>>()
                .join(" & ");
            Expr::cust_with_values(
                r#"("leads"."search_vector" @@ to_tsquery('simple', $1) OR "leads"."id" IN (SELECT "lead_id" FROM "lead_notes" WHERE "org_id" = $2 AND "search_vector" @@ to_tsquery('simple', $3)))"#,
                [
                    sea_orm::Value::from(q.clone()),
                    org,
                    sea_orm::Value::from(q),
                ],
            )
        }
        _ => {
            let q = terms
                .iter()
                .map(|t| format!("\"{t}\"*"))
                .collect::<Vec<_>>()
                .join(" AND ");
            Expr::cust_with_values(
                r#"("leads".rowid IN (SELECT rowid FROM leads_fts WHERE leads_fts MATCH ?) OR "leads"."id" IN (SELECT "lead_id" FROM "lead_notes" WHERE "org_id" = ? AND rowid IN (SELECT rowid FROM lead_notes_fts WHERE lead_notes_fts MATCH ?)))"#,
                [
                    sea_orm::Value::from(q.clone()),
                    org,
                    sea_orm::Value::from(q),
                ],
            )
        }
    }
}

/// The filtered selection (no order, no limit).
pub fn filtered(
    backend: DatabaseBackend,
    viewer: &Viewer,
    f: &LeadFilter,
) -> AppResult<Select<lead::Entity>> {
    let mut q = scoped(viewer);
    if let Some(s) = f.status.as_ref().filter(|s| !s.is_empty()) {
        q = q.filter(lead::Column::Status.is_in(s.iter().map(|x| x.as_str())));
    }
    if let Some(s) = f.source.as_ref().filter(|s| !s.is_empty()) {
        q = q.filter(lead::Column::Source.is_in(s.iter().map(|x| x.as_str())));
    }
    if let Some(t) = &f.tags {
        q = tag_filter(q, viewer, t);
    }
    if let Some(min) = f.min_score {
        q = q.filter(lead::Column::Score.gte(min));
    }
    if let Some(max) = f.max_score {
        q = q.filter(lead::Column::Score.lte(max));
    }
    if let Some(owner) = &f.owner_id {
        let owner = parse_id(owner)
            .map_err(|_| AppError::invalid("filter.ownerId", "is not a valid id"))?;
        q = q.filter(lead::Column::OwnerId.eq(owner));
    }
    if let Some(t) = f.created_after {
        q = q.filter(lead::Column::CreatedAt.gte(t));
    }
    if let Some(t) = f.created_before {
        q = q.filter(lead::Column::CreatedAt.lt(t));
    }
    match f.has_email {
        Some(true) => q = q.filter(lead::Column::Email.is_not_null()),
        Some(false) => q = q.filter(lead::Column::Email.is_null()),
        None => {}
    }
    match f.has_phone {
        Some(true) => q = q.filter(lead::Column::Phone.is_not_null()),
        Some(false) => q = q.filter(lead::Column::Phone.is_null()),
        None => {}
    }
    if let Some(s) = f.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if s.chars().count() > 200 {
            return Err(AppError::invalid(
                "filter.search",
                "must be at most 200 characters",
            ));
        }
        q = q.filter(search_condition(backend, viewer, s));
    }
    Ok(place_filter(q, f))
}

/// Leads with any / all of the tags.
fn tag_filter(mut q: Select<lead::Entity>, viewer: &Viewer, t: &TagFilter) -> Select<lead::Entity> {
    let norm = |v: &Vec<String>| {
        v.iter()
            .map(|t| t.trim().to_lowercase())
            .collect::<Vec<_>>()
    };
    if let Some(any) = t.any.as_ref().filter(|v| !v.is_empty()) {
        let sub = Query::select()
            .column(lead_tag::Column::LeadId)
            .from(lead_tag::Entity)
            .and_where(lead_tag::Column::OrgId.eq(viewer.org_id))
            .and_where(lead_tag::Column::Tag.is_in(norm(any)))
            .to_owned();
        q = q.filter(lead::Column::Id.in_subquery(sub));
    }
    if let Some(all) = t.all.as_ref().filter(|v| !v.is_empty()) {
        let tags = norm(all);
        let n = tags.len() as i64;
        let sub = Query::select()
            .column(lead_tag::Column::LeadId)
            .from(lead_tag::Entity)
            .and_where(lead_tag::Column::OrgId.eq(viewer.org_id))
            .and_where(lead_tag::Column::Tag.is_in(tags))
            .group_by_col(lead_tag::Column::LeadId)
            .and_having(Expr::col(lead_tag::Column::Tag).count().eq(n))
            .to_owned();
        q = q.filter(lead::Column::Id.in_subquery(sub));
    }
    q
}

/// City and region (case-insensitive) and country.
fn place_filter(mut q: Select<lead::Entity>, f: &LeadFilter) -> Select<lead::Entity> {
    for (col, v) in [
        (lead::Column::City, &f.city),
        (lead::Column::Region, &f.region),
    ] {
        if let Some(v) = v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            q = q.filter(Expr::expr(Func::lower(Expr::col(col))).eq(v.to_lowercase()));
        }
    }
    if let Some(c) = f
        .country
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        q = q.filter(lead::Column::Country.eq(c.to_uppercase()));
    }
    q
}

fn decode(field: LeadOrderField, name: &str, raw: Option<String>) -> AppResult<Option<LeadKey>> {
    let Some(raw) = raw else { return Ok(None) };
    let key = KeyCursor::<LeadKey>::decode_cursor(&raw)
        .map_err(|_| AppError::invalid(name, "invalid cursor"))?
        .0;
    if key.o != field_name(field) {
        return Err(AppError::invalid(
            name,
            "cursor belongs to another ordering",
        ));
    }
    Ok(Some(key))
}

/// The statements of one page: the ordered, limited page select and the filtered base (for
/// `totalCount`). Shared by the resolvers and the compiled read path (`graphql::compiled::leads`).
pub struct PageQuery {
    /// Filtered, keyset-bounded, ordered, `limit + 1` rows.
    pub select: Select<lead::Entity>,
    /// The filter alone (the connection's `totalCount`).
    pub base: Select<lead::Entity>,
    /// Page size.
    pub limit: u64,
    /// Read from the end (`last`/`before`).
    pub backward: bool,
    /// Whether `after` / `before` cursors were given.
    pub has_after: bool,
    /// See `has_after`.
    pub has_before: bool,
    /// The order field (cursors carry it).
    pub field: LeadOrderField,
}

impl PageQuery {
    /// `(hasPreviousPage, hasNextPage)` for a page that read `fetched` rows (up to limit + 1).
    pub fn page_info(&self, fetched: usize) -> (bool, bool) {
        pagination::page_info(
            self.limit,
            self.backward,
            self.has_after,
            self.has_before,
            fetched,
        )
    }

    /// The cursor key of a row with sort value `v`.
    pub fn key(&self, v: SortValue, id: Uuid) -> LeadKey {
        LeadKey {
            o: field_name(self.field).into(),
            v,
            id,
        }
    }
}

/// Validates the page arguments and builds the page's statements.
#[allow(clippy::too_many_arguments)]
pub fn page_query(
    backend: DatabaseBackend,
    viewer: &Viewer,
    filter: &LeadFilter,
    order: LeadOrder,
    first: Option<i32>,
    after_cursor: Option<String>,
    last: Option<i32>,
    before_cursor: Option<String>,
) -> AppResult<PageQuery> {
    viewer.require(Permission::ReadLeads)?;
    let (limit, backward) = page_size(first, last)?;
    let field = order.field;
    let after_key = decode(field, "after", after_cursor)?;
    let before_key = decode(field, "before", before_cursor)?;
    let base = filtered(backend, viewer, filter)?;
    let desc = order.direction == OrderDirection::Desc;
    let mut q = base.clone();
    if let Some(k) = &after_key {
        q = q.filter(after(field, k, desc));
    }
    if let Some(k) = &before_key {
        q = q.filter(after(field, k, !desc));
    }
    // Backward pages read the reversed order, then flip.
    let read_desc = desc != backward;
    let dir = if read_desc { Order::Desc } else { Order::Asc };
    q = q
        .order_by(sort_expr(field), dir.clone())
        .order_by(lead::Column::Id, dir)
        .limit(limit + 1);
    Ok(PageQuery {
        select: q,
        base,
        limit,
        backward,
        has_after: after_key.is_some(),
        has_before: before_key.is_some(),
        field,
    })
}

/// A page of leads.
#[allow(clippy::too_many_arguments)]
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: &LeadFilter,
    order: LeadOrder,
    first: Option<i32>,
    after_cursor: Option<String>,
    last: Option<i32>,
    before_cursor: Option<String>,
) -> AppResult<LeadConnection<Lead>> {
    let page = page_query(
        state.db.get_database_backend(),
        viewer,
        filter,
        order,
        first,
        after_cursor,
        last,
        before_cursor,
    )?;
    let total = TotalCount::of(state.db.clone(), page.base.clone());
    let stmt = crate::db::with_literal_limit(
        state.db.get_database_backend(),
        page.select.clone(),
        page.limit + 1,
    );
    let mut rows = crate::db::fast::all_by_statement(&state.db, stmt).await?;
    let (has_prev, has_next) = page.page_info(rows.len());
    rows.truncate(page.limit as usize);
    if page.backward {
        rows.reverse();
    }
    let mut conn = Connection::with_additional_fields(has_prev, has_next, total);
    let keys: Vec<LeadKey> = rows
        .iter()
        .map(|m| page.key(sort_value(page.field, m), m.id))
        .collect();
    let leads = LeadPage::wrap(rows);
    conn.edges.extend(
        keys.into_iter()
            .zip(leads)
            .map(|(k, l)| Edge::new(KeyCursor(k), l)),
    );
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait;

    #[test]
    fn search_binds_its_values_on_both_backends() {
        let v = Viewer {
            user_id: Uuid::nil(),
            org_id: Uuid::nil(),
            role: crate::auth::Role::Owner,
            via: crate::auth::ViewerVia::Jwt,
            session_id: None,
        };
        let f = LeadFilter {
            search: Some("Acme co@x".into()),
            ..Default::default()
        };
        for backend in [DatabaseBackend::Postgres, DatabaseBackend::Sqlite] {
            let sql = filtered(backend, &v, &f)
                .unwrap()
                .build(backend)
                .to_string();
            assert!(!sql.contains('?'), "{sql}");
        }
        let pg = filtered(DatabaseBackend::Postgres, &v, &f)
            .unwrap()
            .build(DatabaseBackend::Postgres)
            .to_string();
        assert!(pg.contains("'acme:* & co:* & x:*'"), "{pg}");
        let lite = filtered(DatabaseBackend::Sqlite, &v, &f)
            .unwrap()
            .build(DatabaseBackend::Sqlite)
            .to_string();
        assert!(lite.contains(r#"'"acme"* AND "co"* AND "x"*'"#), "{lite}");
    }
}
