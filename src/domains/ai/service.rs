//! AI rules: input limits, the monthly token budget (checked before any provider call), the
//! result cache (Redis when configured, else the `ai_cache` table), usage recording, and the
//! search goals.

use chrono::{DateTime, Datelike, Duration as ChronoDuration, TimeZone, Utc};
use entity::{ai_cache, ai_usage, lead_analysis, search_goal};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Select,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{
    local::LocalHeuristic,
    openai::OpenAiCompatible,
    provider::{AiError, AiProvider, Task},
    types::{
        AiMeta, CreateSearchGoalInput, GoalPrompt, LeadAnalysisOutput, LeadFacts, SearchStrategy,
        StrategySource,
    },
};
use crate::{
    auth::{Permission, Viewer},
    config::AiProviderKind,
    domains::leads::{service as leads, types::ScoreReason},
    error::{AppError, AppResult, FieldError},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::AppState,
};

/// Longest text the text tools accept (characters).
pub const MAX_TEXT_CHARS: usize = 20_000;
/// Most labels `classifyText` accepts.
pub const MAX_LABELS: usize = 20;

/// The configured provider.
pub fn provider(state: &AppState) -> Box<dyn AiProvider> {
    match state.config.ai_provider {
        AiProviderKind::Local => Box::new(LocalHeuristic),
        AiProviderKind::OpenAi => Box::new(OpenAiCompatible {
            base_url: state.config.openai_base_url.clone(),
            api_key: state.config.openai_api_key.clone(),
            model: state.config.openai_model.clone(),
            fallback_model: state.config.openai_fallback_model.clone(),
        }),
    }
}

/// Checks a text input: 1 … [`MAX_TEXT_CHARS`] characters, not blank.
pub fn check_text(field: &str, text: &str) -> AppResult<String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(AppError::invalid(field, "must not be empty"));
    }
    if t.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::invalid(
            field,
            format!("must be at most {MAX_TEXT_CHARS} characters"),
        ));
    }
    Ok(t.to_string())
}

/// Checks `classifyText` labels: 2 … 20 distinct, each 1 … 100 characters.
pub fn check_labels(labels: &[String]) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for l in labels {
        let l = l.trim();
        if l.is_empty() || l.chars().count() > 100 {
            return Err(AppError::invalid(
                "labels",
                "each label must be 1–100 characters",
            ));
        }
        if out.iter().any(|o| o == l) {
            return Err(AppError::invalid("labels", format!("duplicate label {l}")));
        }
        out.push(l.to_string());
    }
    if out.len() < 2 || out.len() > MAX_LABELS {
        return Err(AppError::invalid(
            "labels",
            format!("give 2–{MAX_LABELS} labels"),
        ));
    }
    Ok(out)
}

/// Start of the current calendar month (UTC): the budget period.
fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// Tokens the organization used since `since`.
async fn tokens_since(
    conn: &impl ConnectionTrait,
    org_id: Uuid,
    since: DateTime<Utc>,
) -> AppResult<i64> {
    let used: Option<i64> = ai_usage::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT)"),
            "t",
        )
        .filter(ai_usage::Column::OrgId.eq(org_id))
        .filter(ai_usage::Column::CreatedAt.gte(since))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(used.unwrap_or(0))
}

/// AI_BUDGET_EXCEEDED when the organization used its monthly tokens.
async fn check_budget(state: &AppState, viewer: &Viewer) -> AppResult<()> {
    let budget = state.config.ai_monthly_token_budget;
    if budget == 0 {
        return Ok(());
    }
    let used = tokens_since(&state.db, viewer.org_id, month_start(Utc::now())).await?;
    if u64::try_from(used).unwrap_or(0) >= budget {
        return Err(AppError::AiBudgetExceeded(format!(
            "the organization's monthly AI budget of {budget} tokens is used up ({used} used); it renews on the first of next month (UTC)"
        )));
    }
    Ok(())
}

/// Estimated price per million tokens in micro-dollars (prompt, completion). Unknown models
/// (and the local provider) cost 0.
fn price(model: &str) -> (u64, u64) {
    let m = model.rsplit('/').next().unwrap_or(model);
    if m.starts_with("gpt-4o-mini") {
        (150_000, 600_000)
    } else if m.starts_with("gpt-4o") {
        (2_500_000, 10_000_000)
    } else if m.starts_with("gpt-4.1-mini") {
        (400_000, 1_600_000)
    } else if m.starts_with("gpt-3.5-turbo") {
        (500_000, 1_500_000)
    } else {
        (0, 0)
    }
}

