//! The `leads` connection compiled to one statement (see `graphql::compiled`).
//!
//! This composes several domains (leads' page statement and `Lead` fields, identity's users,
//! outreach's campaign tables and enums), so it lives in the graphql layer, which may name
//! them all. The page statement is the resolvers' own (`leads::page_query`: filter, organization
//! scope; `PageQuery::statement`: the one keyset pager's bounds, order and literal limit + 1)
//! with its column list replaced by the id, the sort key (for cursors) and the node's JSON; the
//! rows read become the page through the pager too (`KeysetRows::read`). Nested relations are correlated subqueries that mirror the
//! resolvers' loaders: tags sorted, the owner by id, the newest notes by id, the lead's campaign
//! rows in the slot's order (`LeadCampaignsSlot::order_by`). Lists are `array_to_json(ARRAY(SELECT … ORDER BY …))`: the array
//! constructor keeps the subquery's order, which the indexes already give, where `json_agg(…
//! ORDER BY …)` would sort inside the aggregate for every row of the page. `totalCount`, when
//! selected, is the resolvers' count statement.

use async_graphql::connection::CursorType;
use chrono::{DateTime, Utc};
use entity::lead;
use sea_orm::{
    sea_query::{Expr, SelectStatement},
    sqlx::Row as _,
    ConnectionTrait, DatabaseBackend, DbErr, QuerySelect, QueryTrait, Statement,
};
use uuid::Uuid;

use super::{
    enum_sql,
    frame::{Layout, Page},
    leaf_object_sql,
    newest::first_page_sql,
    object_sql, timestamp_sql, Sel,
};
use crate::{
    auth::Viewer,
    domains::{
        leads::{
            batched_child_page, page_query, sort_expr,
            types::{LeadFilter, LeadOrder, LeadOrderField, LeadSource, LeadStatus},
            LeadCampaignsSlot, PageQuery, SortValue,
        },
        outreach::types::{CampaignStatus, RecipientStatus},
    },
    graphql::pagination::{KeyCursor, KeysetArgs, KeysetRows},
    state::AppState,
};

/// A planned `leads(…)` field.
pub struct LeadsPlan {
    page: PageQuery,
    /// The connection's selection (node selections' SQL in `layout.nodes`).
    layout: Layout,
    /// The page statement, built once (plans are cached: `graphql::compiled::PlanCache`).
    statement: Statement,
}

/// Plans `field` (the root `leads` field), or `None` when the resolvers must run it.
pub fn plan(viewer: &Viewer, field: &Sel) -> Option<LeadsPlan> {
    if !field.only_args(&["filter", "orderBy", "first", "after", "last", "before"]) {
        return None;
    }
    let filter: Option<LeadFilter> = field.arg("filter", "LeadFilter", false)?;
    let order: Option<LeadOrder> = field.arg("orderBy", "LeadOrder", false)?;
    let first: Option<i32> = field.arg("first", "Int", true)?;
    let after: Option<String> = field.arg("after", "String", true)?;
    let last: Option<i32> = field.arg("last", "Int", true)?;
    let before: Option<String> = field.arg("before", "String", true)?;
    // Refused arguments (a bad cursor, a page too large, no permission) get their errors from
    // the resolvers.
    let args = KeysetArgs::new(first, after, last, before).ok()?;
    let page = page_query(
        DatabaseBackend::Postgres,
        viewer,
        &filter.unwrap_or_default(),
        order.unwrap_or_default(),
        args,
    )
    .ok()?;
    let layout = Layout::plan(field, "LeadConnection", "LeadEdge", |sel| {
        object_sql(sel, "Lead", |f| lead_field(viewer, f))
    })?;
    let statement = page_statement(&page, &layout.nodes);
    Some(LeadsPlan {
        page,
        layout,
        statement,
    })
}

/// The page statement: the pager's keyset statement of the page (`PageQuery::statement`: bounds,
/// order, literal `LIMIT` of limit + 1) with id, sort key and one JSON column per node selection.
fn page_statement(page: &PageQuery, nodes: &[String]) -> Statement {
    page.statement(DatabaseBackend::Postgres, |base| {
        let mut select = base
            .select_only()
            .expr_as(Expr::col((lead::Entity, lead::Column::Id)), "lg_id")
            .expr_as(sort_expr(page.order.field), "lg_sort");
        for (i, node) in nodes.iter().enumerate() {
            select = select.expr_as(Expr::cust(format!("({node})::text")), format!("lg_node{i}"));
        }
        select
    })
}

fn col(c: &str) -> String {
    format!("\"leads\".\"{c}\"")
}

