//! Listing leads: filters, ordering and keyset pages over (sort key, id), read through the one
//! keyset pager (`graphql::pagination`, `ByExprThenId`).

use std::borrow::Cow;

use async_graphql::connection::Connection;
use chrono::{DateTime, Utc};
use entity::{lead, lead_tag};
use sea_orm::{
    sea_query::{Expr, ExprTrait, Func, Query, SimpleExpr},
    ColumnTrait, DatabaseBackend, QueryFilter, Select, Statement,
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
    graphql::pagination::{
        keyset_select, keyset_statement, ByExprThenId, KeyCursor, KeysetArgs, KeysetOrder,
        KeysetRows, ThenIdKey, TotalCount,
    },
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
    pub o: Cow<'static, str>,
    /// Sort value.
    pub v: SortValue,
    /// Row id (tie-breaker).
    pub id: Uuid,
}

impl ThenIdKey for LeadKey {
    fn sort_value(&self) -> SimpleExpr {
        value_expr(&self.v)
    }

    fn id_value(&self) -> sea_orm::Value {
        self.id.into()
    }
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

/// Whether a cursor's key belongs to the ordering by `field`: its name and its kind of value.
fn fits(field: LeadOrderField, key: &LeadKey) -> bool {
    let kind = matches!(
        (field, &key.v),
        (LeadOrderField::Score, SortValue::Int(_))
            | (LeadOrderField::Company, SortValue::Text(_))
            | (
                LeadOrderField::CreatedAt
                    | LeadOrderField::UpdatedAt
                    | LeadOrderField::LastContactedAt,
                SortValue::Time(_)
            )
    );
    kind && key.o == field_name(field)
}

/// The cursor key of a row in the ordering by `field`.
fn row_key(field: LeadOrderField, m: &lead::Model) -> LeadKey {
    key(field, sort_value(field, m), m.id)
}

fn key(field: LeadOrderField, v: SortValue, id: Uuid) -> LeadKey {
    LeadKey {
        o: Cow::Borrowed(field_name(field)),
        v,
        id,
    }
}

/// A lead ordering as the pager takes it: the sort expression, ties broken by id.
fn ordering(order: LeadOrder) -> ByExprThenId<lead::Column, impl Fn(&lead::Model) -> LeadKey> {
    let field = order.field;
    ByExprThenId {
        expr: sort_expr(field),
        id: lead::Column::Id,
        desc: order.direction == OrderDirection::Desc,
        key_of: move |m: &lead::Model| row_key(field, m),
    }
}

/// One page of a lead list, before it runs: the filtered base, the ordering and the validated
/// page arguments. Shared by the resolvers ([`page`]) and the compiled read path
/// (`graphql::compiled::leads`), which both read it through the one keyset pager.
pub struct PageQuery {
    /// The filter alone (the connection's `totalCount`).
    pub base: Select<lead::Entity>,
    /// Page size, direction and cursors (their keys belong to `order`).
    pub args: KeysetArgs<LeadKey>,
    /// The ordering.
    pub order: LeadOrder,
}

impl PageQuery {
    /// The page of `base` in `order`; refuses cursors of another ordering.
    pub fn new(
        base: Select<lead::Entity>,
        order: LeadOrder,
        args: KeysetArgs<LeadKey>,
    ) -> AppResult<Self> {
        let field = order.field;
        let args = args.check(|k| fits(field, k), "cursor belongs to another ordering")?;
        Ok(PageQuery { base, args, order })
    }

    /// The page's one statement: `columns` applied to the filtered base (the resolvers keep the
    /// entity's columns; the compiled path selects its own), keyset-bounded, ordered, limit + 1.
    pub fn statement(
        &self,
        backend: DatabaseBackend,
        columns: impl FnOnce(Select<lead::Entity>) -> Select<lead::Entity>,
    ) -> Statement {
        keyset_statement(
            backend,
            columns(self.base.clone()),
            &ordering(self.order),
            &self.args,
        )
    }

    /// The cursor key of a row with sort value `v`.
    pub fn key(&self, v: SortValue, id: Uuid) -> LeadKey {
        key(self.order.field, v, id)
    }

    /// The cursor key of a row.
    pub fn key_of(&self, m: &lead::Model) -> LeadKey {
        row_key(self.order.field, m)
    }

    /// The page's select without its LIMIT (keyset-bounded, in reading order), and that order's
    /// sort expressions: for callers that read the pages of several lists in one statement
    /// (the leads of a page of scrape jobs or audiences).
    pub fn select(&self) -> (Select<lead::Entity>, Vec<(SimpleExpr, sea_orm::Order)>) {
        let order = ordering(self.order);
        let select = keyset_select(self.base.clone(), &order, &self.args);
        let by = KeysetOrder::<lead::Entity>::order_by(&order, self.args.backward);
        (select, by)
    }
}

/// Validates the viewer's permission and the cursors' ordering, and builds the page of the
/// viewer's leads that match `filter`.
pub fn page_query(
    backend: DatabaseBackend,
    viewer: &Viewer,
    filter: &LeadFilter,
    order: LeadOrder,
    args: KeysetArgs<LeadKey>,
) -> AppResult<PageQuery> {
    viewer.require(Permission::ReadLeads)?;
    PageQuery::new(filtered(backend, viewer, filter)?, order, args)
}

/// A page of the viewer's leads that match `filter`.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: &LeadFilter,
    order: LeadOrder,
    args: KeysetArgs<LeadKey>,
) -> AppResult<LeadConnection<Lead>> {
    let backend = state.db.get_database_backend();
    page(state, page_query(backend, viewer, filter, order, args)?).await
}

/// Runs a page query: one statement (rows decoded by position, `db::fast`), and the count only
/// when `totalCount` is selected. The leads of the page are resolved together (`LeadPage`).
pub async fn page(state: &AppState, q: PageQuery) -> AppResult<LeadConnection<Lead>> {
    let total = TotalCount::of(state.db.clone(), q.base.clone());
    let stmt = q.statement(state.db.get_database_backend(), |s| s);
    let rows = crate::db::fast::all_by_statement(&state.db, stmt).await?;
    let field = q.order.field;
    Ok(KeysetRows::new(&q.args, rows).into_connection_batch(
        total,
        |m| row_key(field, m),
        LeadPage::wrap,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait;

    #[test]
    fn a_cursor_fits_only_its_own_ordering_and_kind_of_value() {
        let id = Uuid::nil();
        let score = key(LeadOrderField::Score, SortValue::Int(3), id);
        assert!(fits(LeadOrderField::Score, &score));
        assert!(!fits(LeadOrderField::CreatedAt, &score));
        let forged = LeadKey {
            v: SortValue::Text("x".into()),
            ..score
        };
        assert!(!fits(LeadOrderField::Score, &forged));
        let created = key(LeadOrderField::CreatedAt, SortValue::Time(never()), id);
        assert!(fits(LeadOrderField::CreatedAt, &created));
        assert!(!fits(LeadOrderField::UpdatedAt, &created));
    }

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
