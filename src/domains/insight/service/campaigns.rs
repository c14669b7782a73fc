//! `campaignAnalytics(campaignId, range)`: one campaign's emails sent in a range, in two
//! organization-scoped statements: the campaign (name, variants) with the organization's time
//! zone, then one `UNION ALL` of three grouped branches over its recipients — per local day of
//! sending (`db::buckets`), per A/B variant, and the total.

use chrono_tz::Tz;
use sea_orm::{FromQueryResult, Statement, Value as DbValue};
use uuid::Uuid;

use super::{
    analytics::{email_bucket, email_counts, zero_filled, EmailRow},
    range::Range,
};
use crate::{
    auth::{Permission, Viewer},
    db::{
        buckets::{bucket_keys, bucket_sql, Unit},
        placeholder,
    },
    domains::insight::types::{CampaignAnalytics, EmailBucket},
    error::{AppError, AppResult},
    state::AppState,
};

#[derive(FromQueryResult)]
struct CampaignRow {
    name: String,
    variants: serde_json::Value,
    timezone: String,
}

#[derive(FromQueryResult)]
struct Row {
    dim: String,
    k: Option<String>,
    sent: i64,
    delivered: i64,
    opened: i64,
    clicked: i64,
    replied: i64,
    bounced: i64,
    unsubscribed: i64,
}

impl From<Row> for EmailRow {
    fn from(r: Row) -> Self {
        EmailRow {
            k: Some(r.k.unwrap_or_default()),
            id: None,
            label: None,
            sent: r.sent,
            delivered: r.delivered,
            opened: r.opened,
            clicked: r.clicked,
            replied: r.replied,
            bounced: r.bounced,
            unsubscribed: r.unsubscribed,
        }
    }
}

/// The names of the campaign's A/B variants (`[{name, …}]`), in their order.
fn variant_names(variants: &serde_json::Value) -> Vec<String> {
    variants
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v.get("name").and_then(|n| n.as_str()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The campaign in the viewer's organization (another organization's is NOT_FOUND) and the
/// organization's time zone.
async fn campaign_of(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<(CampaignRow, Tz)> {
    let backend = state.db.get_database_backend();
    let p = |i| placeholder(backend, i);
    let sql = format!(
        "SELECT c.name, c.variants, o.timezone FROM campaigns c \
         JOIN organizations o ON o.id = c.org_id WHERE c.id = {} AND c.org_id = {}",
        p(1),
        p(2)
    );
    let row = CampaignRow::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [id.into(), viewer.org_id.into()],
    ))
    .one(&state.db)
    .await?
    .ok_or(AppError::NotFound("campaign"))?;
    let tz = row.timezone.parse::<Tz>().unwrap_or(chrono_tz::UTC);
    Ok((row, tz))
}

/// `campaignAnalytics`: the totals, the zero-filled local days and every variant.
pub async fn campaign(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    range: Range,
) -> AppResult<CampaignAnalytics> {
    viewer.require(Permission::ReadDeals)?;
    let (campaign, tz) = campaign_of(state, viewer, id).await?;
    let backend = state.db.get_database_backend();
    let p = |i| placeholder(backend, i);
    let day = bucket_sql(backend, "r.sent_at", Unit::Day, tz, range.from, range.to);
    let scope = format!(
        "FROM campaign_recipients r WHERE r.org_id = {} AND r.campaign_id = {} \
         AND r.sent_at >= {} AND r.sent_at < {}",
        p(1),
        p(2),
        p(3),
        p(4)
    );
    let counts = email_counts();
    let sql = format!(
        "SELECT 'd' AS dim, {day} AS k, {counts} {scope} GROUP BY {day} \
         UNION ALL SELECT 'v', r.variant, {counts} {scope} AND r.variant IS NOT NULL \
         GROUP BY r.variant \
         UNION ALL SELECT 't', CAST(NULL AS TEXT), {counts} {scope}"
    );
    let values: Vec<DbValue> = vec![
        viewer.org_id.into(),
        id.into(),
        range.from.into(),
        range.to.into(),
    ];
    let rows = Row::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(&state.db)
        .await?;
    let (mut days, mut variants, mut total) = (Vec::new(), Vec::new(), None);
    for r in rows {
        match r.dim.as_str() {
            "d" => days.push(email_bucket(r.into())),
            "v" => variants.push(email_bucket(r.into())),
            _ => total = Some(email_bucket(r.into())),
        }
    }
    let empty = |k: String| {
        email_bucket(EmailRow {
            k: Some(k),
            ..EmailRow::default()
        })
    };
    let key = |b: &EmailBucket| b.key.clone();
    let mut names = variant_names(&campaign.variants);
    for v in &variants {
        if !names.contains(&v.key) {
            names.push(v.key.clone());
        }
    }
    Ok(CampaignAnalytics {
        campaign_id: async_graphql::ID(id.to_string()),
        name: campaign.name,
        from: range.from,
        to: range.to,
        timezone: tz.name().to_string(),
        total: total.unwrap_or_else(|| empty(String::new())),
        days: zero_filled(
            bucket_keys(Unit::Day, tz, range.from, range.to),
            days,
            empty,
            key,
        ),
        variants: zero_filled(names, variants, empty, key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_come_in_order_and_skip_nameless_entries() {
        let v = serde_json::json!([{"name": "A", "weight": 1}, {"weight": 2}, {"name": "B"}]);
        assert_eq!(variant_names(&v), ["A", "B"]);
        assert!(variant_names(&serde_json::json!({})).is_empty());
    }
}