/// The column of a `Lead` field answered as the column's value.
fn plain_column(name: &str) -> Option<&'static str> {
    Some(match name {
        "id" => "id",
        "firstName" => "first_name",
        "lastName" => "last_name",
        "email" => "email",
        "phone" => "phone",
        "title" => "title",
        "website" => "website",
        "industry" => "industry",
        "phoneType" => "phone_type",
        "phoneCarrier" => "phone_carrier",
        "phoneCountry" => "phone_country",
        "score" => "score",
        _ => return None,
    })
}

/// The SQL of one selected `Lead` field (of the row `"leads"`).
pub(super) fn lead_field(viewer: &Viewer, f: &Sel) -> Option<String> {
    let leaf = f.is_leaf();
    if let Some(c) = plain_column(&f.name) {
        return leaf.then(|| col(c));
    }
    match f.name.as_str() {
        "company" => leaf.then(|| format!("NULLIF({}, '')", col("company"))),
        "fullName" => leaf.then(|| {
            let (a, b) = (col("first_name"), col("last_name"));
            format!("CASE WHEN {a} IS NULL AND {b} IS NULL THEN NULL ELSE concat_ws(' ', {a}, {b}) END")
        }),
        "source" => leaf.then(|| enum_sql(&col("source"), LeadSource::ALL, "OTHER")),
        "status" => leaf.then(|| enum_sql(&col("status"), LeadStatus::ALL, "NEW")),
        "createdAt" => leaf.then(|| timestamp_sql(&col("created_at"))),
        "updatedAt" => leaf.then(|| timestamp_sql(&col("updated_at"))),
        "lastContactedAt" => leaf.then(|| timestamp_sql(&col("last_contacted_at"))),
        "tags" => leaf.then(|| {
            format!(
                "array_to_json(ARRAY(SELECT t.tag FROM lead_tags t WHERE t.lead_id = {} ORDER BY t.tag))",
                col("id")
            )
        }),
        "location" if f.args.is_empty() => {
            leaf_object_sql(&f.children, "Location", |name| match name {
                "city" | "region" | "country" | "latitude" | "longitude" => Some(col(name)),
                _ => None,
            })
        }
        "owner" if f.args.is_empty() => {
            let obj = leaf_object_sql(&f.children, "User", |name| match name {
                "id" => Some("u.id".into()),
                "email" => Some("u.email".into()),
                "name" => Some("u.name".into()),
                "emailVerified" => Some("u.email_verified_at IS NOT NULL".into()),
                "createdAt" => Some(timestamp_sql("u.created_at")),
                _ => None,
            })?;
            Some(format!(
                "(SELECT {obj} FROM users u WHERE u.id = {})",
                col("owner_id")
            ))
        }
        "notes" => notes(f),
        "timeline" => timeline(f),
        "campaigns" if f.args.is_empty() => {
            viewer.require(LeadCampaignsSlot::PERMISSION).ok()?;
            let obj = object_sql(&f.children, "LeadCampaign", |c| match c.name.as_str() {
                "status" if c.is_leaf() => Some(enum_sql("r.status", RecipientStatus::ALL, "PENDING")),
                "sentAt" if c.is_leaf() => Some(timestamp_sql("r.sent_at")),
                "lastEventAt" if c.is_leaf() => Some(timestamp_sql("r.last_event_at")),
                // By primary key per row: cheaper than joining campaigns into the list (a hash
                // join rebuilt for every lead). Recipients always have their campaign (foreign
                // key, cascading delete), as the resolvers' inner join assumes.
                "campaign" if c.args.is_empty() => leaf_object_sql(&c.children, "Campaign", |name| {
                    match name {
                        "id" => Some("c.id".into()),
                        "name" => Some("c.name".into()),
                        "status" => Some(enum_sql("c.status", CampaignStatus::ALL, "DRAFT")),
                        _ => None,
                    }
                })
                .map(|obj| format!("(SELECT {obj} FROM campaigns c WHERE c.id = r.campaign_id)")),
                _ => None,
            })?;
            Some(format!(
                "array_to_json(ARRAY(SELECT {obj} FROM campaign_recipients r \
                 WHERE r.lead_id = {} ORDER BY {}))",
                col("id"),
                LeadCampaignsSlot::order_by("r")
            ))
        }
        _ => None,
    }
}

/// `notes(first: n)` (see [`child_page`]).
fn notes(f: &Sel) -> Option<String> {
    child_page(f, "lead_notes", "LeadNoteConnection", "LeadNote", |name| {
        Some(match name {
            "id" => "n.id".into(),
            "body" => "n.body".into(),
            "authorId" => "n.author_id".into(),
            "createdAt" => timestamp_sql("n.created_at"),
            "updatedAt" => timestamp_sql("n.updated_at"),
            _ => return None,
        })
    })
}

