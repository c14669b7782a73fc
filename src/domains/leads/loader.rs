//! Batch loading of lead children for a whole page at once: owners, tags, the newest notes and
//! the newest timeline entries of every lead of the page, one statement each (a window function
//! for the "newest N per lead" cases). The first lead of a page that needs a relation loads it for
//! all its siblings; the others reuse the result. Unlike a timer-based DataLoader batch, the
//! statement count is exactly one per relation whatever the page size or machine load.

use std::collections::HashMap;

use entity::lead_tag;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Statement};
use uuid::Uuid;

use crate::{
    db::{
        fast::{self, ByIndex},
        placeholder, placeholders,
    },
    error::AppError,
};

/// Tags by lead id, sorted.
pub async fn tags(
    db: &DatabaseConnection,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>, AppError> {
    let rows = fast::all(
        db,
        lead_tag::Entity::find()
            .filter(lead_tag::Column::LeadId.is_in(ids.iter().copied()))
            .order_by_asc(lead_tag::Column::Tag),
    )
    .await?;
    let mut out: HashMap<Uuid, Vec<String>> = HashMap::new();
    for r in rows {
        out.entry(r.lead_id).or_default().push(r.tag);
    }
    Ok(out)
}

/// The newest `n` rows of `table` (whose columns are `M`'s) for each lead id, in one statement.
pub async fn newest_per_lead<M: ByIndex>(
    db: &DatabaseConnection,
    table: &str,
    ids: &[Uuid],
    n: u64,
    lead_of: impl Fn(&M) -> Uuid,
) -> Result<HashMap<Uuid, Vec<M>>, AppError> {
    let backend = db.get_database_backend();
    let mut out: HashMap<Uuid, Vec<M>> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    // The model's columns, in its order (positional decoding), without the row number.
    let sql = format!(
        "SELECT {} FROM (SELECT t.*, ROW_NUMBER() OVER (PARTITION BY t.lead_id ORDER BY t.id DESC) AS lg_rn \
         FROM {table} t WHERE t.lead_id IN ({})) x WHERE x.lg_rn <= {} ORDER BY x.lead_id, x.lg_rn",
        fast::column_list::<M>("x", ""),
        placeholders(backend, 2, ids.len()),
        placeholder(backend, 1)
    );
    let mut values: Vec<sea_orm::Value> = vec![(n as i64).into()];
    values.extend(ids.iter().map(|u| sea_orm::Value::from(*u)));
    let rows: Vec<M> =
        fast::all_by_statement(db, Statement::from_sql_and_values(backend, sql, values)).await?;
    for r in rows {
        out.entry(lead_of(&r)).or_default().push(r);
    }
    Ok(out)
}
