//! AI rules: input limits, the monthly token budget (checked before any provider call), the
//! result cache (Redis when configured, else the `ai_cache` table) and usage recording ([`run`],
//! every provider call goes through it); the usage report ([`usage`]), search goals
//! ([`goals`]) and their run ([`saga`]), lead analysis ([`analysis`]) and replies ([`reply`]).

pub mod analysis;
pub mod goals;
pub mod provider;
pub mod ranking;
pub mod reply;
pub mod saga;
pub mod usage;

pub use analysis::{analyze_lead, lead_facts};
pub use goals::{cancel_goal, create_goal, get_goal, list_goals, run_goal, update_strategy};
pub use usage::usage;

use chrono::{DateTime, Datelike, Duration as ChronoDuration, TimeZone, Utc};
use entity::{ai_cache, ai_usage};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use self::provider::{local::LocalHeuristic, openai::OpenAiCompatible, AiError, AiProvider, Task};
use super::types::AiMeta;
use crate::{
    auth::{Permission, Viewer},
    config::AiProviderKind,
    error::{AppError, AppResult},
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
pub(crate) fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(now)
}

/// Tokens the organization used since `since`.
pub(crate) async fn tokens_since(
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

pub(crate) fn cost_micros(model: &str, prompt: u64, completion: u64) -> i64 {
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

/// Checks the `text` argument ([`check_text`]) and runs the task built from it.
pub async fn run_on_text<T: DeserializeOwned>(
    state: &AppState,
    viewer: &Viewer,
    text: &str,
    task: impl FnOnce(String) -> Task,
) -> AppResult<(T, AiMeta)> {
    let text = check_text("text", text)?;
    run(state, viewer, task(text)).await
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
