//! Decoding PostgreSQL rows by position on the hot read paths.
//!
//! SeaORM's derived `FromQueryResult` reads each column by name: it formats the name, looks it
//! up in the row's column map, checks type compatibility, then does it again to decode. For the
//! 50-lead nested query that was about half of the server's instructions (callgrind), for values
//! whose columns and types are known in advance. [`ByIndex`] models decode a PostgreSQL row by
//! position instead (`try_get_unchecked`, one pass), in the declared field order, which is also
//! `Column::iter()` order — the order SeaORM selects an entity's columns in.
//!
//! Safety net: before decoding a result set by position, the first row's column names are
//! compared with the model's (with the given offset); on any difference the whole set is decoded
//! by name as before. SQLite rows are always decoded by name (SQLite's dynamic typing makes the
//! derived, checked decoding the right one there). `tests/api/fast_rows.rs` checks both decoders
//! give the same models on both backends.

use sea_orm::{
    sqlx::{postgres::PgRow, Column as _, Row as _},
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryResult, QueryTrait, Select,
    Statement,
};

/// A model decodable from a PostgreSQL row by position.
pub trait ByIndex: FromQueryResult + Sized {
    /// Column names in decoding order.
    const COLUMNS: &'static [&'static str];

    /// Decodes columns `start .. start + COLUMNS.len()` of `row`.
    fn from_pg_row(row: &PgRow, start: usize) -> Result<Self, sea_orm::sqlx::Error>;
}

/// Implements [`ByIndex`] for a model whose fields are listed in declaration order (the
/// compiler checks every field is listed; `columns_match_the_entities` checks the order).
macro_rules! by_index {
    ($model:ty { $($field:ident),+ $(,)? }) => {
        impl ByIndex for $model {
            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];

            #[allow(unused_assignments)]
            fn from_pg_row(row: &PgRow, start: usize) -> Result<Self, sea_orm::sqlx::Error> {
                let mut i = start;
                Ok(Self {
                    $($field: {
                        let v = row.try_get_unchecked(i)?;
                        i += 1;
                        v
                    }),+
                })
            }
        }
    };
}

by_index!(entity::lead::Model {
    id,
    org_id,
    first_name,
    last_name,
    email,
    phone,
    company,
    title,
    website,
    industry,
    city,
    region,
    country,
    latitude,
    longitude,
    source,
    status,
    score,
    score_reasons,
    custom_fields,
    provenance,
    owner_id,
    last_contacted_at,
    created_at,
    updated_at,
    email_status,
    validated_at,
    phone_type,
    phone_carrier,
    phone_country,
});
by_index!(entity::lead_tag::Model {
    lead_id,
    tag,
    org_id
});
by_index!(entity::lead_note::Model {
    id,
    lead_id,
    org_id,
    author_id,
    body,
    created_at,
    updated_at,
});
by_index!(entity::lead_interaction::Model {
    id,
    lead_id,
    org_id,
    kind,
    actor_id,
    data,
    created_at,
});
by_index!(entity::lead_analysis::Model {
    id,
    org_id,
    lead_id,
    summary,
    fit_score,
    reasons,
    next_action,
    talking_points,
    provider,
    model,
    created_at,
});
by_index!(entity::user::Model {
    id,
    email,
    name,
    password_hash,
    email_verified_at,
    avatar_file_id,
    created_at,
    updated_at,
});
by_index!(entity::campaign::Model {
    id,
    org_id,
    name,
    template_id,
    from_name,
    from_email,
    reply_to,
    send_rate_per_minute,
    schedule_at,
    status,
    variants,
    content,
    job_id,
    created_by,
    launched_at,
    completed_at,
    last_error,
    ab_test,
    ab_winner,
    created_at,
    updated_at,
    require_validated_recipients,
});
by_index!(entity::campaign_recipient::Model {
    id,
    campaign_id,
    org_id,
    lead_id,
    email,
    status,
    variant,
    message_id,
    attempts,
    open_count,
    click_count,
    sent_at,
    opened_at,
    clicked_at,
    replied_at,
    bounced_at,
    bounce_kind,
    unsubscribed_at,
    last_event_at,
    error,
    created_at,
    updated_at,
});