/// `timeline(first: n)` (see [`child_page`]). `data` (JSON written by serde, whose key order
/// PostgreSQL's `jsonb` does not keep) is left to the resolvers.
fn timeline(f: &Sel) -> Option<String> {
    child_page(
        f,
        "lead_interactions",
        "LeadInteractionConnection",
        "LeadInteraction",
        |name| {
            Some(match name {
                "id" => "n.id".into(),
                "kind" => "n.kind".into(),
                "actorId" => "n.actor_id".into(),
                "createdAt" => timestamp_sql("n.created_at"),
                _ => return None,
            })
        },
    )
}

/// A lead's child rows newest first (`table` as `n`, by `lead_id`), for the pages the
/// resolvers answer from their page-wide batch ([`batched_child_page`]: no cursor, n up to
/// `CHILD_BATCH_MAX`): nodes (`column` gives a node field's SQL), totalCount and pageInfo's
/// booleans.
fn child_page(
    f: &Sel,
    table: &str,
    connection: &str,
    node: &str,
    column: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    if !f.only_args(&["first", "after"]) {
        return None;
    }
    let first: Option<i32> = f.arg("first", "Int", true)?;
    let after: Option<String> = f.arg("after", "String", true)?;
    let n = batched_child_page(first, after.as_deref())?;
    let rows = format!("{table} n WHERE n.lead_id = {}", col("id"));
    first_page_sql(f, connection, &rows, "n.id DESC", n, true, |sel| {
        leaf_object_sql(sel, node, &column)
    })
}

impl LeadsPlan {
    /// The page statement (see [`page_statement`]).
    pub fn page_statement(&self) -> Statement {
        self.statement.clone()
    }

    /// The `totalCount` statement, when selected (the resolvers' count).
    pub fn count_statement(&self) -> Option<Statement> {
        self.layout.needs_total().then(|| {
            let query = SelectStatement::new()
                .expr(Expr::cust("COUNT(*) AS num_items"))
                .from_subquery(
                    self.page
                        .base
                        .clone()
                        .into_query()
                        .clear_order_by()
                        .to_owned(),
                    "sub_query",
                )
                .to_owned();
            DatabaseBackend::Postgres.build(&query)
        })
    }

    /// Runs the page statement (and the count when selected) and writes the connection.
    pub async fn execute(&self, state: &AppState, out: &mut String) -> Result<(), DbErr> {
        let rows = state.db.query_all_raw(self.page_statement()).await?;
        let mut decoded: Vec<(Uuid, SortValue, Vec<String>)> = Vec::with_capacity(rows.len());
        // The extra row (limit + 1) only tells that there is more: not decoded.
        for row in rows.iter().take(self.page.args.limit as usize) {
            decoded.push(self.decode(row)?);
        }
        let KeysetRows {
            rows: decoded,
            has_prev,
            has_next,
        } = KeysetRows::read(&self.page.args, rows.len(), decoded);
        let cursors: Vec<String> = if self.layout.needs_cursors() {
            decoded
                .iter()
                .map(|(id, sort, _)| KeyCursor(self.page.key(sort.clone(), *id)).encode_cursor())
                .collect()
        } else {
            Vec::new()
        };
        let total = if self.layout.needs_total() {
            Some(self.total(state).await?)
        } else {
            None
        };
        let json: Vec<Vec<String>> = decoded.into_iter().map(|(_, _, j)| j).collect();
        self.layout.write(
            out,
            &Page {
                rows: &json,
                cursors: &cursors,
                has_prev,
                has_next,
                total,
            },
        );
        Ok(())
    }

    /// One page row: id, sort key and the node selections' JSON.
    fn decode(&self, row: &sea_orm::QueryResult) -> Result<(Uuid, SortValue, Vec<String>), DbErr> {
        let pg = row
            .try_as_pg_row()
            .ok_or_else(|| DbErr::Type("compiled reads need PostgreSQL rows".into()))?;
        let err = |e: sea_orm::sqlx::Error| DbErr::Type(e.to_string());
        let id: Uuid = pg.try_get(0).map_err(err)?;
        let sort = match self.page.order.field {
            LeadOrderField::Score => {
                SortValue::Int(i64::from(pg.try_get::<i32, _>(1).map_err(err)?))
            }
            LeadOrderField::Company => SortValue::Text(pg.try_get(1).map_err(err)?),
            _ => SortValue::Time(pg.try_get::<DateTime<Utc>, _>(1).map_err(err)?),
        };
        let mut json = Vec::with_capacity(self.layout.nodes.len());
        for i in 0..self.layout.nodes.len() {
            json.push(pg.try_get::<String, _>(2 + i).map_err(err)?);
        }
        Ok((id, sort, json))
    }

    /// `totalCount` (the resolvers' count statement).
    async fn total(&self, state: &AppState) -> Result<i64, DbErr> {
        Ok(match self.count_statement() {
            Some(stmt) => state
                .db
                .query_one_raw(stmt)
                .await?
                .map(|r| r.try_get::<i64>("", "num_items"))
                .transpose()?
                .unwrap_or(0),
            None => 0,
        })
    }
}
