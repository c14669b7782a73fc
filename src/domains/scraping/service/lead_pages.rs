//! The first (or last) lead page of several lists in one statement: `ScrapeJob.leads` and
//! `Audience.leads` for a whole page of jobs or audiences (issue 22).
//!
//! Each parent's list is a lead list of its own ([`PageQuery`]: a job's linked leads, an
//! audience's saved filter), so the lists cannot be one partitioned select (`graphql::siblings::
//! first_pages` needs the parent as a column of the listed table; an audience's rows are
//! defined by a whole filter). They become one `UNION ALL` of the parents' own page selects,
//! each with its own order and `LIMIT limit + 1`, tagged with the parent's position: exactly the
//! statement each parent would run alone, read in one round trip. The leads of every page are
//! wrapped once ([`LeadPage::wrap`]), so a lead shown under many parents is one node of one
//! page and its own fields (owner, tags, campaigns, analysis) load once for the request.

use std::collections::HashMap;

use entity::lead;
use sea_orm::{
    sea_query::{Alias, Asterisk, Expr, Query, SelectStatement, UnionType, WindowStatement},
    ConnectionTrait, DatabaseConnection, Order, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use crate::{
    db::fast::Decoder,
    domains::leads::{Lead, LeadConnection, LeadPage, PageQuery},
    error::AppResult,
    graphql::pagination::{KeysetRows, TotalCount},
};

/// The lead pages of some parents (a page of scrape jobs or audiences), loaded together.
pub struct LeadPages {
    /// Per parent: its query (cursor keys, `totalCount`) and its page.
    pages: HashMap<Uuid, (PageQuery, KeysetRows<lead::Model>)>,
    /// Every lead of every page, wrapped once.
    leads: HashMap<Uuid, Lead>,
}

/// One parent's page select, tagged with its position `i` and numbered in reading order.
fn branch(q: &PageQuery, i: usize) -> SelectStatement {
    let (select, order) = q.select();
    let mut window = WindowStatement::new();
    for (expr, dir) in order {
        window.order_by_expr(expr, dir);
    }
    let mut inner = select.limit(q.args.limit + 1).into_query();
    inner
        .expr_as(Expr::cust(i.to_string()), Alias::new("lg_parent"))
        .expr_window_as(Expr::cust("ROW_NUMBER()"), window, Alias::new("lg_rn"));
    Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new(format!("lg_b{i}")))
        .to_owned()
}

impl LeadPages {
    /// Loads the pages of `queries` (parent id → its page query; first or last pages, no
    /// cursor) in one statement, and wraps their leads once.
    pub async fn load(db: &DatabaseConnection, queries: Vec<(Uuid, PageQuery)>) -> AppResult<Self> {
        let mut rows_of: Vec<Vec<lead::Model>> = queries.iter().map(|_| Vec::new()).collect();
        let mut union: Option<SelectStatement> = None;
        for (i, (_, q)) in queries.iter().enumerate() {
            let b = branch(q, i);
            match &mut union {
                None => union = Some(b),
                Some(u) => {
                    u.union(UnionType::All, b);
                }
            }
        }
        if let Some(mut u) = union {
            u.order_by(Alias::new("lg_parent"), Order::Asc)
                .order_by(Alias::new("lg_rn"), Order::Asc);
            let backend = db.get_database_backend();
            let rows = db.query_all_raw(backend.build(&u)).await?;
            let d = Decoder::for_rows::<lead::Model>(&rows, 0, "");
            for row in &rows {
                let i: i32 = row.try_get("", "lg_parent")?;
                let m: lead::Model = d.decode(row, 0, "")?;
                if let Some(list) = usize::try_from(i).ok().and_then(|i| rows_of.get_mut(i)) {
                    list.push(m);
                }
            }
        }
        let mut distinct: HashMap<Uuid, lead::Model> = HashMap::new();
        for m in rows_of.iter().flatten() {
            distinct.entry(m.id).or_insert_with(|| m.clone());
        }
        let leads = LeadPage::wrap(distinct.into_values().collect())
            .into_iter()
            .map(|l| (l.0.id, l))
            .collect();
        let pages = queries
            .into_iter()
            .zip(rows_of)
            .map(|((parent, q), rows)| {
                let page = KeysetRows::new(&q.args, rows);
                (parent, (q, page))
            })
            .collect();
        Ok(LeadPages { pages, leads })
    }

    /// The page of `parent`, or `None` when it was not part of the batch (its query could not
    /// be built: the caller reads it alone and gets the error).
    pub fn connection(
        &self,
        db: &DatabaseConnection,
        parent: Uuid,
    ) -> Option<LeadConnection<Lead>> {
        let (q, page) = self.pages.get(&parent)?;
        let total = TotalCount::of(db.clone(), q.base.clone());
        Some(page.clone().into_connection(
            total,
            |m| q.key_of(m),
            |m| match self.leads.get(&m.id) {
                Some(l) => l.clone(),
                None => Lead::from(m),
            },
        ))
    }
}