/// Whether `row`'s columns from `start` are `M`'s, named with `prefix`.
fn layout_matches<M: ByIndex>(row: &PgRow, start: usize, prefix: &str) -> bool {
    let cols = row.columns();
    cols.len() >= start + M::COLUMNS.len()
        && M::COLUMNS.iter().enumerate().all(|(k, name)| {
            let got = cols[start + k].name();
            got.len() == prefix.len() + name.len() && got.starts_with(prefix) && got.ends_with(name)
        })
}

/// How a result set is decoded (decided once, from its first row).
#[derive(Clone, Copy)]
pub struct Decoder {
    positional: bool,
}

impl Decoder {
    /// Positional when the rows are PostgreSQL rows laid out as `M` at `start` (columns named
    /// `prefix` + field); by name otherwise.
    pub fn for_rows<M: ByIndex>(rows: &[QueryResult], start: usize, prefix: &str) -> Decoder {
        let positional = rows
            .first()
            .and_then(QueryResult::try_as_pg_row)
            .is_some_and(|r| layout_matches::<M>(r, start, prefix));
        debug_assert!(
            positional || rows.first().and_then(QueryResult::try_as_pg_row).is_none(),
            "the select does not lay out {} columns as the model declares them",
            M::COLUMNS.len()
        );
        Decoder { positional }
    }

    /// Decodes one `M` from `row` (at `start`, or by `prefix` + name).
    pub fn decode<M: ByIndex>(
        self,
        row: &QueryResult,
        start: usize,
        prefix: &str,
    ) -> Result<M, DbErr> {
        match (self.positional, row.try_as_pg_row()) {
            (true, Some(pg)) => M::from_pg_row(pg, start).map_err(|e| DbErr::Type(e.to_string())),
            _ => M::from_query_result(row, prefix),
        }
    }
}

/// Runs `stmt` and decodes every row as `M` (at position 0, unprefixed names).
pub async fn all_by_statement<M: ByIndex, C: ConnectionTrait>(
    db: &C,
    stmt: Statement,
) -> Result<Vec<M>, DbErr> {
    let rows = db.query_all_raw(stmt).await?;
    let d = Decoder::for_rows::<M>(&rows, 0, "");
    rows.iter().map(|r| d.decode(r, 0, "")).collect()
}

/// `select.all(db)` with positional decoding on PostgreSQL. Only for selects of the entity's
/// own columns (no `select_only`, no `select_also`); anything else falls back to names.
pub async fn all<E, C>(db: &C, select: Select<E>) -> Result<Vec<E::Model>, DbErr>
where
    E: EntityTrait,
    E::Model: ByIndex,
    C: ConnectionTrait,
{
    let stmt = select.build(db.get_database_backend());
    all_by_statement(db, stmt).await
}

/// `alias.col AS prefixcol, …` for `M`'s columns, in decoding order.
pub fn column_list<M: ByIndex>(alias: &str, prefix: &str) -> String {
    M::COLUMNS
        .iter()
        .map(|c| format!("{alias}.{c} AS {prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use sea_orm::{IdenStatic, Iterable};

    use super::*;

    fn names<E: EntityTrait>() -> Vec<String> {
        E::Column::iter().map(|c| c.as_str().to_string()).collect()
    }

    fn declared<M: ByIndex>() -> Vec<String> {
        M::COLUMNS.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn columns_match_the_entities() {
        use entity::*;
        assert_eq!(declared::<lead::Model>(), names::<lead::Entity>());
        assert_eq!(declared::<lead_tag::Model>(), names::<lead_tag::Entity>());
        assert_eq!(declared::<lead_note::Model>(), names::<lead_note::Entity>());
        assert_eq!(
            declared::<lead_interaction::Model>(),
            names::<lead_interaction::Entity>()
        );
        assert_eq!(
            declared::<lead_analysis::Model>(),
            names::<lead_analysis::Entity>()
        );
        assert_eq!(declared::<user::Model>(), names::<user::Entity>());
        assert_eq!(declared::<campaign::Model>(), names::<campaign::Entity>());
        assert_eq!(
            declared::<campaign_recipient::Model>(),
            names::<campaign_recipient::Entity>()
        );
    }

    #[test]
    fn column_list_aliases_every_column() {
        assert_eq!(
            column_list::<entity::lead_tag::Model>("t", "x_"),
            "t.lead_id AS x_lead_id, t.tag AS x_tag, t.org_id AS x_org_id"
        );
    }
}
