//! `aiUsage(period)`: calls, tokens and estimated cost per operation × provider × model.

use chrono::{Duration as ChronoDuration, Utc};
use entity::ai_usage;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use super::{month_start, tokens_since};
use crate::{
    auth::{Permission, Viewer},
    domains::ai::types::{AiUsagePeriod, AiUsageReport, AiUsageRow},
    error::AppResult,
    state::AppState,
};

/// operation, provider, model, calls, cached calls, prompt, completion tokens, cost.
type UsageTuple = (String, String, String, i64, i64, i64, i64, i64);

/// The organization's AI usage in `period`.
pub async fn usage(
    state: &AppState,
    viewer: &Viewer,
    period: AiUsagePeriod,
) -> AppResult<AiUsageReport> {
    viewer.require(Permission::ReadAiUsage)?;
    let now = Utc::now();
    let since = match period {
        AiUsagePeriod::Day => now - ChronoDuration::days(1),
        AiUsagePeriod::Week => now - ChronoDuration::days(7),
        AiUsagePeriod::Month => month_start(now),
    };
    let rows: Vec<UsageTuple> = ai_usage::Entity::find()
        .select_only()
        .column(ai_usage::Column::Operation)
        .column(ai_usage::Column::Provider)
        .column(ai_usage::Column::Model)
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "calls")
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(CASE WHEN cached THEN 1 ELSE 0 END), 0) AS BIGINT)"),
            "cached_calls",
        )
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT)"),
            "prompt_tokens",
        )
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT)"),
            "completion_tokens",
        )
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT)"),
            "cost_micros",
        )
        .filter(ai_usage::Column::OrgId.eq(viewer.org_id))
        .filter(ai_usage::Column::CreatedAt.gte(since))
        .group_by(ai_usage::Column::Operation)
        .group_by(ai_usage::Column::Provider)
        .group_by(ai_usage::Column::Model)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut by_operation: Vec<AiUsageRow> = rows
        .into_iter()
        .map(
            |(operation, provider, model, calls, cached, p, c, cost)| AiUsageRow {
                operation,
                provider,
                model,
                calls,
                cached_calls: cached,
                prompt_tokens: p,
                completion_tokens: c,
                cost_micros: cost,
            },
        )
        .collect();
    by_operation.sort_by(|a, b| {
        (&a.operation, &a.provider, &a.model).cmp(&(&b.operation, &b.provider, &b.model))
    });
    let sum = |f: fn(&AiUsageRow) -> i64| by_operation.iter().map(f).sum::<i64>();
    Ok(AiUsageReport {
        since,
        calls: sum(|r| r.calls),
        cached_calls: sum(|r| r.cached_calls),
        prompt_tokens: sum(|r| r.prompt_tokens),
        completion_tokens: sum(|r| r.completion_tokens),
        cost_micros: sum(|r| r.cost_micros),
        monthly_token_budget: state.config.ai_monthly_token_budget,
        month_tokens_used: tokens_since(&state.db, viewer.org_id, month_start(now)).await?,
        by_operation,
    })
}
