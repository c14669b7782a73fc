//! A/B winner selection (Mautic-style).
//!
//! A campaign with `abTest` and 2+ variants is sent in two phases:
//! 1. **Test** — at the first launch, [`assign_test_group`] picks `testFraction` of the PENDING
//!    recipients at random (in the launch transaction) and writes their variant, split by the
//!    variants' weights. The send job sends only rows with a variant while no winner is recorded.
//! 2. **Wait** — when no test recipient is left to send, the job records `testSentAt` on the
//!    campaign and enqueues its successor with `run_at = testSentAt + waitMinutes`, in one
//!    transaction (the queue is the timer, so a restart loses nothing).
//! 3. **Decide and send the rest** — that job computes each variant's rate over its test
//!    recipients, records `abWinner` with `campaign.status` (carrying `abWinner`) in one
//!    transaction, and sends every remaining recipient the winner (its claim writes the
//!    winner's name as the row's variant).
//!
//! Every recipient is still claimed `PENDING → SENDING` exactly once, so nobody gets two messages
//! whatever the phase; a job that runs early (a resume during the wait) re-enqueues the wait for
//! the remaining time.

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use entity::{campaign, campaign_recipient};
use rand::seq::SliceRandom;
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QuerySelect, Statement,
};
use serde_json::Value;
use uuid::Uuid;

use crate::domains::outreach::campaigns::types::{
    AbMetric, AbTest, AbVariantRate, AbWinner, CampaignVariant, RecipientStatus,
};
use crate::error::{AppResult, FieldError};

/// Smallest and largest test fraction.
pub const FRACTION: (f64, f64) = (0.05, 0.5);
/// Longest wait (a week).
pub const MAX_WAIT_MINUTES: i32 = 10_080;

/// Validation of `abTest` against the campaign's variant count.
pub fn check(field: &str, ab: &AbTest, variants: usize) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let e = |f: &str, m: &str| FieldError {
        field: format!("{field}.{f}"),
        message: m.into(),
    };
    if !(ab.test_fraction.is_finite()
        && ab.test_fraction >= FRACTION.0
        && ab.test_fraction <= FRACTION.1)
    {
        errors.push(e("testFraction", "must be between 0.05 and 0.5"));
    }
    if !(0..=MAX_WAIT_MINUTES).contains(&ab.wait_minutes) {
        errors.push(e("waitMinutes", "must be between 0 and 10080 (a week)"));
    }
    if variants < 2 {
        errors.push(FieldError {
            field: field.into(),
            message: "an A/B test needs at least 2 variants".into(),
        });
    }
    errors
}