fn cost_micros(model: &str, prompt: u64, completion: u64) -> i64 {
    let (p, c) = price(model);
    let micros =
        (u128::from(prompt) * u128::from(p) + u128::from(completion) * u128::from(c)) / 1_000_000;
    i64::try_from(micros).unwrap_or(i64::MAX)
}

#[allow(clippy::too_many_arguments)]
async fn record_usage(
    state: &AppState,
    viewer: &Viewer,
    operation: &str,
    provider: &str,
    model: &str,
    prompt: u64,
    completion: u64,
    cached: bool,
) -> AppResult<()> {
    ai_usage::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        user_id: Set(Some(viewer.user_id)),
        provider: Set(provider.to_string()),
        model: Set(model.to_string()),
        operation: Set(operation.to_string()),
        prompt_tokens: Set(i64::try_from(prompt).unwrap_or(i64::MAX)),
        completion_tokens: Set(i64::try_from(completion).unwrap_or(i64::MAX)),
        cost_micros: Set(cost_micros(model, prompt, completion)),
        cached: Set(cached),
        created_at: Set(Utc::now()),
    }
    .insert(&state.db)
    .await?;
    Ok(())
}

fn cache_key(provider: &dyn AiProvider, task: &Task) -> String {
    let mut h = Sha256::new();
    for part in [
        provider.name().to_string(),
        provider.model().to_string(),
        task.operation().to_string(),
        task.instructions(),
        task.input().to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

async fn cache_get(state: &AppState, key: &str) -> AppResult<Option<String>> {
    if state.cache.kind() == "redis" {
        return Ok(state.cache.get(&format!("ai:{key}")).await);
    }
    let row = ai_cache::Entity::find_by_id(key.to_string())
        .one(&state.db)
        .await?;
    Ok(row.filter(|r| r.expires_at > Utc::now()).map(|r| r.value))
}

async fn cache_put(state: &AppState, key: &str, value: &str) -> AppResult<()> {
    let ttl = state.config.ai_cache_ttl;
    if state.cache.kind() == "redis" {
        state.cache.put(&format!("ai:{key}"), value, ttl).await;
        return Ok(());
    }
    let now = Utc::now();
    let expires_at = now + ChronoDuration::from_std(ttl).unwrap_or(ChronoDuration::days(1));
    ai_cache::Entity::delete_many()
        .filter(ai_cache::Column::ExpiresAt.lte(now))
        .exec(&state.db)
        .await?;
    ai_cache::Entity::insert(ai_cache::ActiveModel {
        key: Set(key.to_string()),
        value: Set(value.to_string()),
        expires_at: Set(expires_at),
    })
    .on_conflict(
        OnConflict::column(ai_cache::Column::Key)
            .update_columns([ai_cache::Column::Value, ai_cache::Column::ExpiresAt])
            .to_owned(),
    )
    .exec_without_returning(&state.db)
    .await?;
    Ok(())
}

/// Runs `task` for the viewer: permission, budget, cache, provider, usage. Returns the
/// answer deserialized into `T` and who produced it.
pub async fn run<T: DeserializeOwned>(
    state: &AppState,
    viewer: &Viewer,
    task: Task,
) -> AppResult<(T, AiMeta)> {
    viewer.require(Permission::UseAi)?;
    check_budget(state, viewer).await?;
    let provider = provider(state);
    let key = cache_key(provider.as_ref(), &task);
    let operation = task.operation();
    if let Some(hit) = cache_get(state, &key).await? {
        if let Ok(stored) = serde_json::from_str::<Value>(&hit) {
            let p = stored["provider"].as_str().unwrap_or_default().to_string();
            let m = stored["model"].as_str().unwrap_or_default().to_string();
            if let Ok(value) = serde_json::from_value::<T>(stored["value"].clone()) {
                record_usage(state, viewer, operation, &p, &m, 0, 0, true).await?;
                return Ok((
                    value,
                    AiMeta {
                        provider: p,
                        model: m,
                        cached: true,
                    },
                ));
            }
        }
    }
    let completion = provider.complete(state, &task).await.map_err(|e| {
        tracing::warn!(operation, error = %e, "AI call failed");
        match e {
            AiError::Provider(_) | AiError::InvalidOutput(_) => {
                AppError::Unavailable(e.to_string())
            }
        }
    })?;
    record_usage(
        state,
        viewer,
        operation,
        completion.provider,
        &completion.model,
        completion.usage.prompt_tokens,
        completion.usage.completion_tokens,
        false,
    )
    .await?;
    let value: T = serde_json::from_value(completion.value.clone())?;
    let stored = json!({
        "provider": completion.provider,
        "model": completion.model,
        "value": completion.value,
    });
    cache_put(state, &key, &stored.to_string()).await?;
    Ok((
        value,
        AiMeta {
            provider: completion.provider.to_string(),
            model: completion.model,
            cached: false,
        },
    ))
}

// ---- usage report ----

/// The window of `aiUsage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum AiUsagePeriod {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The current calendar month (UTC), the budget period.
    Month,
}

/// Totals of one operation × provider × model.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub struct AiUsageRow {
    pub operation: String,
    pub provider: String,
    pub model: String,
    /// Calls, cache hits included.
    pub calls: i64,
    pub cached_calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// Estimated, in millionths of a US dollar.
    pub cost_micros: i64,
}

/// `aiUsage(period)`.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub struct AiUsageReport {
    pub since: DateTime<Utc>,
    pub calls: i64,
    pub cached_calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub cost_micros: i64,
    /// `AI_MONTHLY_TOKEN_BUDGET` (0 = unlimited).
    pub monthly_token_budget: u64,
    /// Tokens used this calendar month.
    pub month_tokens_used: i64,
    pub by_operation: Vec<AiUsageRow>,
}

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

// ---- search goals ----

/// Every search goal query starts here.
fn scoped(viewer: &Viewer) -> Select<search_goal::Entity> {
    search_goal::Entity::find().filter(search_goal::Column::OrgId.eq(viewer.org_id))
}

/// A goal of the viewer's organization, or NOT_FOUND.
pub async fn get_goal(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<search_goal::Model> {
    viewer.require(Permission::ReadAi)?;
    scoped(viewer)
        .filter(search_goal::Column::Id.eq(id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound("search goal"))
}

/// The organization's goals, newest first.
pub async fn list_goals<N: async_graphql::OutputType>(
    state: &AppState,
    viewer: &Viewer,
    args: PageArgs,
    to_node: impl Fn(search_goal::Model) -> N,
) -> AppResult<IdConnection<N>> {
    viewer.require(Permission::ReadAi)?;
    page_by_id_desc(
        &state.db,
        scoped(viewer),
        search_goal::Column::Id,
        &args,
        |m| m.id,
        to_node,
    )
    .await
}

fn check_goal(input: &CreateSearchGoalInput) -> AppResult<GoalPrompt> {
    let mut errors = Vec::new();
    let mut bad = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        })
    };
    let text = input.text.trim().to_string();
    if text.chars().count() < 3 || text.chars().count() > 2_000 {
        bad("input.text", "must be 3–2,000 characters");
    }
    let target_market = input
        .target_market
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if target_market
        .as_ref()
        .is_some_and(|m| m.chars().count() > 200)
    {
        bad("input.targetMarket", "must be at most 200 characters");
    }
    let locations: Vec<String> = input
        .locations
        .iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    if locations.len() > 20 || locations.iter().any(|l| l.chars().count() > 100) {
        bad(
            "input.locations",
            "at most 20 locations of at most 100 characters",
        );
    }
    let max_leads = input.max_leads.unwrap_or(100);
    if !(1..=1_000).contains(&max_leads) {
        bad("input.maxLeads", "must be 1–1,000");
    }
    if !errors.is_empty() {
        return Err(AppError::invalid_fields(errors));
    }
    Ok(GoalPrompt {
        text,
        target_market,
        locations,
        max_leads,
    })
}

/// Derives the strategy with the provider and stores the goal.
pub async fn create_goal(
    state: &AppState,
    viewer: &Viewer,
    input: CreateSearchGoalInput,
) -> AppResult<search_goal::Model> {
    viewer.require(Permission::UseAi)?;
    let goal = check_goal(&input)?;
    let (strategy, meta): (SearchStrategy, AiMeta) =
        run(state, viewer, Task::Strategy { goal: goal.clone() }).await?;
    let now = Utc::now();
    Ok(search_goal::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        created_by: Set(Some(viewer.user_id)),
        text: Set(goal.text),
        target_market: Set(goal.target_market),
        locations: Set(serde_json::to_value(&goal.locations)?),
        max_leads: Set(goal.max_leads),
        strategy: Set(serde_json::to_value(&strategy)?),
        status: Set("draft".into()),
        provider: Set(meta.provider),
        model: Set(meta.model),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&state.db)
    .await?)
}