/// The campaign's A/B test, when it has one (and variants to test).
pub fn test_of(c: &campaign::Model) -> Option<AbTest> {
    c.ab_test
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// When the test sends finished (the wait runs from there).
pub fn test_sent_at(c: &campaign::Model) -> Option<DateTime<Utc>> {
    c.ab_test
        .as_ref()
        .and_then(|v| v.get("testSentAt"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The recorded winner.
pub fn winner_of(c: &campaign::Model) -> Option<AbWinner> {
    c.ab_winner
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}

/// The campaign's variants, in their order.
pub fn variants_of(c: &campaign::Model) -> Vec<CampaignVariant> {
    serde_json::from_value(c.variants.clone()).unwrap_or_default()
}

/// The moment the decision is due.
pub fn decision_due(c: &campaign::Model, ab: &AbTest) -> Option<DateTime<Utc>> {
    test_sent_at(c).map(|t| t + ChronoDuration::minutes(i64::from(ab.wait_minutes)))
}

/// `ab_test` with `testSentAt` set.
pub fn with_test_sent_at(c: &campaign::Model, at: DateTime<Utc>) -> Value {
    let mut v = c.ab_test.clone().unwrap_or_else(|| serde_json::json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("testSentAt".into(), serde_json::json!(at));
    }
    v
}

/// How many of `n` recipients each variant gets for `total` test recipients, by weight (the
/// remainder goes to the first variants).
fn split(total: usize, weights: &[i32]) -> Vec<usize> {
    let sum: i64 = weights.iter().map(|w| i64::from((*w).max(1))).sum();
    let mut out: Vec<usize> = weights
        .iter()
        .map(|w| (total as i64 * i64::from((*w).max(1)) / sum.max(1)) as usize)
        .collect();
    let mut rest = total.saturating_sub(out.iter().sum());
    for o in out.iter_mut() {
        if rest == 0 {
            break;
        }
        *o += 1;
        rest -= 1;
    }
    out
}

/// At the first launch of an A/B campaign: picks the test group at random among the PENDING
/// recipients and writes their variants (in `conn`, the launch transaction). Does nothing when
/// the campaign has no A/B test, a winner already, or a test group (a resume).
pub async fn assign_test_group(conn: &impl ConnectionTrait, c: &campaign::Model) -> AppResult<()> {
    let Some(ab) = test_of(c) else {
        return Ok(());
    };
    let variants = variants_of(c);
    if variants.len() < 2 || c.ab_winner.is_some() {
        return Ok(());
    }
    let assigned = campaign_recipient::Entity::find()
        .filter(campaign_recipient::Column::CampaignId.eq(c.id))
        .filter(campaign_recipient::Column::Variant.is_not_null())
        .count(conn)
        .await?;
    if assigned > 0 {
        return Ok(());
    }
    let mut ids: Vec<Uuid> = campaign_recipient::Entity::find()
        .select_only()
        .column(campaign_recipient::Column::Id)
        .filter(campaign_recipient::Column::CampaignId.eq(c.id))
        .filter(campaign_recipient::Column::Status.eq(RecipientStatus::Pending.as_str()))
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    ids.shuffle(&mut rand::rng());
    let n = ids.len();
    // At least one per variant (when there are enough recipients), never more than all.
    let wanted = ((n as f64) * ab.test_fraction).ceil() as usize;
    let take = wanted.max(variants.len()).min(n);
    let weights: Vec<i32> = variants.iter().map(|v| v.weight).collect();
    let mut start = 0;
    for (v, count) in variants.iter().zip(split(take, &weights)) {
        let group = &ids[start..start + count];
        start += count;
        for chunk in group.chunks(500) {
            campaign_recipient::Entity::update_many()
                .col_expr(
                    campaign_recipient::Column::Variant,
                    Expr::value(v.name.clone()),
                )
                .filter(campaign_recipient::Column::Id.is_in(chunk.iter().copied()))
                .exec(conn)
                .await?;
        }
    }
    Ok(())
}

#[derive(Debug, FromQueryResult)]
struct Counts {
    variant: Option<String>,
    sent: Option<i64>,
    opened: Option<i64>,
    clicked: Option<i64>,
}

/// Each variant's result over its test recipients (the rows that have a variant before the
/// winner is chosen), in the campaign's variant order, and the winner: the best `metric`, a tie
/// going to the first variant.
pub async fn decide(
    conn: &impl ConnectionTrait,
    c: &campaign::Model,
    ab: &AbTest,
) -> AppResult<Option<AbWinner>> {
    let variants = variants_of(c);
    if variants.is_empty() {
        return Ok(None);
    }
    let backend = conn.get_database_backend();
    let p = match backend {
        DatabaseBackend::Postgres => "$1",
        _ => "?1",
    };
    let sql = format!(
        "SELECT variant, SUM(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END) AS sent, \
         SUM(CASE WHEN opened_at IS NOT NULL THEN 1 ELSE 0 END) AS opened, \
         SUM(CASE WHEN clicked_at IS NOT NULL THEN 1 ELSE 0 END) AS clicked \
         FROM campaign_recipients WHERE campaign_id = {p} AND variant IS NOT NULL GROUP BY variant"
    );
    let rows =
        Counts::find_by_statement(Statement::from_sql_and_values(backend, sql, [c.id.into()]))
            .all(conn)
            .await?;
    let rates: Vec<AbVariantRate> = variants
        .iter()
        .map(|v| {
            let r = rows.iter().find(|r| r.variant.as_deref() == Some(&v.name));
            let n = |f: fn(&Counts) -> Option<i64>| r.and_then(f).unwrap_or(0);
            let (sent, opens, clicks) = (n(|r| r.sent), n(|r| r.opened), n(|r| r.clicked));
            let hits = match ab.metric {
                AbMetric::OpenRate => opens,
                AbMetric::ClickRate => clicks,
            };
            AbVariantRate {
                variant_id: v.name.clone(),
                sent,
                opens,
                clicks,
                rate: if sent > 0 {
                    hits as f64 / sent as f64
                } else {
                    0.0
                },
            }
        })
        .collect();
    let mut best = 0;
    for (i, r) in rates.iter().enumerate() {
        // Strictly better only: a tie keeps the earlier variant.
        if r.rate > rates[best].rate {
            best = i;
        }
    }
    Ok(Some(AbWinner {
        variant_id: rates[best].variant_id.clone(),
        metric: ab.metric,
        rates,
        decided_at: Utc::now(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_by_weight_with_remainder_first() {
        assert_eq!(split(10, &[1, 1]), vec![5, 5]);
        assert_eq!(split(11, &[1, 1]), vec![6, 5]);
        assert_eq!(split(10, &[3, 1]), vec![8, 2]);
        assert_eq!(split(3, &[1, 1, 1]), vec![1, 1, 1]);
        assert_eq!(split(0, &[1, 1]), vec![0, 0]);
    }

    #[test]
    fn validation() {
        let ab = |f: f64, w: i32| AbTest {
            test_fraction: f,
            metric: AbMetric::OpenRate,
            wait_minutes: w,
        };
        assert!(check("input.abTest", &ab(0.2, 60), 2).is_empty());
        let e = check("input.abTest", &ab(0.01, -1), 1);
        let fields: Vec<_> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "input.abTest.testFraction",
                "input.abTest.waitMinutes",
                "input.abTest"
            ]
        );
        assert!(!check("x", &ab(f64::NAN, 1), 2).is_empty());
        assert!(!check("x", &ab(0.51, 1), 2).is_empty());
    }
}