fn check_strategy(s: &SearchStrategy) -> AppResult<()> {
    let mut errors = Vec::new();
    let lists = [
        ("strategy.industries", &s.industries),
        ("strategy.keywords", &s.keywords),
        ("strategy.jobTitles", &s.job_titles),
        ("strategy.locations", &s.locations),
        ("strategy.exclusions", &s.exclusions),
    ];
    for (field, list) in lists {
        if list.len() > 50
            || list
                .iter()
                .any(|v| v.trim().is_empty() || v.chars().count() > 200)
        {
            errors.push(FieldError {
                field: field.into(),
                message: "at most 50 entries of 1–200 characters".into(),
            });
        }
    }
    let bad_source = |src: &StrategySource| {
        !["WEBSITE", "SEARCH", "GOOGLE_MAPS"].contains(&src.source.as_str())
            || src.query.trim().is_empty()
            || src.query.chars().count() > 500
    };
    if s.sources.len() > 20 || s.sources.iter().any(bad_source) {
        errors.push(FieldError {
            field: "strategy.sources".into(),
            message: "at most 20 sources; source is WEBSITE, SEARCH or GOOGLE_MAPS and query 1–500 characters".into(),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::invalid_fields(errors))
    }
}

/// Replaces a goal's strategy (no provider call).
pub async fn update_strategy(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    strategy: SearchStrategy,
) -> AppResult<search_goal::Model> {
    viewer.require(Permission::UseAi)?;
    let goal = get_goal(state, viewer, id).await?;
    check_strategy(&strategy)?;
    let mut am: search_goal::ActiveModel = goal.into();
    am.strategy = Set(serde_json::to_value(&strategy)?);
    am.updated_at = Set(Utc::now());
    Ok(am.update(&state.db).await?)
}

// ---- lead analysis ----

/// Analyzes a lead of the viewer's organization with the provider and stores the analysis.
pub async fn analyze_lead(
    state: &AppState,
    viewer: &Viewer,
    lead_id: Uuid,
) -> AppResult<lead_analysis::Model> {
    viewer.require(Permission::UseAi)?;
    viewer.require(Permission::ReadLeads)?;
    let l = leads::get(&state.db, viewer, lead_id).await?;
    let join = |parts: &[Option<&str>], sep: &str| {
        parts
            .iter()
            .flatten()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(sep)
    };
    let name = join(&[l.first_name.as_deref(), l.last_name.as_deref()], " ");
    let location = join(
        &[l.city.as_deref(), l.region.as_deref(), l.country.as_deref()],
        ", ",
    );
    let reasons: Vec<ScoreReason> =
        serde_json::from_value(l.score_reasons.clone()).unwrap_or_default();
    let non_empty = |s: &Option<String>| s.clone().filter(|v| !v.trim().is_empty());
    let facts = LeadFacts {
        name: (!name.is_empty()).then_some(name),
        title: non_empty(&l.title),
        company: (!l.company.trim().is_empty()).then(|| l.company.clone()),
        industry: non_empty(&l.industry),
        website: non_empty(&l.website),
        location: (!location.is_empty()).then_some(location),
        has_email: l.email.is_some(),
        has_phone: l.phone.is_some(),
        status: l.status.clone(),
        score: l.score,
        score_reasons: reasons.into_iter().map(|r| r.detail).collect(),
    };
    let (out, meta): (LeadAnalysisOutput, AiMeta) =
        run(state, viewer, Task::AnalyzeLead { lead: facts }).await?;
    Ok(lead_analysis::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        lead_id: Set(l.id),
        summary: Set(out.summary),
        fit_score: Set(out.fit_score),
        reasons: Set(serde_json::to_value(&out.reasons)?),
        next_action: Set(out.next_action),
        talking_points: Set(serde_json::to_value(&out.talking_points)?),
        provider: Set(meta.provider),
        model: Set(meta.model),
        created_at: Set(Utc::now()),
    }
    .insert(&state.db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_uses_the_price_table() {
        assert_eq!(cost_micros("gpt-4o-mini", 1_000_000, 0), 150_000);
        assert_eq!(cost_micros("openai/gpt-4o", 1_000, 1_000), 12_500);
        assert_eq!(cost_micros("llama3", 1_000, 1_000), 0);
    }
}
